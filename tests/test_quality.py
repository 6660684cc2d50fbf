"""Per-seed statistics from features: FID/KID vs clean-fid, bootstrap CIs, ranks, golden seeds."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from cleanfid.fid import frechet_distance, kernel_distance

from seedscope.errors import ConfigError, FeatureError
from seedscope.features.table import FeatureTable
from seedscope.quality.frechet import frechet_to_reference, kid_to_reference, reference_stats
from seedscope.quality.golden import correlation_ci, golden_and_inferior, top_seeds
from seedscope.quality.intervals import subsample_weights
from seedscope.quality.perseed import (
    by_seed,
    fid_block,
    load_blocks,
    ranks,
    save_block,
    score_block,
    summarise,
)
from seedscope.quality.table1 import (
    compose,
    draw_seeds,
    held_out_prompts,
    hps_metric,
    score_draws,
)


def _gaussian(rng, n, d, shift=0.0, scale=1.0):
    mix = rng.normal(size=(d, d)) / np.sqrt(d)
    return (rng.normal(size=(n, d)) @ mix) * scale + shift


@pytest.mark.parametrize("n, d", [(200, 16), (500, 64), (40, 64)])
def test_fid_equals_clean_fid(n, d):
    rng = np.random.default_rng(n + d)
    real, fake = _gaussian(rng, n + 30, d), _gaussian(rng, n, d, shift=0.3, scale=1.3)
    expected = frechet_distance(
        real.mean(0), np.cov(real, rowvar=False), fake.mean(0), np.cov(fake, rowvar=False)
    )
    got = frechet_to_reference(fake, reference_stats(real, "cpu"))[0]
    assert got == pytest.approx(expected, rel=1e-6)


def test_kid_equals_clean_fid_with_one_full_subset():
    rng = np.random.default_rng(1)
    real, fake = _gaussian(rng, 80, 32), _gaussian(rng, 80, 32, shift=0.2)
    expected = kernel_distance(real, fake, num_subsets=1, max_subset_size=80)
    assert kid_to_reference(fake, reference_stats(real, "cpu"))[0] == pytest.approx(expected)


def test_subsample_replicates_equal_explicit_subsets():
    rng = np.random.default_rng(2)
    real, fake = _gaussian(rng, 60, 8), _gaussian(rng, 50, 8, shift=0.5)
    reference = reference_stats(real, "cpu")
    weights = subsample_weights(50, 4, seed=7)
    assert weights.shape == (2, 4, 50) and np.allclose(weights.sum(-1), 50)
    assert ((weights > 0).sum(-1) == [[25] * 4, [12] * 4]).all()  # halves and quarters
    assert (weights == subsample_weights(50, 4, seed=7)).all()  # every job, the same prompts
    assert not (weights == subsample_weights(50, 4, seed=8)).all()
    rows = weights.reshape(-1, 50)
    fids = frechet_to_reference(fake, reference, rows)
    kids = kid_to_reference(fake, reference, rows)
    for row, fid, kid in zip(rows, fids, kids, strict=True):
        subset = fake[row > 0]  # a subsample's FID and KID are those of its images
        expected_fid = frechet_distance(
            real.mean(0), np.cov(real, rowvar=False), subset.mean(0), np.cov(subset, rowvar=False)
        )
        assert fid == pytest.approx(expected_fid, rel=1e-6)
        expected_kid = kid_to_reference(subset, reference)[0]
        assert kid == pytest.approx(expected_kid, rel=1e-9)
        m = len(subset)
        k = (subset @ subset.T / 8 + 1) ** 3
        within = (k.sum() - np.trace(k)) / (m * (m - 1))
        between = ((subset @ real.T / 8 + 1) ** 3).mean()
        assert kid == pytest.approx(within + reference.kernel_mean - 2 * between)


def test_fewer_images_than_dimensions_agree_with_clean_fid_on_subsets():
    rng = np.random.default_rng(12)
    real, fake = _gaussian(rng, 80, 32), _gaussian(rng, 12, 32, shift=0.4)
    reference = reference_stats(real, "cpu")
    rows = subsample_weights(12, 3, seed=0).reshape(-1, 12)
    for row, fid in zip(rows, frechet_to_reference(fake, reference, rows), strict=True):
        subset = fake[row > 0]
        expected = frechet_distance(
            real.mean(0), np.cov(real, rowvar=False), subset.mean(0), np.cov(subset, rowvar=False)
        )
        assert fid == pytest.approx(expected, rel=1e-6)


def _block_table(rng, seeds, prompts, d, shift_of):
    rows = [(s, p) for p in prompts for s in seeds]
    features = np.stack([_gaussian(rng, 1, d, shift=shift_of(s))[0] for s, _ in rows])
    return FeatureTable(
        keys=[f"{p}-{s}" for s, p in rows],
        seeds=[s for s, _ in rows],
        prompt_ids=[p for _, p in rows],
        features=features,
        meta={"extractor": "test"},
    )


def test_shifted_seed_ranks_worst_with_a_ci_that_excludes_the_others():
    rng = np.random.default_rng(3)
    prompts = [f"p{i:03d}" for i in range(120)]
    seeds = [10, 11, 12, 13, 14]
    table = _block_table(rng, seeds, prompts, 6, lambda s: 1.5 if s == 12 else 0.0)
    reference = reference_stats(_gaussian(rng, 300, 6), "cpu")
    bootstrap = {"resamples": 60, "seed": 0, "confidence": 0.95}
    summary = summarise(fid_block(table, prompts, reference, bootstrap), 0.95)
    worst = summary.set_index("seed").loc[12]
    others = summary[summary.seed != 12]
    assert worst.fid_rank == len(seeds)
    assert worst.fid_lo > others.fid_hi.max()
    assert worst.kid_rank == len(seeds)
    assert worst.fid_rank_lo == worst.fid_rank_hi == len(seeds)


def _subset(table, seeds):
    rows = np.isin(table.seeds, seeds)
    return FeatureTable(
        keys=[k for k, keep in zip(table.keys, rows, strict=True) if keep],
        seeds=np.asarray(table.seeds)[rows],
        prompt_ids=[p for p, keep in zip(table.prompt_ids, rows, strict=True) if keep],
        features=table.features[rows],
        meta=table.meta,
    )


def test_blocks_merged_in_any_order_equal_one_block_of_all_seeds(tmp_path):
    """Seed blocks are computed apart and merged: their replicates stay paired across blocks, so
    the merged table (values, intervals, ranks, rank intervals) is the one-block table."""
    rng = np.random.default_rng(5)
    prompts = [f"p{i:02d}" for i in range(30)]
    seeds = list(range(8))
    table = _block_table(rng, seeds, prompts, 5, lambda s: 0.2 * s)
    reference = reference_stats(_gaussian(rng, 200, 5), "cpu")
    bootstrap = {"resamples": 40, "seed": 3}
    scores = FeatureTable(
        keys=table.keys,
        seeds=table.seeds,
        prompt_ids=table.prompt_ids,
        features=table.features[:, :1],
        meta=table.meta,
    )
    cases = {
        "fid": (table, lambda t: fid_block(t, prompts, reference, bootstrap)),
        "hps": (scores, lambda t: score_block(t, prompts, bootstrap, "hps")),
    }
    for metric, (source, block_of) in cases.items():
        whole = summarise(block_of(source), 0.95)
        paths = [tmp_path / f"{metric}-late.npz", tmp_path / f"{metric}-early.npz"]
        save_block(paths[0], block_of(_subset(source, [5, 6, 7])))
        save_block(paths[1], block_of(_subset(source, [0, 1, 2, 3, 4])))
        merged = summarise(load_blocks(paths), 0.95)
        assert merged.seed.tolist() == seeds and f"{metric}_rank_hi" in merged
        pd.testing.assert_frame_equal(merged, whole, check_exact=False, rtol=1e-9)


def test_by_seed_orders_rows_by_prompt_and_names_missing_prompts():
    rng = np.random.default_rng(4)
    table = _block_table(rng, [0, 1], ["a", "b", "c"], 3, lambda s: float(s))
    rows = by_seed(table, ["c", "a"])
    key_of = dict(zip(map(tuple, table.features), table.keys, strict=True))
    assert [key_of[tuple(f)] for f in rows[1]] == ["c-1", "a-1"]
    with pytest.raises(FeatureError, match="lacks seed 0 for 1 prompts"):
        by_seed(table, ["a", "z"])


def test_score_block_means_and_paired_replicates():
    prompts = ["a", "b", "c", "d"]
    scores = {0: [1.0, 2.0, 3.0, 4.0], 1: [2.0, 3.0, 4.0, 5.0]}
    table = FeatureTable(
        keys=[f"{p}{s}" for s in scores for p in prompts],
        seeds=[s for s in scores for _ in prompts],
        prompt_ids=prompts * 2,
        features=np.array([v for s in scores for v in scores[s]])[:, None],
    )
    block = score_block(table, prompts, {"resamples": 30, "seed": 1}, "hps")
    assert block["hps"].tolist() == [2.5, 3.5]
    # paired: seed 1 is seed 0 plus one on every prompt, in every replicate
    assert np.allclose(block["hps_sub"][1] - block["hps_sub"][0], 1.0)
    summary = summarise(block, 0.9)
    assert summary.set_index("seed").hps_rank.to_dict() == {0: 2, 1: 1}


def test_ranks_best_is_one_and_ties_share():
    assert ranks(np.array([3.0, 1.0, 2.0, 1.0]), lower_is_better=True).tolist() == [4, 1, 3, 1]
    assert ranks(np.array([3.0, 1.0, 2.0]), lower_is_better=False).tolist() == [1, 3, 2]


def test_golden_and_inferior_are_intersections_of_top_and_bottom_k():
    rng = np.random.default_rng(5)
    fid, hps = rng.normal(size=40), rng.normal(size=40)
    table = pd.DataFrame({"seed": range(40), "fid": fid, "hps": hps})
    golden, inferior = golden_and_inferior(table, ["fid", "hps"], 10)
    best_fid = set(table.nsmallest(10, "fid").seed)
    best_hps = set(table.nlargest(10, "hps").seed)
    assert set(golden) == best_fid & best_hps
    worst = set(table.nlargest(10, "fid").seed) & set(table.nsmallest(10, "hps").seed)
    assert set(inferior) == worst
    assert not set(golden) & set(inferior)
    assert top_seeds(table, "fid", 100) == set(range(40))  # k is capped by the number of seeds


def test_correlation_ci_detects_agreement_and_its_absence():
    rng = np.random.default_rng(6)
    x = rng.normal(size=200)
    agree = correlation_ci(x, x + 0.1 * rng.normal(size=200), 100, 0.95, 0)
    assert agree["spearman"] > 0.9 and agree["spearman_lo"] > 0.8
    assert agree["kendall_lo"] <= agree["kendall"] <= agree["kendall_hi"]
    unrelated = correlation_ci(x, rng.normal(size=200), 100, 0.95, 0)
    assert unrelated["spearman_lo"] < 0 < unrelated["spearman_hi"]


def test_table1_compose_picks_the_drawn_seed_for_every_prompt():
    prompts = [f"p{i}" for i in range(6)]
    seeds = list(range(8))
    tables = [
        FeatureTable(
            keys=[f"{p}-{s}" for p in prompts for s in block],
            seeds=[s for _ in prompts for s in block],
            prompt_ids=[p for p in prompts for _ in block],
            features=[[100 * s + i] for i, _ in enumerate(prompts) for s in block],
        )
        for block in (seeds[:4], seeds[4:])
    ]
    assignments = draw_seeds(len(prompts), [1, 5, 6], draws=3, seed=0)
    composed = compose(tables, prompts, assignments)
    assert composed.shape == (3, 6, 1)
    assert (composed[..., 0] == 100 * assignments + np.arange(6)).all()
    assert set(np.unique(assignments)) <= {1, 5, 6}
    with pytest.raises(ValueError, match="no feature table"):
        compose(tables[:1], prompts, assignments)


def test_table1_golden_draws_beat_random_draws():
    prompts = [f"p{i}" for i in range(200)]
    seeds = list(range(10))
    golden = [0, 1, 2]
    rng = np.random.default_rng(7)
    table = FeatureTable(
        keys=[f"{p}-{s}" for p in prompts for s in seeds],
        seeds=[s for _ in prompts for s in seeds],
        prompt_ids=[p for p in prompts for _ in seeds],
        features=[[(1.0 if s in golden else 0.0) + rng.normal()] for _ in prompts for s in seeds],
    )
    bootstrap = {"resamples": 50, "seed": 0, "confidence": 0.95}
    scores = {
        name: score_draws(
            compose([table], prompts, draw_seeds(len(prompts), pool, 5, seed=1)),
            hps_metric,
            bootstrap,
        )
        for name, pool in (("random", seeds), ("golden", golden))
    }
    assert scores["golden"]["lo"] > scores["random"]["hi"]
    assert scores["golden"]["value"] == pytest.approx(1.0, abs=0.2)
    assert scores["random"]["value"] == pytest.approx(0.3, abs=0.2)


def test_table1_scores_every_held_out_prompt_unless_told_a_count():
    ids = [f"p{i}" for i in range(10)]
    assert held_out_prompts(ids, None, {"set": "coco2"}) == ids
    assert held_out_prompts(ids, 4, {"set": "coco2"}) == ids[:4]
    with pytest.raises(ConfigError, match=r"quality.table1.prompts is 11 .* 'parti' has only 10"):
        held_out_prompts(ids, 11, {"set": "parti"})
