"""CLIPScore: how well an image matches its prompt, by CLIP.

References: Hessel et al., "CLIPScore: A Reference-free Evaluation Metric for Image
Captioning", EMNLP 2021 (github.com/jmhessel/clipscore); computed as torchmetrics computes it
(``torchmetrics.multimodal.CLIPScore``, torchmetrics 1.9, ``functional/multimodal/
clip_score.py``), the form text-to-image papers report.

- **Model**: torchmetrics' default ``openai/clip-vit-large-patch14`` (CLIP ViT-L/14 at 224 px),
  ``CLIPModel`` and ``CLIPProcessor`` loaded with ``from_pretrained`` as torchmetrics does.
- **Preprocessing**: see :mod:`seedscope.features.clip_common` (PIL bicubic resize of the
  shorter side to 224, centre crop, OpenAI CLIP mean and std; CLIP BPE tokens).
- **Score**: ``100 * max(cos(E_I, E_C), 0)`` of the image embedding ``E_I``
  (``get_image_features``) and its prompt's ``E_C`` (``get_text_features``), per image: 0 to
  100, about 20 to 35 for an image that shows its prompt. Hessel et al.'s CLIP-S is
  ``2.5 * max(cos, 0)`` with ViT-B/32 and the prefix "A photo depicts"; torchmetrics (and this
  extractor) use the weight 100, no prefix and ViT-L/14.
- **What differs from torchmetrics**: torchmetrics averages ``100 * cos`` over the images of an
  update and clips the mean at 0; a per-image table clips each image (the same wherever the
  cosine is positive, as it is for real images and prompts). torchmetrics tokenises with
  ``padding=True`` and no truncation and then cuts a prompt over 77 tokens to its first 77,
  dropping the end token that CLIP pools; here the tokenizer truncates to 77 with the end
  token kept last, as open_clip and PickScore do. The processor's image backend is PIL, where
  torchmetrics under transformers 5 gets the torchvision backend (resizing differs by
  interpolation round-off). transformers 5 returns a model output from ``get_*_features``,
  which torchmetrics 1.9 cannot normalise; here :func:`~seedscope.features.clip_common.
  embedding` takes its ``pooler_output``. float32 on CPU, fp16 autocast on CUDA.

``features.clipscore.weights`` is ``hub`` (the ``model`` key: a hub id or local folder), a
local folder (or hub id) holding a saved ``CLIPModel`` with its processor, or the tiny folder
a rule builds for the demo (:func:`seedscope.tiny.scorers.build_tiny_clipscore`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from seedscope.features.clip_common import ClipScorer, load_clip, refuse_tiny, tiny_marker

NAME = "clipscore"
# Bumped when the score of the same image with the same weights would change.
VERSION = 1
WEIGHT = 100.0  # torchmetrics' w (Hessel et al.'s CLIP-S uses 2.5)


class ClipScoreScorer(ClipScorer):
    """CLIPScore of (image, prompt) pairs (module docstring)."""

    name = NAME
    label = "CLIPScore"
    needs_prompts = True

    def score_batch(self, images: Sequence[np.ndarray], prompts: Sequence[str] | None):
        assert prompts is not None
        return WEIGHT * self.paired_cosines(images, prompts).clamp(min=0)


def load_clipscore(
    settings: dict[str, Any],
    device: str | torch.device = "cpu",
    weights: str | Path | None = None,
) -> ClipScoreScorer:
    """The CLIPScore scorer from the validated ``features.clipscore`` section (``weights``,
    ``model``, ``batch_size``; the schema gives the defaults).

    ``weights``, when given (a tiny extractor folder or any local folder), overrides
    ``settings["weights"]``; with ``settings["weights"] == "tiny"`` it is required. Missing or
    unloadable weights are a :class:`~seedscope.errors.FeatureError` naming the config key,
    the hub repo and how to provide a local copy.
    """
    source = settings["weights"] if weights is None else weights
    refuse_tiny(source, NAME)
    what = "CLIPScore CLIPModel"
    if str(source) == "hub":
        loaded = load_clip(settings["model"], f"features.{NAME}.model", what)
        folder = None
    else:
        loaded = load_clip(source, f"features.{NAME}.weights", what)
        folder = Path(source).expanduser()
    marker = tiny_marker(folder, NAME) if folder is not None and folder.is_dir() else None
    meta = {
        "extractor": NAME,
        "version": VERSION,
        "model": "tiny" if marker else loaded.described["weights"],
        **loaded.described,
        "score": f"{WEIGHT:g} * max(cos(image embedding, prompt embedding), 0)",
        "dim": 1,
    }
    if marker:
        meta["tiny"] = marker
    return ClipScoreScorer(loaded.model, loaded.processor, meta, device, settings["batch_size"])
