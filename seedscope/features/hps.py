"""Human Preference Score v2 / v2.1, scored with open_clip directly.

Equivalent to ``hpsv2.score(image, prompt, cp=checkpoint, hps_version=version)`` (hpsv2
1.2.0, ``hpsv2/img_score.py``), which cannot be installed beside this project: it pins
pytest 7.2 and protobuf<4, and its wheel lacks the BPE vocabulary file (open_clip ships it):

- model: open_clip ``ViT-H-14`` with the HPS checkpoint (``HPS_v2_compressed.pt`` or
  ``HPS_v2.1_compressed.pt`` from the Hugging Face repo ``xswu/HPSv2``) loaded by
  ``open_clip.create_model(pretrained=<file>)``: ``torch.load(weights_only=True)``, then
  ``load_state_dict(checkpoint["state_dict"], strict=True)``. hpsv2 first loads the
  ``laion2B-s32B-b79K`` weights, which the checkpoint overwrites entirely, so they are skipped.
- preprocessing: hpsv2's ``preprocess_val`` (``create_model_and_transforms(...,
  light_augmentation=True)``): RGB -> ``ToTensor`` -> ``ResizeMaxSize(224)`` (bicubic resize of
  the tensor so the longer side is 224, zero padding to a square) -> normalise with the OpenAI
  CLIP mean and std. Tensor resizing antialiases with the pinned torchvision (the default
  since torchvision 0.17), as hpsv2 does when it runs with it.
- tokenizer: ``open_clip.get_tokenizer("ViT-H-14")``.
- score: ``diag(image_features @ text_features.T)`` with both L2-normalised, without logit
  scale; a cosine similarity, about 0.2-0.3 (papers often print it times 100). On CUDA under
  fp16 autocast, as hpsv2 does.

hpsv2 scores one image at a time; batching changes scores by float round-off (about 1e-6).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from seedscope.errors import FeatureError, error_line
from seedscope.files import file_sha256

HPS_REPO = "xswu/HPSv2"
HPS_FILES = {"v2.0": "HPS_v2_compressed.pt", "v2.1": "HPS_v2.1_compressed.pt"}
HPS_ARCH = "ViT-H-14"


def hub_url(version: str) -> str:
    """Where the Hugging Face hub serves the checkpoint of HPS ``version``."""
    return f"https://huggingface.co/{HPS_REPO}/resolve/main/{HPS_FILES[version]}"


def _check_version(version: str) -> str:
    if version not in HPS_FILES:
        raise FeatureError(f"unknown HPS version {version!r}; use one of {sorted(HPS_FILES)}")
    return HPS_FILES[version]


def hps_checkpoint(version: str, weights: str | Path = "hub") -> Path:
    """The HPS checkpoint file: from the hub (or its cache) for ``"hub"``, else a local path.

    ``"hub"`` downloads with ``huggingface_hub.hf_hub_download``, which honours
    ``HF_HUB_OFFLINE``, ``HF_HOME`` and the cache. Raises :class:`FeatureError` naming the file
    and how to provide it.
    """
    filename = _check_version(version)
    fix = (
        f"download it elsewhere (`huggingface-cli download {HPS_REPO} {filename}` or "
        f"{hub_url(version)}) and either copy the Hugging Face cache here or set "
        "features.hps.weights to the file's path"
    )
    if str(weights) == "hub":
        from huggingface_hub import hf_hub_download

        try:
            return Path(hf_hub_download(HPS_REPO, filename))
        except (OSError, ValueError) as err:
            raise FeatureError(
                f"HPS {version} checkpoint {filename} of the Hugging Face repo {HPS_REPO} is "
                f"not in the local cache and could not be downloaded ({error_line(err)}); {fix}"
            ) from err
    path = Path(weights).expanduser()
    if not path.is_file():
        raise FeatureError(f"HPS {version} checkpoint {path} is not a file; {fix}")
    return path


def preprocess(image: np.ndarray, size: int, mean: Sequence[float], std: Sequence[float]):
    """hpsv2's ``preprocess_val`` of one HxWx3 uint8 image: a (3, size, size) float tensor."""
    import torchvision.transforms.functional as F

    BICUBIC = F.InterpolationMode.BICUBIC
    x = F.to_tensor(np.array(image))  # a writable copy, as torch wants
    height, width = x.shape[1:]
    scale = size / float(max(height, width))
    if scale != 1.0:  # ResizeMaxSize of hpsv2's open_clip fork
        x = F.resize(x, [round(height * scale), round(width * scale)], BICUBIC, antialias=True)
    # hpsv2 pads only after a resize; a non-square image whose longer side is already ``size``
    # would reach the ViT unpadded and fail there, so it is padded here too.
    pad_h, pad_w = size - x.shape[1], size - x.shape[2]
    if pad_h or pad_w:
        x = F.pad(x, [pad_w // 2, pad_h // 2, pad_w - pad_w // 2, pad_h - pad_h // 2], fill=0)
    return F.normalize(x, mean=list(mean), std=list(std))


class HPSScorer:
    """HPS of (image, prompt) pairs: ``scorer(images, prompts)`` -> (N, 1) float32."""

    name = "hps"
    needs_prompts = True
    dim = 1

    def __init__(self, model, tokenizer, meta: dict[str, Any], device, batch_size: int):
        self.model = model
        self.tokenizer = tokenizer
        self.meta = meta
        self.device = torch.device(device)
        self.batch_size = batch_size
        image_size = model.visual.image_size
        sizes = set(image_size) if isinstance(image_size, tuple | list) else {image_size}
        if len(sizes) != 1:
            raise FeatureError(f"HPS needs a square image size, the model has {image_size}")
        self.size = int(sizes.pop())
        cfg = getattr(model.visual, "preprocess_cfg", {})
        from open_clip.constants import OPENAI_DATASET_MEAN, OPENAI_DATASET_STD

        self.mean = cfg.get("mean", OPENAI_DATASET_MEAN)
        self.std = cfg.get("std", OPENAI_DATASET_STD)

    def _score(self, images: Sequence[np.ndarray], prompts: Sequence[str]) -> np.ndarray:
        unique = list(dict.fromkeys(prompts))
        index = torch.tensor([unique.index(p) for p in prompts], device=self.device)
        pixels = torch.stack([preprocess(im, self.size, self.mean, self.std) for im in images])
        amp = self.device.type == "cuda"
        with torch.no_grad(), torch.autocast("cuda", dtype=torch.float16, enabled=amp):
            image_features = self.model.encode_image(pixels.to(self.device), normalize=True)
            tokens = self.tokenizer(unique).to(self.device)
            text_features = self.model.encode_text(tokens, normalize=True)
            scores = (image_features.float() * text_features.float()[index]).sum(-1)
        return scores.cpu().numpy()

    def __call__(self, images: Sequence[np.ndarray], prompts: Sequence[str] | None = None):
        """(N, 1) float32 scores of ``images`` (HxWx3 uint8) for their ``prompts``."""
        if prompts is None or len(prompts) != len(images):
            raise FeatureError(
                f"HPS scores (image, prompt) pairs: got {len(images)} images and "
                f"{None if prompts is None else len(prompts)} prompts"
            )
        out = [
            self._score(images[s : s + self.batch_size], prompts[s : s + self.batch_size])
            for s in range(0, len(images), self.batch_size)
        ]
        scores = np.concatenate(out) if out else np.zeros(0)
        return scores.astype(np.float32).reshape(-1, 1)


def load_hps(
    version: str,
    weights: str | Path,
    device: str | torch.device = "cpu",
    *,
    batch_size: int,
) -> HPSScorer:
    """The HPS scorer from the validated ``features.hps`` section's ``version``, ``weights``
    and ``batch_size`` (the schema gives their defaults and checks their values): ``weights``
    is ``"hub"``, a local ``HPS_v2*_compressed.pt``, or a tiny extractor folder (one with a
    ``config.json``; its config overrides ViT-H-14's sizes).

    Every case goes through ``open_clip.create_model(arch, pretrained=<checkpoint file>)``.
    """
    import open_clip

    device = torch.device(device)
    path = Path(weights).expanduser() if str(weights) != "hub" else None
    arch, overrides, extra = HPS_ARCH, {}, {"model": f"HPS {version}"}
    if path is not None and (path / "config.json").is_file():
        from seedscope.tiny_nets import read_tiny_config

        config = read_tiny_config(path, "hps")
        arch, overrides = config["arch"]["base"], config["arch"]["overrides"]
        checkpoint = path / config["weights"]
        extra = {"model": "tiny-hps", "arch": config["arch"]}
    else:
        checkpoint = hps_checkpoint(version, "hub" if path is None else path)
    try:
        model = open_clip.create_model(
            arch,
            pretrained=str(checkpoint),
            device=device,
            output_dict=True,
            weights_only=True,
            **overrides,
        )
    except (RuntimeError, OSError, ValueError, KeyError) as err:
        raise FeatureError(
            f"HPS checkpoint {checkpoint} does not load into open_clip's {arch} "
            f"({error_line(err)}); it is corrupt or not an HPS checkpoint: delete it and download "
            f"{HPS_FILES[version]} again, or set features.hps.weights to a good copy"
        ) from err
    meta = {
        "extractor": "hps",
        "version": version,
        "open_clip": open_clip.__version__,
        "weights_file": checkpoint.name,
        "weights_sha256": file_sha256(checkpoint),
        "dim": 1,
        **extra,
    }
    return HPSScorer(model.eval(), open_clip.get_tokenizer(HPS_ARCH), meta, device, batch_size)
