"""Layout measures, instance selection, COCO labels, per-seed layouts and variance shares.

Constructed masks and depth maps give their known centroid, size and depth; a planted
seed-consistent layout gives a high seed share of variance and shuffled layouts one near zero;
not-found images count in the detection rate and are never dropped; the two-way bootstrap's
coverage of a known seed share is simulated (and a one-factor bootstrap is shown to fail).
"""

from __future__ import annotations

import numpy as np
import pytest

from seedscope.errors import ConfigError, FeatureError
from seedscope.layout.extractor import pick_instance
from seedscope.layout.labels import COCO_LABELS, check_objects, coco_label
from seedscope.layout.measures import LAYOUT_COLUMNS, layout_batch
from seedscope.layout.perseed import _components, _shares, seed_layout, variance_shares
from seedscope.stats import clopper_pearson


def layout_of_one(mask: np.ndarray, depth: np.ndarray, larger_is_nearer: bool = True):
    """One image's layout vector, measured as the extractor measures it: a batch of one."""
    return layout_batch(mask[None], depth[None], larger_is_nearer)[0]


def test_constructed_mask_and_depth_give_known_centroid_size_and_depth():
    h, w = 64, 80
    mask = np.zeros((h, w), dtype=bool)
    mask[10:20, 30:50] = True  # 10 rows x 20 columns
    disparity = np.ones((h, w))  # background: far
    disparity[10:20, 30:50] = 5.0  # the object
    disparity[40:50, 0:10] = 10.0  # 100 pixels nearer than the object
    found, x, y, size, depth = layout_of_one(mask, disparity)
    assert found == 1.0
    assert x == pytest.approx((39.5 + 0.5) / w)  # mean column 39.5, pixel centres
    assert y == pytest.approx((14.5 + 0.5) / h)
    assert size == pytest.approx(200 / (h * w))
    assert depth == pytest.approx((100 + 0.5 * 200) / (h * w))  # nearer pixels + half the ties
    # scale-free: any increasing transform of the depth model's output leaves it unchanged
    assert layout_of_one(mask, 3 * disparity**2 + 7)[4] == pytest.approx(depth)
    # a metric depth map (larger = farther) read the other way round gives the same answer
    assert layout_of_one(mask, 1 / disparity, larger_is_nearer=False)[4] == pytest.approx(depth)
    # the background (one large tie) counts every nearer pixel and half of itself; the
    # nearest region only half of itself; a single farthest pixel almost everything
    background = disparity == 1.0
    expected = (300 + 0.5 * (h * w - 300)) / (h * w)
    assert layout_of_one(background, disparity)[4] == pytest.approx(expected)
    assert layout_of_one(disparity == 10.0, disparity)[4] == pytest.approx(0.5 * 100 / (h * w))
    farthest = disparity.copy()
    farthest[0, 0] = 0.0
    assert layout_of_one(farthest == 0.0, farthest)[4] == pytest.approx(1 - 0.5 / (h * w))
    assert layout_of_one(mask, np.zeros((h, w)))[4] == pytest.approx(0.5)


def test_corner_pixel_and_not_found():
    mask = np.zeros((4, 8), dtype=bool)
    mask[3, 7] = True
    out = layout_of_one(mask, np.arange(32.0).reshape(4, 8))
    np.testing.assert_allclose(out[:4], [1.0, 7.5 / 8, 3.5 / 4, 1 / 32])
    assert out[4] == pytest.approx(0.5 / 32)  # the largest disparity: only its own half tie
    none = layout_of_one(np.zeros((4, 8), dtype=bool), np.ones((4, 8)))
    assert none.dtype == np.float32 and none[0] == 0.0 and np.isnan(none[1:]).all()


def test_batch_rows_are_each_images_own_layout():
    rng = np.random.default_rng(0)
    masks = rng.random((5, 16, 12)) < 0.2
    masks[2] = False
    depths = rng.normal(size=(5, 16, 12))
    batch = layout_batch(masks, depths)
    assert batch.shape == (5, len(LAYOUT_COLUMNS)) and batch.dtype == np.float32
    for i in range(5):
        np.testing.assert_array_equal(batch[i], layout_of_one(masks[i], depths[i]))
    with pytest.raises(FeatureError, match="one shape"):
        layout_batch(masks, depths[:, :8])


def test_pick_instance_takes_the_best_scoring_instance_of_the_wanted_label():
    def box(r0, r1):
        mask = np.zeros((8, 8), dtype=bool)
        mask[r0:r1] = True
        return mask

    dog, cat = COCO_LABELS.index("dog"), COCO_LABELS.index("cat")
    masks = [box(0, 2), box(2, 4), box(4, 6), np.zeros((8, 8), dtype=bool)]
    scores = [0.6, 0.95, 0.8, 0.99]
    labels = [dog, cat, dog, dog]  # the best dog has an empty mask: not an instance
    np.testing.assert_array_equal(pick_instance(masks, scores, labels, dog, 0.5), box(4, 6))
    np.testing.assert_array_equal(pick_instance(masks, scores, labels, cat, 0.5), box(2, 4))
    assert pick_instance(masks, scores, labels, dog, 0.85) is None  # below the threshold
    assert pick_instance(masks, scores, labels, COCO_LABELS.index("car"), 0.0) is None
    assert pick_instance([], [], [], dog, 0.5) is None
    tie = pick_instance([box(0, 1), box(1, 2)], [0.7, 0.7], [dog, dog], dog, 0.5)
    np.testing.assert_array_equal(tie, box(0, 1))  # first on ties
    assert pick_instance(masks, scores, labels, dog, 0.8) is not None  # score == threshold


def test_coco_labels_and_aliases():
    assert len(COCO_LABELS) == len(set(COCO_LABELS)) == 80
    assert COCO_LABELS[0] == "person" and COCO_LABELS[-1] == "toothbrush"
    for name in ("motorcycle", "airplane", "couch", "potted plant", "dining table", "tv"):
        assert name in COCO_LABELS
    assert COCO_LABELS.index("hair drier") == 78 and COCO_LABELS.index("teddy bear") == 77
    assert coco_label("dog") == "dog"
    assert coco_label("sofa", {"sofa": "couch"}) == "couch"
    with pytest.raises(ConfigError, match=r"'sofa'.*features.layout.labels: \{sofa: <COCO"):
        coco_label("sofa")
    with pytest.raises(ConfigError, match="'settee'.*mapped by layout.labels to 'sofa'"):
        check_objects(["dog", "settee"], {"settee": "sofa"}, key="layout.labels")
    check_objects(["dog", "sofa"], {"sofa": "couch"})


def images_table(found: np.ndarray, layout: np.ndarray):
    """Per-image arrays of a (S, P) grid: seeds, prompt ids, values (N, 5)."""
    s, p = found.shape
    seeds = np.repeat(np.arange(s) * 7 + 3, p)
    prompts = np.tile([f"p{j}" for j in range(p)], s)
    values = np.full((s * p, 5), np.nan)
    values[:, 0] = found.ravel()
    values[found.ravel(), 1:] = layout.reshape(s * p, -1)[found.ravel()]
    return seeds, prompts, values


def test_not_found_images_are_counted_in_the_detection_rate_never_dropped():
    rng = np.random.default_rng(1)
    found = np.ones((4, 12), dtype=bool)
    found[1, :9] = False  # 3 of 12 detected
    found[2] = False  # nothing detected
    found[3, 1:] = False  # one detection
    layout = rng.uniform(0.1, 0.9, (4, 12, 4))
    seeds, prompts, values = images_table(found, layout)
    table = seed_layout(seeds, prompts, values, resamples=200)
    assert list(table["seed"]) == [3, 10, 17, 24]
    assert list(table["n"]) == [12] * 4 and list(table["detected"]) == [12, 3, 0, 1]
    np.testing.assert_allclose(table["detection_rate"], [1, 0.25, 0, 1 / 12])
    lo, hi = clopper_pearson([12, 3, 0, 1], 12)
    np.testing.assert_allclose(table["detection_lo"], lo)
    np.testing.assert_allclose(table["detection_hi"], hi)
    for i, name in enumerate(LAYOUT_COLUMNS[1:]):
        np.testing.assert_allclose(table.loc[0, f"{name}_mean"], layout[0, :, i].mean())
        np.testing.assert_allclose(table.loc[1, f"{name}_mean"], layout[1, 9:, i].mean())
        assert table.loc[0, f"{name}_lo"] <= table.loc[0, f"{name}_mean"]
        assert table.loc[0, f"{name}_mean"] <= table.loc[0, f"{name}_hi"]
        assert np.isnan(table.loc[2, [f"{name}_mean", f"{name}_lo", f"{name}_hi"]]).all()
        assert np.isnan(table.loc[3, [f"{name}_lo", f"{name}_hi"]]).all()  # 1 detection
    # an unbalanced design (a seed without some prompts) is counted by what it has
    keep = ~((seeds == 3) & np.isin(prompts, ["p0", "p1"]))
    table = seed_layout(seeds[keep], prompts[keep], values[keep], resamples=200)
    assert table.loc[0, "n"] == 10 and table.loc[0, "detected"] == 10


def test_input_errors():
    found = np.ones((2, 3), dtype=bool)
    seeds, prompts, values = images_table(found, np.full((2, 3, 4), 0.5))
    with pytest.raises(FeatureError, match="more than once"):
        seed_layout(np.r_[seeds, seeds[:1]], np.r_[prompts, prompts[:1]], np.r_[values, values[:1]])
    bad = values.copy()
    bad[0, 0] = 0.5
    with pytest.raises(FeatureError, match="'found'"):
        seed_layout(seeds, prompts, bad)
    bad = values.copy()
    bad[0, 2] = np.nan
    with pytest.raises(FeatureError, match="found object has a NaN"):
        variance_shares(seeds, prompts, bad)
    with pytest.raises(FeatureError, match="shape"):
        seed_layout(seeds, prompts, values[:, :4])
    with pytest.raises(ConfigError, match="confidence"):
        seed_layout(seeds, prompts, values, confidence=1.5)


def test_bca_interval_of_a_skewed_mean_covers():
    """400 independent seeds x 100 prompts, sizes Beta(2, 10) (mean 1/6), 70 % detected."""
    rng = np.random.default_rng(2)
    found = rng.random((400, 100)) < 0.7
    layout = np.repeat(rng.beta(2, 10, (400, 100, 1)), 4, axis=2)
    table = seed_layout(*images_table(found, layout), resamples=1000, seed=3)
    covered = (table["size_lo"] <= 1 / 6) & (table["size_hi"] >= 1 / 6)
    assert 0.91 <= covered.mean() <= 0.985


def test_planted_seed_layout_has_a_high_seed_share_and_shuffled_layouts_one_near_zero():
    """60 seeds x 40 prompts: each seed puts the object at its own place, prompts move it a
    little; 15 % of images have no detection."""
    rng = np.random.default_rng(4)
    s, p = 60, 40
    seed_place = rng.uniform(0.2, 0.8, (s, 1, 4))
    prompt_shift = rng.normal(0, 0.03, (1, p, 4))
    layout = np.clip(seed_place + prompt_shift + rng.normal(0, 0.03, (s, p, 4)), 0, 1)
    found = rng.random((s, p)) >= 0.15
    seeds, prompts, values = images_table(found, layout)
    planted = variance_shares(seeds, prompts, values, resamples=300).set_index("component")
    assert (planted["seed_share"] > 0.85).all()
    assert (planted["seed_share_lo"] > 0.75).all()
    assert (planted["n_missing"] == (~found).sum()).all()
    assert (planted["n_images"] == found.sum()).all()
    order = rng.permutation(len(values))  # any image's layout at any seed and prompt
    shuffled = variance_shares(seeds, prompts, values[order], resamples=300)
    assert (shuffled["seed_share"] < 0.05).all()
    assert (shuffled["seed_share_lo"] < 0.02).all()
    assert (shuffled["residual_share"] > 0.9).all()


def simulate(rng, s, p, seed_var=1.0, prompt_var=0.5, residual_var=1.0, missing=0.1):
    y = (
        rng.normal(0, seed_var**0.5, (s, 1))
        + rng.normal(0, prompt_var**0.5, (1, p))
        + rng.normal(0, residual_var**0.5, (s, p))
    )
    found = rng.random((s, p)) >= missing
    return images_table(found, np.repeat(y[:, :, None], 4, axis=2))


def test_two_way_bootstrap_covers_the_true_seed_share_and_one_way_does_not():
    """40 seeds x 30 prompts, variances 1, 0.5, 1 (seed share 0.4), 10 % cells missing."""
    rng = np.random.default_rng(5)
    truth, datasets, resamples = 0.4, 200, 200
    covered, prompts_only, estimates = 0, 0, []
    for i in range(datasets):
        seeds, prompts, values = simulate(rng, 40, 30)
        row = variance_shares(
            seeds, prompts, values, resamples=resamples, seed=i, components=("x",)
        ).iloc[0]
        covered += row["seed_share_lo"] <= truth <= row["seed_share_hi"]
        estimates.append(row[["seed_var", "prompt_var", "residual_var"]].to_numpy(float))
        # resampling prompts only, for comparison
        found = values[:, 0].reshape(40, 30) == 1
        y = np.where(found, np.nan_to_num(values[:, 1].reshape(40, 30)), 0.0)
        y = np.where(found, y - y[found].mean(), 0.0)
        v = np.random.default_rng(i).multinomial(30, np.full(30, 1 / 30), resamples).T
        reps = _shares(_components(y, found * 1.0, np.ones((40, resamples)), v * 1.0))[0]
        lo, hi = np.quantile(reps, [0.025, 0.975])
        prompts_only += lo <= truth <= hi
    assert 0.9 <= covered / datasets <= 0.99
    assert prompts_only / datasets < 0.8
    np.testing.assert_allclose(np.mean(estimates, axis=0), [1.0, 0.5, 1.0], atol=0.1)


def test_variance_shares_without_detections_are_nan_with_counts():
    seeds, prompts = np.repeat(np.arange(4), 3), np.tile([f"p{i}" for i in range(3)], 4)
    values = np.zeros((12, 5), np.float32)
    values[:, 1:] = np.nan
    shares = variance_shares(seeds, prompts, values, resamples=100)
    assert list(shares["component"]) == ["x", "y", "size", "depth"]
    assert shares["seed_share"].isna().all() and (shares["n_missing"] == 12).all()
    assert (shares["n_images"] == 0).all()
