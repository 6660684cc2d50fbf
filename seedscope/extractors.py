"""One interface for every feature extractor: load by name from the ``features:`` config.

An extractor is called as ``extractor(images, prompts)`` with HxWx3 uint8 arrays and their
prompt texts (or, for one with ``needs_objects``, the object each prompt names) and returns an
(N, D) float32 array (Inception: pool3 features, D = 2048; HPS: the score, D = 1; style: the
style measures and the projected Gram vector; layout: found, x, y, size, depth; OCR, given
each image's inpainting mask: text ratio in the mask, has text, box count; DINO: the ViT-B/8
CLS embedding, D = 768, for Table 2's in-batch cosine similarity; the per-image quality scores,
D = 1 each: PickScore, ImageReward, CLIPScore, given the prompts, and the LAION aesthetic
predictor v2, without them).
``extractor.meta`` names it, its version and its weights (file and sha256) and D;
it goes into every feature table's metadata.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from seedscope.errors import FeatureError

if TYPE_CHECKING:  # the workflow reads EXTRACTORS when it parses: no numpy or torch then
    import numpy as np
    import torch

EXTRACTORS = (
    "inception",
    "hps",
    "style",
    "layout",
    "ocr",
    "dino",
    "pickscore",
    "imagereward",
    "clipscore",
    "aesthetic",
)


class Extractor(Protocol):
    """What :func:`load_extractor` returns."""

    name: str
    dim: int
    batch_size: int
    needs_prompts: bool
    meta: dict[str, Any]

    def __call__(
        self, images: Sequence[np.ndarray], prompts: Sequence[str] | None = None
    ) -> np.ndarray: ...


def load_extractor(
    name: str,
    settings: dict[str, Any],
    device: str | torch.device = "cpu",
    weights: str | Path | None = None,
) -> Extractor:
    """Load extractor ``name`` (one of ``EXTRACTORS``) from its validated ``features.<name>``
    section (every key present: the schema gives the defaults).

    ``weights``, when given, is the folder of a tiny extractor built by a rule (or any local
    weights) and overrides ``settings["weights"]``; with ``settings["weights"] == "tiny"`` it is
    required. ``device`` is a torch device name (resolve ``auto`` before).
    """
    if name not in EXTRACTORS:
        raise FeatureError(f"unknown feature extractor {name!r}; use one of {EXTRACTORS}")
    chosen = settings.get("weights")  # OCR runs bundled models: no weights key
    if weights is not None:
        chosen = weights
    elif chosen == "tiny":
        raise FeatureError(
            f"features.{name}.weights is 'tiny' but no tiny extractor folder was given; "
            f"build one with seedscope.tiny.extractors.build_tiny_extractor({name!r}, folder) "
            "(the workflow's rule does) and pass it as weights"
        )
    if name == "ocr":
        from seedscope.inpainting.ocr import load_ocr_extractor

        return load_ocr_extractor(settings, device=device)
    if name == "style":
        from seedscope.style.extractor import load_style

        return load_style(settings, device=device, weights=weights)
    if name == "layout":
        from seedscope.layout.extractor import load_layout

        return load_layout(settings, device=device, weights=weights)
    if name == "dino":
        from seedscope.features.dino import load_dino

        return load_dino(settings, device=device, weights=weights)
    if name == "pickscore":
        from seedscope.features.pickscore import load_pickscore

        return load_pickscore(settings, device=device, weights=weights)
    if name == "imagereward":
        from seedscope.features.imagereward import load_imagereward

        return load_imagereward(settings, device=device, weights=weights)
    if name == "clipscore":
        from seedscope.features.clipscore import load_clipscore

        return load_clipscore(settings, device=device, weights=weights)
    if name == "aesthetic":
        from seedscope.features.aesthetic import load_aesthetic

        return load_aesthetic(settings, device=device, weights=weights)
    if name == "inception":
        from seedscope.features.inception import load_inception

        return load_inception(
            chosen,
            weights_dir=settings["weights_dir"],
            device=device,
            batch_size=settings["batch_size"],
        )
    from seedscope.features.hps import load_hps

    return load_hps(settings["version"], chosen, device=device, batch_size=settings["batch_size"])
