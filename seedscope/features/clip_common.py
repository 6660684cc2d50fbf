"""What the CLIP-based per-image scores share: loading a transformers ``CLIPModel`` and its
``CLIPProcessor``, describing the weights, and embedding images and prompts in batches.

PickScore (:mod:`seedscope.features.pickscore`), CLIPScore (:mod:`seedscope.features.clipscore`)
and the LAION aesthetic predictor (:mod:`seedscope.features.aesthetic`) all score an image from
the L2-normalised embeddings of a CLIP model:

- **Loading.** ``CLIPModel.from_pretrained`` and ``CLIPProcessor.from_pretrained`` of a Hugging
  Face hub id (offline: the local cache) or a local folder, never with remote code; a tiny
  folder built by :mod:`seedscope.tiny.scorers` loads through the same calls. A checkpoint
  that lacks any of a CLIPModel's weights is refused.
- **Images.** Each HxWx3 uint8 array becomes a PIL image and goes through the processor's PIL
  backend (``backend="pil"``, transformers' former "slow" ``CLIPImageProcessor``): bicubic
  resize of the shorter side to 224 with PIL, centre crop to 224 x 224, ``/ 255``, normalised
  with OpenAI CLIP's mean and std. This is the openai ``clip`` package's ``preprocess`` (PIL
  bicubic ``Resize(224)``, ``CenterCrop(224)``, ``ToTensor``, ``Normalize``) up to the crop
  offset of a non-square image (transformers rounds ``(size - 224) / 2`` down, torchvision to
  the nearest), and what PickScore's README and torchmetrics got from ``CLIPProcessor`` while
  the PIL ("slow") image processors were transformers' default (transformers 5 defaults to
  its torchvision backend).
- **Prompts.** ``processor(text=..., padding=True, truncation=True, max_length=77)``: the
  CLIP BPE tokens between ``<|startoftext|>`` and ``<|endoftext|>``, a longer prompt cut to
  77 tokens with the end token kept last (as open_clip's tokenizer does); each distinct prompt
  of a batch is embedded once.
- **Embeddings.** ``get_image_features`` / ``get_text_features`` (the towers' pooled outputs
  through their projections), whose return value is a tensor in transformers 4 and a model
  output with the embedding as ``pooler_output`` in transformers 5: :func:`embedding` takes
  either. Each is divided by its L2 norm in float32. On CUDA the towers run under fp16
  autocast, as HPS does (:mod:`seedscope.features.hps`); on CPU in float32.
- **Batches.** ``batch_size`` images per forward; an image's score does not depend on its batch
  neighbours beyond float round-off (padding is masked, and CLIP's causal text mask keeps the
  end token from seeing pads).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np
import torch

from seedscope.errors import FeatureError, error_line
from seedscope.features.dino import TINY_MARKER
from seedscope.files import file_sha256
from seedscope.models import pretrained_source

BACKEND = "pil"  # the CLIPProcessor image backend (see the module docstring)
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin", "model.safetensors.index.json")
PROCESSOR_FILES = ("preprocessor_config.json", "processor_config.json")
TOKENIZER_FILES = ("tokenizer.json", "vocab.json")


@dataclass(frozen=True)
class LoadedClip:
    """A CLIP model and its processor, with where they came from (for the table's meta)."""

    model: Any
    processor: Any
    described: dict[str, Any]


def tiny_marker(folder: Path, name: str) -> dict[str, Any] | None:
    """The tiny-extractor marker of ``folder`` (``seedscope-tiny.json``, written by
    :mod:`seedscope.tiny.scorers`), or None when it has none; a marker of another extractor
    is a :class:`FeatureError`."""
    path = folder / TINY_MARKER
    if not path.is_file():
        return None
    marker = json.loads(path.read_text())
    if marker.get("extractor") != name:
        raise FeatureError(
            f"{folder} holds a tiny {marker.get('extractor')!r} extractor, not {name!r}; "
            f"build one with seedscope.tiny.extractors.build_tiny_extractor({name!r}, folder)"
        )
    return marker


def refuse_tiny(source: Any, name: str) -> None:
    """``weights: tiny`` needs the folder a rule built; say so."""
    if str(source) == "tiny":
        raise FeatureError(
            f"features.{name}.weights is 'tiny' but no tiny {name} folder was given; build one "
            f"with seedscope.tiny.extractors.build_tiny_extractor({name!r}, folder) (the "
            "workflow's rule does) and pass it as weights"
        )


def has_processor(folder: Path) -> bool:
    """Whether a local folder holds a CLIPProcessor's files (image processor and tokenizer)."""
    files = {p.name for p in folder.iterdir()} if folder.is_dir() else set()
    return bool(files & set(PROCESSOR_FILES)) and bool(files & set(TOKENIZER_FILES))


def describe_weights(source: str | Path, is_path: bool) -> dict[str, Any]:
    """Where a CLIPModel's weights came from: as given, the hub snapshot's commit, and the
    weights file with its sha256 (a local folder's, or the cached snapshot's)."""
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
        described["weights_file"] = found.name
        if not found.name.endswith(".index.json"):  # a sharded checkpoint has no single file
            described["weights_sha256"] = file_sha256(found)
    return described


def load_clip(
    source: str | Path,
    key: str,
    what: str,
    processor_source: str | Path | None = None,
    processor_key: str | None = None,
) -> LoadedClip:
    """``CLIPModel`` from ``source`` (config key ``key``; ``what`` names the model in
    messages) and ``CLIPProcessor`` from ``processor_source`` (key ``processor_key``; default
    the model's own). Each is a hub id (offline: the cache) or a local folder; anything that
    does not load is a :class:`FeatureError` naming the key, the hub repo and the fix."""
    from transformers import CLIPModel, CLIPProcessor

    where = pretrained_source(
        source,
        key,
        folder=f"set {key} to a local folder that holds the saved {what}",
        holds="its config.json and model.safetensors or pytorch_model.bin",
        path_fix="delete it and save the model there again",
    )
    try:
        model, info = CLIPModel.from_pretrained(where.name, output_loading_info=True)
    except (OSError, ValueError, RuntimeError, TypeError) as err:
        raise FeatureError(
            f"{key}: could not load the {what} {str(source)!r} {where.tried} "
            f"(config.json and model.safetensors or pytorch_model.bin; {error_line(err)}); "
            f"{where.fix}"
        ) from err
    missing = sorted(info["missing_keys"]) + sorted(k for k, *_ in info["mismatched_keys"])
    if missing:
        raise FeatureError(
            f"{key}: {str(source)!r} is not a CLIPModel checkpoint: {len(missing)} weights are "
            f"missing or mismatched (e.g. {missing[0]}); {where.fix}"
        )
    if processor_source is None:
        processor_source, processor_key = source, key
    assert processor_key is not None
    from_processor = pretrained_source(
        processor_source,
        processor_key,
        folder=f"set {processor_key} to a local folder that holds the saved CLIPProcessor",
        holds="its preprocessor_config.json and tokenizer files",
        path_fix="delete it and save the processor there again",
    )
    try:
        processor = CLIPProcessor.from_pretrained(from_processor.name, backend=BACKEND)
    except (OSError, ValueError, RuntimeError, TypeError) as err:
        raise FeatureError(
            f"{processor_key}: could not load the CLIPProcessor {str(processor_source)!r} "
            f"{from_processor.tried} (preprocessor_config.json and the tokenizer files; "
            f"{error_line(err)}); {from_processor.fix}"
        ) from err
    described = {
        **describe_weights(source, where.is_path),
        "processor": str(processor_source),
        "transformers": version("transformers"),
        "image_backend": BACKEND,
    }
    return LoadedClip(model.eval(), processor, described)


def embedding(output: Any) -> torch.Tensor:
    """The projected embedding that ``get_image_features`` / ``get_text_features`` returned:
    a tensor (transformers 4), or a model output holding it as ``pooler_output`` (5)."""
    if isinstance(output, torch.Tensor):
        return output
    pooled = getattr(output, "pooler_output", None)
    if not isinstance(pooled, torch.Tensor):
        raise FeatureError(
            f"CLIPModel returned {type(output).__name__} without a pooler_output tensor; pin "
            "the transformers version of envs/features.yaml"
        )
    return pooled


def unit(x: torch.Tensor) -> torch.Tensor:
    """``x / ||x||`` along the last axis, in float32."""
    x = x.float()
    return x / x.norm(dim=-1, keepdim=True)


def check_images(images: Sequence[np.ndarray], what: str) -> list[np.ndarray]:
    """``images`` as HxWx3 uint8 arrays, or a :class:`FeatureError` naming the first bad one."""
    arrays = [np.asarray(image) for image in images]
    for index, image in enumerate(arrays):
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
            raise FeatureError(
                f"{what} scores HxWx3 uint8 RGB images; image {index} is {image.dtype} of "
                f"shape {image.shape}"
            )
    return arrays


class ClipScorer:
    """Batching, preprocessing and embedding for a CLIP-based score; a subclass gives
    ``name``, ``needs_prompts``, ``label`` and :meth:`score_batch`. Follows
    :class:`seedscope.extractors.Extractor`: ``scorer(images, prompts)`` -> (N, 1) float32."""

    name = ""
    label = ""  # the score's name in messages
    needs_prompts = True
    dim = 1

    def __init__(
        self, model, processor, meta: dict[str, Any], device: str | torch.device, batch_size: int
    ):
        self.device = torch.device(device)
        self.model = model.eval().to(self.device)
        self.processor = processor
        self.meta = meta
        self.batch_size = int(batch_size)
        self.max_length = int(model.config.text_config.max_position_embeddings)

    def _autocast(self):
        amp = self.device.type == "cuda"
        return torch.autocast("cuda", dtype=torch.float16, enabled=amp)

    def pixels(self, images: Sequence[np.ndarray]) -> torch.Tensor:
        """The processor's pixel values (N, 3, S, S) of HxWx3 uint8 ``images``."""
        from PIL import Image

        pil = [Image.fromarray(image) for image in images]
        inputs = self.processor(images=pil, return_tensors="pt")
        return inputs["pixel_values"].to(self.device)

    def image_embeddings(self, images: Sequence[np.ndarray]) -> torch.Tensor:
        """Unit image embeddings (N, D), float32."""
        pixels = self.pixels(images)
        with torch.inference_mode(), self._autocast():
            return unit(embedding(self.model.get_image_features(pixel_values=pixels)))

    def text_embeddings(self, prompts: Sequence[str]) -> torch.Tensor:
        """Unit text embeddings (P, D), float32, of ``prompts`` (padded to the longest,
        truncated to the model's 77 tokens)."""
        inputs = self.processor(
            text=list(prompts),
            padding=True,
            truncation=True,
            max_length=self.max_length,
            return_tensors="pt",
        )
        ids = inputs["input_ids"].to(self.device)
        mask = inputs["attention_mask"].to(self.device)
        with torch.inference_mode(), self._autocast():
            return unit(embedding(self.model.get_text_features(input_ids=ids, attention_mask=mask)))

    def paired_cosines(self, images: Sequence[np.ndarray], prompts: Sequence[str]) -> torch.Tensor:
        """cos(image i, prompt i) of each image, float32 (N,); each distinct prompt embedded
        once."""
        unique = list(dict.fromkeys(prompts))
        index = torch.tensor([unique.index(p) for p in prompts], device=self.device)
        image = self.image_embeddings(images)
        text = self.text_embeddings(unique)
        return (image * text[index]).sum(-1)

    def score_batch(self, images: Sequence[np.ndarray], prompts: Sequence[str] | None):
        """(N,) float tensor of one batch's scores."""
        raise NotImplementedError

    def __call__(
        self, images: Sequence[np.ndarray], prompts: Sequence[str] | None = None
    ) -> np.ndarray:
        """(N, 1) float32 scores of HxWx3 uint8 ``images`` (for their ``prompts`` where the
        score needs them)."""
        arrays = check_images(images, self.label)
        if self.needs_prompts and (prompts is None or len(prompts) != len(arrays)):
            raise FeatureError(
                f"{self.label} scores (image, prompt) pairs: got {len(arrays)} images and "
                f"{None if prompts is None else len(prompts)} prompts"
            )
        out = np.zeros((len(arrays), 1), np.float32)
        for start in range(0, len(arrays), self.batch_size):
            stop = start + self.batch_size
            texts = list(prompts[start:stop]) if self.needs_prompts and prompts else None
            scores = self.score_batch(arrays[start:stop], texts)
            out[start:stop, 0] = scores.float().cpu().numpy()
        return out
