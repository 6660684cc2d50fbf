"""Tiny feature extractors (Inception, an open_clip CLIP for HPS, a DINO ViT) built from config.

Weights are random with a fixed initialisation seed, so the same seed gives the same extractor
on every machine. Each is saved to a folder with a ``config.json`` and read back by the loaders
of :mod:`seedscope.features` that load the real weights:

- ``inception``: a small Inception-shaped CNN (299x299 input in [0, 255], ``(x - 128) / 128``
  like clean-fid's Inception, strided convolutions with ReLU, a 1x1 projection to ``dim``
  channels without ReLU, so that no feature is constantly zero, and a global average pool like
  pool3) saved as safetensors; it runs behind clean-fid's own resize.
- ``hps``: open_clip's ``CLIP`` with the ViT-H-14 config overridden by a tiny one, saved as
  ``{"state_dict": ...}`` like the HPS v2 checkpoints and loaded by ``open_clip.create_model``.
- ``dino``: a transformers ``ViTModel`` (no pooler) from the tiny ``ViTConfig``
  :data:`TINY_DINO`, saved with ``save_pretrained`` straight into the folder (its config.json
  is transformers', with a ``seedscope-tiny.json`` beside it), so that
  :func:`seedscope.features.dino.load_dino` loads it as it loads a local copy of
  ``facebook/dino-vitb8``. Its position table is 4 x 4 patches of 8 px (32 px); larger images
  go through DINO's interpolation as the real model's 28 x 28 (224 px) table does.
- ``pickscore``, ``clipscore``, ``aesthetic``: tiny transformers CLIPs with CLIP's real BPE
  tokenizer (and, for ``aesthetic``, the predictor's MLP), built by
  :mod:`seedscope.tiny.scorers`; ``imagereward``: a tiny ImageReward, built by
  :mod:`seedscope.tiny.imagereward`.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from seedscope.tiny_nets import CONFIG_FILE, FORMAT, TinyInception

TINY_EXTRACTORS = (
    "inception",
    "hps",
    "style",
    "layout",
    "dino",
    "pickscore",
    "imagereward",
    "clipscore",
    "aesthetic",
)

TINY_INCEPTION_ARCH = {"channels": [8, 16, 32], "dim": 32}
TINY_INCEPTION_FILE = "tiny_inception.safetensors"

# A CLIP that open_clip builds offline from this config (about 1.7 M parameters); its
# tokenizer is ViT-H-14's, which open_clip ships, so the real scorer's tokenization is used.
TINY_HPS_ARCH = {
    "base": "ViT-H-14",
    "overrides": {
        "embed_dim": 32,
        "vision_cfg": {
            "image_size": 64,
            "layers": 2,
            "width": 32,
            "patch_size": 16,
            "head_width": 16,
        },
        "text_cfg": {
            "context_length": 77,
            "vocab_size": 49408,
            "width": 32,
            "heads": 2,
            "layers": 2,
        },
    },
}
TINY_HPS_FILE = "HPS_tiny_compressed.pt"

# DINO ViT-B/8's shape (patch 8, exact GELU, biased q/k/v, LayerNorm eps 1e-6) at toy sizes.
TINY_DINO = {
    "hidden_size": 32,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "intermediate_size": 128,
    "patch_size": 8,
    "image_size": 32,
    "hidden_act": "gelu",
    "qkv_bias": True,
    "layer_norm_eps": 1e-6,
}


def build_tiny_extractor(
    name: str, folder: str | Path, seed: int = 0, proposes: list[str] | None = None
) -> Path:
    """Build tiny extractor ``name`` (one of ``TINY_EXTRACTORS``) and save it to ``folder``.

    The weights come from ``torch.manual_seed(seed)``; returns the folder, which
    :func:`seedscope.extractors.load_extractor` loads with ``weights="tiny"``. The
    style net and the layout models are built by :mod:`seedscope.tiny.style` and
    :mod:`seedscope.tiny.layout` (``proposes``: the COCO labels the tiny segmenter proposes).
    """
    if name not in TINY_EXTRACTORS:
        raise ValueError(f"unknown tiny extractor {name!r}; choose one of {TINY_EXTRACTORS}")
    if name == "style":
        from seedscope.tiny.style import build_tiny_style

        return build_tiny_style(folder, seed=seed)
    if name == "layout":
        from seedscope.tiny.layout import build_tiny_layout

        return build_tiny_layout(folder, seed=seed, proposes=proposes)
    if name in ("pickscore", "clipscore", "aesthetic"):
        from seedscope.tiny import scorers

        builders = {
            "pickscore": scorers.build_tiny_pickscore,
            "clipscore": scorers.build_tiny_clipscore,
            "aesthetic": scorers.build_tiny_aesthetic,
        }
        return builders[name](folder, seed=seed)
    if name == "imagereward":
        from seedscope.tiny.imagereward import build_tiny_imagereward

        return build_tiny_imagereward(folder, seed=seed)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)  # model initialisation only
    if name == "dino":
        return _build_tiny_dino(folder, seed)
    if name == "inception":
        from safetensors.torch import save_file

        arch, weights = TINY_INCEPTION_ARCH, TINY_INCEPTION_FILE
        model = TinyInception(**arch)
        state = {k: v.contiguous() for k, v in model.state_dict().items()}
        save_file(state, folder / weights)
    else:
        import open_clip

        arch, weights = TINY_HPS_ARCH, TINY_HPS_FILE
        model = open_clip.create_model(arch["base"], pretrained=None, **arch["overrides"])
        torch.save({"state_dict": model.state_dict()}, folder / weights)
    config = {"format": FORMAT, "extractor": name, "seed": seed, "arch": arch, "weights": weights}
    (folder / CONFIG_FILE).write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
    return folder


def _build_tiny_dino(folder: Path, seed: int) -> Path:
    """A tiny random ``ViTModel`` (:data:`TINY_DINO`) saved with ``save_pretrained`` into
    ``folder``, with ``seedscope-tiny.json`` (format, seed, config) beside it."""
    from transformers import ViTConfig, ViTModel

    from seedscope.features.dino import TINY_MARKER

    model = ViTModel(ViTConfig(**TINY_DINO), add_pooling_layer=False)  # seeded by the caller
    model.save_pretrained(folder)
    marker = {"format": FORMAT, "extractor": "dino", "seed": seed, "arch": TINY_DINO}
    (folder / TINY_MARKER).write_text(json.dumps(marker, indent=2, sort_keys=True) + "\n")
    return folder
