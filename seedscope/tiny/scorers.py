"""Tiny CLIP-based scorers (PickScore, CLIPScore, the LAION aesthetic predictor) built from config.

Each is a transformers ``CLIPModel`` from the tiny ``CLIPConfig`` :data:`TINY_CLIP` (random
weights from ``torch.manual_seed(seed)``) with a ``CLIPProcessor`` whose tokenizer is CLIP's
real byte-level BPE: ``vocab.json`` (49,408 tokens) and ``merges.txt`` are written from the BPE
file that open_clip ships (``bpe_simple_vocab_16e6.txt.gz``) as the Hugging Face CLIP
repositories hold them, so a tiny scorer tokenises prompts as the real ones do. Model and
processor are saved with ``save_pretrained`` into the extractor's folder, beside the marker
``seedscope-tiny.json``, and load back through the same ``from_pretrained`` calls as a hub id
(:mod:`seedscope.features.clip_common`). The image processor keeps CLIP's preprocessing at the
tiny model's 32 px (shorter side resized to 32, centre crop).

Every tokenizer pads with the end token, as the tokenizers of ``openai/clip-vit-large-patch14``
and ``laion/CLIP-ViT-H-14-laion2B-s32B-b79K`` do (open_clip pads with id 0, ``!``; a tokenizer
with ``!`` as its pad token, like Stable Diffusion 2's, splits every ``!`` of a prompt off as
that special token, which these do not).

- ``pickscore``: like ``yuvalkirstain/PickScore_v1`` (a LAION ViT-H/14): GELU, ``logit_scale``
  at ln 100.
- ``clipscore``: like ``openai/clip-vit-large-patch14``: quick GELU.
  A random CLIP's cosines share one sign (each tower's embeddings lean to one random
  direction); where that sign is negative on a probe of random images and prompts, the
  visual projection is negated, so that the demo's CLIPScore, ``100 * max(cos, 0)``, is not
  0 for every image.
- ``aesthetic``: the ``clipscore`` CLIP plus an :class:`~seedscope.features.aesthetic.
  AestheticMLP` reading its 32-d embeddings, saved as a ``.pth`` state dict in the published
  key layout (``layers.0.weight`` ...) and named by the marker's ``mlp``.
"""

from __future__ import annotations

import gzip
import json
import math
from pathlib import Path
from typing import Any

import torch

from seedscope.features.dino import TINY_MARKER
from seedscope.tiny_nets import FORMAT

TINY_CLIP: dict[str, Any] = {
    "projection_dim": 32,
    "text_config": {
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "max_position_embeddings": 77,
        "vocab_size": 49408,
        "bos_token_id": 49406,
        "eos_token_id": 49407,
    },
    "vision_config": {
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "image_size": 32,
        "patch_size": 8,
    },
}
# How each scorer's tiny CLIP follows its real model.
FLAVOURS: dict[str, dict[str, Any]] = {
    "pickscore": {"hidden_act": "gelu", "logit_scale": math.log(100.0)},
    "clipscore": {"hidden_act": "quick_gelu", "logit_scale": None, "positive_cosines": True},
    "aesthetic": {"hidden_act": "quick_gelu", "logit_scale": None},
}
PROBE_PROMPTS = ("a photo of a cat", "a red car in a city street", "a bowl of fruit on a table")
TINY_MLP_FILE = "tiny-aesthetic-mlp.pth"
BOS, EOS = "<|startoftext|>", "<|endoftext|>"
MERGES_HEADER = "#version: 0.2"


def clip_bpe() -> tuple[list[str], list[str]]:
    """CLIP's vocabulary (49,408 tokens in id order) and BPE merges (48,894), from the BPE file
    open_clip ships, arranged as CLIP's ``SimpleTokenizer`` (and the Hugging Face repos) do:
    the 256 byte symbols, the same with ``</w>``, one token per merge, then the two special
    tokens."""
    from open_clip.tokenizer import bytes_to_unicode, default_bpe

    with gzip.open(default_bpe()) as f:
        lines = f.read().decode("utf-8").split("\n")
    merges = lines[1 : 49152 - 256 - 2 + 1]
    symbols = list(bytes_to_unicode().values())
    vocab = symbols + [s + "</w>" for s in symbols] + ["".join(m.split()) for m in merges]
    return [*vocab, BOS, EOS], merges


def write_clip_vocabulary(folder: str | Path) -> tuple[Path, Path]:
    """Write ``vocab.json`` (token -> id) and ``merges.txt`` (a version line, then one merge a
    line) into ``folder``: the files of a Hugging Face CLIP tokenizer."""
    folder = Path(folder)
    vocab, merges = clip_bpe()
    vocab_file, merges_file = folder / "vocab.json", folder / "merges.txt"
    ids = {token: index for index, token in enumerate(vocab)}
    vocab_file.write_text(json.dumps(ids, ensure_ascii=False), encoding="utf-8")
    merges_file.write_text("\n".join([MERGES_HEADER, *merges]) + "\n", encoding="utf-8")
    return vocab_file, merges_file


def build_tiny_clip(folder: str | Path, name: str, seed: int = 0) -> Path:
    """A tiny random ``CLIPModel`` (:data:`TINY_CLIP`, flavoured for scorer ``name``) and its
    ``CLIPProcessor`` saved into ``folder`` with the marker; returns the folder."""
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPProcessor, CLIPTokenizer

    flavour = FLAVOURS[name]
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    act = {"hidden_act": flavour["hidden_act"]}
    config = CLIPConfig(
        text_config={**TINY_CLIP["text_config"], **act},
        vision_config={**TINY_CLIP["vision_config"], **act},
        projection_dim=TINY_CLIP["projection_dim"],
        **({"logit_scale_init_value": flavour["logit_scale"]} if flavour["logit_scale"] else {}),
    )
    write_clip_vocabulary(folder)
    tokenizer = CLIPTokenizer.from_pretrained(folder, pad_token=EOS)
    size = TINY_CLIP["vision_config"]["image_size"]
    images = CLIPImageProcessor(
        size={"shortest_edge": size}, crop_size={"height": size, "width": size}
    )
    processor = CLIPProcessor(image_processor=images, tokenizer=tokenizer)
    torch.manual_seed(seed)  # model initialisation only
    model = CLIPModel(config).eval()
    if flavour.get("positive_cosines") and probe_cosine(model, processor, seed) < 0:
        with torch.no_grad():
            model.visual_projection.weight.neg_()
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    marker = {
        "format": FORMAT,
        "extractor": name,
        "seed": seed,
        "arch": TINY_CLIP,
        "flavour": flavour,
        "tokenizer": "CLIP BPE from open_clip's bpe_simple_vocab_16e6.txt.gz",
    }
    (folder / TINY_MARKER).write_text(json.dumps(marker, indent=2, sort_keys=True) + "\n")
    return folder


def probe_cosine(model, processor, seed: int) -> float:
    """The mean cosine of ``model``'s embeddings of a few random images and prompts."""
    import numpy as np
    from PIL import Image

    from seedscope.features.clip_common import embedding, unit

    rng = np.random.default_rng(seed)
    pictures = [Image.fromarray(rng.integers(0, 256, (48, 48, 3), np.uint8)) for _ in range(4)]
    pixels = processor(images=pictures, return_tensors="pt")["pixel_values"]
    text = processor(text=list(PROBE_PROMPTS), padding=True, return_tensors="pt")
    with torch.inference_mode():
        image = unit(embedding(model.get_image_features(pixel_values=pixels)))
        words = unit(embedding(model.get_text_features(**text)))
    return float((image @ words.T).mean())


def build_tiny_pickscore(folder: str | Path, seed: int = 0) -> Path:
    """The tiny PickScore folder (module docstring)."""
    return build_tiny_clip(folder, "pickscore", seed=seed)


def build_tiny_clipscore(folder: str | Path, seed: int = 0) -> Path:
    """The tiny CLIPScore folder (module docstring)."""
    return build_tiny_clip(folder, "clipscore", seed=seed)


def build_tiny_aesthetic(folder: str | Path, seed: int = 0) -> Path:
    """The tiny aesthetic predictor folder: a tiny CLIP and an MLP on its embeddings
    (module docstring)."""
    from seedscope.features.aesthetic import AestheticMLP

    folder = build_tiny_clip(folder, "aesthetic", seed=seed)
    torch.manual_seed(seed + 1)
    mlp = AestheticMLP(TINY_CLIP["projection_dim"])
    torch.save(mlp.state_dict(), folder / TINY_MLP_FILE)
    marker_file = folder / TINY_MARKER
    marker = json.loads(marker_file.read_text()) | {"mlp": TINY_MLP_FILE}
    marker_file.write_text(json.dumps(marker, indent=2, sort_keys=True) + "\n")
    return folder
