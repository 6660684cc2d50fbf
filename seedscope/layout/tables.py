"""Reading the layout stage's feature tables (one row per image of the synthetic set)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from seedscope.features.table import read_tables
from seedscope.layout.measures import LAYOUT_COLUMNS


@dataclass
class LayoutFeatures:
    """Layout rows of every image of some tables: ``values`` has :data:`LAYOUT_COLUMNS`."""

    seeds: np.ndarray
    prompt_ids: np.ndarray
    values: np.ndarray


def read_layout_tables(paths: Sequence[str | Path]) -> LayoutFeatures:
    """Concatenate layout feature tables; a table of another extractor is a ``FeatureError``."""
    tables = read_tables(paths, "layout", width=len(LAYOUT_COLUMNS))
    return LayoutFeatures(
        seeds=np.concatenate([t.seeds for t in tables]),
        prompt_ids=np.concatenate([t.prompt_ids for t in tables]),
        values=np.concatenate([t.features for t in tables]),
    )
