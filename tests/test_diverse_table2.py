"""Table 2 of the diverse-seed study: prompt splits, seed features for FPS, the table's rows on
planted structures, its files, and fig. 11 (issue 17)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from seedscope.diverse.figures import fig11_examples, plot_fig11
from seedscope.diverse.fps import farthest_point_sampling, fps_sets
from seedscope.diverse.score import (
    mean_interval,
    paired_difference,
    prompt_scores,
    random_seed_baseline,
    set_scores,
)
from seedscope.diverse.split import check_disjoint, layout_split, style_evaluation
from seedscope.diverse.table2 import (
    COLUMNS,
    FPS_METHODS,
    METHODS,
    PG,
    RANDOM,
    diversity_rows,
    evaluation_cube,
    layout_fps_features,
    layout_score_vectors,
    random_sets,
    set_matrix_difference,
    set_matrix_estimate,
    style_cube,
    style_fps_features,
    write_table2,
)
from seedscope.errors import ConfigError, FeatureError
from seedscope.layout.tables import LayoutFeatures
from seedscope.prompts.synthetic import PAPER_MODIFIERS, PAPER_OBJECTS, make_synthetic_prompts
from seedscope.style.tables import StyleFeatures

FAST = {"resamples": 400, "confidence": 0.95}

# --- splits -------------------------------------------------------------------------------------


def test_layout_split_is_disjoint_stratified_and_deterministic():
    rows = make_synthetic_prompts("synthetic", PAPER_OBJECTS, PAPER_MODIFIERS)
    analysis, evaluation = layout_split(rows, seed=3)
    ids = [r["id"] for r in rows]
    assert not set(analysis) & set(evaluation)
    assert sorted(analysis + evaluation) == sorted(ids)
    assert analysis == [i for i in ids if i in set(analysis)]  # file order
    side = {i: "a" for i in analysis} | {i: "e" for i in evaluation}
    for obj in PAPER_OBJECTS:
        mine = [side[r["id"]] for r in rows if r["meta"]["object"] == obj]
        assert mine.count("a") == mine.count("e") == len(PAPER_MODIFIERS) // 2
    assert layout_split(rows, seed=3) == (analysis, evaluation)
    assert layout_split(rows, seed=4) != (analysis, evaluation)
    check_disjoint(analysis, evaluation, "layout")  # no error


def test_layout_split_odd_counts_favour_analysis_and_refuses_non_synthetic_rows():
    rows = make_synthetic_prompts("syn", ["cat", "dog"], ["", "red", "blue"])
    analysis, evaluation = layout_split(rows, seed=0)
    for obj in ("cat", "dog"):
        objs = {r["id"]: r["meta"]["object"] for r in rows}
        assert sum(objs[i] == obj for i in analysis) == 2
        assert sum(objs[i] == obj for i in evaluation) == 1
    with pytest.raises(ConfigError, match="meta.object.*layout.prompt_set"):
        layout_split([{"id": "coco1-00000", "text": "x", "set": "coco1", "meta": {}}], 0)
    with pytest.raises(ConfigError, match="no evaluation prompts"):
        layout_split(make_synthetic_prompts("syn", ["cat", "dog"], ["red"]), 0)


def test_style_evaluation_samples_and_check_disjoint_names_the_keys():
    ids = [f"coco2-{i:05d}" for i in range(50)]
    chosen = style_evaluation(ids, 10, seed=1)
    assert len(set(chosen)) == 10 and set(chosen) <= set(ids)
    assert chosen == sorted(chosen) == style_evaluation(ids, 10, seed=1)
    assert style_evaluation(ids, None, seed=1) == ids
    with pytest.raises(ConfigError, match="diverse.style_prompts.*diverse.style_set"):
        style_evaluation(ids, 51, seed=1)
    analysis = [f"coco1-{i:05d}" for i in range(10)]
    check_disjoint(analysis, chosen, "style")
    with pytest.raises(ConfigError, match="diverse.style_set.*style.prompt_sets") as err:
        check_disjoint(analysis, analysis[3:5] + chosen, "style")
    assert "coco1-00003" in str(err.value) and "2 prompt(s)" in str(err.value)
    with pytest.raises(ConfigError, match="layout_split"):
        check_disjoint(["a", "b"], ["b"], "layout")


# --- cubes and seed features -------------------------------------------------------------------


def test_evaluation_cube_places_rows_and_marks_missing():
    seeds = np.array([10, 11, 10, 12, 99])
    prompts = np.array(["p0", "p0", "p1", "p1", "p0"])
    values = np.arange(10, dtype=float).reshape(5, 2)
    cube = evaluation_cube(seeds, prompts, values, [10, 11, 12], ["p0", "p1"])
    assert cube.shape == (2, 3, 2)
    np.testing.assert_array_equal(cube[0, 0], [0, 1])
    np.testing.assert_array_equal(cube[1, 2], [6, 7])
    assert np.isnan(cube[0, 2]).all() and np.isnan(cube[1, 1]).all()  # missing, seed 99 ignored
    with pytest.raises(FeatureError, match="in no feature table"):
        evaluation_cube(seeds, prompts, values, [10, 11, 12], ["p0", "p1"], complete=True)
    with pytest.raises(FeatureError, match="more than once"):
        evaluation_cube([1, 1], ["p", "p"], np.ones((2, 1)), [1], ["p"])


def _style_tables(rng, n_seeds=12, n_prompts=4, dim=6):
    seeds = np.repeat(np.arange(100, 100 + n_seeds), n_prompts)
    prompts = np.tile([f"s-{p}" for p in range(n_prompts)], n_seeds)
    gram = rng.normal(size=(len(seeds), dim)) + 0.5
    return StyleFeatures(seeds[::-1], seeds[::-1], prompts[::-1], {}, gram[::-1])


def test_style_fps_features_keep_the_distances_of_concatenated_unit_gram_vectors():
    rng = np.random.default_rng(0)
    style = _style_tables(rng)
    order, prompts = list(range(100, 112)), [f"s-{p}" for p in range(4)]
    cube = style_cube(style, order, prompts)  # (P, N, D)
    unit = cube / np.linalg.norm(cube, axis=2, keepdims=True)
    concatenated = unit.transpose(1, 0, 2).reshape(12, -1)
    compact = style_fps_features(style, order, prompts)
    assert compact.shape[0] == 12 and compact.shape[1] <= 12

    def distances(x):
        return np.linalg.norm(x[:, None] - x[None], axis=2)

    np.testing.assert_allclose(distances(compact), distances(concatenated), atol=1e-9)
    for first in range(12):
        assert farthest_point_sampling(compact, 4, first) == farthest_point_sampling(
            concatenated, 4, first
        )
    with pytest.raises(FeatureError, match="in no feature table"):
        style_fps_features(style, [*order, 500], prompts)


def test_layout_fps_features_drop_found_and_fill_undetected():
    seeds = np.repeat([0, 1, 2], 2)
    prompts = np.tile(["a", "b"], 3)
    values = np.array(
        [
            [1, 0.2, 0.3, 0.1, 0.4],
            [0, np.nan, np.nan, np.nan, np.nan],
            [1, 0.8, 0.7, 0.2, 0.5],
            [1, 0.7, 0.6, 0.3, 0.6],
            [1, 0.5, 0.5, 0.1, 0.1],
            [1, 0.4, 0.5, 0.2, 0.2],
        ]
    )
    feats = layout_fps_features(LayoutFeatures(seeds, prompts, values), [0, 1, 2], ["a", "b"])
    assert feats.shape == (3, 8) and np.isfinite(feats).all()
    np.testing.assert_allclose(feats[0, :4], feats[0, 4:])  # seed 0's miss: its own mean


# --- estimates ------------------------------------------------------------------------------------


def test_single_set_estimates_reduce_to_the_prompt_bootstrap():
    rng = np.random.default_rng(2)
    a, b = rng.normal(0.5, 0.1, 40), rng.normal(0.6, 0.1, 40)
    a[3] = np.nan
    mine, theirs = set_matrix_estimate(a, seed=5, **FAST), mean_interval(a, seed=5, **FAST)
    assert (mine.value, mine.low, mine.high) == (theirs.value, theirs.low, theirs.high)
    assert (mine.prompts, mine.excluded) == (40, 1)  # evaluation prompts, and those excluded
    mine = set_matrix_difference(a[None], b[None], seed=5, **FAST)
    theirs = paired_difference(a, b, seed=5, **FAST)
    assert (mine.value, mine.low, mine.high) == pytest.approx(
        (theirs.value, theirs.low, theirs.high), abs=1e-12
    )
    assert mine.prompts == 39 and mine.excluded == 1


def test_random_sets_are_the_baselines_draws():
    cube = np.random.default_rng(3).normal(size=(15, 20, 5))
    s = set_scores(cube, random_sets(20, 4, 30, seed=9))
    base = random_seed_baseline(cube, 4, 30, seed=9, **FAST)
    assert s.mean() == pytest.approx(base.value, abs=1e-12)


# --- Table 2 on planted structure -----------------------------------------------------------------

N, GROUPS, C = 40, 4, 4


def _planted(rng, prompts, dim, spread=2.0):
    """Evaluation features (P, N, dim): each seed's group sets a direction per prompt."""
    group = np.arange(N) % GROUPS
    base = rng.normal(size=(prompts, 1, dim))
    directions = rng.normal(size=(prompts, GROUPS, dim))
    return base + spread * directions[:, group] + 0.3 * rng.normal(size=(prompts, N, dim))


def _table(rng, pg_style=None, pg_layout=None, **kwargs):
    style_eval = _planted(rng, 30, 16)
    # layout: each group a corner of the image, objects of fixed size and depth
    corners = np.array([[0.2, 0.2], [0.8, 0.2], [0.2, 0.8], [0.8, 0.8]])[np.arange(N) % GROUPS]
    xy = corners[None] + 0.03 * rng.normal(size=(24, N, 2))
    layout_eval = np.concatenate([xy, 0.2 + 0.02 * rng.normal(size=(24, N, 2))], axis=2)
    layout_eval[0, :5] = np.nan  # undetected objects exclude prompt 0 for sets with seeds 0-4
    analysis = _planted(rng, 8, 16).transpose(1, 0, 2).reshape(N, -1)
    sets = {
        "style": np.array(fps_sets(analysis, C, repeats=5, seed=1)),
        "layout": np.array(fps_sets(corners + 0.01 * rng.normal(size=(N, 2)), C, 5, seed=1)),
    }
    rows = diversity_rows(
        style_eval,
        layout_eval,
        sets,
        pg_style,
        pg_layout,
        c=C,
        draws=40,
        seed=0,
        **FAST,
        **kwargs,
    )
    return rows, style_eval, layout_eval, sets


def test_fps_on_planted_groups_beats_random_seeds_with_an_interval_below_zero():
    rows, style_eval, _, sets = _table(np.random.default_rng(4))
    assert list(rows.columns) == list(COLUMNS) and list(rows["method"]) == list(METHODS)
    row = rows.set_index("method")
    for sets_of in FPS_METHODS:
        # FPS on the analysis features takes one seed of each group
        assert all(len({s % GROUPS for s in found}) == GROUPS for found in sets[sets_of])
    for f in ("style", "layout"):
        for fps in FPS_METHODS.values():
            assert row.loc[fps, f"{f}_diff"] < 0, (fps, f)
            assert row.loc[fps, f"{f}_diff_hi"] < 0, (fps, f)
            assert row.loc[fps, f"{f}_lo"] <= row.loc[fps, f"{f}_similarity"]
            assert row.loc[fps, f"{f}_similarity"] <= row.loc[fps, f"{f}_hi"]
        assert row.loc[RANDOM, f"{f}_diff"] == 0 == row.loc[RANDOM, f"{f}_diff_hi"]
    # the values are the scores of the sets, and random seeds are random_seed_baseline's
    fps_style = set_scores(style_eval, sets["style"]).mean()
    assert row.loc[FPS_METHODS["style"], "style_similarity"] == pytest.approx(fps_style)
    base = random_seed_baseline(style_eval, C, 40, seed=0, **FAST)
    assert row.loc[RANDOM, "style_similarity"] == base.value
    assert (row.loc[RANDOM, "style_lo"], row.loc[RANDOM, "style_hi"]) == (base.low, base.high)
    # undetected layouts: prompt 0 drops out of the sets holding one of seeds 0-4
    assert 0 < row.loc[RANDOM, "layout_excluded"] < 1
    assert row.loc[RANDOM, "layout_prompts"] == 24
    assert row.loc[RANDOM, "sets"] == 40 and row.loc[FPS_METHODS["layout"], "sets"] == 5
    # no PG arrays: NaN cells and a note saying why
    assert np.isnan(row.loc[PG, ["style_similarity", "layout_diff"]].astype(float)).all()
    assert "no Particle Guidance" in row.loc[PG, "note"]


def test_fps_on_unrelated_analysis_features_does_not_beat_random_seeds():
    # analysis features independent of the evaluation ones: FPS is as good as a random draw
    rng = np.random.default_rng(10)
    style_eval = rng.normal(size=(60, N, 16)) + 1.0
    sets = {"style": np.array(fps_sets(rng.normal(size=(N, 32)), C, repeats=8, seed=1))}
    rows = diversity_rows(
        style_eval, None, sets, c=C, draws=40, notes={PG: "one-step model"}, **FAST
    ).set_index("method")
    fps = rows.loc[FPS_METHODS["style"]]
    assert fps["style_diff_lo"] < 0 < fps["style_diff_hi"]
    assert abs(fps["style_diff"]) < 0.02
    assert rows.loc[PG, "note"] == "one-step model"
    assert rows.loc[FPS_METHODS["layout"], "note"] == "no FPS sets; no layout evaluation features"


def test_layout_scores_use_z_scored_components():
    rng = np.random.default_rng(5)
    cube = rng.uniform(0.3, 0.7, size=(6, 10, 4))
    cube[2, 3] = np.nan
    (z,) = layout_score_vectors(cube)
    assert np.nanmean(z, axis=(0, 1)) == pytest.approx(np.zeros(4), abs=1e-12)
    assert np.nanstd(z, axis=(0, 1)) == pytest.approx(np.ones(4))
    assert np.nanmean(prompt_scores(cube)) > 0.9  # raw [0, 1] vectors: all alike
    assert abs(np.nanmean(prompt_scores(z))) < 0.3  # centred: about orthogonal
    bad = cube.copy()
    bad[0, 0, 1] = np.nan
    with pytest.raises(FeatureError, match="some but not all"):
        layout_score_vectors(bad)


def test_particle_guidance_arrays_enter_the_table():
    rng = np.random.default_rng(6)
    # PG images: copies of the first style FPS set's images (style) and identical layouts
    style_eval = _planted(np.random.default_rng(6), 30, 16)
    analysis = _planted(rng, 8, 16).transpose(1, 0, 2).reshape(N, -1)
    sets = {"style": np.array(fps_sets(analysis, C, 1, seed=1)), "layout": None}
    pg_style = style_eval[:, sets["style"][0]]
    layout_eval = rng.uniform(0.1, 0.9, size=(12, N, 4))
    pg_layout = np.repeat(layout_eval[:, :1], C, axis=1)  # one layout four times: score 1
    rows = diversity_rows(
        style_eval, layout_eval, sets, pg_style, pg_layout, c=C, draws=20, seed=0, **FAST
    ).set_index("method")
    assert rows.loc[PG, "style_similarity"] == pytest.approx(
        rows.loc[FPS_METHODS["style"], "style_similarity"]
    )
    assert rows.loc[PG, "layout_similarity"] == pytest.approx(1.0)
    assert rows.loc[PG, "layout_diff_lo"] > 0 and rows.loc[PG, "sets"] == 1
    assert rows.loc[PG, "note"] == ""
    assert np.isnan(rows.loc[FPS_METHODS["layout"], "layout_similarity"])
    assert rows.loc[FPS_METHODS["layout"], "note"] == "no FPS sets"
    with pytest.raises(FeatureError, match="diverse.c images"):
        diversity_rows(style_eval, None, sets, pg_style[:, :3], c=C, draws=20, **FAST)


def test_c_larger_than_the_seed_pool_is_a_config_error():
    features = np.random.default_rng(7).normal(size=(5, 3))
    with pytest.raises(ConfigError, match="diverse.c"):
        fps_sets(features, 6, repeats=1, seed=0)
    cube = np.random.default_rng(7).normal(size=(4, 5, 3))
    with pytest.raises(ConfigError, match="diverse.c = 6"):
        diversity_rows(cube, None, {}, c=6, draws=10, **FAST)
    with pytest.raises(ConfigError, match="diverse.c = 3"):
        diversity_rows(cube, None, {"style": [[0, 1]]}, c=3, draws=10, **FAST)


# --- files and figure -----------------------------------------------------------------------------


def test_write_table2_round_trip(tmp_path):
    rows, *_ = _table(np.random.default_rng(8))
    one_step = rows.copy()
    one_step.loc[one_step["method"] == PG, "note"] = "one-step model: no trajectory to guide"
    paths = [tmp_path / name for name in ("table2.csv", "table2.md", "table2.tex")]
    write_table2({"sd2": rows, "sdxl_turbo": one_step}, *paths)
    long = pd.read_csv(paths[0])
    assert len(long) == 2 * len(METHODS) * 2
    assert set(long["model"]) == {"sd2", "sdxl_turbo"} and set(long["method"]) == set(METHODS)
    back = long.set_index(["model", "method", "feature"])
    assert back.loc[("sd2", FPS_METHODS["style"], "style"), "value"] == pytest.approx(
        rows.set_index("method").loc[FPS_METHODS["style"], "style_similarity"]
    )
    md, tex = paths[1].read_text(), paths[2].read_text()
    for method in METHODS:
        assert method in md and method in tex
    for text in (md, tex):
        assert "sd2" in text and "one-step model" in text
    assert r"sdxl\_turbo" in tex and r"\multicolumn{2}{c}{sd2}" in tex and "95\\%" in tex
    assert "n/a" in md and "Δ" in md and r"$\Delta$" in tex
    assert md.count("\n|") == len(METHODS) + 2
    with pytest.raises(ValueError, match="differ in c"):
        write_table2({"a": rows, "b": rows.assign(c=3)}, *paths)


def test_fig11_draws_every_method(tmp_path):
    rng = np.random.default_rng(9)
    prompts = [{"id": f"p{i}", "text": f"a photo of thing {i}"} for i in range(2)]
    images = {(p["id"], s): rng.integers(0, 255, (8, 8, 3), dtype=np.uint8) for p in prompts
              for s in range(10)}  # fmt: skip
    seed_sets = {RANDOM: [0, 1, 2, 3], FPS_METHODS["style"]: [4, 5, 6, 7]}
    pg = {"p0": [rng.integers(0, 255, (8, 8, 3), dtype=np.uint8) for _ in range(4)]}
    examples = fig11_examples(prompts, seed_sets, images, pg)
    assert list(examples[0]["images"]) == [RANDOM, FPS_METHODS["style"], PG]
    assert PG not in examples[1]["images"]
    assert examples[0]["images"][FPS_METHODS["style"]][0][0] == "seed 4"
    pdf, png = tmp_path / "fig11.pdf", tmp_path / "fig11.png"
    fig = plot_fig11(examples, "sd2", str(pdf), str(png), dpi=50)
    assert pdf.stat().st_size > 0 and png.stat().st_size > 0
    assert len(fig.axes) == 5 * 4  # 3 + 2 method rows, 4 images each
    labels = [ax.get_ylabel() for ax in fig.axes if ax.get_ylabel()]
    assert any("thing 0" in label and RANDOM in label for label in labels)
    assert any(ax.get_title() == "particle 1" for ax in fig.axes)
