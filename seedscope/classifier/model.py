"""Classifier architectures from timm, and loading the trained weights back."""

from __future__ import annotations

import difflib
import re
from pathlib import Path

import torch

from seedscope.errors import ConfigError, ModelNotFoundError, error_line


def close_model_names(name: str, limit: int = 10) -> list[str]:
    """timm model names close to ``name``: wildcard matches on its stem, then fuzzy matches."""
    import timm

    stem = re.split(r"[\d._-]", name.lower(), maxsplit=1)[0] or name.lower()
    wildcard = timm.list_models(f"*{stem}*")
    fuzzy = difflib.get_close_matches(name.lower(), timm.list_models(), n=limit, cutoff=0.6)
    return list(dict.fromkeys(fuzzy + sorted(wildcard, key=len)))[:limit]


def build_classifier(
    name: str, num_classes: int, pretrained: bool | str = False, **kwargs
) -> torch.nn.Module:
    """A timm model ``name`` with a ``num_classes``-way head.

    ``pretrained=True`` loads timm's pretrained weights from the Hugging Face hub or cache;
    a string is a local weights file (``.safetensors``/``.pth``) to load instead. Raises
    ``ConfigError`` for an unknown name (listing close ones) and ``ModelNotFoundError`` when
    pretrained weights can be neither downloaded nor found in the cache. Set
    ``HF_HUB_OFFLINE=1`` on machines without network: the failure is then immediate instead of
    ~45 s of retries.
    """
    import timm

    if not timm.is_model(name):
        close = close_model_names(name)
        hint = f"close names: {', '.join(close)}" if close else "see timm.list_models()"
        raise ConfigError(f"unknown timm model {name!r} for the seed classifier; {hint}")
    if num_classes < 2:
        raise ConfigError(f"num_classes={num_classes}: the seed classifier needs at least 2 seeds")
    if isinstance(pretrained, str | Path):
        path = Path(pretrained).expanduser()
        if not path.is_file():
            raise ModelNotFoundError(
                f"pretrained weights file {path} for {name!r} does not exist; give an existing "
                "file or pretrained=False"
            )
        kwargs["pretrained_cfg_overlay"] = {"file": str(path)}
        pretrained = True
    try:
        return timm.create_model(name, pretrained=pretrained, num_classes=num_classes, **kwargs)
    except (OSError, RuntimeError) as err:
        if not pretrained:
            raise
        raise ModelNotFoundError(
            f"could not load pretrained weights for timm model {name!r} "
            f"({error_line(err)}); download them on a machine "
            f"with network (`hf download timm/{name}`) into the Hugging Face cache, pass a "
            "local weights file, or train from scratch with pretrained=False"
        ) from err


def load_classifier(path: str | Path, device: str = "cpu") -> torch.nn.Module:
    """A classifier saved by ``train_classifier`` (``model.safetensors``), in eval mode."""
    from safetensors import safe_open
    from safetensors.torch import load_model

    path = Path(path)
    if not path.is_file():
        raise ModelNotFoundError(f"classifier weights {path} do not exist; train it first")
    with safe_open(str(path), "pt") as f:
        meta = f.metadata() or {}
    if "model_name" not in meta or "num_classes" not in meta:
        raise ModelNotFoundError(
            f"{path} has no model_name/num_classes metadata: it was not written by "
            "seedscope.classifier.train_classifier; train it again"
        )
    model = build_classifier(meta["model_name"], int(meta["num_classes"]))
    load_model(model, str(path), device=device)
    return model.to(device).eval()
