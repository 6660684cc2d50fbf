"""Interval estimators shared by the stages, each proven by a coverage simulation in the tests:
Clopper-Pearson and Wilson intervals of a proportion, Gaffke's bound for a mean in [0, 1], BCa
and percentile bounds of bootstrap replicates, and multinomial bootstrap weights."""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats


def clopper_pearson(
    flagged: ArrayLike, n: ArrayLike, confidence: float = 0.95
) -> tuple[np.ndarray, np.ndarray]:
    """Clopper-Pearson interval of a proportion: ``flagged`` successes out of ``n``
    (arrays broadcast). The lower bound is 0 when none is flagged, the upper 1 when all are."""
    k, n = np.asarray(flagged, dtype=float), np.asarray(n, dtype=float)
    alpha = 1 - confidence
    with np.errstate(invalid="ignore"):
        lower = np.where(k > 0, stats.beta.ppf(alpha / 2, k, n - k + 1), 0.0)
        upper = np.where(k < n, stats.beta.ppf(1 - alpha / 2, k + 1, n - k), 1.0)
    return lower, upper


def wilson_interval(successes: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """The Wilson score interval of a binomial proportion (95% for the default ``z``)."""
    if n == 0:
        return (0.0, 1.0)
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def gaffke_interval(
    values: ArrayLike, confidence: float = 0.95, draws: int = 2000, rng=None
) -> tuple[float, float]:
    """Interval for the mean of ``values`` in [0, 1]: Gaffke's bound (Gaffke 2005; Learned-
    Miller and Thomas 2019, arXiv 1905.06208) on each side, each at level (1 - confidence) / 2.

    The upper end is the ``1 - alpha/2`` quantile of ``sum(w_i x_i) + w_extra * 1`` over
    Dirichlet(1, ..., 1) weights ``w`` on the n values and one extra value at the bound 1; the
    lower end is the ``alpha/2`` quantile with the extra value at 0. It is the Bayesian
    bootstrap with one point at the bound, and is about as wide as a bootstrap when many values
    are non-zero; with all values 0 the upper end is Clopper-Pearson's, ``1 - (alpha/2)^(1/n)``
    (computed exactly). The weights of the zero values only matter through their sum (a
    Gamma(#zeros) draw), so a draw costs O(non-zero values), not O(n). ``draws`` Monte Carlo
    draws, from ``default_rng(rng)``.
    """
    values = np.asarray(values, dtype=float)
    rng = np.random.default_rng(rng)
    n, nonzero = len(values), values[values != 0]
    alpha = 1 - confidence
    if len(nonzero) == 0:  # the extra value's weight is Beta(1, n): its quantile, exactly
        return 0.0, float(1 - (alpha / 2) ** (1 / n))
    weights = rng.standard_gamma(1.0, (draws, len(nonzero) + 1))  # the non-zero values, the bound
    zeros = rng.standard_gamma(n - len(nonzero), draws) if n > len(nonzero) else 0.0
    weighted = weights[:, :-1] @ nonzero
    total = weights.sum(axis=1) + zeros
    lower = np.quantile(weighted / total, alpha / 2)  # the extra value at 0
    upper = np.quantile((weighted + weights[:, -1]) / total, 1 - alpha / 2)  # at 1
    return float(lower), float(upper)


def bca_bounds(reps: np.ndarray, estimate: np.ndarray, values: np.ndarray, confidence: float):
    """BCa bounds per row of ``reps`` (rows x R, NaN: undefined replicate) for a mean whose
    observations per row are ``values`` (rows x P, NaN: not observed)."""
    valid = np.isfinite(reps)
    count = valid.sum(axis=1)
    below = ((reps < estimate[:, None]) & valid).sum(axis=1)
    ties = ((reps == estimate[:, None]) & valid).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        z0 = stats.norm.ppf(np.clip((below + 0.5 * ties) / count, 1e-6, 1 - 1e-6))
        d = np.nan_to_num(values - estimate[:, None])
        acc = np.nan_to_num((d**3).sum(axis=1) / (6 * ((d**2).sum(axis=1)) ** 1.5))
    z = stats.norm.ppf([(1 - confidence) / 2, (1 + confidence) / 2])
    q = stats.norm.cdf(z0[:, None] + (z0[:, None] + z) / (1 - acc[:, None] * (z0[:, None] + z)))
    q = np.clip(np.where(np.isfinite(q), q, 0.5), 0, 1)  # NaN: no replicate at all
    ordered = np.sort(np.where(valid, reps, np.inf), axis=1)
    index = np.rint(q * np.maximum(count - 1, 0)[:, None]).astype(int)
    return np.take_along_axis(ordered, index, axis=1).T


def check_interval_args(confidence: float, resamples: int) -> None:
    """Refuse a confidence outside (0, 1) or fewer than 100 resamples."""
    if not 0 < confidence < 1:
        raise ValueError(f"confidence = {confidence} must be strictly between 0 and 1")
    if resamples < 100:
        raise ValueError(f"resamples = {resamples}: use at least 100 bootstrap resamples")


def bootstrap_weights(n: int, resamples: int, rng: np.random.Generator) -> np.ndarray:
    """Multinomial bootstrap weights: ``resamples`` rows of how often each of ``n`` units is
    drawn."""
    return rng.multinomial(n, np.full(n, 1.0 / n), size=resamples).astype(float)


def percentile_interval(replicates: np.ndarray, confidence: float) -> tuple[float, float]:
    """The percentile interval of the finite ``replicates`` at ``confidence``."""
    alpha = (1 - confidence) / 2
    low, high = np.quantile(replicates[np.isfinite(replicates)], [alpha, 1 - alpha])
    return float(low), float(high)
