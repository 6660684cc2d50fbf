"""Golden and inferior seeds, and whether per-seed quality carries over to other prompts.

The paper calls a seed golden when it is among the top 256 of 1,024 seeds by FID and by HPS
(65 seeds for SD 2.0, 67 for SDXL Turbo), and inferior when it is among the bottom 256 of both.
Two independent top-256 lists of 1,024 share 256 * 256 / 1,024 = 64 seeds by chance, so those
counts say little by themselves: ``golden_vs_chance`` puts the number expected by chance and a
permutation p-value beside them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from seedscope.quality.perseed import LOWER_IS_BETTER


def top_seeds(table: pd.DataFrame, metric: str, k: int, best: bool = True) -> set[int]:
    """The ``k`` best (or worst) seeds by ``metric`` (ties broken by seed)."""
    ascending = LOWER_IS_BETTER[metric] == best
    ordered = table.sort_values([metric, "seed"], ascending=[ascending, True])
    return set(ordered["seed"].head(min(k, len(table))).astype(int))


def golden_and_inferior(
    table: pd.DataFrame, metrics: list[str], top_k: int
) -> tuple[list[int], list[int]]:
    """Seeds in the top ``top_k`` of every metric, and those in the bottom ``top_k`` of all."""
    golden = set.intersection(*(top_seeds(table, m, top_k, best=True) for m in metrics))
    inferior = set.intersection(*(top_seeds(table, m, top_k, best=False) for m in metrics))
    return sorted(golden), sorted(inferior)


def expected_overlap(n: int, ks: list[int]) -> float:
    """Seeds expected in every one of ``len(ks)`` independent random top-``k_i`` lists of ``n``.

    ``n * prod(k_i / n)``; for two lists ``k_1 * k_2 / n`` (64 at the paper's 256, 256 and 1,024).
    """
    return float(n * np.prod([min(k, n) / n for k in ks]))


def overlap_p_value(
    n: int, ks: list[int], observed: int, permutations: int = 10_000, seed: int = 0
) -> float:
    """Permutation p-value of ``observed`` seeds in all of the top-``k_i`` lists of ``n`` seeds.

    Each permutation shuffles the seed labels of every metric's ranking independently (a seed is
    in metric i's list when its shuffled rank is below ``k_i``) and counts the seeds in every list;
    the p-value is ``(1 + #{overlap >= observed}) / (1 + permutations)``, so never below
    ``1 / (1 + permutations)``. The overlap does not change when one relabelling is applied to
    every metric at once, so the first metric's labels stay put and the others are shuffled: the
    same null distribution for one shuffle fewer. The shuffles dominate the time (about 0.2 s for
    10,000 permutations of 1,024 seeds and two metrics; benchmarks/bench_golden_permutations.py).
    """
    if permutations < 1:
        raise ValueError(f"permutations must be positive, not {permutations}")
    ks = [min(int(k), n) for k in ks]
    rng = np.random.default_rng(seed)
    dtype = np.int16 if n < 2**15 else np.int64
    chunk = max(1, min(permutations, 2_000_000 // max(n, 1)))
    hits = 0
    for start in range(0, permutations, chunk):
        size = min(chunk, permutations - start)
        ranks = np.broadcast_to(np.arange(n, dtype=dtype), (size, n))
        in_all = ranks < ks[0]
        for k in ks[1:]:
            in_all &= rng.permuted(ranks, axis=1) < k
        hits += int((in_all.sum(axis=1) >= observed).sum())
    return (1 + hits) / (1 + permutations)


def hypergeom_p_value(n: int, k1: int, k2: int, observed: int) -> float:
    """Exact P(overlap >= observed) of two independent random top-k lists (hypergeometric tail)."""
    return float(stats.hypergeom.sf(observed - 1, n, min(k1, n), min(k2, n)))


def golden_vs_chance(
    table: pd.DataFrame,
    metrics: list[str],
    top_k: int,
    permutations: int = 10_000,
    seed: int = 0,
) -> pd.DataFrame:
    """Golden and inferior counts beside the count expected by chance and a p-value.

    One row per tag (golden, inferior): ``count`` seeds in the top (bottom) ``top_k`` of every
    metric; ``expected_by_chance`` if the metrics ranked seeds independently; ``p_value`` from
    ``permutations`` label shuffles (``overlap_p_value``); ``p_hypergeom``, the exact tail for two
    metrics (NaN otherwise) as a cross-check; ``N`` seeds, ``k`` (``top_k`` capped at N) and the
    metrics joined by ``+``. With one metric the overlap is the whole list and ``p_value`` is 1.
    """
    n = len(table)
    k = min(top_k, n)
    ks = [k] * len(metrics)
    golden, inferior = golden_and_inferior(table, metrics, top_k)
    rows = []
    for offset, (tag, seeds) in enumerate((("golden", golden), ("inferior", inferior))):
        count = len(seeds)
        rows.append(
            {
                "tag": tag,
                "count": count,
                "expected_by_chance": expected_overlap(n, ks),
                "p_value": overlap_p_value(n, ks, count, permutations, seed + offset),
                "p_hypergeom": (
                    hypergeom_p_value(n, k, k, count) if len(metrics) == 2 else float("nan")
                ),
                "permutations": permutations,
                "N": n,
                "k": k,
                "metrics": "+".join(metrics),
            }
        )
    return pd.DataFrame(rows)


def correlation_ci(
    x: np.ndarray, y: np.ndarray, resamples: int, confidence: float, seed: int
) -> dict[str, float]:
    """Spearman and Kendall correlations of paired per-seed values, with CIs over seeds."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    rng = np.random.default_rng(seed)
    alpha = (1 - confidence) / 2
    out = {}
    for name, fn in (("spearman", stats.spearmanr), ("kendall", stats.kendalltau)):
        point = float(fn(x, y)[0])
        boot = []
        for _ in range(resamples):
            idx = rng.integers(0, len(x), len(x))
            if np.ptp(x[idx]) > 0 and np.ptp(y[idx]) > 0:
                boot.append(fn(x[idx], y[idx])[0])
        out[name] = point
        out[f"{name}_lo"] = float(np.quantile(boot, alpha)) if boot else float("nan")
        out[f"{name}_hi"] = float(np.quantile(boot, 1 - alpha)) if boot else float("nan")
    return out


def generalisation(
    set1: pd.DataFrame,
    set2: pd.DataFrame,
    metrics: list[str],
    top_k: int,
    bootstrap: dict,
) -> pd.DataFrame:
    """Per metric: correlation of per-seed values between two prompt sets, and golden overlap."""
    both = set1.merge(set2, on="seed", suffixes=("_1", "_2"))
    golden1, _ = golden_and_inferior(set1, metrics, top_k)
    golden2, _ = golden_and_inferior(set2, metrics, top_k)
    rows = []
    for metric in [m for m in LOWER_IS_BETTER if f"{m}_1" in both and f"{m}_2" in both]:
        top1 = top_seeds(set1, metric, top_k)
        top2 = top_seeds(set2, metric, top_k)
        rows.append(
            {
                "metric": metric,
                "seeds": len(both),
                **correlation_ci(
                    both[f"{metric}_1"],
                    both[f"{metric}_2"],
                    bootstrap["resamples"],
                    bootstrap["confidence"],
                    bootstrap["seed"],
                ),
                "top_k": min(top_k, len(both)),
                "top_k_kept": len(top1 & top2),
            }
        )
    summary = pd.DataFrame(rows)
    summary["golden_1"] = len(golden1)
    summary["golden_kept"] = len(set(golden1) & set(golden2))
    return summary
