"""Reading the inpainting stage's OCR feature tables, and the per-seed text table from them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from seedscope.errors import FeatureError
from seedscope.features.table import read_tables
from seedscope.inpainting.ocr import COLUMNS
from seedscope.inpainting.perseed import TASK_COLUMNS, seed_text_stats
from seedscope.prompts.rows import read_prompts


@dataclass
class TextFeatures:
    """OCR rows of every image: ``values`` has :data:`seedscope.inpainting.ocr.COLUMNS`; each
    image's pair and task come from its prompt row."""

    seeds: np.ndarray
    prompt_ids: np.ndarray
    pair_ids: np.ndarray
    tasks: np.ndarray
    values: np.ndarray


def read_text_tables(
    paths: Sequence[str | Path], prompt_files: Sequence[str | Path]
) -> TextFeatures:
    """Concatenate OCR feature tables, each row's pair and task taken from the prompt files."""
    meta = {r["id"]: r["meta"] for f in prompt_files for r in read_prompts(f)}
    tables = read_tables(paths, "ocr")
    prompt_ids = np.concatenate([t.prompt_ids for t in tables])
    unknown = [p for p in prompt_ids if p not in meta]
    if unknown:
        raise FeatureError(
            f"prompt {unknown[0]} of the OCR tables is in none of the prompt files given; pass "
            "the inpaint prompt sets the shards were rendered from"
        )
    return TextFeatures(
        seeds=np.concatenate([t.seeds for t in tables]),
        prompt_ids=prompt_ids,
        pair_ids=np.array([meta[p]["pair_id"] for p in prompt_ids]),
        tasks=np.array([meta[p]["task"] for p in prompt_ids]),
        values=np.concatenate([t.features for t in tables]),
    )


def text_table(
    features: TextFeatures, confidence: float, margin: float, resamples: int
) -> pd.DataFrame:
    """Per seed and task: mean text ratio (its interval over pairs), text rate
    (Clopper-Pearson), ranks and the ``text`` tag (:func:`seed_text_stats`)."""
    ratio = features.values[:, COLUMNS.index("text_ratio")]
    has_text = features.values[:, COLUMNS.index("has_text")] > 0
    return seed_text_stats(
        ratio, has_text, features.seeds, features.pair_ids, features.tasks,
        confidence=confidence, margin=margin, draws=resamples,
    )  # fmt: skip


def task_table(table: pd.DataFrame, task: str) -> pd.DataFrame:
    """One task's part of the per-seed text table (:func:`text_table`): ``seed``, ``task``, the
    task's columns without its name (:data:`~seedscope.inpainting.perseed.TASK_COLUMNS`), and
    ``text_tag`` (the tag, from either task)."""
    columns = [f"{task}_{c}" for c in TASK_COLUMNS]
    if not set(columns) <= set(table.columns):
        tasks = sorted(c.removesuffix("_ratio_rank") for c in table if c.endswith("_ratio_rank"))
        raise FeatureError(
            f"the text table has no task {task!r} (it has {tasks}); ask for one of those, or "
            "rebuild the table with that task's OCR tables"
        )
    part = table[["seed", *columns]].rename(columns=dict(zip(columns, TASK_COLUMNS, strict=True)))
    part.insert(1, "task", task)
    part["text_tag"] = table["text_tag"]
    return part
