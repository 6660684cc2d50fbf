"""Per-seed text statistics of inpainting, per task, their intervals, and the ``text`` tag.

Given a seed and a task, an inpainting is a fixed function of its image-mask pair, and the pairs
are a random sample of COCO, so each statistic is a mean over pairs.

- **Text ratio** (the mean fraction of the mask covered by text): Gaffke's bound
  (:func:`seedscope.stats.gaffke_interval`), for a mean in [0, 1]. The ratio is mostly 0, and a
  percentile bootstrap over pairs fails there: it gives [0, 0] to a seed whose 500 pairs show
  no text, and at the paper's 500 pairs it covers a true mean of 0.005 (text in 1 % of
  pairs) in 90 % of samples and one of 0.001 in 62 %. This interval keeps at least 95 % at
  every rate and shape of the simulation in ``tests/test_ocr.py``; for a seed without text its
  upper end is Clopper-Pearson's for the rate.
- **Text rate** (the fraction of pairs with text): Clopper-Pearson, exact, as for the style
  flags (:func:`seedscope.stats.clopper_pearson`, whose docstring says why).

**Tag.** The population rate of a task is the fraction of its images with text over all seeds.
A seed is tagged ``text`` when, in either task, the lower bound of its text-rate interval lies
above that population rate plus ``margin``: the rule of the style tags.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from seedscope.errors import ConfigError, FeatureError
from seedscope.stats import clopper_pearson, gaffke_interval

# the columns of each task in the per-seed text table, after the task's name and "_"
TASK_COLUMNS = (
    "n", "ratio", "ratio_lo", "ratio_hi", "ratio_rank", "text_count", "text_rate", "text_lo",
    "text_hi", "text_rank", "text_population", "tag",
)  # fmt: skip


def seed_text_stats(
    text_ratio: ArrayLike,
    has_text: ArrayLike,
    seeds: ArrayLike,
    pair_ids: ArrayLike,
    tasks: ArrayLike,
    confidence: float = 0.95,
    margin: float = 0.1,
    draws: int = 2000,
    rng_seed: int = 0,
) -> pd.DataFrame:
    """One row per seed (sorted by seed): for every task ``t`` (sorted names), ``t_n`` (its
    pairs), ``t_ratio`` with ``t_ratio_lo``/``t_ratio_hi`` (Gaffke's bound) and
    ``t_ratio_rank`` (1 = most text), ``t_text_count``, ``t_text_rate`` with
    ``t_text_lo``/``t_text_hi`` (Clopper-Pearson) and ``t_text_rank``, ``t_text_population``,
    ``t_tag``; then ``text_tag`` (either task) and ``tags`` ("text" or "").

    The inputs hold one value per image, aligned; each (seed, task, pair) may occur once and
    every seed must have every task. The ratio interval of seed ``s`` in task number ``i`` draws
    from ``default_rng([rng_seed, s, i])``: the same with any other seeds alongside.
    """
    if not 0 < confidence < 1:
        raise ConfigError(f"text confidence is {confidence}; set it inside (0, 1), e.g. 0.95")
    if not 0 <= margin < 1:
        raise ConfigError(f"text tag margin is {margin}; set it to a rate in [0, 1), e.g. 0.1")
    if draws < 100:
        raise ConfigError(f"text ratio interval has {draws} draws; use at least 100, e.g. 2000")
    data = _table(text_ratio, has_text, seeds, pair_ids, tasks)
    table = pd.DataFrame({"seed": np.unique(data["seed"])})
    tagged = np.zeros(len(table), dtype=bool)
    for i, task in enumerate(sorted(data["task"].unique())):
        rows = data[data["task"] == task]
        grouped = rows.groupby("seed", sort=True)
        missing = np.setdiff1d(table["seed"], list(grouped.groups))
        if len(missing):
            raise FeatureError(
                f"task {task!r} has no images of seed {missing[0]} ({len(missing)} seeds "
                "missing); pass the feature tables of every task for the same seeds"
            )
        n = grouped.size().to_numpy()
        ratio = grouped["text_ratio"].mean().to_numpy()
        intervals = [
            gaffke_interval(group["text_ratio"], confidence, draws, [rng_seed, s, i])
            for s, group in grouped
        ]
        count = grouped["has_text"].sum().to_numpy()
        lower, upper = clopper_pearson(count, n, confidence)
        population = rows["has_text"].mean()
        table[f"{task}_n"] = n
        table[f"{task}_ratio"] = ratio
        table[f"{task}_ratio_lo"] = [lo for lo, _ in intervals]
        table[f"{task}_ratio_hi"] = [hi for _, hi in intervals]
        table[f"{task}_ratio_rank"] = _rank(ratio)
        table[f"{task}_text_count"] = count
        table[f"{task}_text_rate"] = count / n
        table[f"{task}_text_lo"], table[f"{task}_text_hi"] = lower, upper
        table[f"{task}_text_rank"] = _rank(count / n)
        table[f"{task}_text_population"] = population
        table[f"{task}_tag"] = lower > population + margin
        tagged |= table[f"{task}_tag"].to_numpy()
    table["text_tag"] = tagged
    table["tags"] = np.where(tagged, "text", "")
    return table


def _rank(values: np.ndarray) -> np.ndarray:
    """1 for the largest value; ties share the best rank."""
    return pd.Series(values).rank(ascending=False, method="min").astype(int).to_numpy()


def _table(text_ratio, has_text, seeds, pair_ids, tasks) -> pd.DataFrame:
    columns = {
        "seed": np.asarray(seeds),
        "pair": np.asarray(pair_ids),
        "task": np.asarray(tasks).astype(str),
        "text_ratio": np.asarray(text_ratio, dtype=float),
        "has_text": np.asarray(has_text),
    }
    n = columns["seed"].shape
    if len(n) != 1 or n[0] == 0 or any(v.shape != n for v in columns.values()):
        shapes = ", ".join(f"{k} {v.shape}" for k, v in columns.items())
        raise FeatureError(
            f"per-seed text statistics need one value per image in every column, got {shapes}; "
            "pass aligned, non-empty 1-D arrays"
        )
    ratio = columns["text_ratio"]
    if not (np.isfinite(ratio) & (ratio >= 0) & (ratio <= 1)).all():
        bad = ratio[~(np.isfinite(ratio) & (ratio >= 0) & (ratio <= 1))][0]
        raise FeatureError(f"a text ratio is {bad}, outside [0, 1]; recompute the OCR table")
    flags = columns["has_text"]
    if flags.dtype != bool and not np.isin(flags, (0, 1)).all():
        raise FeatureError("has_text holds values other than true/false; pass the OCR flags")
    columns["has_text"] = flags.astype(bool)
    columns["seed"] = columns["seed"].astype(np.int64)
    data = pd.DataFrame(columns)
    repeated = data.duplicated(["seed", "task", "pair"])
    if repeated.any():
        seed, pair, task = data.loc[repeated, ["seed", "pair", "task"]].iloc[0].tolist()
        raise FeatureError(
            f"seed {seed} has pair {pair!r} of task {task!r} more than once "
            f"({int(repeated.sum())} repeated images): feature tables overlap; pass each once"
        )
    return data
