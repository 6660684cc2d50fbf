"""Confidence intervals for per-seed statistics that are biased at finite sample size (FID, KID).

**What an interval covers.** FID computed from ``n`` images is biased upwards by roughly
``c d / n`` (the sample covariance of ``d``-dimensional features is noisy; Chong and Forsyth,
CVPR 2020). Every paper therefore reports "FID at n images", and what a per-seed interval covers
is ``E[FID_n]``: the statistic's expectation at the sample size used, for the fixed set of
reference images. The same holds for KID and for mean HPS (for which it is simply the mean).

**Why not the bootstrap.** Resampling ``n`` images with replacement adds the bias a second time
(a resample's duplicates make its covariance noisier still), so bootstrap replicates sit about
one bias above the point estimate: at the paper's ``d / n = 2048 / 10000`` the percentile
interval covers ``E[FID_n]`` in almost no trial. Shifting the replicates back fixes their
location but not their spread, which is too wide by about a third at that ``d / n``: the
replicates' fluctuation includes the noise of the quadratic (bias) term, inflated by duplicates.
``tests/test_intervals.py`` measures both.

**Subsampling with the known scaling.** FID, KID and mean HPS are, to second order, a linear
term (an average over images, variance ``L / n``) plus a degenerate quadratic term (a
U-statistic over pairs of images, variance ``Q / n**2``): ``Var = L / n + Q / n**2``. A random
subset of ``m = f n`` of the ``n`` images, drawn without replacement (so no duplicates), gives a
replicate whose spread around the full-sample value, scaled by ``f / (1 - f)``, is
``S(f) = L / n + (1 + f) / f * Q / n**2`` (finite-population variance of a mean and of a
U-statistic of subsets). Two fractions, ``f = 1/2`` and ``1/4``, give two equations in the two
unknowns, and so the variance at ``n``::

    Var_n = S(1/2) - (a(1/2) - 1) * (S(1/4) - S(1/2)) / (a(1/4) - a(1/2)),  a(f) = (1 + f) / f

which is ``2 S(1/2) - S(1/4)`` for the exact fractions. Because ``L, Q >= 0`` it lies between
``S(1/2) / 3`` and ``S(1/2)``; estimates outside that range (noise) are clipped to it. The
interval is ``value +- t sd``, with Student's ``t`` at the Welch-Satterthwaite degrees of
freedom of that variance estimate (the extrapolation amplifies the noise of the two sample
variances; a normal quantile would under-cover by several points at 100 resamples). It is
symmetric (at thousands of images FID is close to normal) and always contains the value. For a
mean (HPS) ``Q = 0`` and this is the usual standard error.

**Ranks.** The half-sample replicates are paired across seeds (every seed of every block is
subsampled on the same prompts), so they give the variance of the difference between any two
seeds. A seed's rank interval counts the seeds that are surely better and surely worse than it
(:func:`rank_intervals`). Percentiles of replicate ranks are no rank interval: the best of many
near-equal seeds is first in only a few replicates, so such an interval excludes its own rank.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

FRACTIONS = (0.5, 0.25)


def subset_size(n: int, fraction: float) -> int:
    """Images in a subsample of ``fraction`` of ``n`` (at least 2, at most n - 1; below 8 items
    the two fractions can give the same size, and the variance falls back to its upper bound)."""
    return int(min(max(round(fraction * n), 2), n - 1))


def subsample_weights(n: int, resamples: int, seed: int) -> np.ndarray:
    """Weights of random subsets (``len(FRACTIONS) x resamples x n``): ``n / m`` on the ``m``
    chosen items of a subset, 0 elsewhere, so every row sums to ``n``.

    The same ``(n, resamples, seed)`` gives the same subsets in every job, so all seeds are
    subsampled on the same prompts (paired replicates). Needs ``n >= 3``.
    """
    if n < 3:
        raise ValueError(f"subsampling needs at least 3 items, got {n}")
    rng = np.random.default_rng(seed)
    weights = np.zeros((len(FRACTIONS), resamples, n))
    for i, fraction in enumerate(FRACTIONS):
        m = subset_size(n, fraction)
        chosen = np.argsort(rng.random((resamples, n)), axis=1)[:, :m]
        np.put_along_axis(weights[i], chosen, n / m, axis=1)
    return weights


def variance_at_n(replicates: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The variance of the full-sample statistic from subsample replicates, and its degrees of
    freedom.

    ``replicates`` has shape ``(..., len(FRACTIONS), resamples)``: values of the statistic on the
    subsets of :func:`subsample_weights`. Returns two arrays of shape ``(...)``: the variance,
    and the Welch-Satterthwaite degrees of freedom of that estimate (a combination of two
    sample variances of ``resamples`` replicates each), for a t interval that accounts for the
    estimate's own noise.
    """
    resamples = replicates.shape[-1]
    fractions = np.array([subset_size(n, f) / n for f in FRACTIONS])
    scaled = np.nanvar(replicates, axis=-1, ddof=1) * fractions / (1 - fractions)
    inflation = (1 + fractions) / fractions
    s1, s2 = scaled[..., 0], scaled[..., 1]
    if inflation[1] == inflation[0]:  # too few items for two subset sizes: the upper bound
        return s1, np.full_like(s1, resamples - 1.0)
    k = (inflation[0] - 1) / (inflation[1] - inflation[0])
    variance = (1 + k) * s1 - k * s2
    clipped = (variance < s1 / inflation[0]) | (variance > s1)
    variance = np.clip(variance, s1 / inflation[0], s1)
    noise = ((1 + k) * s1) ** 2 + (k * s2) ** 2
    df = np.divide(variance**2, noise, out=np.ones_like(variance), where=noise > 0)
    df = np.where(clipped, 1.0, df) * (resamples - 1)
    return variance, np.maximum(df, 1.0)


def t_interval(
    value: np.ndarray | float,
    variance: np.ndarray | float,
    df: np.ndarray | float,
    confidence: float,
) -> tuple[np.ndarray, np.ndarray]:
    """``value -+ t sd`` with ``t`` the Student quantile of ``confidence`` at ``df``."""
    half_width = stats.t.ppf((1 + confidence) / 2, df) * np.sqrt(variance)
    return np.asarray(value) - half_width, np.asarray(value) + half_width


def rank_intervals(
    value: np.ndarray, replicates: np.ndarray, n: int, lower_is_better: bool, confidence: float
) -> tuple[np.ndarray, np.ndarray]:
    """Each seed's rank interval (1 = best) from pairwise comparisons with every other seed.

    ``replicates`` (``seeds x fractions x resamples``) are paired across seeds. A seed ``j`` is
    surely better than ``i`` when the t interval of ``value[i] - value[j]`` excludes zero, with
    the variance of the difference taken from the paired half-sample replicates, each scaled to
    its seed's variance at ``n``; the interval runs from 1 + the number of seeds surely better
    to the number of seeds minus those surely worse. It always contains the seed's rank: a seed
    surely better is also better by value.
    """
    half = replicates[:, 0]
    spread = np.nanstd(half, axis=-1, ddof=1, keepdims=True)
    sd = np.sqrt(variance_at_n(replicates, n)[0])[:, None]
    scale = np.divide(sd, spread, out=np.zeros_like(sd), where=spread > 0)
    deviations = np.nan_to_num((half - np.nanmean(half, axis=-1, keepdims=True)) * scale)
    covariance = deviations @ deviations.T / (half.shape[-1] - 1)
    variances = np.diagonal(covariance)
    spread_of_difference = np.sqrt(
        np.clip(variances[:, None] + variances[None, :] - 2 * covariance, 0, None)
    )
    margin = stats.t.ppf((1 + confidence) / 2, half.shape[-1] - 1) * spread_of_difference
    worse_by = value[:, None] - value[None, :]  # i's value minus j's, lower is better
    if not lower_is_better:
        worse_by = -worse_by
    surely_better = worse_by - margin > 0  # [i, j]: j is surely better than i
    surely_worse = worse_by + margin < 0
    return 1 + surely_better.sum(1), len(value) - surely_worse.sum(1)
