"""Coverage of the per-seed intervals, proven by simulation with a known answer.

Each "seed" of a synthetic block is an independent sample of ``n`` Gaussian feature vectors at
the paper's ratio of dimensions to images (d / n = 2048 / 10000 ~ 0.2). The quantity every
interval must cover is the statistic's expectation at sample size ``n`` (FID at n images, against
the fixed reference), estimated here by averaging many independent samples. The intervals come
from the workflow's own code path: ``fid_block`` / ``score_block`` -> ``summarise``.
"""

from __future__ import annotations

import numpy as np
import pytest

from seedscope.features.table import FeatureTable
from seedscope.quality.frechet import (
    frechet_to_reference,
    kid_to_reference,
    reference_stats,
)
from seedscope.quality.intervals import FRACTIONS, subset_size, variance_at_n
from seedscope.quality.perseed import fid_block, score_block, summarise
from seedscope.quality.table1 import score_draws

N, D = 300, 60  # d / n = 0.2, the paper's per-seed FID (2,048-d Inception, 10,000 images)
TRIALS, RESAMPLES, EXPECTATION_SAMPLES = 200, 100, 1000
BOOTSTRAP = {"resamples": RESAMPLES, "seed": 0, "confidence": 0.95}


class Population:
    """A generated-image feature distribution, unlike the reference (shifted, rescaled)."""

    def __init__(self, rng: np.random.Generator, d: int):
        mix = rng.normal(size=(d, d)) / np.sqrt(d)
        self.transform = 0.8 * np.eye(d) + 0.4 * mix
        self.mean = rng.normal(size=d) * 1.5 / np.sqrt(d)

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.normal(size=(n, len(self.mean))) @ self.transform.T + self.mean


def _block(samples: list[np.ndarray]) -> tuple[FeatureTable, list[str]]:
    """One feature table whose seed ``t`` holds trial ``t``'s sample, one row per prompt."""
    prompts = [f"p{i:04d}" for i in range(len(samples[0]))]
    table = FeatureTable(
        keys=[f"{p}_{t}" for t in range(len(samples)) for p in prompts],
        seeds=[t for t in range(len(samples)) for _ in prompts],
        prompt_ids=prompts * len(samples),
        features=np.concatenate(samples).astype(np.float32),
    )
    return table, prompts


def percentile_interval(replicates: np.ndarray, confidence: float) -> tuple[np.ndarray, ...]:
    alpha = (1 - confidence) / 2
    return tuple(np.quantile(replicates, [alpha, 1 - alpha], axis=-1))


def _old_percentile_intervals(samples, reference) -> dict[str, tuple]:
    """The intervals the workflow used before: percentile intervals of bootstrap replicates
    (multinomial counts; KID over distinct positions of the resample)."""
    counts = np.random.default_rng(0).multinomial(N, np.full(N, 1 / N), size=RESAMPLES)
    fid, kid = [], []
    for x in samples:
        fid.append(frechet_to_reference(x, reference, counts))
        k = (x @ x.T / D + 1.0) ** 3
        within = ((counts @ k) * counts).sum(1) - counts @ np.diagonal(k)
        between = counts @ ((x @ reference.features.numpy().T / D + 1.0) ** 3).mean(1) / N
        kid.append(within / (N * (N - 1)) + reference.kernel_mean - 2 * between)
    return {m: percentile_interval(np.array(v), 0.95) for m, v in (("fid", fid), ("kid", kid))}


@pytest.fixture(scope="module")
def fid_trials():
    """Per-seed FID/KID summaries of TRIALS independent samples, the old intervals, and the
    expectations at n."""
    rng = np.random.default_rng(2024)
    reference = reference_stats(rng.normal(size=(2000, D)), "cpu")
    population = Population(rng, D)
    samples = [population.sample(rng, N) for _ in range(TRIALS)]
    table, prompts = _block(samples)
    summary = summarise(fid_block(table, prompts, reference, BOOTSTRAP), 0.95)
    fresh = [population.sample(rng, N) for _ in range(EXPECTATION_SAMPLES)]
    expected = {
        "fid": np.mean([frechet_to_reference(x, reference)[0] for x in fresh]),
        "kid": np.mean([kid_to_reference(x, reference)[0] for x in fresh[:300]]),
        "fid_sd": np.std([frechet_to_reference(x, reference)[0] for x in fresh]),
    }
    return summary, _old_percentile_intervals(samples[:100], reference), expected


def _coverage(lo, hi, target) -> float:
    return float(np.mean((np.asarray(lo) <= target) & (target <= np.asarray(hi))))


@pytest.mark.parametrize("metric", ["fid", "kid"])
def test_intervals_cover_the_expectation_at_n(fid_trials, metric):
    summary, old, expected = fid_trials
    covered = _coverage(summary[f"{metric}_lo"], summary[f"{metric}_hi"], expected[metric])
    old_covered = _coverage(*old[metric], expected[metric])  # the first 100 trials
    print(f"{metric}: coverage {covered:.3f} (bootstrap percentile intervals: {old_covered:.3f})")
    # 200 trials: a binomial standard error of 1.5 points around 95%.
    assert 0.91 <= covered <= 0.985
    if metric == "fid":  # the bootstrap percentile interval misses almost always at this d / n
        assert old_covered < 0.2


def test_fid_standard_deviation_matches_the_sampling_spread(fid_trials):
    summary, _, expected = fid_trials
    ratio = summary.fid_sd.median() / expected["fid_sd"]
    print(f"estimated sd / true sd of FID at n: {ratio:.3f}")
    assert 0.85 <= ratio <= 1.2


def test_every_interval_contains_its_value(fid_trials):
    summary, _, _ = fid_trials
    for metric in ("fid", "kid"):
        assert (summary[f"{metric}_lo"] <= summary[metric]).all()
        assert (summary[metric] <= summary[f"{metric}_hi"]).all()
        assert (summary[f"{metric}_rank_lo"] <= summary[f"{metric}_rank"]).all()
        assert (summary[f"{metric}_rank"] <= summary[f"{metric}_rank_hi"]).all()


def test_mean_score_interval_covers_the_population_mean():
    """HPS is a mean: its interval is the usual standard error (no quadratic term)."""
    rng = np.random.default_rng(7)
    n, mean = 200, 0.27  # a skewed score distribution with a known mean
    scores = rng.gamma(2.0, mean / 2.0, size=(TRIALS, n))
    table = FeatureTable(
        keys=[f"p{i}_{t}" for t in range(TRIALS) for i in range(n)],
        seeds=[t for t in range(TRIALS) for _ in range(n)],
        prompt_ids=[f"p{i}" for i in range(n)] * TRIALS,
        features=scores.reshape(-1, 1),
    )
    summary = summarise(score_block(table, [f"p{i}" for i in range(n)], BOOTSTRAP, "hps"), 0.95)
    assert 0.91 <= _coverage(summary.hps_lo, summary.hps_hi, mean) <= 0.985
    standard_error = scores.std(1, ddof=1) / np.sqrt(n)
    assert np.median(summary.hps_sd / standard_error) == pytest.approx(1.0, abs=0.1)


def test_rank_intervals_cover_the_true_ranks_when_biases_differ():
    """Seeds whose FID bias differs (different covariances) still get rank intervals that
    cover the rank of their expected FID."""
    rng = np.random.default_rng(11)
    reference = reference_stats(rng.normal(size=(2000, D)), "cpu")
    seeds, repeats = 12, 5
    populations = [Population(rng, D) for _ in range(seeds)]
    for k, population in enumerate(populations):
        population.transform *= 0.7 + 0.05 * k  # spread the expectations and the biases
    expected = np.array(
        [
            np.mean([frechet_to_reference(p.sample(rng, N), reference)[0] for _ in range(100)])
            for p in populations
        ]
    )
    true_rank = (expected[:, None] > expected[None, :]).sum(1) + 1
    hits = []
    for _ in range(repeats):
        table, prompts = _block([p.sample(rng, N) for p in populations])
        summary = summarise(fid_block(table, prompts, reference, BOOTSTRAP), 0.95)
        hits += list((summary.fid_rank_lo <= true_rank) & (true_rank <= summary.fid_rank_hi))
    print(f"rank interval coverage: {np.mean(hits):.3f}")
    assert np.mean(hits) >= 0.9


def test_table1_interval_contains_its_value_and_covers_the_expectation():
    """Table 1's FID over composed draws: value inside its CI, CI around E[FID_n]."""
    rng = np.random.default_rng(5)
    reference = reference_stats(rng.normal(size=(2000, D)), "cpu")
    population = Population(rng, D)
    expected = np.mean(
        [frechet_to_reference(population.sample(rng, N), reference)[0] for _ in range(300)]
    )

    def metric(features, weights):
        return frechet_to_reference(features, reference, weights)

    hits = []
    for trial in range(60):
        composed = np.stack([population.sample(rng, N) for _ in range(2)])
        row = score_draws(composed, metric, {**BOOTSTRAP, "resamples": 40, "seed": trial})
        assert row["lo"] <= row["value"] <= row["hi"]
        hits.append(row["lo"] <= expected <= row["hi"])
    print(f"Table 1 coverage: {np.mean(hits):.3f}")
    assert np.mean(hits) >= 0.88  # 60 trials: a binomial standard error of 2.8 points


def test_variance_at_n_recovers_the_two_terms():
    """Replicates built from a known linear and quadratic variance give back L/n + Q/n^2."""
    n, linear, quadratic = 1000, 4.0, 900.0
    fractions = np.array([subset_size(n, f) / n for f in FRACTIONS])
    spread = linear / n + (1 + fractions) / fractions * quadratic / n**2  # S(f)
    raw_sd = np.sqrt(spread * (1 - fractions) / fractions)
    unit = np.random.default_rng(0).normal(size=(1, 20000))
    unit = (unit - unit.mean()) / unit.std(ddof=1)
    replicates = np.stack([raw_sd[0] * unit[0], raw_sd[1] * unit[0]])
    assert variance_at_n(replicates, n)[0] == pytest.approx(linear / n + quadratic / n**2)
