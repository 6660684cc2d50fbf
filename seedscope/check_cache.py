"""Config checks that need a library, remembered once they pass.

Fitting a model entry to its diffusers pipeline class, or a classifier backbone to timm's
registry, imports torch: about 8 s at every start of Snakemake, dry runs included. Each check's
result depends only on the checked values and the library's version, so a check that passed is
remembered as an empty file named by the hash of both, in ``$SEEDSCOPE_CACHE`` (default
``~/.cache/seedscope/checks``). A failing check is never remembered: it raises every time.
Where the folder cannot be written, every check runs.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

from seedscope.files import json_sha256


def cache_folder() -> Path:
    """Where passed checks are remembered."""
    if os.environ.get("SEEDSCOPE_CACHE"):
        return Path(os.environ["SEEDSCOPE_CACHE"]) / "checks"
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "seedscope" / "checks"


def library_version(distribution: str) -> str:
    """The installed version of ``distribution``, or ``missing``."""
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "missing"


def check_once(name: str, libraries: list[str], check: Callable[..., None], *args: Any) -> None:
    """Run ``check(*args)`` unless the check ``name`` has passed for the same ``args`` (JSON
    values) with the same versions of ``libraries``; remember it when it passes (a check
    that fails raises)."""
    versions = {library: library_version(library) for library in libraries}
    key = json_sha256({"check": name, "args": list(args), "versions": versions})
    marker = cache_folder() / key
    if marker.exists():
        return
    check(*args)
    try:
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.touch()
    except OSError:
        pass
