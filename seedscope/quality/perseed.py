"""Per-seed FID, KID and HPS with paired bootstrap replicates, one seed block at a time.

A block job turns one feature table (every prompt x the seeds of one block) into per-seed point
estimates and bootstrap replicates. Every block draws the same resampled prompts (same
``n``, ``resamples`` and ``seed``), so replicates are paired across seeds: the merge step turns
them into confidence intervals of each seed's value and of its rank among all seeds.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from seedscope.errors import FeatureError
from seedscope.features.table import FeatureTable
from seedscope.quality.frechet import (
    Reference,
    bootstrap_counts,
    frechet_to_reference,
    kid_to_reference,
)

# metric -> True when lower is better
LOWER_IS_BETTER = {"fid": True, "kid": True, "hps": False}


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
    """Per-seed FID and KID of one block, point estimates and paired bootstrap replicates."""
    counts = bootstrap_counts(len(prompt_ids), bootstrap["resamples"], bootstrap["seed"])
    seeds, out = [], {"fid": [], "fid_boot": [], "kid": [], "kid_boot": []}
    for seed, features in by_seed(table, prompt_ids).items():
        seeds.append(seed)
        out["fid"].append(frechet_to_reference(features, reference)[0])
        out["fid_boot"].append(frechet_to_reference(features, reference, counts))
        out["kid"].append(kid_to_reference(features, reference)[0])
        out["kid_boot"].append(kid_to_reference(features, reference, counts))
    return {"seed": np.array(seeds), **{k: np.array(v) for k, v in out.items()}}


def hps_block(
    table: FeatureTable, prompt_ids: list[str], bootstrap: dict[str, Any]
) -> dict[str, np.ndarray]:
    """Per-seed mean HPS over ``prompt_ids``, point estimates and paired bootstrap replicates."""
    counts = bootstrap_counts(len(prompt_ids), bootstrap["resamples"], bootstrap["seed"])
    seeds, means, boots = [], [], []
    for seed, scores in by_seed(table, prompt_ids).items():
        scores = scores[:, 0].astype(np.float64)
        seeds.append(seed)
        means.append(scores.mean())
        boots.append(counts @ scores / len(scores))
    return {"seed": np.array(seeds), "hps": np.array(means), "hps_boot": np.array(boots)}


def save_block(path: str | Path, block: dict[str, np.ndarray]) -> None:
    """Write a block's arrays (``seed``, ``<metric>``, ``<metric>_boot``) as an npz."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **block)


def load_blocks(paths: list[str | Path]) -> dict[str, np.ndarray]:
    """Concatenate block files of one (model, set, metric group), sorted by seed."""
    if not paths:
        raise FeatureError("no per-seed block files to merge")
    parts = []
    for path in paths:
        try:
            with np.load(path) as data:
                parts.append({k: data[k] for k in data.files})
        except (OSError, ValueError) as error:
            raise FeatureError(
                f"per-seed block {path} is unreadable ({error}); delete it and rerun"
            ) from error
    merged = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    order = np.argsort(merged["seed"], kind="stable")
    return {k: v[order] for k, v in merged.items()}


def ranks(values: np.ndarray, lower_is_better: bool) -> np.ndarray:
    """1 = best; ties share the smaller rank. Works along the last axis."""
    keyed = values if lower_is_better else -values
    return (keyed[..., :, None] > keyed[..., None, :]).sum(-1) + 1


def summarise(blocks: dict[str, np.ndarray], confidence: float) -> pd.DataFrame:
    """One row per seed: each metric's value, percentile CI, rank and rank CI."""
    alpha = (1 - confidence) / 2
    table = pd.DataFrame({"seed": blocks["seed"]})
    for metric, lower in LOWER_IS_BETTER.items():
        if metric not in blocks:
            continue
        point, boot = blocks[metric], blocks[f"{metric}_boot"]  # seeds, seeds x resamples
        table[metric] = point
        table[f"{metric}_lo"] = np.quantile(boot, alpha, axis=1)
        table[f"{metric}_hi"] = np.quantile(boot, 1 - alpha, axis=1)
        table[f"{metric}_rank"] = ranks(point, lower)
        boot_ranks = ranks(boot.T, lower).T  # rank among seeds within each replicate
        table[f"{metric}_rank_lo"] = np.quantile(boot_ranks, alpha, axis=1, method="lower")
        table[f"{metric}_rank_hi"] = np.quantile(boot_ranks, 1 - alpha, axis=1, method="higher")
    return table
