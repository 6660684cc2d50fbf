"""A tiny VGG-shaped style network for the demo and the tests.

It is torchvision's VGG ``features`` (``torchvision.models.vgg.make_layers``) for
:data:`TINY_STYLE_CFG`: five blocks, each closed by a max pool, so the layer names relu1_1 ...
relu5_1 exist as in VGG-19, with 8 to 32 channels instead of 64 to 512. Its weights are random
(``torch.manual_seed(seed)``, then VGG's own initialisation: Kaiming-normal convolutions, zero
biases) and saved as safetensors of the ``features`` state dict beside a ``config.json``;
:func:`seedscope.style.extractor.load_style` rebuilds it through the same code as VGG-19's.
The classifier of torchvision's ``VGG`` class (a fixed 25088 x 4096 layer) is not built.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from torch import nn

from seedscope.errors import FeatureError
from seedscope.files import file_sha256
from seedscope.tiny.extractors import CONFIG_FILE, FORMAT, read_tiny_config

TINY_STYLE_CFG: list[int | str] = [8, "M", 16, "M", 16, 16, "M", 32, 32, "M", 32, 32, "M"]
TINY_STYLE_FILE = "tiny_style.safetensors"


def build_tiny_style(folder: str | Path, seed: int = 0) -> Path:
    """Build the tiny style network with weights from ``torch.manual_seed(seed)`` and save it to
    ``folder``; returns the folder, which ``load_style(settings, weights=folder)`` loads."""
    from safetensors.torch import save_file
    from torchvision.models.vgg import make_layers

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)  # model initialisation only
    features = make_layers(TINY_STYLE_CFG, batch_norm=False)
    for module in features.modules():
        if isinstance(module, nn.Conv2d):  # as torchvision.models.VGG initialises them
            nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            nn.init.constant_(module.bias, 0)
    state = {k: v.contiguous() for k, v in features.state_dict().items()}
    save_file(state, folder / TINY_STYLE_FILE)
    config = {
        "format": FORMAT,
        "extractor": "style",
        "seed": seed,
        "cfg": TINY_STYLE_CFG,
        "weights": TINY_STYLE_FILE,
    }
    (folder / CONFIG_FILE).write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
    return folder


def load_tiny_style(
    folder: str | Path,
) -> tuple[list[int | str], dict[str, torch.Tensor], dict[str, Any]]:
    """A tiny style folder's ``(cfg, features state dict, meta)``; a folder that is not one, or
    whose weights do not load, raises :class:`FeatureError`."""
    from safetensors.torch import load_file

    folder = Path(folder)
    config = read_tiny_config(folder, "style")
    fix = f"delete {folder} and rerun (seedscope.tiny.style.build_tiny_style rebuilds it)"
    cfg, name = config.get("cfg"), config.get("weights")
    if not isinstance(cfg, list) or not isinstance(name, str):
        raise FeatureError(f"{folder / CONFIG_FILE} lacks the network's cfg or weights; {fix}")
    weights = folder / name
    try:
        state = load_file(weights)
    except Exception as err:  # safetensors raises its own SafetensorError besides OSError
        raise FeatureError(f"tiny style weights {weights} do not load ({err}); {fix}") from err
    meta = {
        "weights": "tiny",
        "weights_file": name,
        "weights_sha256": file_sha256(weights),
        "tiny_cfg": cfg,
        "tiny_seed": config.get("seed"),
    }
    return cfg, state, meta
