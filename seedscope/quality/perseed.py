"""Per-seed FID, KID and mean scores (HPS and the others) with paired subsample replicates,
one seed block at a time.

A block job turns one feature table (every prompt x the seeds of one block) into per-seed point
estimates and subsample replicates. Every block draws the same prompt subsets (same ``n``,
``resamples`` and ``seed``), so replicates are paired across seeds: the merge step turns them
into confidence intervals (:mod:`seedscope.quality.intervals`) of each seed's value and of its
rank among all seeds.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from seedscope.errors import FeatureError
from seedscope.features.table import FeatureTable
from seedscope.quality.intervals import (
    FRACTIONS,
    rank_intervals,
    subsample_weights,
    t_interval,
    variance_at_n,
)
from seedscope.study import LOWER_IS_BETTER_METRICS, SCORE_METRICS

if TYPE_CHECKING:  # frechet imports torch: seconds that the table and figure jobs need not pay
    from seedscope.quality.frechet import Reference

# every per-seed metric -> True when lower is better (the order of the per-seed tables' columns)
LOWER_IS_BETTER = dict.fromkeys(LOWER_IS_BETTER_METRICS, True) | dict.fromkeys(SCORE_METRICS, False)


def prompt_order(prompts_jsonl: str | Path) -> list[str]:
    """Prompt ids of a prompt set in file order (the order bootstrap counts refer to)."""
    with open(prompts_jsonl) as rows:
        return [json.loads(line)["id"] for line in rows if line.strip()]


def by_seed(table: FeatureTable, prompt_ids: list[str]) -> dict[int, np.ndarray]:
    """Each seed's feature rows, ordered like ``prompt_ids``; every prompt must be present."""
    pairs = zip(table.seeds, table.prompt_ids, strict=True)
    position = {(int(s), p): i for i, (s, p) in enumerate(pairs)}
    out = {}
    for seed in sorted({int(s) for s in table.seeds}):
        missing = [p for p in prompt_ids if (seed, p) not in position]
        if missing:
            raise FeatureError(
                f"feature table of {table.meta.get('shard', '?')} lacks seed {seed} for "
                f"{len(missing)} prompts (e.g. {missing[:3]}); its shard was rendered for other "
                "prompts - rerun the workflow so generation and extraction catch up"
            )
        out[seed] = table.features[[position[(seed, p)] for p in prompt_ids]]
    return out


def fid_block(
    table: FeatureTable, prompt_ids: list[str], reference: Reference, bootstrap: dict[str, Any]
) -> dict[str, np.ndarray]:
    """Per-seed FID and KID of one block: point estimates and paired subsample replicates
    (``<metric>_sub``: seeds x fractions x resamples, see :mod:`seedscope.quality.intervals`)."""
    from seedscope.quality.frechet import frechet_to_reference, kid_to_reference

    weights = _weights(len(prompt_ids), bootstrap)
    seeds, out = [], {"fid": [], "fid_sub": [], "kid": [], "kid_sub": []}
    for seed, features in by_seed(table, prompt_ids).items():
        seeds.append(seed)
        for metric, statistic in (("fid", frechet_to_reference), ("kid", kid_to_reference)):
            out[metric].append(statistic(features, reference)[0])
            out[f"{metric}_sub"].append(statistic(features, reference, weights).reshape(2, -1))
    n = np.full(len(seeds), len(prompt_ids))
    return {"seed": np.array(seeds), "n": n, **{k: np.array(v) for k, v in out.items()}}


def score_block(
    table: FeatureTable, prompt_ids: list[str], bootstrap: dict[str, Any], metric: str
) -> dict[str, np.ndarray]:
    """Per-seed mean of the score ``metric`` (HPS, PickScore, ...) over ``prompt_ids``: point
    estimates (``<metric>``) and paired subsample replicates (``<metric>_sub``)."""
    weights = _weights(len(prompt_ids), bootstrap)
    seeds, means, subs = [], [], []
    for seed, scores in by_seed(table, prompt_ids).items():
        scores = scores[:, 0].astype(np.float64)
        seeds.append(seed)
        means.append(scores.mean())
        subs.append(weights.reshape(-1, len(scores)) @ scores / len(scores))
    return {
        "seed": np.array(seeds),
        "n": np.full(len(seeds), len(prompt_ids)),
        metric: np.array(means),
        f"{metric}_sub": np.array(subs).reshape(len(seeds), len(FRACTIONS), -1),
    }


def _weights(n: int, bootstrap: dict[str, Any]) -> np.ndarray:
    """The subsample weights every block of a set shares (fractions * resamples x n)."""
    if n < 3:
        raise FeatureError(
            f"per-seed intervals need at least 3 prompts per seed, got {n}; "
            "use more prompts for this set"
        )
    weights = subsample_weights(n, bootstrap["resamples"], bootstrap["seed"])
    return weights.reshape(-1, n)


def save_block(path: str | Path, block: dict[str, np.ndarray]) -> None:
    """Write a block's arrays (``seed``, ``n``, ``<metric>``, ``<metric>_sub``) as an npz."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **block)


def read_arrays(path: str | Path) -> dict[str, np.ndarray]:
    """The arrays of a per-seed ``.npz`` file (a block, or a set's merged replicates)."""
    try:
        with np.load(path) as data:
            return {k: data[k] for k in data.files}
    except (OSError, ValueError) as error:
        raise FeatureError(
            f"per-seed file {path} is unreadable ({error}); delete it and rerun"
        ) from error


def merge_blocks(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Concatenate the blocks of one (model, set, metric group), sorted by seed."""
    if not parts:
        raise FeatureError("no per-seed blocks to merge")
    merged = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    order = np.argsort(merged["seed"], kind="stable")
    return {k: v[order] for k, v in merged.items()}


def load_blocks(paths: list[str | Path]) -> dict[str, np.ndarray]:
    """Concatenate block files of one (model, set, metric group), sorted by seed."""
    return merge_blocks([read_arrays(path) for path in paths])


def join_metrics(groups: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """One set's merged blocks of several metric groups (FID and KID; each score) side by side:
    the same seeds in the same order, ``n`` the largest prompt count."""
    joined: dict[str, np.ndarray] = {}
    for group in groups:
        if "seed" in joined and not np.array_equal(joined["seed"], group["seed"]):
            raise FeatureError(
                "per-seed blocks of one prompt set hold different seeds "
                f"({joined['seed'].tolist()[:5]}... vs {group['seed'].tolist()[:5]}...); "
                "rerun the workflow so every metric's blocks catch up"
            )
        n = np.maximum(joined["n"], group["n"]) if "n" in joined else group["n"]
        joined |= group | {"n": n}
    return joined


def ranks(values: np.ndarray, lower_is_better: bool) -> np.ndarray:
    """1 = best; ties share the smaller rank. Works along the last axis."""
    keyed = values if lower_is_better else -values
    return (keyed[..., :, None] > keyed[..., None, :]).sum(-1) + 1


def summarise(blocks: dict[str, np.ndarray], confidence: float) -> pd.DataFrame:
    """One row per seed: each metric's value, its standard deviation at the number of prompts
    (``sd``), CI, rank and rank CI.

    The value's interval covers the statistic's expectation at its number of prompts and always
    contains the value; the rank interval counts the seeds surely better and surely worse, from
    the paired replicates (:mod:`seedscope.quality.intervals`).
    """
    table = pd.DataFrame({"seed": blocks["seed"]})
    for metric, lower in LOWER_IS_BETTER.items():
        if metric not in blocks:
            continue
        if f"{metric}_sub" not in blocks or "n" not in blocks:
            raise FeatureError(
                f"per-seed blocks hold no {metric} subsample replicates: they were written by an "
                "older seedscope; rerun them with `snakemake --forcerun perseed_block`"
            )
        point, replicates, n = blocks[metric], blocks[f"{metric}_sub"], int(blocks["n"].max())
        table[metric] = point
        variance, df = variance_at_n(replicates, n)
        table[f"{metric}_sd"] = np.sqrt(variance)
        table[f"{metric}_lo"], table[f"{metric}_hi"] = t_interval(point, variance, df, confidence)
        table[f"{metric}_rank"] = ranks(point, lower)
        rank_lo, rank_hi = rank_intervals(point, replicates, n, lower, confidence)
        table[f"{metric}_rank_lo"], table[f"{metric}_rank_hi"] = rank_lo, rank_hi
    return table
