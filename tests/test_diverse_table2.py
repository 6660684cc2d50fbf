"""Table 2 of the diverse-seed study: prompt splits, feature cubes and seed features for FPS,
the table's rows on planted structures (random seeds, the Particle Guidance control and
coefficients, FPS; cosine, Vendi, DINO and HPS) and its files."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from seedscope.diverse.cubes import (
    ImageRows,
    evaluation_cube,
    layout_fps_features,
    layout_score_vectors,
    particle_cube,
    style_cube,
    style_fps_features,
)
from seedscope.diverse.fps import fps_sets
from seedscope.diverse.score import (
    mean_interval,
    mean_scores,
    prompt_scores,
    random_seed_baseline,
    random_sets,
    set_matrix_difference,
    set_matrix_estimate,
    set_scores,
    vendi_scores,
)
from seedscope.diverse.split import check_disjoint, layout_split, style_evaluation
from seedscope.diverse.table2 import (
    COLUMNS,
    CONTROL,
    FPS_METHODS,
    MEASURES,
    RANDOM,
    diversity_rows,
    method_order,
    pg_method,
    write_table2,
)
from seedscope.errors import ConfigError, FeatureError
from seedscope.layout.tables import LayoutFeatures
from seedscope.prompts.synthetic import PAPER_MODIFIERS, PAPER_OBJECTS, make_synthetic_prompts
from seedscope.sampling import farthest_point_sampling
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
    theirs = mean_interval(a - b, seed=5, **FAST)  # one set each: the paired prompt bootstrap
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


def _pool(rng):
    style = _planted(rng, 30, 16)
    # layout: each group a corner of the image, objects of fixed size and depth
    corners = np.array([[0.2, 0.2], [0.8, 0.2], [0.2, 0.8], [0.8, 0.8]])[np.arange(N) % GROUPS]
    xy = corners[None] + 0.03 * rng.normal(size=(24, N, 2))
    layout = np.concatenate([xy, 0.2 + 0.02 * rng.normal(size=(24, N, 2))], axis=2)
    layout[0, :3] = np.nan  # undetected objects: seeds 0-2 of prompt 0
    hps = {g: 0.25 + 0.01 * rng.normal(size=(p, N, 1)) for g, p in (("style", 30), ("layout", 24))}
    dino = {g: rng.normal(size=(p, N, 8)) + 1.0 for g, p in (("style", 30), ("layout", 24))}
    return {
        "style": {"paper": style, "dino": dino["style"], "hps": hps["style"]},
        "layout": {"paper": layout, "dino": dino["layout"], "hps": hps["layout"]},
    }, corners


def _table(rng, particles=None, **kwargs):
    pool, corners = _pool(rng)
    analysis = _planted(rng, 8, 16).transpose(1, 0, 2).reshape(N, -1)
    sets = {
        "style": np.array(fps_sets(analysis, C, repeats=5, seed=1)),
        "layout": np.array(fps_sets(corners + 0.01 * rng.normal(size=(N, 2)), C, 5, seed=1)),
    }
    rows = diversity_rows(pool, sets, particles, c=C, draws=40, seed=0, **FAST, **kwargs)
    return rows, pool, sets


def _cell(rows, method, group, measure):
    hit = rows[(rows["method"] == method) & (rows["group"] == group) & (rows["measure"] == measure)]
    assert len(hit) == 1, (method, group, measure)
    return hit.iloc[0]


def test_fps_on_planted_groups_beats_random_seeds_with_an_interval_below_zero():
    rows, pool, sets = _table(np.random.default_rng(4))
    assert list(rows.columns) == list(COLUMNS)
    assert list(dict.fromkeys(rows["method"])) == method_order([0.0])
    assert len(rows) == len(method_order([0.0])) * 2 * len(MEASURES)
    for sets_of in FPS_METHODS:
        # FPS on the analysis features takes one seed of each group
        assert all(len({s % GROUPS for s in found}) == GROUPS for found in sets[sets_of])
    for group in ("style", "layout"):
        for fps in FPS_METHODS.values():
            cosine = _cell(rows, fps, group, "cosine")
            assert cosine["diff_random"] < 0 and cosine["diff_random_hi"] < 0, (fps, group)
            assert cosine["lo"] <= cosine["value"] <= cosine["hi"]
            vendi = _cell(rows, fps, group, "vendi")  # the held-out aggregate agrees
            assert vendi["diff_random_lo"] > 0, (fps, group)
        random = _cell(rows, RANDOM, group, "cosine")
        assert random["diff_random"] == 0 == random["diff_random_hi"]
    # the values are the sets' scores, and random seeds are random_seed_baseline's
    fps_style = set_scores(pool["style"]["paper"], sets["style"]).mean()
    assert _cell(rows, FPS_METHODS["style"], "style", "cosine")["value"] == pytest.approx(fps_style)
    base = random_seed_baseline(pool["style"]["paper"], C, 40, seed=0, **FAST)
    random = _cell(rows, RANDOM, "style", "cosine")
    assert (random["value"], random["lo"], random["hi"]) == (base.value, base.low, base.high)
    hps = random_seed_baseline(pool["style"]["hps"], C, 40, 0, **FAST, measure=mean_scores)
    assert _cell(rows, RANDOM, "style", "hps")["value"] == pytest.approx(hps.value)
    # undetected objects drop images, not prompts: only prompts with < 2 found images go
    layout = _cell(rows, RANDOM, "layout", "cosine")
    assert layout["prompts"] == 24 and layout["prompts_excluded"] == 0
    assert 0 < layout["images_excluded"] < 1  # 3 of 40 images of one prompt, 4 per set
    assert _cell(rows, RANDOM, "layout", "vendi")["prompts_excluded"] > 0  # Vendi needs all C
    assert _cell(rows, RANDOM, "layout", "cosine")["sets"] == 40
    assert _cell(rows, FPS_METHODS["layout"], "layout", "cosine")["sets"] == 5
    # no Particle Guidance images: NaN cells and a note saying why
    control = _cell(rows, CONTROL, "style", "cosine")
    assert np.isnan(control["value"]) and "no Particle Guidance" in control["note"]


def test_fps_on_unrelated_analysis_features_does_not_beat_random_seeds():
    # analysis features independent of the evaluation ones: FPS is as good as a random draw
    rng = np.random.default_rng(10)
    pool = {"style": {"paper": rng.normal(size=(60, N, 16)) + 1.0}}
    sets = {"style": np.array(fps_sets(rng.normal(size=(N, 32)), C, repeats=8, seed=1))}
    rows = diversity_rows(pool, sets, c=C, draws=40, notes={CONTROL: "one-step model"}, **FAST)
    fps = _cell(rows, FPS_METHODS["style"], "style", "cosine")
    assert fps["diff_random_lo"] < 0 < fps["diff_random_hi"]
    assert abs(fps["diff_random"]) < 0.02
    assert _cell(rows, CONTROL, "style", "cosine")["note"] == "one-step model"
    assert _cell(rows, FPS_METHODS["layout"], "style", "cosine")["note"] == "no FPS sets"
    assert "no paper features" in _cell(rows, RANDOM, "layout", "cosine")["note"]


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


def _particles(pool, sets, rng):
    """The control: the first style FPS set's images; coefficient 30: images pushed apart
    (orthogonal-ish random directions), scored lower than the control; coefficient 300: one
    layout four times and lower HPS."""
    control = {g: {f: cube[:, sets["style"][0]] for f, cube in pool[g].items()} for g in pool}
    pushed = {g: dict(control[g]) for g in pool}
    for g in pool:
        p = pool[g]["paper"].shape[0]
        pushed[g]["paper"] = rng.normal(size=(p, C, pool[g]["paper"].shape[2]))
        pushed[g]["paper"][:, :, :] += 0.0 if g == "style" else 0.5
    strong = {g: dict(pushed[g]) for g in pool}
    strong["layout"]["paper"] = np.repeat(pool["layout"]["paper"][:, 5:6], C, axis=1)
    strong["style"]["hps"] = control["style"]["hps"] - 0.05
    return {0.0: control, 30.0: pushed, 300.0: strong}


def test_particle_guidance_rows_with_the_control_and_every_coefficient():
    rng = np.random.default_rng(6)
    pool, _ = _pool(np.random.default_rng(6))
    analysis = _planted(rng, 8, 16).transpose(1, 0, 2).reshape(N, -1)
    sets = {"style": np.array(fps_sets(analysis, C, 1, seed=1)), "layout": None}
    particles = _particles(pool, sets, rng)
    rows = diversity_rows(pool, sets, particles, c=C, draws=20, seed=0, **FAST)
    assert list(dict.fromkeys(rows["method"])) == [
        RANDOM, CONTROL, pg_method(30.0), pg_method(300.0), *FPS_METHODS.values()
    ]  # fmt: skip
    control = _cell(rows, CONTROL, "style", "cosine")
    fps = _cell(rows, FPS_METHODS["style"], "style", "cosine")
    assert control["value"] == pytest.approx(fps["value"])  # the same images
    assert control["diff_control"] == 0 and control["coeff"] == 0 and control["sets"] == 1
    pushed = _cell(rows, pg_method(30.0), "style", "cosine")
    assert pushed["coeff"] == 30.0 and pushed["diff_control_hi"] < 0  # more diverse
    assert pushed["diff_control"] == pytest.approx(pushed["value"] - control["value"])
    strong = _cell(rows, pg_method(300.0), "layout", "cosine")
    assert strong["value"] == pytest.approx(1.0) and strong["diff_control_lo"] > 0
    quality = _cell(rows, pg_method(300.0), "style", "hps")
    assert quality["diff_control"] == pytest.approx(-0.05)  # the quality column shows the cost
    assert quality["diff_control_hi"] < 0 and pushed["note"] == ""
    assert np.isnan(_cell(rows, FPS_METHODS["layout"], "layout", "cosine")["value"])
    short = {0.0: {"style": {"paper": particles[0.0]["style"]["paper"][:, :3]}}}
    with pytest.raises(FeatureError, match="diverse.c images"):
        diversity_rows(pool, sets, short, c=C, draws=20, **FAST)


def test_a_configured_coefficient_without_images_still_has_its_row_and_note():
    pool, _ = _pool(np.random.default_rng(7))
    rows = diversity_rows(
        pool, {}, None, coeffs=[0.0, 30.0], c=C, draws=20, notes={pg_method(30.0): "why"}, **FAST
    )
    assert _cell(rows, pg_method(30.0), "style", "hps")["note"] == "why"
    assert np.isnan(_cell(rows, pg_method(30.0), "style", "hps")["value"])


def test_particle_cube_takes_each_prompts_own_particles():
    rows = ImageRows(
        seeds=np.array([7, 3, 9, 1, 2, 8]),
        prompt_ids=np.array(["a", "a", "a", "b", "b", "b"]),
        values=np.arange(6, dtype=float)[:, None],
    )
    cube = particle_cube(rows, ["b", "a"], 3)
    np.testing.assert_array_equal(cube[:, :, 0], [[3, 4, 5], [1, 0, 2]])  # by seed per prompt
    with pytest.raises(FeatureError, match="miss images of 1"):
        particle_cube(rows, ["a", "c"], 3)
    with pytest.raises(FeatureError, match="more than diverse.c = 2"):
        particle_cube(rows, ["a"], 2)


def test_vendi_and_dino_enter_the_table_as_their_functions_say():
    rows, pool, sets = _table(np.random.default_rng(12))
    fps = sets["layout"]
    vendi = set_scores(pool["style"]["paper"], fps, vendi_scores)
    cell = _cell(rows, FPS_METHODS["layout"], "style", "vendi")
    assert cell["value"] == pytest.approx(np.nanmean(vendi))
    dino = set_scores(pool["layout"]["dino"], fps, prompt_scores)
    assert _cell(rows, FPS_METHODS["layout"], "layout", "dino")["value"] == pytest.approx(
        np.nanmean(dino)
    )


def test_c_larger_than_the_seed_pool_is_a_config_error():
    features = np.random.default_rng(7).normal(size=(5, 3))
    with pytest.raises(ConfigError, match="diverse.c"):
        fps_sets(features, 6, repeats=1, seed=0)
    pool = {"style": {"paper": np.random.default_rng(7).normal(size=(4, 5, 3))}}
    with pytest.raises(ConfigError, match="diverse.c: 6 is out of range"):
        diversity_rows(pool, {}, c=6, draws=10, **FAST)
    with pytest.raises(ConfigError, match="diverse.c = 3"):
        diversity_rows(pool, {"style": [[0, 1]]}, c=3, draws=10, **FAST)


# --- files ----------------------------------------------------------------------------------------


def test_write_table2_round_trip(tmp_path):
    rng = np.random.default_rng(8)
    pool, _ = _pool(rng)
    sets = {"style": np.array(fps_sets(rng.normal(size=(N, 4)), C, 2, seed=1)), "layout": None}
    rows = diversity_rows(pool, sets, _particles(pool, sets, rng), c=C, draws=20, **FAST)
    one_step = diversity_rows(pool, sets, None, coeffs=[0, 30, 300], c=C, draws=20, **FAST)
    one_step["note"] = np.where(
        one_step["method"].isin([CONTROL, pg_method(30), pg_method(300)]),
        "one-step model: no images",
        one_step["note"],
    )
    paths = [tmp_path / name for name in ("table2.csv", "table2.md", "table2.tex")]
    write_table2({"sd2": rows, "sdxl_turbo": one_step}, *paths)
    long = pd.read_csv(paths[0])
    assert list(long.columns) == list(COLUMNS) and len(long) == 2 * len(rows)
    assert set(long["model"]) == {"sd2", "sdxl_turbo"}
    back = long.set_index(["model", "method", "group", "measure"])
    fps = FPS_METHODS["style"]
    assert back.loc[("sd2", fps, "style", "cosine"), "value"] == pytest.approx(
        _cell(rows, fps, "style", "cosine")["value"]
    )
    md, tex = paths[1].read_text(), paths[2].read_text()
    for method in method_order([0, 30, 300]):
        assert method in md and method in tex
    for text in (md, tex):
        assert "sd2" in text and "one-step model" in text and "Vendi" in text and "HPS" in text
    assert r"sdxl\_turbo" in tex and "95\\%" in tex and r"$\Delta$" in tex
    assert "n/a" in md and "Δrand" in md and "Δctrl" in md
    # a block per model and prompt group, a line per method plus header and rule
    assert md.count("\n|") == 4 * (len(method_order([0, 30, 300])) + 2)
    with pytest.raises(ValueError, match="differ in c"):
        write_table2({"a": rows, "b": rows.assign(c=3)}, *paths)
