"""PickScore v1: a human-preference score of (image, prompt) pairs.

Reference: Kirstain et al., "Pick-a-Pic: An Open Dataset of User Preferences for Text-to-Image
Generation", NeurIPS 2023; code and README at github.com/yuvalkirstain/PickScore.

- **Model**: ``yuvalkirstain/PickScore_v1``, a CLIP ViT-H/14 (from
  ``laion/CLIP-ViT-H-14-laion2B-s32B-b79K``) fine-tuned on Pick-a-Pic preferences, loaded
  with transformers' ``CLIPModel.from_pretrained``; its processor is the base model's,
  ``CLIPProcessor.from_pretrained("laion/CLIP-ViT-H-14-laion2B-s32B-b79K")``, as in the README.
- **Preprocessing** (the README's ``processor(images=..., ...)`` and ``processor(text=...,
  padding=True, truncation=True, max_length=77)``): see :mod:`seedscope.features.clip_common`
  (PIL bicubic resize of the shorter side to 224, centre crop, OpenAI CLIP mean and std; CLIP
  BPE tokens truncated to 77).
- **Score**: the README's ``model.logit_scale.exp() * (text_embs @ image_embs.T)`` with both
  embeddings (``get_text_features``, ``get_image_features``) L2-normalised; per image the
  diagonal entry, i.e. ``logit_scale.exp()`` (100 for PickScore_v1) times the cosine of the
  image and its own prompt: about 18 to 24 for ordinary images. The README then takes a
  softmax over the candidate images of one prompt to get preference probabilities; that
  compares images and is not a per-image score, so the logits are stored.
- **What differs**: the README runs in the model's dtype on its device; here float32 on CPU
  and fp16 autocast on CUDA, with the normalisation in float32. Images are scored in batches,
  each distinct prompt of a batch embedded once (the README embeds one prompt per call);
  results differ by float round-off only.

``features.pickscore.weights`` is ``hub`` (the ``model`` and ``processor`` keys: hub ids or
local folders), a local folder (or hub id) holding a saved ``CLIPModel`` (with its processor
files, else the ``processor`` key's), or the tiny folder a rule builds for the demo
(:func:`seedscope.tiny.scorers.build_tiny_pickscore`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from seedscope.features.clip_common import (
    ClipScorer,
    has_processor,
    load_clip,
    refuse_tiny,
    tiny_marker,
)

NAME = "pickscore"
# Bumped when the score of the same image with the same weights would change.
VERSION = 1


class PickScorer(ClipScorer):
    """PickScore of (image, prompt) pairs (module docstring)."""

    name = NAME
    label = "PickScore"
    needs_prompts = True

    def score_batch(self, images: Sequence[np.ndarray], prompts: Sequence[str] | None):
        assert prompts is not None
        scale = self.model.logit_scale.detach().float().exp()
        return scale * self.paired_cosines(images, prompts)


def load_pickscore(
    settings: dict[str, Any],
    device: str | torch.device = "cpu",
    weights: str | Path | None = None,
) -> PickScorer:
    """The PickScore scorer from the validated ``features.pickscore`` section (``weights``,
    ``model``, ``processor``, ``batch_size``; the schema gives the defaults).

    ``weights``, when given (a tiny extractor folder or any local folder), overrides
    ``settings["weights"]``; with ``settings["weights"] == "tiny"`` it is required. Missing or
    unloadable weights are a :class:`~seedscope.errors.FeatureError` naming the config key,
    the hub repo and how to provide a local copy.
    """
    source = settings["weights"] if weights is None else weights
    refuse_tiny(source, NAME)
    what = "PickScore CLIPModel"
    if str(source) == "hub":
        loaded = load_clip(
            settings["model"],
            f"features.{NAME}.model",
            what,
            settings["processor"],
            f"features.{NAME}.processor",
        )
        folder = None
    else:
        folder = Path(source).expanduser()
        own = folder.is_dir() and has_processor(folder)
        loaded = load_clip(
            source,
            f"features.{NAME}.weights",
            what,
            None if own else settings["processor"],
            None if own else f"features.{NAME}.processor",
        )
    marker = tiny_marker(folder, NAME) if folder is not None and folder.is_dir() else None
    meta = {
        "extractor": NAME,
        "version": VERSION,
        "model": "tiny" if marker else loaded.described["weights"],
        **loaded.described,
        "logit_scale": float(loaded.model.logit_scale.detach().float().exp()),
        "score": "logit_scale.exp() * cos(image embedding, prompt embedding)",
        "dim": 1,
    }
    if marker:
        meta["tiny"] = marker
    return PickScorer(loaded.model, loaded.processor, meta, device, settings["batch_size"])
