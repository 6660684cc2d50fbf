"""What a loader needs to read a tiny model back through the path the real weights take: the
tiny folder format (a ``config.json`` naming the format and the extractor), the tiny
Inception-shaped network, and the tiny style network's weights. The builders that write these
folders live in :mod:`seedscope.tiny` (the demo's, above every stage)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from torch import nn

from seedscope.errors import FeatureError
from seedscope.files import file_sha256

FORMAT = "seedscope-tiny-extractor/1"
CONFIG_FILE = "config.json"


class TinyInception(nn.Module):
    """An Inception-shaped CNN: clean-fid's 299x299 [0, 255] input -> ``dim`` pooled features."""

    def __init__(self, channels: list[int], dim: int):
        super().__init__()
        layers: list[nn.Module] = []
        c_in = 3
        for i, c_out in enumerate(channels):
            stride = 4 if i == 0 else 2
            layers += [nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1), nn.ReLU()]
            c_in = c_out
        layers += [nn.Conv2d(c_in, dim, 1), nn.AdaptiveAvgPool2d(1), nn.Flatten()]
        self.layers = nn.Sequential(*layers)
        self.dim = dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Features of a batch already resized to 299x299 (values in [0, 255])."""
        if tuple(x.shape[2:]) != (299, 299):
            raise ValueError(f"expected 299x299 input (clean-fid's resize), got {tuple(x.shape)}")
        return self.layers((x - 128) / 128)


def read_tiny_config(folder: str | Path, name: str) -> dict[str, Any]:
    """The ``config.json`` of a tiny extractor folder, checked to be extractor ``name``."""
    path = Path(folder) / CONFIG_FILE
    fix = f"delete {folder} and rerun the workflow (the rule that builds tiny extractors)"
    try:
        config = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise FeatureError(f"tiny extractor config {path} is unreadable ({err}); {fix}") from err
    if config.get("format") != FORMAT or config.get("extractor") != name:
        raise FeatureError(
            f"{path} is not a tiny {name} extractor (format {config.get('format')!r}, "
            f"extractor {config.get('extractor')!r}); {fix}"
        )
    return config


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
