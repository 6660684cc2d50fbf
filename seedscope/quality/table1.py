"""Paper Table 1: random seeds vs golden seeds, on prompts the golden seeds were not chosen on.

"Random" gives every prompt one seed drawn from all seeds; "golden" one drawn from the golden
set (chosen on another prompt set). Each of ``draws`` draws composes one image set; the value is
the mean over draws, and the CI comes from each draw's subsample replicates over the prompts
(:func:`score_draws`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np

from seedscope.errors import ConfigError
from seedscope.features.table import FeatureTable
from seedscope.quality.frechet import Reference, frechet_to_reference
from seedscope.quality.intervals import (
    FRACTIONS,
    subsample_weights,
    t_interval,
    variance_at_n,
)


def draw_seeds(
    n_prompts: int, pool: list[int], draws: int, seed: int
) -> np.ndarray:  # draws x n_prompts
    """One seed per prompt per draw, uniformly from ``pool`` (seeded)."""
    rng = np.random.default_rng(seed)
    return rng.choice(np.asarray(pool), size=(draws, n_prompts), replace=True)


def compose(
    tables: Iterable[FeatureTable], prompt_ids: list[str], assignments: np.ndarray
) -> np.ndarray:
    """Feature rows of (prompt i, seed ``assignments[d, i]``) for every draw d, streaming tables.

    Reads each table once and keeps only the chosen rows (draws x prompts x dim).
    """
    index = {p: i for i, p in enumerate(prompt_ids)}
    out = None
    found = np.zeros(assignments.shape, dtype=bool)
    for table in tables:
        if out is None:
            out = np.zeros((*assignments.shape, table.features.shape[1]), dtype=np.float64)
        idx = np.array([index.get(str(p), -1) for p in table.prompt_ids])
        valid = idx >= 0
        for d in range(len(assignments)):
            hit = valid & (assignments[d, np.where(valid, idx, 0)] == table.seeds)
            out[d, idx[hit]] = table.features[hit]
            found[d, idx[hit]] = True
    if out is None or not found.all():
        raise ValueError("some drawn (prompt, seed) pairs are in no feature table")
    return out


def score_draws(
    composed: np.ndarray,
    metric: Callable[[np.ndarray, np.ndarray | None], np.ndarray],
    bootstrap: dict,
) -> dict[str, float]:
    """Mean of ``metric`` over draws, and a CI around it.

    Each draw's variance at ``n`` prompts comes from its subsample replicates
    (:mod:`seedscope.quality.intervals`, ``resamples / draws`` per fraction and draw, at least
    10). The draws share their prompts, so their values are correlated; the variance of their
    mean is at most the mean of their variances, which the interval uses (conservative where
    the seed draw matters less than the prompts).
    """
    draws, n = composed.shape[:2]
    per_draw = max(10, bootstrap["resamples"] // draws)
    weights = subsample_weights(n, per_draw, bootstrap["seed"]).reshape(-1, n)
    points, variances, dfs = [], [], []
    for d in range(draws):
        points.append(metric(composed[d], None)[0])
        replicates = metric(composed[d], weights).reshape(len(FRACTIONS), per_draw)
        variance, df = variance_at_n(replicates, n)
        variances.append(variance)
        dfs.append(df)
    value, variances = float(np.mean(points)), np.array(variances)
    noise = np.sum(variances**2 / np.array(dfs))
    df = variances.sum() ** 2 / noise if noise > 0 else 1.0  # Welch-Satterthwaite
    lo, hi = t_interval(value, variances.mean(), df, bootstrap["confidence"])
    return {"value": value, "lo": float(lo), "hi": float(hi)}


def fid_metric(reference: Reference) -> Callable:
    """FID of a composed set against ``reference`` (point or replicate rows)."""
    return lambda features, weights: frechet_to_reference(features, reference, weights)


def hps_metric(features: np.ndarray, weights: np.ndarray | None) -> np.ndarray:
    """Mean HPS of a composed set (point or replicate rows)."""
    scores = features[:, 0]
    if weights is None:
        return np.array([scores.mean()])
    return weights @ scores / len(scores)


def held_out_prompts(prompt_ids: list[str], count: int | None, job: dict) -> list[str]:
    """The first ``count`` of a held-out set's ``prompt_ids`` (all of them when ``count`` is None).

    Raises ``ConfigError`` when the set has fewer prompts than ``count``: Table 1 would
    otherwise report a smaller sample than its configuration says.
    """
    if count is None:
        return list(prompt_ids)
    if count > len(prompt_ids):
        raise ConfigError(
            f"quality.table1.prompts is {count} but prompt set {job['set']!r} has only "
            f"{len(prompt_ids)} prompts; lower it or set it to null to score every prompt"
        )
    return list(prompt_ids[:count])


def random_vs_golden(
    tables: Callable[[], Iterable[FeatureTable]],
    prompt_ids: list[str],
    seeds: list[int],
    golden: list[int],
    metric: Callable,
    settings: dict,
    bootstrap: dict,
) -> list[dict]:
    """Rows of Table 1 for one (model, prompt set, metric): random seeds, then golden seeds.

    ``tables`` returns a fresh iterator over the set's feature tables (they are streamed, not
    held in memory). An empty golden set gives a row with NaN values rather than no row.
    """
    rows = []
    for name, pool in (("random", seeds), ("golden", golden)):
        if not pool:
            rows.append(
                {
                    "seeds": name,
                    "pool": 0,
                    "value": float("nan"),
                    "lo": float("nan"),
                    "hi": float("nan"),
                }
            )
            continue
        assignments = draw_seeds(len(prompt_ids), pool, settings["draws"], settings["seed"])
        composed = compose(tables(), prompt_ids, assignments)
        rows.append({"seeds": name, "pool": len(pool), **score_draws(composed, metric, bootstrap)})
    return rows
