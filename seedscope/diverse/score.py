"""The paper's diversity score (mean pairwise cosine similarity of a prompt's C images, averaged
over prompts; lower is more diverse), with bootstrap intervals over prompts.

**Intervals.** Every interval here is a *percentile* bootstrap of a mean over prompts: prompts
are resampled with replacement (seeded), the mean is recomputed, and the ``(1 - confidence) / 2``
and ``(1 + confidence) / 2`` quantiles of the replicates are the bounds. Per-prompt scores are
bounded and only mildly skewed, and P is in the hundreds, so the mean is close to normal and
the percentile interval needs neither a variance formula nor a Student quantile; it under-covers
slightly at small P (its spread is too narrow by ``sqrt((P - 1) / P)``), which
``tests/test_diverse.py`` measures. Resampling is done with multinomial weights, so prompts
excluded for missing features (NaN scores) simply drop out of each replicate's weighted mean.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from seedscope.errors import ConfigError, FeatureError

RESAMPLES = 2000


@dataclass(frozen=True)
class Estimate:
    """A mean with its interval; ``prompts`` counted, ``excluded`` left out for missing features
    (for the random-seed baseline: the mean number excluded per draw)."""

    value: float
    low: float
    high: float
    prompts: int
    excluded: float


def prompt_scores(features: np.ndarray) -> np.ndarray:
    """Per prompt, the mean pairwise cosine similarity of its ``C`` images' feature vectors.

    ``features`` is ``(P, C, D)``. A prompt with any NaN in its images' features scores NaN
    (excluded). A zero feature vector has no direction, so it is an error.
    """
    f = np.asarray(features, dtype=float)
    if f.ndim != 3:
        raise FeatureError(f"features must be (prompts, images, dims), got shape {f.shape}")
    if f.shape[1] < 2:
        raise FeatureError(
            f"a diversity score needs at least 2 images per prompt, got {f.shape[1]}"
        )
    bad = np.isnan(f).any(axis=(1, 2))
    norms = np.linalg.norm(f, axis=2)
    if (norms[~bad] == 0).any():
        raise FeatureError("a feature vector is all zeros: its cosine similarity is undefined")
    unit = f / np.where(norms > 0, norms, 1.0)[..., None]
    c = f.shape[1]
    total = np.einsum("pid,pjd->p", unit, unit)  # sum over all (i, j), diagonal included
    scores = (total - c) / (c * (c - 1))
    scores[bad] = np.nan
    return scores


def diversity_score(features: np.ndarray) -> tuple[float, int]:
    """The diversity score of ``features`` ``(P, C, D)`` and the number of prompts excluded.

    Identical images score 1, mutually orthogonal features 0; lower is more diverse.
    """
    scores = prompt_scores(features)
    excluded = int(np.isnan(scores).sum())
    if excluded == scores.size:
        raise FeatureError(f"all {scores.size} prompts have missing image features")
    return float(np.nanmean(scores)), excluded


def _check_interval_args(confidence: float, resamples: int) -> None:
    if not 0 < confidence < 1:
        raise ValueError(f"confidence = {confidence} must be strictly between 0 and 1")
    if resamples < 100:
        raise ValueError(f"resamples = {resamples}: use at least 100 bootstrap resamples")


def _weights(n: int, resamples: int, rng: np.random.Generator) -> np.ndarray:
    return rng.multinomial(n, np.full(n, 1.0 / n), size=resamples).astype(float)


def _percentiles(replicates: np.ndarray, confidence: float) -> tuple[float, float]:
    alpha = (1 - confidence) / 2
    low, high = np.quantile(replicates[np.isfinite(replicates)], [alpha, 1 - alpha])
    return float(low), float(high)


def mean_interval(
    values: np.ndarray, confidence: float = 0.95, resamples: int = RESAMPLES, seed: int = 0
) -> Estimate:
    """Mean of per-prompt ``values`` (NaN = excluded) with its percentile bootstrap interval."""
    _check_interval_args(confidence, resamples)
    v = np.asarray(values, dtype=float).ravel()
    ok = ~np.isnan(v)
    if ok.sum() < 2:
        raise FeatureError(f"an interval needs at least 2 prompts with scores, got {ok.sum()}")
    w = _weights(v.size, resamples, np.random.default_rng(seed))
    with np.errstate(invalid="ignore", divide="ignore"):
        reps = (w @ np.where(ok, v, 0.0)) / (w @ ok)
    low, high = _percentiles(reps, confidence)
    return Estimate(float(v[ok].mean()), low, high, int(ok.sum()), float((~ok).sum()))


def score_interval(
    features: np.ndarray, confidence: float = 0.95, resamples: int = RESAMPLES, seed: int = 0
) -> Estimate:
    """The diversity score of ``features`` ``(P, C, D)`` with a bootstrap interval over prompts."""
    return mean_interval(prompt_scores(features), confidence, resamples, seed)


def paired_difference(
    a: np.ndarray,
    b: np.ndarray,
    confidence: float = 0.95,
    resamples: int = RESAMPLES,
    seed: int = 0,
) -> Estimate:
    """Mean of ``a - b`` over prompts, from two methods' per-prompt scores on the same prompts.

    Paired: each bootstrap replicate resamples prompts, and a prompt brings both of its scores,
    so the prompt-to-prompt variation the methods share cancels. Prompts excluded in either
    method (NaN) are left out of both; ``excluded`` counts them.
    """
    a = np.asarray(a, dtype=float).ravel()
    b = np.asarray(b, dtype=float).ravel()
    if a.shape != b.shape:
        raise FeatureError(f"paired scores must cover the same prompts: {a.size} vs {b.size}")
    return mean_interval(a - b, confidence, resamples, seed)


def set_scores(all_features: np.ndarray, sets: np.ndarray) -> np.ndarray:
    """Per-prompt scores ``(S, P)`` of seed sets ``(S, C)`` (indices into ``all_features``'
    seed axis), for features ``(P, N, D)`` of every seed's image for every prompt."""
    f = np.asarray(all_features, dtype=float)
    idx = np.asarray(sets, dtype=int)
    if f.ndim != 3 or idx.ndim != 2:
        raise FeatureError(f"need features (P, N, D) and sets (S, C), got {f.shape}, {idx.shape}")
    return np.stack([prompt_scores(f[:, s, :]) for s in idx])


def random_seed_baseline(
    all_features: np.ndarray,
    c: int,
    draws: int,
    seed: int,
    confidence: float = 0.95,
    resamples: int = RESAMPLES,
) -> Estimate:
    """The diversity score of ``c`` random seeds, over ``draws`` seed sets, with its interval.

    ``all_features`` is ``(P, N, D)``: every one of N seeds' image for each of P evaluation
    prompts. Each draw picks ``c`` distinct seeds (``numpy.random.default_rng(seed)``) and uses
    them for every prompt, as a user of fixed seeds would; its scores form a row of the
    ``draws x P`` matrix ``s`` and the estimate is the mean of ``s`` (NaN = prompt excluded).

    What the interval covers: the expected score of a random ``c``-seed set from this seed pool
    on the population the evaluation prompts were sampled from. Both sources of variability
    enter through a two-way ("pigeonhole", Owen 2007) bootstrap: each replicate resamples the
    draws and, independently, the prompts, and takes the weighted mean of ``s``. Writing
    ``s[r, p] = mu + a_r + b_p + e_rp``, the estimate's variance is
    ``var(a) / draws + var(b) / P + var(e) / (draws * P)``; the replicates reproduce the first
    two terms and count the last one up to three times, which is slightly conservative and
    negligible for many draws and hundreds of prompts. With many draws the draw-to-draw term is
    small and the interval is mostly the prompt-to-prompt one.
    """
    _check_interval_args(confidence, resamples)
    f = np.asarray(all_features, dtype=float)
    if f.ndim != 3:
        raise FeatureError(f"features must be (prompts, seeds, dims), got shape {f.shape}")
    n = f.shape[1]
    if not 2 <= c <= n:
        raise ConfigError(
            f"diverse.c = {c} is out of range: it must be between 2 and the number of seeds ({n})"
        )
    if draws < 2:
        raise ConfigError(f"diverse.random_draws = {draws} is out of range: it must be at least 2")
    rng = np.random.default_rng(seed)
    sets = np.stack([rng.choice(n, size=c, replace=False) for _ in range(draws)])
    s = set_scores(f, sets)
    ok = ~np.isnan(s)
    if not ok.any():
        raise FeatureError("every prompt has missing image features in every draw")
    s0 = np.where(ok, s, 0.0)
    wr = _weights(draws, resamples, rng)
    wp = _weights(s.shape[1], resamples, rng)
    with np.errstate(invalid="ignore", divide="ignore"):
        reps = ((wr @ s0) * wp).sum(axis=1) / ((wr @ ok) * wp).sum(axis=1)
    low, high = _percentiles(reps, confidence)
    excluded = float((~ok).sum(axis=1).mean())
    return Estimate(float(s[ok].mean()), low, high, s.shape[1], excluded)
