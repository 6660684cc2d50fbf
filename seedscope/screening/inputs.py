"""From the per-seed block files to the rule's inputs: estimates, standard errors, degrees of
freedom.

The rule (:mod:`seedscope.screening.rule`) compares seeds with the k-th best, so only
differences between seeds matter. Each metric is therefore *centred*: from every seed's value
the mean of a fixed panel of seeds (rendered on every prompt of every round) is subtracted,
on the same prompts. The ranking of the centred exhaustive values is the ranking of the
exhaustive values, and the prompt effects that all seeds share (an easy prompt raises every
seed's HPS; a prompt set's content moves every seed's FID) cancel, so the intervals are as
wide as a seed's own noise, not the prompts'. The panel's own noise is a common shift of every
centred value, which no comparison sees.

* **HPS** (and every other mean score of ``score_block``) is a mean over prompts: its centred
  value is the mean of ``score - panel mean`` per prompt, and its variance at ``n`` is that of
  the half-sample replicates (for a mean the half-sample formula is exact: no pairwise term),
  with ``resamples - 1`` degrees of freedom.
* **FID** at ``n`` prompts is biased upwards by about ``b_s / n``, and ``b_s`` differs between
  seeds that make more or less varied images: on 2,048-d Gaussian features, a seed whose own
  feature variance is 5 % larger has a bias larger by 0.41 at 256 prompts, 0.22 at 1,024, 0.13
  at 2,048 and 0.02 at 10,000, while its exhaustive FID is 0.39 lower
  (``benchmarks/bench_screening.py --calibrate``). :func:`jackknife_fid` removes the
  bias to first order with the mean of the half-sample replicates the blocks already hold; its
  variance is taken as that of FID at ``n``. Per seed, the half-sample variance ``S(1/2)`` is an
  upper bound of it (``L, Q >= 0`` in :mod:`seedscope.quality.intervals`) with
  ``resamples - 1`` degrees of freedom; it is scaled by the share of it that the variance at
  ``n`` is, pooled over all seeds (:func:`~seedscope.quality.intervals.variance_at_n` summed:
  the split between the linear and the pairwise term is the extractor's and the prompts', not
  the seed's). Per-seed extrapolation would leave 2 to 20 degrees of freedom, and Student
  quantiles at the screening's levels (about 1e-6) are useless there. The jackknife assumes
  ``b(n)`` proportional to ``1 / n``; below about ``d`` prompts it is not (FID of fewer images
  than dimensions), and what it leaves still differs between seeds, so FID should inform the
  decisions only from about ``d`` prompts on (``min_prompts``, docs/screening.md).

Both variances are multiplied by ``1 - (n / N)**2`` for ``N`` the budget: the screening targets
the values on all ``N`` prompts, of which the ``n`` so far are a random subset, so the error
shrinks to 0 at ``n = N`` (the finite-population correction of a mean is ``1 - n / N``; that of
the pairwise term ``1 - (n / N)**2``, the larger, is used for both).
"""

from __future__ import annotations

import numpy as np

from seedscope.errors import ConfigError
from seedscope.quality.intervals import FRACTIONS, subset_size, variance_at_n


def jackknife_fid(point, half_mean, n: int, budget: int):
    """FID extrapolated from ``n`` to ``budget`` prompts: ``point - (1 - n / N) * b_hat``.

    ``half_mean`` is the mean FID of the half-sample replicates (``fid_sub[:, 0]``); with
    ``E[FID_m] = F + b / m``, ``half_mean - point`` estimates ``b / n * (1 / f - 1)`` for the
    realised fraction ``f`` of a half subset.
    """
    f = subset_size(n, FRACTIONS[0]) / n
    bias_at_n = (np.asarray(half_mean) - np.asarray(point)) / (1 / f - 1)
    return np.asarray(point) - (1 - n / budget) * bias_at_n


def finite_population(n: int, budget: int) -> float:
    """``1 - (n / N)**2``: the variance factor of an estimate from ``n`` of ``N`` prompts."""
    return max(0.0, 1 - (n / budget) ** 2)


def _panel_mean(values: np.ndarray, panel: np.ndarray) -> np.ndarray:
    return values[panel].mean(axis=0, keepdims=True)


def _half_variance(half: np.ndarray, n: int) -> np.ndarray:
    """``S(1/2)``: the variance of half-sample replicates scaled to ``n`` (``f / (1 - f)``),
    the variance at ``n`` of a mean, and an upper bound of it for FID."""
    f = subset_size(n, FRACTIONS[0]) / n
    return np.var(half, axis=-1, ddof=1) * f / (1 - f)


def _check(blocks: dict[str, np.ndarray], metric: str, panel, budget: int):
    for key in (metric, f"{metric}_sub", "n", "seed"):
        if key not in blocks:
            raise ConfigError(f"per-seed blocks lack '{key}': they are not {metric} blocks")
    n = int(blocks["n"].max())
    if int(blocks["n"].min()) != n:
        raise ConfigError("every seed of a screening round must have the same prompts")
    if not 3 <= n <= budget:
        raise ConfigError(f"a round of {n} prompts must lie between 3 and the budget {budget}")
    panel = np.isin(blocks["seed"], np.asarray(panel))
    if not panel.any():
        raise ConfigError("none of the panel seeds is in these blocks; render the panel first")
    return n, panel


def score_inputs(blocks: dict[str, np.ndarray], panel, budget: int, metric: str = "hps"):
    """Centred mean score (HPS by default), its standard error at ``n`` of ``budget`` prompts,
    and its degrees of freedom, from merged ``score_block`` arrays
    (:func:`seedscope.quality.perseed.load_blocks`)."""
    n, in_panel = _check(blocks, metric, panel, budget)
    value = blocks[metric] - blocks[metric][in_panel].mean()
    half = blocks[f"{metric}_sub"][:, 0]
    half = half - _panel_mean(half, in_panel)
    variance = _half_variance(half, n) * finite_population(n, budget)
    return value, np.sqrt(variance), np.full(len(value), half.shape[-1] - 1.0)


def fid_inputs(blocks: dict[str, np.ndarray], panel, budget: int):
    """Centred, jackknife-corrected FID, its standard error and degrees of freedom, from
    merged ``fid_block`` arrays."""
    n, in_panel = _check(blocks, "fid", panel, budget)
    replicates = blocks["fid_sub"]
    value = jackknife_fid(blocks["fid"], replicates[:, 0].mean(-1), n, budget)
    value = value - value[in_panel].mean()
    centred = replicates - _panel_mean(replicates, in_panel)
    half = _half_variance(centred[:, 0], n)
    extrapolated, _ = variance_at_n(centred, n)
    share = extrapolated.sum() / half.sum() if half.sum() > 0 else 1.0
    sd = np.sqrt(half * share * finite_population(n, budget))
    return value, sd, np.full(len(value), centred.shape[-1] - 1.0)
