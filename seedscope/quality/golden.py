"""Golden and inferior seeds, and whether per-seed quality carries over to other prompts.

The paper calls a seed golden when it is among the top 256 of 1,024 seeds by FID and by HPS
(65 seeds for SD 2.0, 67 for SDXL Turbo), and inferior when it is among the bottom 256 of both.
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
