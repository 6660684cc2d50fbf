"""Feature tables: one row per image of a shard, written once per (extractor, shard).

A table is an ``.npz`` file with aligned arrays ``keys`` (image keys of the shard), ``seeds``
(int64), ``prompt_ids`` and ``features`` (float32, one row per image), plus ``meta``: a JSON
string naming the extractor, its settings and the shard it came from. Tables are written to a
temporary name and renamed, like shards, so a killed job never leaves a half table.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from seedscope.errors import FeatureError
from seedscope.files import atomic_output

ARRAYS = ("keys", "seeds", "prompt_ids", "features")


@dataclass
class FeatureTable:
    """Per-image features of one shard (or of reference images, with seed -1)."""

    keys: np.ndarray
    seeds: np.ndarray
    prompt_ids: np.ndarray
    features: np.ndarray
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.keys = np.asarray(self.keys, dtype=str)
        self.seeds = np.asarray(self.seeds, dtype=np.int64)
        self.prompt_ids = np.asarray(self.prompt_ids, dtype=str)
        self.features = np.asarray(self.features, dtype=np.float32)
        if self.features.ndim == 1:
            self.features = self.features[:, None]
        n = len(self.keys)
        if not (len(self.seeds) == len(self.prompt_ids) == len(self.features) == n):
            raise FeatureError(
                f"feature table arrays differ in length: keys {n}, seeds {len(self.seeds)}, "
                f"prompt_ids {len(self.prompt_ids)}, features {len(self.features)}"
            )

    def __len__(self) -> int:
        return len(self.keys)


def write_table(path: str | Path, table: FeatureTable) -> Path:
    """Write ``table`` to ``path`` atomically (``<path>.partial``, fsync, rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    with atomic_output(path, durable=True, tmp=partial) as tmp, open(tmp, "wb") as out:
        np.savez(
            out,
            keys=table.keys,
            seeds=table.seeds,
            prompt_ids=table.prompt_ids,
            features=table.features,
            meta=np.array(json.dumps(table.meta, sort_keys=True)),
        )
    return path


def read_table(path: str | Path) -> FeatureTable:
    """Read a feature table; a missing or corrupt file raises :class:`FeatureError` with the fix."""
    path = Path(path)
    fix = f"delete {path} and rerun the workflow; the rule that makes it will extract it again"
    if not path.exists():
        raise FeatureError(f"feature table {path} does not exist; run the workflow to make it")
    try:
        with np.load(path, allow_pickle=False) as data:
            missing = [name for name in (*ARRAYS, "meta") if name not in data.files]
            if missing:
                raise FeatureError(f"feature table {path} lacks {missing}; {fix}")
            arrays = {name: data[name] for name in ARRAYS}
            meta = json.loads(str(data["meta"]))
    except (OSError, ValueError, zipfile.BadZipFile, EOFError, json.JSONDecodeError) as error:
        raise FeatureError(f"feature table {path} is unreadable ({error}); {fix}") from error
    return FeatureTable(**arrays, meta=meta)


def read_tables(
    paths: Sequence[str | Path], extractor: str, width: int | None = None
) -> list[FeatureTable]:
    """Read the feature tables of one ``extractor`` (and, if given, rows of ``width`` values);
    none given, or a table of another extractor or width, raises :class:`FeatureError`."""
    if not paths:
        raise FeatureError(
            f"no {extractor} feature tables given; pass those of features/{extractor}/"
        )
    tables = [read_table(path) for path in paths]
    for path, table in zip(paths, tables, strict=True):
        found, found_width = table.meta.get("extractor"), table.features.shape[1]
        if found != extractor or width not in (None, found_width):
            raise FeatureError(
                f"{path} holds {found!r} features of width {found_width}, not {extractor} "
                f"features; pass the tables of features/{extractor}/"
            )
    return tables
