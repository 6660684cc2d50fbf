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

import torch
from torch import nn

from seedscope.tiny_nets import CONFIG_FILE, FORMAT

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
