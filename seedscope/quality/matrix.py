"""Golden seeds chosen by one judge, judged by the others on prompts they were not chosen on.

A verifier can be gamed: a seed whose images one metric likes need not be a seed that people,
or other metrics, prefer. For every selector (each per-seed metric alone, and the configured
golden set, the paper's FID and HPS), the golden seeds are the ``top_k`` seeds by that selector
on the FID set (COCO set 1); each cell is, on a held-out set and for one evaluation metric, the
mean per-seed value of those seeds minus the mean over all seeds (random seeds), with its
confidence interval.

The interval comes from the per-seed blocks' subsample replicates, which are paired across seeds
(every seed is subsampled on the same prompts): the difference of the two means is a linear
combination of per-seed values, so its replicates are the same combination of theirs, and
``variance_at_n`` turns them into its variance at the set's number of prompts
(:mod:`seedscope.quality.intervals`). It covers the expected difference over the held-out
prompt distribution for the chosen seeds; since the selection used other prompts, it carries no
selection bias. ``tests/test_golden_matrix.py`` measures its coverage at the paper's size.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from seedscope.quality.golden import golden_and_inferior, top_seeds
from seedscope.quality.intervals import t_interval, variance_at_n
from seedscope.quality.perseed import LOWER_IS_BETTER

CONFIGURED = "golden"  # the selector name of the configured golden set (quality.golden.metrics)


def selections(
    table: pd.DataFrame, golden_metrics: Sequence[str], top_k: int
) -> dict[str, list[int]]:
    """Selector -> its golden seeds on the selection set's per-seed ``table``: the ``top_k``
    seeds by each per-seed metric in the table, and ``CONFIGURED``, the seeds in the top
    ``top_k`` of every one of ``golden_metrics``."""
    chosen = {
        metric: sorted(top_seeds(table, metric, top_k))
        for metric in LOWER_IS_BETTER
        if metric in table.columns
    }
    chosen[CONFIGURED] = golden_and_inferior(table, list(golden_metrics), top_k)[0]
    return chosen


def golden_minus_random(
    blocks: dict[str, np.ndarray], metric: str, golden: Sequence[int], confidence: float
) -> dict[str, float]:
    """Mean ``metric`` of the ``golden`` seeds minus the mean of all seeds of ``blocks`` (the
    merged per-seed blocks of one model and set), with its interval; ``better`` is the
    difference signed so that positive means the golden seeds are better."""
    seeds = blocks["seed"]
    inside = np.isin(seeds, np.asarray(golden, dtype=seeds.dtype))
    if not inside.any():
        return {"value": np.nan, "lo": np.nan, "hi": np.nan, "better": np.nan}
    weights = inside / inside.sum() - 1.0 / len(seeds)  # golden mean minus the overall mean
    value = float(weights @ blocks[metric])
    replicates = np.einsum("s,sfr->fr", weights, blocks[f"{metric}_sub"])
    variance, df = variance_at_n(replicates, int(blocks["n"].max()))
    lo, hi = t_interval(value, variance, df, confidence)
    sign = -1.0 if LOWER_IS_BETTER[metric] else 1.0
    return {"value": value, "lo": float(lo), "hi": float(hi), "better": sign * value}


def matrix_rows(
    model: str,
    chosen: dict[str, list[int]],
    held_out: dict[tuple[str, str], dict[str, np.ndarray]],
    confidence: float,
) -> list[dict]:
    """The matrix rows of one model: for every selector of ``chosen`` and every (held-out
    set, metric) of ``held_out`` (its merged per-seed blocks), the golden-minus-random cell."""
    rows = []
    for selector, golden in chosen.items():
        for (prompt_set, metric), blocks in held_out.items():
            cell = golden_minus_random(blocks, metric, golden, confidence)
            rows.append(
                {
                    "model": model,
                    "selected_by": selector,
                    "golden": len(golden),
                    "seeds": len(blocks["seed"]),
                    "prompt_set": prompt_set,
                    "metric": metric,
                    "prompts": int(blocks["n"].max()),
                }
                | cell
            )
    return rows
