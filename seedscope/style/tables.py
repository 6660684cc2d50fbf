"""Reading the style stage's feature tables, and the per-seed style table written from them.

A style feature table (``features/style/<model>/<set>/seeds-<first>-<last>.npz``) holds, per
image of the analysis prompts, the raw measures of :data:`seedscope.style.measures.MEASURES`
in its first columns and the projected Gram vector after them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from seedscope.features.table import read_tables
from seedscope.style.measures import FLAGS, MEASURES, Thresholds, flags
from seedscope.style.perseed import seed_rates


@dataclass
class StyleFeatures:
    """The style features of every image of some tables, rows aligned."""

    keys: np.ndarray
    seeds: np.ndarray
    prompt_ids: np.ndarray
    measures: dict[str, np.ndarray]
    gram: np.ndarray


def read_style_tables(paths: Sequence[str | Path]) -> StyleFeatures:
    """Concatenate style feature tables; a table of another extractor is a ``FeatureError``."""
    tables = read_tables(paths, "style")
    features = np.concatenate([t.features for t in tables])
    width = len(MEASURES)
    return StyleFeatures(
        keys=np.concatenate([t.keys for t in tables]),
        seeds=np.concatenate([t.seeds for t in tables]),
        prompt_ids=np.concatenate([t.prompt_ids for t in tables]),
        measures={name: features[:, i] for i, name in enumerate(MEASURES)},
        gram=features[:, width:],
    )


def style_flags(features: StyleFeatures, thresholds: dict[str, float]) -> dict[str, np.ndarray]:
    """Each image's grayscale, sky and border flags under ``thresholds`` (Thresholds fields)."""
    return flags(features.measures, Thresholds(**thresholds))


def style_table(
    features: StyleFeatures, thresholds: dict[str, float], confidence: float, margin: float
) -> pd.DataFrame:
    """Per seed: the flag rates with Clopper-Pearson intervals and tags
    (:func:`seedscope.style.perseed.seed_rates`), and the mean of every raw measure."""
    table = seed_rates(
        style_flags(features, thresholds),
        features.seeds,
        features.prompt_ids,
        confidence=confidence,
        margin=margin,
    )
    means = pd.DataFrame({"seed": features.seeds} | features.measures).groupby("seed").mean()
    means.columns = [f"{name}_mean" for name in means.columns]
    return table.merge(means, left_on="seed", right_index=True, how="left")


def flagged_examples(
    features: StyleFeatures, table: pd.DataFrame, thresholds: dict[str, float], n: int
) -> dict[str, list[tuple[int, str]]]:
    """Per flag, up to ``n`` flagged images ``(seed, prompt_id)`` of the seeds with the highest
    rate (each seed's first flagged prompt, seeds in rate order, then their further images)."""
    image_flags = style_flags(features, thresholds)
    examples = {}
    for name in FLAGS:
        order = table.sort_values([f"{name}_rate", "seed"], ascending=[False, True])["seed"]
        flagged = pd.DataFrame({"seed": features.seeds, "prompt": features.prompt_ids})[
            image_flags[name]
        ]
        by_seed = {s: list(g["prompt"]) for s, g in flagged.groupby("seed")}
        rounds = max((len(v) for v in by_seed.values()), default=0)
        chosen = [
            (int(seed), by_seed[seed][i])
            for i in range(rounds)
            for seed in order
            if seed in by_seed and i < len(by_seed[seed])
        ]
        examples[name] = chosen[:n]
    return examples
