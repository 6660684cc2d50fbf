"""A tiny ImageReward, built from config with random weights and saved as the published files.

The folder holds what the Hugging Face repo ``THUDM/ImageReward`` and ``bert-base-uncased``
hold, at toy sizes, so that :func:`seedscope.features.imagereward.load_imagereward` reads it
through the path the real files take (ImageReward's key names mapped onto transformers' BLIP
classes, a strict load, BLIP's tokenizer with ``[DEC]`` and ``[ENC]`` added):

- ``ImageReward.pt``: a flat state dict with ImageReward's key names (``blip.visual_encoder.*``,
  ``blip.text_encoder.*``, ``mlp.layers.*``), and, like the real checkpoint, BLIP's unused
  ``blip.vision_proj``/``blip.text_proj`` and the text encoder's ``position_ids`` buffer;
- ``med_config.json``: BLIP's BERT settings (2 layers of width 32, a cross-attention in each);
- ``tokenizer/``: a lower-casing WordPiece ``vocab.txt`` (BERT's special tokens, the letters,
  digits, punctuation, ``##`` pieces and a few words, so that any ASCII prompt tokenizes without
  ``[UNK]``) and ``tokenizer_config.json``, as ``bert-base-uncased``'s, without ``[DEC]`` and
  ``[ENC]``: the loader adds them, as ImageReward's ``init_tokenizer`` does;
- ``seedscope-tiny.json``: the marker (format, seed, file names) with the ViT's sizes
  (:data:`TINY_VISION`), which the real model takes from BLIP's ``create_vit("large")``.

The tiny ViT keeps ImageReward's 224 px input and 16 px patches (196 patches of width 32, a
few milliseconds per image), so the tiny model is preprocessed exactly as the real one: the
loader takes the image size from the marker, and ImageReward's ``_transform(224)`` applies.
"""

from __future__ import annotations

import json
import string
from pathlib import Path

import torch

from seedscope.features.imagereward import (
    CHECKPOINT_FILE,
    MED_CONFIG_FILE,
    POSITION_IDS,
    TINY_MARKER,
    build_net,
    to_imagereward,
)
from seedscope.tiny_nets import FORMAT

TOKENIZER_DIR = "tokenizer"
TINY_VISION = {
    "image_size": 224,
    "patch_size": 16,
    "hidden_size": 32,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "intermediate_size": 64,
}
# a few whole words besides the letters (space-separated)
WORDS = (
    "a an the of in on with and photo painting picture image cat dog red blue green apple table "
    "wooden ocean clouds birds day time low depth field effect"
)
SPECIAL = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")  # [PAD] first: med's pad_token_id 0


def tiny_vocab() -> list[str]:
    """The tiny WordPiece vocabulary, in id order."""
    chars = list(string.ascii_lowercase + string.digits)
    punctuation = list(string.punctuation)
    vocab = [*SPECIAL, *chars, *punctuation, *(f"##{c}" for c in chars), *WORDS.split()]
    return list(dict.fromkeys(vocab))


def tiny_med_config(vocab_size: int) -> dict:
    """BLIP's ``med_config.json`` at toy sizes; ``vocab_size`` counts ``[DEC]`` and ``[ENC]``."""
    return {
        "architectures": ["BertModel"],
        "attention_probs_dropout_prob": 0.1,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "hidden_size": 32,
        "initializer_range": 0.02,
        "intermediate_size": 64,
        "layer_norm_eps": 1e-12,
        "max_position_embeddings": 64,
        "model_type": "bert",
        "num_attention_heads": 2,
        "num_hidden_layers": 2,
        "pad_token_id": 0,
        "type_vocab_size": 2,
        "vocab_size": vocab_size,
        "encoder_width": TINY_VISION["hidden_size"],
        "add_cross_attention": True,
    }


def _randomise(net: torch.nn.Module) -> None:
    """Weights of about unit gain from the global generator, so that every layer moves the
    score: embedding tables N(0, 1), other matrices N(0, 1 / fan-in), LayerNorms near the
    identity, biases N(0, 0.1)."""
    tables = ("word_embeddings.weight", "position_embeddings.weight", "_embedding")
    with torch.no_grad():
        for name, param in net.named_parameters():
            if "layernorm" in name.lower() or "layer_norm" in name:
                base = 1.0 if name.endswith("weight") else 0.0
                param.copy_(base + 0.1 * torch.randn_like(param))
            elif name.endswith(tables):
                param.normal_(0.0, 1.0)
            elif param.dim() >= 2:
                param.normal_(0.0, param[0].numel() ** -0.5)
            else:
                param.normal_(0.0, 0.1)


def build_tiny_imagereward(folder: str | Path, seed: int = 0) -> Path:
    """Build a tiny ImageReward with weights from ``torch.manual_seed(seed)`` into ``folder``
    (see the module's description); returns the folder, which ``load_imagereward`` (or
    ``load_extractor("imagereward", ...)``) loads with ``weights=folder``."""
    from transformers import BertTokenizer

    folder = Path(folder)
    tokenizer_dir = folder / TOKENIZER_DIR
    tokenizer_dir.mkdir(parents=True, exist_ok=True)
    vocab = tiny_vocab()
    (tokenizer_dir / "vocab.txt").write_text("\n".join(vocab) + "\n")
    config = {"do_lower_case": True, "model_max_length": 512, "tokenizer_class": "BertTokenizer"}
    (tokenizer_dir / "tokenizer_config.json").write_text(json.dumps(config, indent=2) + "\n")
    if len(BertTokenizer.from_pretrained(tokenizer_dir)) != len(vocab):  # reads vocab.txt
        raise RuntimeError(f"transformers did not read the tiny vocabulary {tokenizer_dir}")

    med = tiny_med_config(len(vocab) + 2)  # + [DEC] and [ENC]
    (folder / MED_CONFIG_FILE).write_text(json.dumps(med, indent=2) + "\n")
    torch.manual_seed(seed)  # model initialisation only
    net = build_net(TINY_VISION, med)
    _randomise(net)
    state = {to_imagereward(name): t.contiguous() for name, t in net.state_dict().items()}
    width, hidden = TINY_VISION["hidden_size"], med["hidden_size"]
    unused = {"vision_proj": torch.randn(256, width), "text_proj": torch.randn(256, hidden)}
    for name, weight in unused.items():  # BLIP_Pretrain's, in the real checkpoint, unused
        state[f"blip.{name}.weight"], state[f"blip.{name}.bias"] = weight * 0.1, torch.zeros(256)
    state[POSITION_IDS] = torch.arange(med["max_position_embeddings"]).expand((1, -1)).clone()
    torch.save(state, folder / CHECKPOINT_FILE)
    marker = {
        "format": FORMAT,
        "extractor": "imagereward",
        "seed": seed,
        "checkpoint": CHECKPOINT_FILE,
        "med_config": MED_CONFIG_FILE,
        "tokenizer": TOKENIZER_DIR,
        "vision": TINY_VISION,
    }
    (folder / TINY_MARKER).write_text(json.dumps(marker, indent=2, sort_keys=True) + "\n")
    return folder
