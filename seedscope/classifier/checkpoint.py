"""Training checkpoints of the seed classifier, reused only for the run that wrote them.

A checkpoint records the identity of its run: every setting the weights depend on and what
the training and validation data are (``SeedShardDataset.identity``: the manifests' sha256, the
split's prompt ids, the seeds, the transform). A checkpoint with another identity is stale: it
is ignored with a warning and the run starts over.
"""

from __future__ import annotations

import logging
import pickle
from pathlib import Path
from typing import Any

import torch

from seedscope.errors import error_line
from seedscope.files import atomic_output, json_sha256

log = logging.getLogger(__name__)


def run_identity(settings: dict[str, Any], train_ds, val_ds) -> dict[str, Any]:
    """The identity of a training run: ``settings`` and both datasets' ``identity()``."""
    return {"settings": dict(settings), "train": train_ds.identity(), "val": val_ds.identity()}


def identity_sha256(identity: dict[str, Any]) -> str:
    """The sha256 of ``identity`` in canonical JSON (sorted keys), as hex."""
    return json_sha256(identity, compact=True)


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            out.update(_flatten(item, f"{prefix}.{key}" if prefix else str(key)))
        return out
    return {prefix: value}


def _short(value: Any, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def identity_diff(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """``"key: old there, new now"`` for every (dotted) key whose value differs."""
    a, b = _flatten(old), _flatten(new)
    return [
        f"{key}: {_short(a.get(key))} there, {_short(b.get(key))} now"
        for key in sorted(set(a) | set(b))
        if a.get(key) != b.get(key)
    ]


def load_checkpoint(path: Path, identity: dict[str, Any]) -> dict[str, Any] | None:
    """The state saved at ``path`` if it was written by a run with this ``identity``, else None.

    A missing file gives None silently. An unreadable file, a checkpoint without an identity
    (written before checkpoints had one) and one with another identity give None with a
    warning that says why. The stale file is left where it is: the new run's first checkpoint
    replaces it, and until then a rerun with the old data and settings could still resume it.
    """
    if not path.exists():
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (OSError, RuntimeError, EOFError, ValueError, pickle.UnpicklingError) as err:
        reason = f"it cannot be read ({error_line(err)})"
    else:
        if not isinstance(state, dict) or "identity" not in state:
            reason = "it has no identity (written by an older seedscope)"
        elif state["identity"] != identity:
            changes = identity_diff(state["identity"], identity)
            reason = f"it was written for other data or settings ({'; '.join(changes)})"
        else:
            return state
    log.warning("ignoring checkpoint %s: %s; training from the start", path, reason)
    return None


def save_checkpoint(state: dict[str, Any], path: Path) -> None:
    """Write ``state`` to ``path`` atomically (``<path>.tmp``, then a rename)."""
    with atomic_output(path) as tmp:
        torch.save(state, tmp)
