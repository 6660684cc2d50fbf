"""Per-prompt diversity and quality measures of a prompt's C images, and their estimates over
prompts and seed sets with bootstrap intervals (Table 2).

**Measures** (each maps features ``(P, C, D)`` to one value per prompt, NaN where the prompt is
left out; a NaN feature row is an image without the feature, e.g. an undetected object):

- :func:`prompt_scores`, the paper's score: the mean pairwise cosine similarity over the pairs
  of the prompt's images that have features (lower is more diverse); a prompt with fewer than
  two such images is left out. An image without features is dropped, not its prompt.
- :func:`vendi_scores`: the Vendi score (Friedman and Dieng, TMLR 2023) of the prompt's images
  under the cosine kernel, ``exp(-sum_i l_i log l_i)`` over the eigenvalues ``l_i`` of
  ``K / C``, ``K_ij = cos(f_i, f_j)``: the effective number of distinct images, from 1 (all
  alike) to C (mutually orthogonal); higher is more diverse. Its scale depends on C, so a
  prompt with any image missing is left out.
- :func:`mean_scores`: the mean of a one-dimensional feature (the HPS score) over the images
  that have it.

**Estimates.** A method gives a ``(sets, P)`` matrix of per-set, per-prompt values.
:func:`set_matrix_estimate` is the mean of its defined cells with a percentile bootstrap that
resamples prompts and, independently, the sets (the two-way "pigeonhole" bootstrap, Owen
2007); :func:`set_matrix_difference` is a paired difference of two methods on the same prompts
(one prompt reweighting shared by both, so prompt-to-prompt variation cancels). With one set
they are the plain prompt bootstrap (:func:`mean_interval`). Writing ``s[r, p] = mu + a_r +
b_p + e_rp``, the estimate's variance is ``var(a) / R + var(b) / P + var(e) / (R P)``; the
replicates reproduce the first two terms and count the last up to three times (slightly
conservative). :func:`random_seed_baseline` applies this to random C-seed sets; its coverage
is simulated in ``tests/test_diverse.py`` and, at the paper's size, in
``benchmarks/bench_table2_intervals.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from seedscope.diverse.settings import check_set_size
from seedscope.errors import ConfigError, FeatureError
from seedscope.stats import bootstrap_weights, check_interval_args, percentile_interval

RESAMPLES = 2000


@dataclass(frozen=True)
class Estimate:
    """A mean with its interval; ``prompts`` counted, ``excluded`` the prompts left out (mean
    per set when there are several sets)."""

    value: float
    low: float
    high: float
    prompts: int
    excluded: float


# --- per-prompt measures ------------------------------------------------------------------------


def _cube(features: np.ndarray, least: int = 2) -> np.ndarray:
    f = np.asarray(features, dtype=float)
    if f.ndim != 3:
        raise FeatureError(f"features must be (prompts, images, dims), got shape {f.shape}")
    if f.shape[1] < least:
        raise FeatureError(
            f"a diversity score needs at least {least} images per prompt, got {f.shape[1]}"
        )
    return f


def _unit(f: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unit feature rows (NaN rows zeroed) and the mask of rows that have features."""
    present = ~np.isnan(f).any(axis=2)
    norms = np.linalg.norm(np.where(present[..., None], f, 0.0), axis=2)
    if (norms[present] == 0).any():
        raise FeatureError("a feature vector is all zeros: its cosine similarity is undefined")
    unit = np.where(present[..., None], f, 0.0) / np.where(norms > 0, norms, 1.0)[..., None]
    return unit, present


def prompt_scores(features: np.ndarray) -> np.ndarray:
    """Per prompt, the mean pairwise cosine similarity of its images' feature vectors.

    ``features`` is ``(P, C, D)``; an image whose row has a NaN is dropped, and a prompt with
    fewer than two images left scores NaN (left out). A zero feature vector has no direction,
    so it is an error.
    """
    unit, present = _unit(_cube(features))
    n = present.sum(axis=1).astype(float)
    total = np.einsum("pid,pjd->p", unit, unit)  # over the present pairs, diagonal included
    with np.errstate(invalid="ignore", divide="ignore"):
        scores = (total - n) / (n * (n - 1))
    scores[n < 2] = np.nan
    return scores


def vendi_scores(features: np.ndarray) -> np.ndarray:
    """Per prompt, the Vendi score of its C images under the cosine kernel (1 to C, higher is
    more diverse); NaN for a prompt with any image missing."""
    unit, present = _unit(_cube(features))
    c = unit.shape[1]
    kernel = np.einsum("pid,pjd->pij", unit, unit) / c
    eigen = np.clip(np.linalg.eigvalsh(kernel), 0.0, None)
    with np.errstate(invalid="ignore", divide="ignore"):
        entropy = -np.where(eigen > 0, eigen * np.log(eigen), 0.0).sum(axis=1)
    scores = np.exp(entropy)
    scores[~present.all(axis=1)] = np.nan
    return scores


def mean_scores(features: np.ndarray) -> np.ndarray:
    """Per prompt, the mean of a one-dimensional feature (``(P, C, 1)``, e.g. HPS) over the
    images that have it; NaN where none has."""
    f = _cube(features, least=1)
    if f.shape[2] != 1:
        raise FeatureError(f"a mean needs one value per image, got {f.shape[2]}")
    values = f[..., 0]
    present = ~np.isnan(values)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(present, values, 0.0).sum(axis=1) / present.sum(axis=1)


MEASURES: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "cosine": prompt_scores,
    "vendi": vendi_scores,
    "mean": mean_scores,
}


def set_scores(
    all_features: np.ndarray, sets: np.ndarray, measure: Callable = prompt_scores
) -> np.ndarray:
    """Per-prompt values ``(S, P)`` of ``measure`` for seed sets ``(S, C)`` (indices into
    ``all_features``' seed axis), for features ``(P, N, D)`` of every seed's image per prompt."""
    f = np.asarray(all_features, dtype=float)
    idx = np.asarray(sets, dtype=int)
    if f.ndim != 3 or idx.ndim != 2:
        raise FeatureError(f"need features (P, N, D) and sets (S, C), got {f.shape}, {idx.shape}")
    return np.stack([measure(f[:, s, :]) for s in idx])


def missing_images(all_features: np.ndarray, sets: np.ndarray) -> float:
    """Images without features among the sets' images of every prompt, mean per set."""
    f = np.asarray(all_features, dtype=float)
    missing = np.isnan(f).any(axis=2)  # (P, N)
    return float(np.mean([missing[:, s].sum() for s in np.asarray(sets, dtype=int)]))


# --- estimates ----------------------------------------------------------------------------------


def mean_interval(
    values: np.ndarray, confidence: float = 0.95, resamples: int = RESAMPLES, seed: int = 0
) -> Estimate:
    """Mean of per-prompt ``values`` (NaN = left out) with its percentile bootstrap interval."""
    check_interval_args(confidence, resamples)
    v = np.asarray(values, dtype=float).ravel()
    ok = ~np.isnan(v)
    if ok.sum() < 2:
        raise FeatureError(f"an interval needs at least 2 prompts with scores, got {ok.sum()}")
    w = bootstrap_weights(v.size, resamples, np.random.default_rng(seed))
    with np.errstate(invalid="ignore", divide="ignore"):
        reps = (w @ np.where(ok, v, 0.0)) / (w @ ok)
    low, high = percentile_interval(reps, confidence)
    return Estimate(float(v[ok].mean()), low, high, int(ok.sum()), float((~ok).sum()))


def _pooled(s: np.ndarray, wr: np.ndarray | None, wp: np.ndarray) -> np.ndarray:
    """Replicates of the mean of ``s``'s defined cells, rows weighted by ``wr`` (None: all 1)
    and prompts by ``wp``."""
    ok = ~np.isnan(s)
    s0 = np.where(ok, s, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        if wr is None:
            return (wp @ s0.sum(axis=0)) / (wp @ ok.sum(axis=0).astype(float))
        return ((wr @ s0) * wp).sum(axis=1) / ((wr @ ok) * wp).sum(axis=1)


def _row_weights(r: int, resamples: int, rng) -> np.ndarray | None:
    return None if r == 1 else bootstrap_weights(r, resamples, rng)


def _matrix(s: np.ndarray) -> np.ndarray:
    s = np.asarray(s, dtype=float)
    s = s[None] if s.ndim == 1 else s
    if s.ndim != 2 or 0 in s.shape:
        raise FeatureError(f"scores must be a non-empty (sets, prompts) matrix, got {s.shape}")
    return s


def set_matrix_estimate(
    scores: np.ndarray, confidence: float = 0.95, resamples: int = RESAMPLES, seed: int = 0
) -> Estimate:
    """Mean of the defined cells of ``scores`` ``(sets, P)`` (or ``(P,)``) with a two-way
    percentile bootstrap interval (prompts, and sets when there are several).

    ``prompts`` is P, ``excluded`` the mean number of NaN prompts per set. With one set this
    is :func:`mean_interval`, replicate for replicate.
    """
    check_interval_args(confidence, resamples)
    s = _matrix(scores)
    ok = ~np.isnan(s)
    if ok.any(axis=0).sum() < 2:
        raise FeatureError(
            f"an interval needs at least 2 prompts with scores, got {ok.any(axis=0).sum()}"
        )
    rng = np.random.default_rng(seed)
    wp = bootstrap_weights(s.shape[1], resamples, rng)
    reps = _pooled(s, _row_weights(s.shape[0], resamples, rng), wp)
    low, high = percentile_interval(reps, confidence)
    excluded = float((~ok).sum(axis=1).mean())
    return Estimate(float(s[ok].mean()), low, high, s.shape[1], excluded)


def set_matrix_difference(
    a: np.ndarray,
    b: np.ndarray,
    confidence: float = 0.95,
    resamples: int = RESAMPLES,
    seed: int = 0,
) -> Estimate:
    """Paired difference of two methods' score matrices ``(sets_a, P)`` and ``(sets_b, P)`` on
    the same P prompts: ``mean(a) - mean(b)`` over the prompts both score (a prompt with no
    defined cell in either is dropped from both).

    Each replicate reweights prompts once for both (paired) and each method's sets
    independently. ``prompts`` counts the prompts compared, ``excluded`` those dropped.
    """
    check_interval_args(confidence, resamples)
    a, b = _matrix(a), _matrix(b)
    if a.shape[1] != b.shape[1]:
        raise FeatureError(
            f"paired scores must cover the same prompts: {a.shape[1]} vs {b.shape[1]}"
        )
    both = ~np.isnan(a).all(axis=0) & ~np.isnan(b).all(axis=0)
    if both.sum() < 2:
        raise FeatureError(
            f"a paired interval needs at least 2 prompts scored by both methods, got {both.sum()}"
        )
    a = np.where(both, a, np.nan)
    b = np.where(both, b, np.nan)
    rng = np.random.default_rng(seed)
    wp = bootstrap_weights(a.shape[1], resamples, rng)
    reps = _pooled(a, _row_weights(a.shape[0], resamples, rng), wp) - _pooled(
        b, _row_weights(b.shape[0], resamples, rng), wp
    )
    low, high = percentile_interval(reps, confidence)
    value = float(np.nanmean(a) - np.nanmean(b))
    return Estimate(value, low, high, int(both.sum()), float((~both).sum()))


def random_sets(n: int, c: int, draws: int, seed: int) -> np.ndarray:
    """``draws`` sets of ``c`` distinct seed indices out of ``n`` (``(draws, c)``), seeded."""
    check_set_size(c, n)
    if draws < 2:
        raise ConfigError(f"diverse.random_draws = {draws} is out of range: it must be at least 2")
    rng = np.random.default_rng(seed)
    return np.stack([rng.choice(n, size=c, replace=False) for _ in range(draws)])


def random_seed_baseline(
    all_features: np.ndarray,
    c: int,
    draws: int,
    seed: int,
    confidence: float = 0.95,
    resamples: int = RESAMPLES,
    measure: Callable = prompt_scores,
) -> Estimate:
    """``measure`` of ``c`` random seeds, over ``draws`` seed sets, with its interval.

    ``all_features`` is ``(P, N, D)``: every one of N seeds' image for each of P evaluation
    prompts. Each draw (:func:`random_sets`) picks ``c`` distinct seeds and uses them for every
    prompt, as a user of fixed seeds would. The interval covers the expected value of a random
    ``c``-seed set from this seed pool on the population the prompts were sampled from: both
    the draws and the prompts are resampled (:func:`set_matrix_estimate`).
    """
    f = np.asarray(all_features, dtype=float)
    if f.ndim != 3:
        raise FeatureError(f"features must be (prompts, seeds, dims), got shape {f.shape}")
    s = set_scores(f, random_sets(f.shape[1], c, draws, seed), measure)
    if np.isnan(s).all():
        raise FeatureError("every prompt has missing image features in every draw")
    return set_matrix_estimate(s, confidence, resamples, seed)
