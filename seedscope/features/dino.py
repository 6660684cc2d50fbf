"""DINO ViT-B/8 CLS embeddings: Table 2's diversity measure held out from seed selection.

Particle Guidance (Corso et al. 2024; ``stable_diffusion/eval_clip_score_particle.py`` of their
repository) scores the diversity of a batch as the mean pairwise cosine similarity of the
outputs of ``torch.hub.load("facebookresearch/dino:main", "dino_vitb8")``. This extractor
returns those outputs, raw (the caller L2-normalises them and takes cosines):

- **Preprocessing**, their ``dino_transform`` (``stable_diffusion/coco_data_loader.py``):
  ``ToTensor`` then ``Normalize`` with ImageNet's mean and std, and nothing else. There is no
  resize and no crop: an image enters the ViT at its own size (a 512 px image as 64 x 64
  patches of 8 px, 4,097 tokens), and pixels beyond the last whole patch are dropped by the
  patch convolution, as in DINO. The Hugging Face repository's ``preprocessor_config.json``
  (resize to 224 x 224, mean and std 0.5: the converter's ``ViTImageProcessor()``) is neither
  theirs nor DINO's and is not used.
- **Position embeddings.** DINO's ViT interpolates its 28 x 28 grid of position embeddings to
  the image's grid (``VisionTransformer.interpolate_pos_encoding``: bicubic, with *scale
  factors* ``(grid + 0.1) / 28``, unless the image has 784 patches and is square). transformers'
  ``ViTEmbeddings.interpolate_pos_encoding`` resizes to the exact grid size instead, which
  samples the table at slightly different points, so the loaded model's method is replaced by
  :func:`dino_positions`; every forward checks that the replacement was the one used.
- **Network.** transformers' ``ViTModel`` (``add_pooling_layer=False``) loaded from
  ``facebook/dino-vitb8``, which transformers' ``convert_dino_to_pytorch.py`` made from the
  same hub checkpoint: DINO's ``norm`` became ``layernorm`` and its ``qkv`` was split into
  query, key and value. Its layers are DINO's ``Block``: pre-norm attention (biased q, k, v;
  scale ``head_dim ** -0.5``) and a pre-norm exact-GELU MLP, each added to the residual; then
  the final LayerNorm. So ``last_hidden_state[:, 0]``, the CLS token after the final
  LayerNorm, is what DINO's ``forward`` returns (``self.norm(x)[:, 0]``, its ``head`` being
  the identity for ``num_classes=0``). One difference remains in the checkpoint: DINO's
  LayerNorms have ``eps=1e-6``, the converted config keeps ``ViTConfig``'s ``1e-12``; the
  loader sets ``layer_norm_eps`` to DINO's value (:data:`DINO_LAYER_NORM_EPS`).
- **Precision.** float32 under ``torch.inference_mode`` (Particle Guidance ran under fp16
  autocast); an image's embedding does not depend on its batch neighbours beyond float
  round-off. Images of different sizes in one call are embedded size by size.

``features.dino.weights`` is a Hugging Face hub id (default ``facebook/dino-vitb8``; offline,
the local cache) or a local folder holding a saved ``ViTModel``, such as the tiny one
:func:`seedscope.tiny.extractors.build_tiny_extractor` builds for the demo; everything loads
through ``ViTModel.from_pretrained``, never with remote code.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from seedscope.errors import FeatureError, error_line
from seedscope.files import file_sha256
from seedscope.models import pretrained_source

KEY = "features.dino.weights"
HUB_ID = "facebook/dino-vitb8"
# Bumped when the embedding of the same image with the same weights would change.
VERSION = 1
MEAN = (0.485, 0.456, 0.406)  # ImageNet's, as in Particle Guidance's dino_transform
STD = (0.229, 0.224, 0.225)
DINO_LAYER_NORM_EPS = 1e-6  # vision_transformer.vit_base: partial(nn.LayerNorm, eps=1e-6)
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin", "model.safetensors.index.json")
TINY_MARKER = "seedscope-tiny.json"  # written beside a tiny model by build_tiny_extractor


def dino_positions(table: torch.Tensor, patch: int, height: int, width: int) -> torch.Tensor:
    """DINO's position embeddings for a ``height`` x ``width`` pixel input: ``table`` (1, 1 +
    side**2, D) as stored, or its patch grid resized to ``(height // patch, width // patch)``
    by bicubic interpolation with DINO's scale factors ``(grid + 0.1) / side``."""
    positions = table.shape[1] - 1
    rows, cols = height // patch, width // patch
    if rows * cols == positions and height == width:
        return table
    side = int(math.sqrt(positions))
    if side * side != positions:
        raise FeatureError(f"DINO's position table must be a square grid, got {positions}")
    dim = table.shape[-1]
    grid = table[:, 1:].reshape(1, side, side, dim).permute(0, 3, 1, 2)
    scale = ((rows + 0.1) / math.sqrt(positions), (cols + 0.1) / math.sqrt(positions))
    grid = nn.functional.interpolate(grid, scale_factor=scale, mode="bicubic")
    if tuple(grid.shape[-2:]) != (rows, cols):
        raise FeatureError(f"position grid {tuple(grid.shape[-2:])} != patches {(rows, cols)}")
    grid = grid.permute(0, 2, 3, 1).reshape(1, rows * cols, dim)
    return torch.cat([table[:, :1], grid], dim=1)


class DinoExtractor:
    """``extractor(images)`` -> (N, dim) float32 CLS embeddings (module docstring); follows
    :class:`seedscope.extractors.Extractor`."""

    name = "dino"
    needs_prompts = False

    def __init__(self, model, meta: dict[str, Any], device: str | torch.device, batch_size: int):
        self.device = torch.device(device)
        self.model = model.eval().to(self.device)
        self.meta = meta
        self.batch_size = int(batch_size)
        self.dim = int(model.config.hidden_size)
        self.patch = int(model.config.patch_size)
        norm = {"device": self.device, "dtype": torch.float32}
        self._mean = torch.tensor(MEAN, **norm).view(1, 3, 1, 1)
        self._std = torch.tensor(STD, **norm).view(1, 3, 1, 1)
        self._used = 0
        embeddings = self.model.embeddings

        def interpolate(tokens: torch.Tensor, height: int, width: int) -> torch.Tensor:
            self._used += 1
            return dino_positions(embeddings.position_embeddings, self.patch, height, width)

        embeddings.interpolate_pos_encoding = interpolate  # shadows transformers' method

    def pixels(self, batch: np.ndarray) -> torch.Tensor:
        """Particle Guidance's ``dino_transform`` of an (N, H, W, 3) uint8 batch: ``ToTensor``
        (values / 255, channels first) then ``Normalize`` with ImageNet's mean and std."""
        x = torch.from_numpy(batch).to(self.device).permute(0, 3, 1, 2).float().div(255)
        return (x - self._mean) / self._std

    def embed(self, pixels: torch.Tensor) -> torch.Tensor:
        """CLS tokens after the final LayerNorm (N, dim) of preprocessed ``pixels``."""
        used = self._used
        with torch.inference_mode():
            out = self.model(pixel_values=pixels, interpolate_pos_encoding=True)
        if self._used != used + 1:
            raise FeatureError(
                f"transformers {version('transformers')}'s ViTEmbeddings no longer calls "
                "interpolate_pos_encoding, so DINO's position interpolation was not applied; "
                "pin the transformers version of envs/features.yaml"
            )
        return out.last_hidden_state[:, 0]

    def __call__(
        self, images: Sequence[np.ndarray], prompts: Sequence[str] | None = None
    ) -> np.ndarray:
        """(N, dim) float32 embeddings of HxWx3 uint8 ``images`` of any size; prompts unused."""
        arrays = [np.asarray(image) for image in images]
        by_shape: dict[tuple, list[int]] = {}
        for index, image in enumerate(arrays):
            if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
                raise FeatureError(
                    f"DINO features take HxWx3 uint8 RGB images; image {index} is "
                    f"{image.dtype} of shape {image.shape}"
                )
            if min(image.shape[:2]) < self.patch:
                raise FeatureError(
                    f"image {index} ({image.shape[0]}x{image.shape[1]}) is smaller than one "
                    f"{self.patch} px patch of the DINO ViT"
                )
            by_shape.setdefault(image.shape, []).append(index)
        out = np.zeros((len(arrays), self.dim), np.float32)
        for indices in by_shape.values():
            for start in range(0, len(indices), self.batch_size):
                chunk = indices[start : start + self.batch_size]
                pixels = self.pixels(np.stack([arrays[i] for i in chunk]))
                out[chunk] = self.embed(pixels).float().cpu().numpy()
        return out


def _describe(source: str | Path, is_path: bool) -> dict[str, Any]:
    """Where the weights came from: as given, the hub snapshot's commit, and the sha256 of
    the weights file (a local folder's, or the cached snapshot's)."""
    described: dict[str, Any] = {"weights": str(source)}
    folder = Path(source).expanduser() if is_path else None
    if folder is None:
        from huggingface_hub import try_to_load_from_cache

        cached = try_to_load_from_cache(str(source), "config.json")
        if isinstance(cached, str):
            folder = Path(cached).parent
            described["revision"] = folder.name
    files = [folder / name for name in WEIGHT_FILES] if folder is not None else []
    found = next((f for f in files if f.is_file()), None)
    if found is not None:
        described |= {"weights_file": found.name, "weights_sha256": file_sha256(found)}
    if folder is not None and (folder / TINY_MARKER).is_file():
        described["tiny"] = json.loads((folder / TINY_MARKER).read_text())
    return described


def load_dino(
    settings: dict[str, Any],
    device: str | torch.device = "cpu",
    weights: str | Path | None = None,
) -> DinoExtractor:
    """The DINO extractor from the validated ``features.dino`` section (the schema gives its
    keys and defaults).

    ``weights``, when given (a tiny extractor folder or any local folder), overrides
    ``settings["weights"]``; with ``settings["weights"] == "tiny"`` it is required. The model
    loads with ``ViTModel.from_pretrained`` from a hub id (offline: the cache) or local folder;
    a missing folder, an unavailable hub id or a checkpoint without all of a ViT's weights is
    a :class:`FeatureError` naming ``features.dino.weights``.
    """
    from transformers import ViTModel

    source = settings["weights"] if weights is None else weights
    if str(source) == "tiny":
        raise FeatureError(
            f"{KEY} is 'tiny' but no tiny DINO folder was given; build one with "
            "seedscope.tiny.extractors.build_tiny_extractor('dino', folder) (the workflow's "
            "rule does) and pass it as weights"
        )
    where = pretrained_source(
        source,
        KEY,
        folder="set features.dino.weights to a local folder that holds the saved ViTModel",
        holds="its config.json and model.safetensors or pytorch_model.bin",
        path_fix="delete it and save the model there again",
    )
    try:
        model, info = ViTModel.from_pretrained(
            where.name,
            add_pooling_layer=False,
            layer_norm_eps=DINO_LAYER_NORM_EPS,
            output_loading_info=True,
        )
    except (OSError, ValueError, RuntimeError) as err:  # RuntimeError: mismatched shapes
        raise FeatureError(
            f"{KEY}: could not load {str(source)!r} {where.tried} ({error_line(err)}); {where.fix}"
        ) from err
    missing = sorted(info["missing_keys"]) + sorted(k for k, *_ in info["mismatched_keys"])
    if missing:
        raise FeatureError(
            f"{KEY}: {str(source)!r} is not a DINO ViTModel checkpoint: {len(missing)} weights "
            f"are missing or mismatched (e.g. {missing[0]}); {where.fix}"
        )
    config = model.config
    if not isinstance(config.patch_size, int):
        raise FeatureError(f"{KEY}: {source!r} has non-square patches {config.patch_size}")
    meta = {
        "extractor": "dino",
        "version": VERSION,
        "transformers": version("transformers"),
        **_describe(source, where.is_path),
        "dim": int(config.hidden_size),
        "patch_size": int(config.patch_size),
        "image_size": config.image_size,
        "layer_norm_eps": float(config.layer_norm_eps),
        "input": "native size; ToTensor, ImageNet Normalize; DINO position interpolation",
        "mean": list(MEAN),
        "std": list(STD),
    }
    return DinoExtractor(model, meta, device, settings["batch_size"])
