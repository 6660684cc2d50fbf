"""Per-seed means of any score, and golden seeds chosen by one metric judged by another
(seedscope.quality.perseed.score_block, seedscope.quality.matrix): their intervals cover a
known truth at the paper's size, 1,024 seeds x 1,000 prompts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from seedscope.quality.intervals import FRACTIONS, subsample_weights
from seedscope.quality.matrix import CONFIGURED, golden_minus_random, matrix_rows, selections
from seedscope.quality.perseed import summarise

SEEDS, PROMPTS, RESAMPLES = 1024, 1000, 100


def simulated_blocks(scores: np.ndarray, weights: np.ndarray, metric: str) -> dict:
    """What ``score_block`` writes for a (prompts x seeds) score matrix, for all seeds at once
    (the same arithmetic: the per-seed mean and its paired subsample replicates)."""
    n = scores.shape[0]
    replicates = (weights.reshape(-1, n) @ scores / n).T.reshape(
        scores.shape[1], len(FRACTIONS), -1
    )
    return {
        "seed": np.arange(scores.shape[1]),
        "n": np.full(scores.shape[1], n),
        metric: scores.mean(axis=0),
        f"{metric}_sub": replicates,
    }


def draw_scores(rng, seed_effect: np.ndarray) -> np.ndarray:
    """Scores of every (prompt, seed): seed effect + a prompt effect shared by all seeds +
    heavy-tailed image noise (t with 5 degrees of freedom, as scores have outliers)."""
    prompt_effect = rng.normal(0, 0.02, (PROMPTS, 1))
    noise = 0.02 * rng.standard_t(5, (PROMPTS, len(seed_effect)))
    return seed_effect + prompt_effect + noise


def test_score_block_matches_its_simulation_twin():
    from seedscope.features.table import FeatureTable
    from seedscope.quality.perseed import score_block

    rng = np.random.default_rng(0)
    scores = rng.normal(size=(12, 3))
    prompts = [f"p{i}" for i in range(12)]
    table = FeatureTable(
        keys=[f"p{i}_{s}" for i in range(12) for s in range(3)],
        seeds=[s for _ in range(12) for s in range(3)],
        prompt_ids=[p for p in prompts for _ in range(3)],
        features=scores.reshape(-1, 1),
    )
    bootstrap = {"resamples": 20, "seed": 5}
    block = score_block(table, prompts, bootstrap, "pickscore")
    twin = simulated_blocks(scores, subsample_weights(12, 20, 5), "pickscore")
    assert set(block) == {"seed", "n", "pickscore", "pickscore_sub"}
    np.testing.assert_allclose(block["pickscore"], twin["pickscore"], atol=1e-6)
    np.testing.assert_allclose(block["pickscore_sub"], twin["pickscore_sub"], atol=1e-6)


def test_per_seed_means_and_golden_differences_cover_their_truth_at_the_papers_size():
    """Per seed: the interval of the mean score covers the seed's expectation. Golden seeds
    chosen on independent prompts (as on COCO set 1): the interval of golden minus random on
    held-out prompts covers the true difference of the chosen seeds."""
    rng = np.random.default_rng(1)
    seed_effect = rng.normal(0.26, 0.004, SEEDS)  # per-seed means with a realistic spread
    weights = subsample_weights(PROMPTS, RESAMPLES, 0)
    trials, per_seed, golden_hits = 40, [], []
    for _ in range(trials):
        selection = draw_scores(rng, seed_effect).mean(axis=0)
        golden = np.argsort(-selection)[:256]
        blocks = simulated_blocks(draw_scores(rng, seed_effect), weights, "pickscore")
        table = summarise(blocks, 0.95)
        per_seed.append(
            ((table["pickscore_lo"] <= seed_effect) & (seed_effect <= table["pickscore_hi"])).mean()
        )
        truth = seed_effect[golden].mean() - seed_effect.mean()
        cell = golden_minus_random(blocks, "pickscore", golden, 0.95)
        golden_hits.append(cell["lo"] <= truth <= cell["hi"])
        assert cell["better"] == pytest.approx(cell["value"])  # higher is better for scores
    # 40,960 seed intervals (correlated within a trial through the shared prompts)
    assert 0.93 <= np.mean(per_seed) <= 0.97, np.mean(per_seed)
    # 40 golden-set intervals: fewer than 33 covered has probability < 0.3% at 95%
    assert sum(golden_hits) >= 33, np.mean(golden_hits)


def test_selectors_each_metric_and_the_configured_golden_set():
    table = pd.DataFrame(
        {
            "seed": [0, 1, 2, 3],
            "fid": [10.0, 12.0, 11.0, 13.0],
            "kid": [0.1, 0.3, 0.2, 0.4],
            "hps": [0.20, 0.30, 0.25, 0.10],
            "pickscore": [20.0, 19.0, 21.0, 18.0],
        }
    )
    chosen = selections(table, ["fid", "hps"], 2)
    assert chosen == {
        "fid": [0, 2],
        "kid": [0, 2],
        "hps": [1, 2],
        "pickscore": [0, 2],
        CONFIGURED: [2],
    }


def test_cells_are_signed_by_what_is_better_and_empty_selections_are_nan():
    blocks = {
        "seed": np.arange(4),
        "n": np.full(4, 8),
        "fid": np.array([10.0, 12.0, 14.0, 16.0]),
        "fid_sub": np.random.default_rng(0).normal(13, 1, (4, 2, 20)),
    }
    rows = matrix_rows("sd2", {"fid": [0, 1], CONFIGURED: []}, {("coco2", "fid"): blocks}, 0.95)
    by_fid, empty = rows
    assert by_fid["value"] == pytest.approx(11.0 - 13.0)
    assert by_fid["better"] == pytest.approx(2.0)  # lower FID is better
    assert by_fid["lo"] <= by_fid["value"] <= by_fid["hi"]
    assert (by_fid["golden"], by_fid["seeds"], by_fid["prompts"]) == (2, 4, 8)
    assert np.isnan(empty["value"]) and empty["golden"] == 0
