"""The style feature extractor: per-image style measures and a projected VGG Gram vector.

Each image gives one row of ``len(MEASURES) + dim`` float32 numbers: first the raw measures of
:data:`seedscope.style.measures.MEASURES` (columns :data:`MEASURE_COLUMNS`), taken on the images
as given and read as ``features.style.measure`` says (sky band, brightness and gradient, border
widths: fields of :class:`~seedscope.style.measures.Thresholds`); the flags are not stored, they
follow from the measures and the flag thresholds later. From column :data:`GRAM_OFFSET` on
comes the Gram vector of the VGG layers (:mod:`seedscope.style.gram`) under the seeded
projection :class:`~seedscope.style.gram.GramProjection`. ``meta["measure_columns"]`` and
``meta["gram_offset"]`` record the layout; :func:`seedscope.style.tables.read_style_tables`
splits such tables.

**Network.** Only VGG-19's convolutional part (``torchvision.models.vgg19().features``) is
built, truncated after the deepest requested layer; its classifier (120 M parameters) is never
made. Layer names follow the usual walk: block ``b`` starts at 1 and grows after each max pool,
and the ``k``-th ReLU of a block is ``relu{b}_{k}``. Images are scaled to [0, 1] and
normalised with ImageNet's mean and standard deviation. ``features.style.weights`` is
``torchvision`` (``VGG19_Weights.IMAGENET1K_V1``, fetched into the torch hub cache at first use),
the path of a local ``.pth`` state dict of ``torchvision.models.vgg19`` (or of its ``features``),
or ``tiny`` with a folder from :func:`seedscope.tiny.style.build_tiny_style`.

**Memory.** Each requested layer's Gram part is taken as soon as the layer is reached, so at
most two activations (a layer's input and output) and one normalised copy are alive at once.
At 512x512 the largest are block 1's 64 x 512 x 512 float32 maps, 64 MiB per image: peak
activation memory is at most ``3 x 64 MiB = 192 MiB`` per image (measured on CPU with VGG-19
to relu5_1: 155 MiB per image more for every image in the batch), about ``0.2 B`` GiB for a
batch of ``B`` (3 GiB at the default 16), plus the weights (80 MB to relu5_1) and the
projection tables (30 MB). ``image_size`` scales it with the pixel count. Time on CPU (2
cores): about 4 s per 512x512 image; the tiny network takes about 1.6 ms per 64x64 image.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from seedscope.errors import FeatureError
from seedscope.files import file_sha256
from seedscope.style.gram import GramProjection, gram_layers
from seedscope.style.measures import MEASURES, Thresholds, measure_batch

GATYS_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
MEASURE_COLUMNS = MEASURES
GRAM_OFFSET = len(MEASURES)
VGG19_URL = "https://download.pytorch.org/models/vgg19-dcbb9e9d.pth"
MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)
KEY = "features.style.weights"


def layer_names(features: nn.Sequential) -> dict[str, int]:
    """``{"relu1_1": index, ...}``: each ReLU's name and position in a VGG ``features``."""
    names, block, relu = {}, 1, 0
    for index, module in enumerate(features):
        if isinstance(module, nn.MaxPool2d):
            block, relu = block + 1, 0
        elif isinstance(module, nn.ReLU):
            relu += 1
            names[f"relu{block}_{relu}"] = index
    return names


def vgg_features(cfg: Sequence[int | str], state: dict[str, torch.Tensor]) -> nn.Sequential:
    """torchvision's VGG ``features`` for ``cfg`` (no batch norm) with ``state`` loaded: a
    ``features`` state dict, or a whole VGG's (only its ``features.`` entries are used)."""
    from torchvision.models.vgg import make_layers

    prefix = "features."
    if any(key.startswith(prefix) for key in state):
        state = {k.removeprefix(prefix): v for k, v in state.items() if k.startswith(prefix)}
    features = make_layers(list(cfg), batch_norm=False)
    try:
        features.load_state_dict(state)
    except RuntimeError as err:
        raise FeatureError(
            f"the style network's weights do not fit VGG {list(cfg)} ({str(err)[:300]}); "
            f"set {KEY} to a state dict of torchvision.models.vgg19"
        ) from err
    return features


class StyleExtractor:
    """``extractor(images)`` -> ``(N, len(MEASURES) + projection dim)`` float32 (module
    docstring); follows :class:`seedscope.extractors.Extractor`."""

    name = "style"
    needs_prompts = False

    def __init__(
        self,
        features: nn.Sequential,
        layers: Sequence[str],
        settings: dict[str, Any],
        device: str | torch.device,
        weights_meta: dict[str, Any],
    ):
        available = layer_names(features)
        unknown = [name for name in layers if name not in available]
        if unknown or not layers or len(set(layers)) != len(layers):
            raise FeatureError(
                f"features.style.layers {list(layers)} must name distinct layers of the style "
                f"network; unknown {unknown}; available: {list(available)}"
            )
        self.layers = sorted(layers, key=available.get)
        self._at = {available[name] for name in self.layers}
        self.device = torch.device(device)
        self.features = features[: max(self._at) + 1].eval().to(self.device)
        for module in self.features:
            if isinstance(module, nn.ReLU):
                module.inplace = False  # captured outputs must not be overwritten
        channels = [features[i - 1].out_channels for i in sorted(self._at)]
        self.projection = GramProjection(
            channels, settings["dim"], settings["projection_seed"], settings["nonzeros"]
        )
        self.batch_size = int(settings["batch_size"])
        self.image_size = settings["image_size"]
        self.thresholds = Thresholds(**settings["measure"])
        self.dim = GRAM_OFFSET + self.projection.dim
        norm = {"device": self.device, "dtype": torch.float32}
        self._mean = torch.tensor(MEAN, **norm).view(1, 3, 1, 1)
        self._std = torch.tensor(STD, **norm).view(1, 3, 1, 1)
        projection = self.projection.meta
        self.meta = {
            "extractor": "style",
            **weights_meta,
            "layers": self.layers,
            "channels": channels,
            "image_size": self.image_size,
            "measure": dict(sorted(settings["measure"].items())),
            "dim": self.dim,
            "measure_columns": list(MEASURE_COLUMNS),
            "gram_offset": GRAM_OFFSET,
            "projection_dim": projection["dim"],
            "nonzeros": projection["nonzeros"],
            "projection_seed": projection["seed"],
            "projection_fingerprint": projection["fingerprint"],
        }

    def __call__(
        self, images: Sequence[np.ndarray], prompts: Sequence[str] | None = None
    ) -> np.ndarray:
        """Style rows of RGB ``uint8`` images ``(H, W, 3)``, all of one size; prompts unused."""
        out = [np.zeros((0, self.dim), np.float32)]
        for start in range(0, len(images), self.batch_size):
            chunk = images[start : start + self.batch_size]
            shapes = {np.shape(image) for image in chunk}
            if len(shapes) > 1:
                raise FeatureError(
                    f"style features take images of one size per call, got {sorted(shapes)}; "
                    "extract each size separately or set features.style.image_size"
                )
            batch = np.stack([np.asarray(image) for image in chunk])
            measures = measure_batch(batch, self.thresholds)
            columns = np.stack([measures[name] for name in MEASURE_COLUMNS], axis=1)
            out.append(np.concatenate([columns, self.gram(batch)], axis=1))
        return np.concatenate(out).astype(np.float32, copy=False)

    def gram(self, batch: np.ndarray) -> np.ndarray:
        """Projected Gram vectors ``(N, projection dim)`` of a ``(N, H, W, 3)`` uint8 batch."""
        with torch.inference_mode():
            x = torch.from_numpy(batch).to(self.device).permute(0, 3, 1, 2).float() / 255
            if self.image_size is not None:
                scale = self.image_size / min(x.shape[2:])
                size = [round(side * scale) for side in x.shape[2:]]
                x = nn.functional.interpolate(x, size, mode="bilinear", antialias=True)
            x = (x - self._mean) / self._std
            parts = []
            for index, module in enumerate(self.features):
                x = module(x)
                if index in self._at:
                    parts += gram_layers([x])
            return self.projection(parts).cpu().numpy()


def load_style(
    settings: dict[str, Any],
    device: str | torch.device = "cpu",
    weights: str | Path | None = None,
) -> StyleExtractor:
    """The style extractor from the validated ``features.style`` section (the schema,
    ``schemas/config.schema.yaml``, gives every key, its default and its range; the validator
    checks ``measure``'s fields). ``weights``, a tiny style folder or a local state dict,
    overrides ``settings["weights"]``; with ``settings["weights"] == "tiny"`` it is required."""
    chosen = settings["weights"] if weights is None else weights
    if chosen == "tiny":
        raise FeatureError(
            f"{KEY} is 'tiny' but no tiny style folder was given; build one with "
            "seedscope.tiny.style.build_tiny_style(folder) (the workflow's rule does) and pass "
            "it as weights"
        )
    if chosen == "torchvision":
        cfg, state = None, _torchvision_state()
        weights_meta = {"weights": "torchvision:VGG19_Weights.IMAGENET1K_V1", **_cached()}
    elif Path(chosen).expanduser().is_dir():
        from seedscope.tiny_nets import load_tiny_style

        cfg, state, weights_meta = load_tiny_style(Path(chosen).expanduser())
    else:
        cfg, state, weights_meta = None, *_local_state(Path(chosen).expanduser())
    if cfg is None:
        from torchvision.models.vgg import cfgs

        cfg = cfgs["E"]  # VGG-19
    features = vgg_features(cfg, state)
    return StyleExtractor(features, settings["layers"], settings, device, weights_meta)


def _torchvision_state() -> dict[str, torch.Tensor]:
    from torchvision.models import VGG19_Weights

    try:
        return VGG19_Weights.IMAGENET1K_V1.get_state_dict(progress=False)
    except (OSError, RuntimeError, ValueError) as err:
        raise FeatureError(
            f"{KEY} is 'torchvision' but VGG-19's weights could not be fetched into the torch "
            f"hub cache ({str(err)[:200]}); download {VGG19_URL} on a machine with internet and "
            f"set {KEY} to its path"
        ) from err


def _cached() -> dict[str, Any]:
    path = Path(torch.hub.get_dir()) / "checkpoints" / VGG19_URL.rsplit("/", 1)[1]
    if not path.is_file():
        return {}
    return {"weights_file": path.name, "weights_sha256": file_sha256(path)}


def _local_state(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    if not path.is_file():
        raise FeatureError(
            f"{KEY}: {path} does not exist; download {VGG19_URL} there (or set {KEY} to "
            "'torchvision' where the internet is reachable, or to a tiny style folder)"
        )
    try:
        state = torch.load(path, weights_only=True, map_location="cpu")
    except (OSError, RuntimeError, ValueError) as err:
        raise FeatureError(
            f"{KEY}: {path} does not load as a state dict ({str(err)[:200]}); download "
            f"{VGG19_URL} again"
        ) from err
    if not isinstance(state, dict):
        raise FeatureError(f"{KEY}: {path} holds no state dict; download {VGG19_URL} again")
    meta = {"weights": str(path), "weights_file": path.name, "weights_sha256": file_sha256(path)}
    return state, meta
