"""Farthest point sampling, layout seed features, the per-prompt measures (the paper's cosine,
Vendi, mean) and their estimates."""

from __future__ import annotations

import numpy as np
import pytest

from seedscope.diverse.fps import fps_sets, layout_seed_features
from seedscope.diverse.score import (
    mean_interval,
    mean_scores,
    prompt_scores,
    random_seed_baseline,
    set_matrix_difference,
    set_matrix_estimate,
    vendi_scores,
)
from seedscope.errors import ConfigError, FeatureError
from seedscope.sampling import farthest_point_sampling

SQUARE = np.array([[0.5, 0.5], [0.4, 0.6], [0, 0], [1, 0], [0, 1], [1, 1], [0.2, 0.3]], dtype=float)


def test_fps_on_a_line_picks_ends_middle_then_lowest_index_on_ties():
    line = np.arange(11, dtype=float)[:, None]
    # 0 -> 10 (farthest) -> 5 -> {2, 3, 7, 8} all at distance 2: lowest index 2 -> then 7 or 8
    # at distance 2 (3 is now 1 away from 2): 7
    assert farthest_point_sampling(line, 5, first=0) == [0, 10, 5, 2, 7]


def test_fps_on_square_corners_then_interior():
    # from (0,0): the opposite corner (1,1); then (1,0) and (0,1) tie at 1: lowest index (1,0);
    # then (0,1); the centre (0.71 away from every corner) beats (0.4,0.6) (0.57 from (0,1))
    assert farthest_point_sampling(SQUARE, 5, first=2) == [2, 5, 3, 4, 0]
    # from the centre all four corners tie at 0.71: lowest index (0,0); the centre still bounds
    # every other corner at 0.71, so they tie again: lowest index (1,0), and so on
    assert farthest_point_sampling(SQUARE, 5, first=0) == [0, 2, 3, 4, 5]


def test_fps_never_repeats_a_seed_even_among_duplicates():
    same = np.ones((5, 3))
    assert farthest_point_sampling(same, 4, first=2) == [2, 0, 1, 3]
    assert len(set(farthest_point_sampling(SQUARE, len(SQUARE), first=6))) == len(SQUARE)


def test_fps_sets_reproducible_with_distinct_first_seeds():
    feats = np.random.default_rng(1).normal(size=(40, 6))
    a = fps_sets(feats, 4, repeats=10, seed=7)
    assert a == fps_sets(feats, 4, repeats=10, seed=7)
    assert a != fps_sets(feats, 4, repeats=10, seed=8)
    firsts = [s[0] for s in a]
    assert len(set(firsts)) == 10
    assert all(len(set(s)) == 4 for s in a)
    assert all(s == farthest_point_sampling(feats, 4, s[0]) for s in a)
    assert sorted(s[0] for s in fps_sets(feats, 2, repeats=40, seed=0)) == list(range(40))


@pytest.mark.parametrize(
    ("c", "repeats", "key"),
    [
        (8, 1, "diverse.c"),
        (0, 1, "diverse.c"),
        (2, 8, "diverse.repeats"),
        (2, 0, "diverse.repeats"),
    ],
)
def test_fps_bad_config_names_the_key(c, repeats, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        fps_sets(SQUARE, c, repeats, seed=0)
    if key == "diverse.c":
        with pytest.raises(ConfigError, match="between 2 and the number of seeds"):
            fps_sets(SQUARE, c, repeats, seed=0)
        with pytest.raises(ValueError, match="between 1 and the number of points"):
            farthest_point_sampling(SQUARE, c, first=0)


def test_fps_rejects_missing_features_and_bad_first():
    feats = SQUARE.copy()
    feats[3, 0] = np.nan
    with pytest.raises(FeatureError, match="NaN"):
        farthest_point_sampling(feats, 2, first=0)
    with pytest.raises(ValueError, match="first"):
        farthest_point_sampling(SQUARE, 2, first=7)


def test_layout_features_standardise_and_fill_with_the_seeds_own_mean():
    rng = np.random.default_rng(0)
    layout = rng.normal(loc=[5.0, -2.0, 100.0], scale=[1.0, 3.0, 10.0], size=(6, 4, 3))
    layout[1, 2] = np.nan
    layout[4, [0, 3]] = np.nan
    out = layout_seed_features(layout).reshape(6, 4, 3)
    detected = ~np.isnan(layout).all(axis=2)
    z = out[detected]
    np.testing.assert_allclose(z.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(z.std(axis=0), 1, atol=1e-12)
    np.testing.assert_allclose(out[1, 2], out[1, [0, 1, 3]].mean(axis=0))
    np.testing.assert_allclose(out[4, 0], out[4, [1, 2]].mean(axis=0))
    np.testing.assert_allclose(out[4, 3], out[4, 0])
    assert np.isfinite(out).all()


def test_layout_features_seed_without_any_detection():
    layout = np.random.default_rng(0).normal(size=(5, 3, 2))
    layout[3] = np.nan
    with pytest.raises(FeatureError, match=r"seed indices 3"):
        layout_seed_features(layout)
    out = layout_seed_features(layout, empty="zero")
    np.testing.assert_array_equal(out[3], 0.0)
    partial = np.random.default_rng(0).normal(size=(5, 3, 2))
    partial[0, 0, 1] = np.nan
    with pytest.raises(FeatureError, match="some but not all"):
        layout_seed_features(partial)


def test_prompt_scores_known_values():
    identical = np.tile(np.array([1.0, 2.0, 3.0]), (4, 4, 1))
    np.testing.assert_allclose(prompt_scores(identical), 1.0)
    orthogonal = np.tile(np.eye(4), (3, 1, 1))
    np.testing.assert_allclose(prompt_scores(orthogonal), 0.0, atol=1e-12)
    # pairs: (1,0)-(1,1) 1/sqrt2, (1,0)-(0,1) 0, (1,1)-(0,1) 1/sqrt2 -> mean sqrt2/3; the
    # second prompt: e1, e1, e2 -> (1 + 0 + 0) / 3; scale does not matter
    mixed = np.array([[[1, 0], [2, 2], [0, 5]], [[1, 0], [3, 0], [0, 1]]], dtype=float)
    np.testing.assert_allclose(prompt_scores(mixed), [np.sqrt(2) / 3, 1 / 3])
    opposite = np.array([[[1.0, 0.0], [-1.0, 0.0]]])
    np.testing.assert_allclose(prompt_scores(opposite), [-1.0])


def test_one_image_of_four_missing_scores_the_prompt_over_the_other_three():
    feats = np.random.default_rng(3).normal(size=(2, 4, 5))
    missing = feats.copy()
    missing[0, 2] = np.nan  # the object of image 2 was not found
    scores = prompt_scores(missing)
    np.testing.assert_allclose(scores[0], prompt_scores(feats[:1, [0, 1, 3]])[0])
    np.testing.assert_allclose(scores[1], prompt_scores(feats)[1])  # the other prompt: as is


def test_a_prompt_with_fewer_than_two_found_images_is_left_out_and_counted():
    feats = np.random.default_rng(4).normal(size=(5, 4, 5))
    full = prompt_scores(feats)
    feats[1, [0, 3]] = np.nan  # two of four missing: one pair left, which scores the prompt
    feats[4, [0, 1, 2]] = np.nan  # three of four missing: one image, no pair: left out
    scores = prompt_scores(feats)
    np.testing.assert_allclose(scores[1], prompt_scores(feats[1:2, [1, 2]])[0])
    assert np.isnan(scores[4]) and np.isfinite(scores[:4]).all()
    np.testing.assert_allclose(scores[[0, 2, 3]], full[[0, 2, 3]])
    est = set_matrix_estimate(scores, resamples=500)
    assert (est.prompts, est.excluded) == (5, 1)
    assert est.value == pytest.approx(np.nanmean(scores))


def test_prompt_scores_bad_input():
    with pytest.raises(FeatureError, match="at least 2 images"):
        prompt_scores(np.ones((3, 1, 4)))
    with pytest.raises(FeatureError, match="all zeros"):
        prompt_scores(np.zeros((3, 2, 4)))
    with pytest.raises(FeatureError, match="prompts, images, dims"):
        prompt_scores(np.ones((3, 4)))


def test_vendi_scores_count_distinct_images():
    identical = np.tile(np.array([1.0, 2.0, 3.0]), (2, 4, 1))
    np.testing.assert_allclose(vendi_scores(identical), 1.0)
    orthogonal = np.tile(np.eye(4), (2, 1, 1))
    np.testing.assert_allclose(vendi_scores(orthogonal), 4.0)
    two_pairs = np.array([[[1.0, 0], [1, 0], [0, 1], [0, 1]]])  # two distinct images, twice
    np.testing.assert_allclose(vendi_scores(two_pairs), 2.0)
    # the published formula: exp of the entropy of the eigenvalues of K / n
    feats = np.random.default_rng(6).normal(size=(1, 4, 7))
    unit = feats[0] / np.linalg.norm(feats[0], axis=1, keepdims=True)
    eigen = np.linalg.eigvalsh(unit @ unit.T / 4)
    assert vendi_scores(feats)[0] == pytest.approx(np.exp(-np.sum(eigen * np.log(eigen))))
    feats[0, 1] = np.nan  # its scale is 1..C: a prompt with a missing image is left out
    assert np.isnan(vendi_scores(feats)[0])


def test_mean_scores_average_the_images_that_have_a_value():
    values = np.array([[1.0, 2.0, 3.0, np.nan], [np.nan] * 4])[..., None]
    scores = mean_scores(values)
    assert scores[0] == pytest.approx(2.0) and np.isnan(scores[1])
    with pytest.raises(FeatureError, match="one value per image"):
        mean_scores(np.ones((2, 3, 2)))


def test_paired_difference_to_a_method_is_zero_for_itself_and_clear_for_another():
    rng = np.random.default_rng(5)
    a = rng.uniform(0.2, 0.8, size=200)
    same = set_matrix_difference(a, a.copy(), seed=1)
    assert same.low <= 0 <= same.high
    b = a - 0.05 + rng.normal(scale=0.05, size=200)
    diff = set_matrix_difference(a, b, seed=1)
    assert diff.low > 0
    assert diff.value == pytest.approx(np.mean(a - b))
    # pairing matters: unpaired, the prompt-to-prompt spread (sd 0.17) would swamp a 0.05 gap
    assert diff.high - diff.low < 0.5 * (mean_interval(a).high - mean_interval(a).low)
    b[[3, 9]] = np.nan
    assert set_matrix_difference(a, b).excluded == 2
    with pytest.raises(FeatureError, match="same prompts"):
        set_matrix_difference(a, b[:-1])


def test_mean_interval_coverage():
    # C = 2 images per prompt: e1 and a vector at angle theta ~ U(0, pi/2), so a prompt scores
    # cos(theta) and the true mean is 2 / pi
    truth = 2 / np.pi
    rng = np.random.default_rng(2024)
    trials, prompts = 500, 100
    hits = 0
    for t in range(trials):
        theta = rng.uniform(0, np.pi / 2, size=prompts)
        feats = np.zeros((prompts, 2, 2))
        feats[:, 0, 0] = 1.0
        feats[:, 1] = np.stack([np.cos(theta), np.sin(theta)], axis=1)
        est = mean_interval(prompt_scores(feats), resamples=1000, seed=t)
        hits += est.low <= truth <= est.high
    coverage = hits / trials
    tolerance = 3.5 * np.sqrt(0.95 * 0.05 / trials)
    print(f"bootstrap coverage {coverage:.3f} over {trials} trials (tolerance {tolerance:.3f})")
    assert abs(coverage - 0.95) < tolerance


def test_random_seed_baseline_covers_the_expected_score_of_random_seed_sets():
    """A fixed pool of 128 seeds; each data set draws 100 fresh prompts, whose images are an
    offset + the seed's effect + the prompt's effect + noise. The truth, the expected score of
    a random 4-seed set of the pool, is the mean cosine of two distinct pool seeds' images of a
    fresh prompt. benchmarks/bench_table2_intervals.py checks the paper's size (500 prompts,
    1,024 seeds, 1,000 draws): coverage 0.950 over 300 data sets."""
    rng = np.random.default_rng(11)
    seeds, prompts, dims, datasets = 128, 100, 8, 300
    pool = 0.8 * rng.normal(size=(seeds, dims))

    def images(prompt_effects):  # (P, 1 or N, D) -> every pool seed's image of each prompt
        return 1.0 + pool + prompt_effects + rng.normal(size=(len(prompt_effects), seeds, dims))

    truth_images = images(rng.normal(0, 0.7, (4000, 1, dims)))  # 4,000 x 128 x 127 pairs
    unit = truth_images / np.linalg.norm(truth_images, axis=2, keepdims=True)
    sums = np.einsum("pid,pjd->p", unit, unit) - seeds
    truth = sums.mean() / (seeds * (seeds - 1))
    hits = 0
    for k in range(datasets):
        est = random_seed_baseline(
            images(rng.normal(0, 0.7, (prompts, 1, dims))), c=4, draws=200, seed=k, resamples=1000
        )
        hits += est.low <= truth <= est.high
    assert abs(hits / datasets - 0.95) < 3.5 * np.sqrt(0.95 * 0.05 / datasets), hits / datasets


def test_random_seed_baseline():
    rng = np.random.default_rng(9)
    feats = rng.normal(size=(80, 30, 8)) + 1.0
    est = random_seed_baseline(feats, c=4, draws=200, seed=3)
    assert est == random_seed_baseline(feats, c=4, draws=200, seed=3)
    assert est.low < est.value < est.high
    assert est.prompts == 80 and est.excluded == 0
    # the estimand: the mean over all 4-subsets of seeds and prompts, approximated here by the
    # mean over all pairs of seeds (the score is a mean over pairs)
    unit = feats / np.linalg.norm(feats, axis=2, keepdims=True)
    gram = np.einsum("pid,pjd->pij", unit, unit)
    all_pairs = (gram.sum(axis=(1, 2)) - 30).sum() / (80 * 30 * 29)
    assert est.low < all_pairs < est.high
    feats[5, 7] = np.nan  # one image without features: its prompt is scored over the others
    assert random_seed_baseline(feats, c=4, draws=200, seed=3).excluded == 0
    feats[5, 1:] = np.nan  # at most one image of prompt 5 in any set: left out of every draw
    assert random_seed_baseline(feats, c=4, draws=200, seed=3).excluded == 1


def test_random_seed_baseline_bad_input():
    feats = np.ones((5, 3, 2))
    with pytest.raises(ConfigError, match=r"diverse\.c: 4 .* between 2 and the number of seeds"):
        random_seed_baseline(feats, c=4, draws=10, seed=0)
    with pytest.raises(ConfigError, match="draws"):
        random_seed_baseline(feats, c=2, draws=1, seed=0)
