"""The diverse-seed comparison wired into the workflow: config checks before any job, the jobs
the DAG schedules (Particle Guidance only where it applies), the stage functions on feature
tables, and diverse seed sets in the seed bank."""

from __future__ import annotations

import copy
import json

import numpy as np
import pandas as pd
import pytest

from seedscope.cli import main
from seedscope.dag import Dag
from seedscope.diverse.settings import pg_coeffs, pg_models, pg_support
from seedscope.diverse.stage import seed_sets, table2_rows
from seedscope.errors import ConfigError
from seedscope.layout.tables import LayoutFeatures
from seedscope.seedbank import SeedBankError, build_bank, load_bank, pick, save_bank
from seedscope.style.tables import StyleFeatures
from seedscope.validate import load_config, validate_config

from conftest import DEMO, REPO


@pytest.fixture(scope="module")
def demo():
    return load_config(DEMO)


def changed(config, change):
    config = copy.deepcopy(config)
    change(config)
    return validate_config(config, check_libraries=False)


BAD = [
    (lambda c: c["diverse"].update(c=33), r"diverse\.c: 33 seeds per prompt but only 32"),
    (lambda c: c["diverse"].update(style_set="coco1"), r"diverse\.style_set: 'coco1' is also in"),
    (lambda c: c["diverse"].update(style_prompts=13), r"diverse\.style_prompts: 13"),
    (
        lambda c: (
            c["models"]["sd2"]["scheduler"].update(name="dpmsolver_multistep"),
            c["diverse"]["particle_guidance"].update(models=["sd2"]),
        ),
        r"particle_guidance\.models: 'sd2': .*'dpmsolver_multistep' is not supported",
    ),
    (
        lambda c: c["diverse"]["particle_guidance"].update(kernel_space="pixels"),
        r"particle_guidance: .*kernel_space.*allowed keys",
    ),
    (
        lambda c: c["diverse"]["particle_guidance"].update(strength=0.1),
        r"particle_guidance: .*strength.*allowed keys are: bandwidth, coeffs",
    ),
    (
        lambda c: c["diverse"]["particle_guidance"].update(coeffs=[]),
        r"coeffs: \[\] should be non-empty",
    ),
    (
        lambda c: c["diverse"]["particle_guidance"].update(coeffs=[30, -1]),
        r"coeffs\.1: -1 is less than or equal to the minimum of 0",
    ),
    (
        lambda c: c["diverse"]["particle_guidance"].update(coeffs=[0, 30]),
        r"coeffs\.0: 0 is less than or equal to the minimum of 0",
    ),
    (
        lambda c: c["diverse"]["fig11"].update(coeff=7),
        r"diverse\.fig11\.coeff: 7 is not one of diverse\.particle_guidance\.coeffs",
    ),
]


@pytest.mark.parametrize("change,message", BAD, ids=[m[:26] for _, m in BAD])
def test_bad_diverse_settings_stop_before_any_job(demo, change, message):
    with pytest.raises(ConfigError, match=message):
        changed(demo, change)


def test_particle_guidance_sweep_in_the_paper_dag_and_plan():
    paper = load_config(REPO / "config.yaml")
    assert pg_models(paper) == ["sd2", "sdxl-turbo"]  # one-step SDXL Turbo included
    assert pg_support(paper, "sdxl-turbo") is None
    assert pg_coeffs(paper) == [0.0, 10.0, 30.0, 100.0, 300.0, 1000.0]
    dag = Dag(paper)
    counts = dag.job_counts()
    shards = 2 * 2 * 6  # models x evaluation sets (coco2, synthetic) x (control + 5 coefficients)
    assert counts["particle_guidance"] == shards
    assert counts["extract_particle_features"] == shards * 3  # style or layout, HPS, DINO
    assert counts["extract_evaluation_features"] == 2 * 2 * 2 * 64  # models x sets x HPS/DINO
    assert counts["diverse_seeds"] == 2 and counts["table2"] == 1
    assert counts["fig_diversity_quality"] == 1
    style = [j for j in dag.appearance_jobs() if j["extractor"] == "style"]
    assert {j["set"] for j in style} == {"coco1", "coco2"}  # analysis and evaluation prompts
    assert dag.path("table2") in dag.targets()
    assert dag.path("fig_diversity_quality") in dag.targets()
    from seedscope.plan import make_plan

    plan = make_plan(paper)  # C particles x 6 coefficients x (500 style + 440 layout prompts)
    assert plan["totals"]["particle_images"] == 2 * 4 * 6 * (500 + 440)
    assert plan["totals"]["gpu_hours"]["particle_guidance"] > 0
    images = plan["totals"]["feature_images"]
    assert images["dino"] == 2 * (1024 + 4 * 6) * (500 + 440)
    # style: the analysis sample, the evaluation sample, and the style set's particles
    assert images["style"] == 2 * 1024 * (100 + 500) + 2 * 4 * 6 * 500


def features(n_seeds: int, prompts: list[str], rng, planted: bool):
    """Style and layout features where seeds fall into 4 groups that look alike on every prompt
    (or not, when ``planted`` is False)."""
    seeds = np.repeat(np.arange(n_seeds), len(prompts))
    ids = np.tile(prompts, n_seeds)
    group = seeds % 4 if planted else rng.integers(0, 4, len(seeds))
    centres = rng.normal(size=(4, 16))
    gram = centres[group] + 0.1 * rng.normal(size=(len(seeds), 16))
    style = StyleFeatures(ids, seeds, ids, {}, gram.astype(np.float32))
    layout = np.column_stack([np.ones(len(seeds)), rng.uniform(size=(len(seeds), 4))])
    return style, LayoutFeatures(seeds, ids, layout.astype(np.float32))


def test_fps_sets_from_analysis_prompts_beat_random_seeds_on_evaluation_prompts():
    rng = np.random.default_rng(0)
    analysis = [f"a-{i:05d}" for i in range(6)]
    evaluation = [f"e-{i:05d}" for i in range(20)]
    params = {"c": 4, "repeats": 3, "seed": 0, "random_draws": 40, "confidence": 0.95,
              "resamples": 200}  # fmt: skip
    style_a, layout_a = features(24, analysis, rng, planted=True)
    sets = seed_sets(style_a, layout_a, analysis, params)
    assert len(sets["sets"]["style"]) == 3 and all(len(r) == 4 for r in sets["sets"]["style"])
    assert all(len({s % 4 for s in run}) == 4 for run in sets["sets"]["style"])  # one per group
    by_map = seed_sets(style_a, layout_a, analysis, params | {"style_features": "map",
                       "map": {"pca_components": 8, "perplexity": 7.0, "seed": 0}})  # fmt: skip
    assert all(len({s % 4 for s in run}) == 4 for run in by_map["sets"]["style"])
    style_e, layout_e = features(24, evaluation, rng, planted=True)
    prompts = {"style": evaluation, "layout": evaluation}
    sets["layout_analysis"] = ["l-00000"]
    rows = table2_rows(
        sets, style_e, layout_e, prompts, params, coeffs=[0.0, 30.0], pg_note="not rendered"
    ).set_index(["method", "group", "measure"])
    fps = rows.loc[("diverse seeds (style FPS)", "style", "cosine")]
    assert fps["diff_random"] < 0 and fps["diff_random_hi"] < 0
    assert rows.loc[("random seeds", "style", "cosine"), "diff_random"] == 0
    assert rows.loc[("Particle Guidance (coeff 30)", "style", "hps"), "note"] == "not rendered"
    assert rows.loc[("same seeds, no guidance", "layout", "cosine"), "note"] == "not rendered"
    with pytest.raises(ConfigError, match="both analysis prompts .* and evaluation prompts"):
        table2_rows(sets, style_e, layout_e, {"style": analysis, "layout": evaluation}, params)


def test_bank_returns_a_diverse_set_and_pick_checks_its_size(tmp_path, capsys):
    per_seed = pd.DataFrame({"seed": range(8), "fid": np.arange(8.0), "fid_rank": range(1, 9)})
    diverse = {"c": 4, "sets": {"style": [[5, 1, 7, 2], [0, 3, 6, 4]], "layout": [[2, 4, 6, 0]]}}
    bank = build_bank("sd2", {"pipeline": "StableDiffusionPipeline"}, {"coco1": per_seed},
                      {"golden": [0], "grayscale": [1]}, {"set": "coco1", "metrics": ["fid"],
                      "top_k": 1}, "hash", diverse=diverse)  # fmt: skip
    save_bank(bank, tmp_path / "b.json")
    bank = load_bank(tmp_path / "b.json")
    assert bank["diverse_style"] == diverse["sets"]["style"]
    assert pick(bank, 4, diverse="layout") == [2, 4, 6, 0]
    assert pick(bank, 4, diverse="style") == [5, 1, 7, 2]
    assert pick(bank, 2, diverse="style", avoid=["grayscale"]) == [0, 3]  # the next FPS run
    with pytest.raises(SeedBankError, match="holds 4 seeds"):
        pick(bank, 5, diverse="style")
    assert main(["pick", "--bank", str(tmp_path / "b.json"), "--diverse", "layout", "--n", "4",
                 "--json"]) == 0  # fmt: skip
    assert json.loads(capsys.readouterr().out)["seeds"] == [2, 4, 6, 0]
