"""The workflow end to end: the demo DAG, dry runs of the paper config, bad input, lint.

The demo runs once per session (the ``demo`` fixture in conftest.py).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd
import pytest
import yaml

from seedscope.dag import PATHS
from seedscope.features.table import read_table
from seedscope.shards import ShardReader, verify
from seedscope.study import prompt_set_sizes
from seedscope.validate import load_config

from conftest import DEMO, REPO, snakemake
from conftest import planned_jobs as dry_run_jobs


def planned_jobs(result: subprocess.CompletedProcess) -> dict[str, int]:
    """The 'Job stats' table of a dry run: rule -> count."""
    return dry_run_jobs(result.stdout + result.stderr)


def planned_outputs(result: subprocess.CompletedProcess, rule: str) -> list[str]:
    """The first output of every job of ``rule`` in a dry run."""
    outputs, current = [], None
    for line in result.stdout.splitlines():
        if line.startswith("rule ") or line.startswith("localrule "):
            current = line.split()[1].rstrip(":")
        elif current == rule and line.strip().startswith("output:"):
            outputs.append(line.split("output:")[1].split(",")[0].strip())
    return outputs


def write_config(path: Path, base: Path = DEMO, **changes) -> Path:
    config = yaml.safe_load(base.read_text())
    for dotted, value in changes.items():
        node = config
        *parents, leaf = dotted.split(".")
        for key in parents:
            node = node[key]
        node[leaf] = value
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.mark.slow
def test_demo_leaves_verified_shards_and_the_seed_swap_figure(demo):
    run = demo / "results" / "demo"
    shards = sorted((run / "images").glob("*/*/*.tar"))
    assert len(shards) == 2 * 4 + 2  # models x prompt sets, and sd2-inpaint's two tasks
    sizes = prompt_set_sizes(load_config(DEMO))  # 12 COCO prompts per set, 4 parti, 4 synthetic
    for shard in shards:
        assert verify(shard) == sizes[shard.parent.name] * 32
    reader = ShardReader(run / "images" / "sd2" / "parti" / "seeds-0000-0031.tar")
    assert reader.seeds == list(range(32))
    assert all(meta["model"] == "sd2" and meta["prompt_set"] == "parti" for _, _, meta in reader)
    for name in ("fig2_seed_swap.pdf", "fig2_seed_swap.png"):
        assert (run / "figures" / name).stat().st_size > 1000
    assert (run / "models" / "sd2-inpaint" / "model_index.json").exists()
    summary = (run / "tables" / "run_summary.csv").read_text().splitlines()
    total = dict(zip(summary[0].split(","), summary[-1].split(","), strict=True))
    text_sets = sum(n for name, n in sizes.items() if name not in ("removal", "completion"))
    images = (2 * text_sets + sizes["removal"] + sizes["completion"]) * 32
    assert int(total["images"]) == images and float(total["job_hours"]) > 0
    for model in ("sd2", "sdxl-turbo"):
        report = json.loads((run / "classifier" / model / "test_report.json").read_text())
        assert report["images"] == 4 * 32 and report["chance"] == 1 / 32
        assert report["accuracy"] > 10 * report["chance"]  # seeds are recognisable
        assert (run / "figures" / f"fig4_gradcam_{model}.png").stat().st_size > 1000


@pytest.mark.slow
def test_demo_makes_the_style_and_layout_tables_figures_and_bank_entries(demo):
    run = demo / "results" / "demo"
    for model in ("sd2", "sdxl-turbo"):
        for fig in ("fig8_style_map", "fig9_style_seeds", "fig10_layout"):
            assert (run / "figures" / f"{fig}_{model}.png").stat().st_size > 1000
            assert (run / "figures" / f"{fig}_{model}.pdf").stat().st_size > 1000
        rates = pd.read_csv(run / "tables" / f"style_rates_{model}.csv")
        assert list(rates["seed"]) == list(range(32)) and (rates["n"] == 12).all()
        positions = pd.read_csv(run / "tables" / f"style_map_{model}.csv")
        assert (
            list(positions["seed"]) == list(range(32)) and positions[["x", "y"]].notna().all().all()
        )
        layout = pd.read_csv(run / "tables" / f"layout_means_{model}.csv")
        assert list(layout["seed"]) == list(range(32)) and (layout["n"] == 4).all()
        variance = pd.read_csv(run / "tables" / f"layout_variance_{model}.csv")
        assert len(variance) == 4
        bank = json.loads((run / "seedbank" / f"{model}.json").read_text())
        assert {"grayscale", "sky", "border"} <= set(bank["tags"])
        assert all("style" in s and "style_map" in s and "layout" in s for s in bank["seeds"])
        style_table = read_table(
            run / "features" / "style" / model / "coco1" / "seeds-0000-0031.npz"
        )
        assert len(style_table) == 32 * 12 and style_table.meta["extractor"] == "style"


@pytest.mark.slow
def test_demo_judges_golden_seeds_by_every_score_and_against_best_of_n(demo):
    run = demo / "results" / "demo"
    config = load_config(DEMO)
    scores = config["quality"]["scores"]
    assert scores == ["hps", "pickscore", "imagereward", "clipscore", "aesthetic"]
    for model in ("sd2", "sdxl-turbo"):
        table = pd.read_csv(run / "tables" / f"perseed_{model}_coco1.csv")
        for metric in ("fid", "kid", *scores):
            assert table[[metric, f"{metric}_lo", f"{metric}_rank_hi"]].notna().all().all()
            assert (table[f"{metric}_lo"] <= table[metric]).all()
        for score in scores[1:]:
            features = read_table(
                run / "features" / score / model / "coco2" / "seeds-0000-0031.npz"
            )
            assert len(features) == 32 * 12 and features.meta["extractor"] == score
        bank = json.loads((run / "seedbank" / f"{model}.json").read_text())
        assert "pickscore_lo" in bank["seeds"][0]["stats"]["coco1"]
    matrix = pd.read_csv(run / "tables" / "golden_matrix.csv")
    selectors = {"fid", "kid", *scores, "golden"}
    assert set(matrix["selected_by"]) == selectors
    assert set(matrix["prompt_set"]) == {"coco2", "parti"}  # held out: never the FID set
    coco2 = matrix[(matrix["prompt_set"] == "coco2") & (matrix["model"] == "sd2")]
    assert len(coco2) == len(selectors) * (2 + len(scores))  # FID, KID and every score
    table1b = pd.read_csv(run / "tables" / "table1b_quality_per_render.csv")
    random = table1b[(table1b["seeds"] == "random") & (table1b["verifier"] == "none")]
    assert set(random["renders"]) == {1} and len(random) == 2 * len(scores)
    best = table1b[table1b["verifier"] == "hps"]
    assert "hps" not in set(best["metric"]) and set(best["renders"]) == {2, 4, 8, 16}
    assert (run / "figures" / "fig_best_of_n.png").stat().st_size > 1000


@pytest.mark.slow
def test_demo_compares_diverse_seeds_with_random_seeds_and_particle_guidance(demo):
    run = demo / "results" / "demo"
    table = pd.read_csv(run / "tables" / "table2_diverse_seeds.csv")
    assert set(table["model"]) == {"sd2", "sdxl-turbo"}
    methods = [
        "random seeds",
        "same seeds, no guidance",
        "Particle Guidance (coeff 100)",
        "diverse seeds (style FPS)",
        "diverse seeds (layout FPS)",
    ]
    for model in ("sd2", "sdxl-turbo"):  # every row, group and measure has a number
        mine = table[table["model"] == model]
        assert list(dict.fromkeys(mine["method"])) == methods
        assert set(mine["measure"]) == {"cosine", "vendi", "dino", "hps"}
        assert mine[["value", "lo", "hi", "diff_random"]].notna().all().all(), model
        pg = mine[mine["method"].str.startswith("Particle Guidance")]
        assert pg["diff_control"].notna().all() and (pg["prompts_excluded"] >= 0).all()
        assert (mine["images_excluded"] >= 0).all()
    for suffix in ("md", "tex"):
        text = (run / "tables" / f"table2_diverse_seeds.{suffix}").read_text()
        assert "Particle Guidance (coeff 100)" in text and "style FPS" in text
    for model in ("sd2", "sdxl-turbo"):
        sets = json.loads((run / "tables" / f"diverse_seeds_{model}.json").read_text())
        assert len(sets["sets"]["style"]) == 3 and all(len(r) == 4 for r in sets["sets"]["style"])
        bank = json.loads((run / "seedbank" / f"{model}.json").read_text())
        assert bank["diverse_style"] == sets["sets"]["style"]
        assert bank["diverse_layout"] == sets["sets"]["layout"]
        assert (run / "figures" / f"fig11_diverse_seeds_{model}.png").stat().st_size > 1000
        for coeff in ("0", "100"):  # evaluation prompts x C
            assert verify(run / "particle" / model / "coco2" / f"coeff-{coeff}.tar") == 6 * 4
    assert (run / "figures" / "diversity_quality.png").stat().st_size > 1000
    # the control renders each prompt's own random particle seeds, not the same four
    reader = ShardReader(run / "particle" / "sd2" / "coco2" / "coeff-0.tar")
    particles = {tuple(meta["particles"]) for _, _, meta in reader}
    assert len(particles) > 1


@pytest.mark.slow
def test_demo_inpaints_every_pair_and_tags_text_prone_seeds(demo):
    run = demo / "results" / "demo"
    pairs = [json.loads(line) for line in (run / "inpainting" / "pairs" / "pairs.jsonl").open()]
    assert len(pairs) == 2
    for task in ("removal", "completion"):
        shard = run / "images" / "sd2-inpaint" / task / "seeds-0000-0031.tar"
        assert verify(shard) == 2 * 32
        ocr = read_table(run / "features" / "ocr" / "sd2-inpaint" / task / "seeds-0000-0031.npz")
        assert len(ocr) == 2 * 32 and ocr.meta["backend"] == "rapidocr"
        assert ((ocr.features[:, 0] >= 0) & (ocr.features[:, 0] <= 1)).all()
    text = pd.read_csv(run / "tables" / "text_sd2-inpaint.csv")
    assert list(text["seed"]) == list(range(32)) and (text["removal_n"] == 2).all()
    for task in ("removal", "completion"):
        part = pd.read_csv(run / "tables" / f"text_sd2-inpaint_{task}.csv")
        assert (part["task"] == task).all() and (part["n"] == 2).all()
        assert part["ratio"].tolist() == text[f"{task}_ratio"].tolist()
    bank = json.loads((run / "seedbank" / "sd2-inpaint.json").read_text())
    assert "text" in bank["tags"] and all("text" in s for s in bank["seeds"])
    for name in ("fig12_inpainting_text_sd2-inpaint.png", "fig12_inpainting_text_sd2-inpaint.pdf"):
        assert (run / "figures" / name).stat().st_size > 1000


@pytest.mark.slow
def test_demo_is_complete_and_growing_seeds_plans_only_new_blocks(demo, tmp_path):
    assert "Nothing to be done" in snakemake("-n", "--configfile", str(DEMO), cwd=demo).stdout
    reordered = write_config(tmp_path / "same.yaml")  # same values, keys re-ordered by yaml
    assert "Nothing to be done" in snakemake("-n", "--configfile", str(reordered), cwd=demo).stdout
    grown = write_config(tmp_path / "grown.yaml", **{"seeds.count": 64})
    result = snakemake("-n", "--configfile", str(grown), cwd=demo)
    # 2 models x 4 sets, one new block, and what reads every shard: the summary and classifiers
    expected = {"generate": 8, "run_summary": 1, "all": 1} | CLASSIFIERS(2)
    expected |= QUALITY(models=2, extract=2 * SCORED, blocks=2 * FID_BLOCKS)  # 1 new block
    expected = merged(expected, STYLE(2, extract=2), LAYOUT(2, extract=2))
    # and the inpainting model's two tasks: shards, OCR, its text table, fig 12 and bank
    expected = merged(expected, {"generate": 2, "seedbank": 1}, INPAINTING(extract=2))
    # and the style, HPS and DINO features of the new seeds' evaluation prompts, then the
    # diverse seeds; no particle is rendered again (its seeds are not the studied seeds)
    expected = merged(expected, {"extract_features": 2}, DIVERSE(seeds=2, evaluation=8))
    assert planned_jobs(result) == expected
    assert "seeds-0032-0063" in result.stdout and "seeds-0000-0031.tar\n" not in result.stdout


def CLASSIFIERS(models: int) -> dict[str, int]:  # noqa: N802 - reads like a constant
    """The classifier jobs of ``models`` models."""
    return {"train_classifier": models, "evaluate_classifier": models, "gradcam_classifier": models}


def QUALITY(  # noqa: N802
    models: int, extract: int = 0, blocks: int = 0, figures: bool = True
) -> dict[str, int]:
    """The per-seed quality jobs downstream of ``extract`` new feature tables (``blocks`` of them
    Inception tables of the FID sets, each with its FID block) of ``models`` models.

    In the demo, per model, Inception runs on coco1 and coco2 (one FID block each), HPS on
    coco1, coco2 and parti, and the other four scores on coco1 and coco2: 3 per-seed tables,
    and ``SCORED`` feature tables for a model whose images all change. The golden-seed matrix,
    Table 1b, figs 6-7 and Table 1 pool every model.
    """
    jobs = {"extract_features": extract, "perseed_block": blocks}
    jobs |= {"perseed_table": 3 * models, "golden_seeds": models, "seedbank": models}
    jobs |= {"golden_matrix": 1, "table1b": 1, "fig_best_of_n": 1}
    if figures:
        jobs |= {"fig5_best_worst_seeds": models}
        jobs |= {"fig_generalisation": 2, "table1": 1}
    return {rule: n for rule, n in jobs.items() if n}


# a demo model's quality feature tables (Inception x 2, HPS x 3, 4 scores x 2) and FID blocks
SCORED, FID_BLOCKS = 2 + 3 + 4 * 2, 2


def STYLE(models: int, extract: int = 0) -> dict[str, int]:  # noqa: N802
    """The style jobs of ``models`` models after ``extract`` new style feature tables (the seed
    banks that read them are QUALITY's or the case's)."""
    jobs = {"extract_features": extract, "style_table": models, "style_map": models}
    return jobs | {"fig8_style_map": models, "fig9_style_seeds": models}


def LAYOUT(models: int, extract: int = 0) -> dict[str, int]:  # noqa: N802
    """The layout jobs of ``models`` models after ``extract`` new layout feature tables."""
    return {"extract_features": extract, "layout_table": models, "fig10_layout": models}


def INPAINTING(extract: int = 0) -> dict[str, int]:  # noqa: N802
    """The inpainting model's jobs after ``extract`` new OCR tables (demo: two tasks)."""
    jobs = {"extract_features": extract, "text_table": 1, "fig12_inpainting_text": 1}
    return jobs | {"text_task_table": 2}


def DIVERSE(  # noqa: N802
    seeds: int = 0, particles: int = 0, extract: int = 0, evaluation: int = 0, fig11: int = 0
) -> dict[str, int]:
    """Table 2, the diversity-quality figure and what feeds them: ``seeds`` models' seed sets
    (and their figs 11, plus ``fig11`` more), ``particles`` new Particle Guidance shards,
    ``extract`` new PG feature tables, ``evaluation`` new HPS and DINO tables of the evaluation
    prompts. The demo renders PG at coefficients 0 (the control) and 100, on two sets."""
    jobs = {"diverse_seeds": seeds, "fig11_diverse_seeds": seeds + fig11, "table2": 1}
    jobs |= {"fig_diversity_quality": 1, "extract_evaluation_features": evaluation}
    return jobs | {"particle_guidance": particles, "extract_particle_features": extract}


def merged(*parts: dict[str, int]) -> dict[str, int]:
    """Job counts added up rule by rule (several stages extract features)."""
    total: dict[str, int] = {}
    for part in parts:
        for rule, n in part.items():
            total[rule] = total.get(rule, 0) + n
    return {rule: n for rule, n in total.items() if n}


RERUNS = {
    # change -> exact jobs planned, and a substring every planned shard path contains
    "add a prompt to a set": (
        {"prompt_sets.synthetic.objects": ["dog", "apple", "cat"]},
        merged(
            {"prompt_set": 1, "generate": 2, "run_summary": 1, "all": 1, "seedbank": 2},
            {"tiny_extractor": 1},  # the demo's tiny segmenter proposes the set's objects
            CLASSIFIERS(2),
            LAYOUT(2, extract=2),
            # PG shards of the synthetic set (2 models x 2 coefficients), their style or layout,
            # HPS and DINO tables, and HPS and DINO of every seed's synthetic images
            DIVERSE(seeds=2, particles=4, extract=12, evaluation=4),
        ),
        "/synthetic/",
    ),
    "change sdxl-turbo's guidance": (
        {"models.sdxl-turbo.guidance": 1.5},
        merged(
            {"generate": 4, "run_summary": 1, "all": 1},
            CLASSIFIERS(1),
            QUALITY(1, extract=SCORED, blocks=FID_BLOCKS),
            STYLE(1, extract=1),
            LAYOUT(1, extract=1),
            DIVERSE(seeds=1, particles=4, extract=12, evaluation=4),
            {"extract_features": 1},  # style on the evaluation prompts (coco2)
        ),
        "/sdxl-turbo/",
    ),
    "change sd2's steps (seed swap uses sd2)": (
        {"models.sd2.steps": 12},
        merged(
            {"generate": 4, "seed_swap": 1, "plot_seed_swap": 1, "run_summary": 1, "all": 1},
            CLASSIFIERS(1),
            QUALITY(1, extract=SCORED, blocks=FID_BLOCKS),
            STYLE(1, extract=1),
            LAYOUT(1, extract=1),
            DIVERSE(seeds=1, particles=4, extract=12, evaluation=4),
            {"extract_features": 1},  # style on the evaluation prompts (coco2)
        ),
        "/sd2/",
    ),
    "change the seed-swap prompts": (
        {"seed_swap.prompts": ["a cat"]},
        {"seed_swap": 1, "plot_seed_swap": 1, "all": 1},
        None,
    ),
    "change a plotting option": (
        {"plots.dpi": 100},
        {"plot_seed_swap": 1, "fig5_best_worst_seeds": 2, "fig_generalisation": 2, "all": 1}
        | {"fig_best_of_n": 1}
        | {"fig8_style_map": 2, "fig9_style_seeds": 2, "fig10_layout": 2}
        | {"fig12_inpainting_text": 1, "fig11_diverse_seeds": 2, "fig_diversity_quality": 1},
        None,
    ),
    "change a parti sample": (
        {"prompt_sets.parti.sample_seed": 7},
        {"prompt_set": 1, "generate": 2, "run_summary": 1, "all": 1}
        | CLASSIFIERS(2)
        # parti has HPS only and chooses no golden seeds: its tables, Table 1, the golden-seed
        # matrix (parti is held out), the seed banks
        | {"extract_features": 2, "perseed_table": 2, "table1": 1, "golden_matrix": 1}
        | {"seedbank": 2},
        "/parti/",
    ),
    "change the classifier backbone": (
        {"classifier.backbone": "resnet18"},
        {"all": 1} | CLASSIFIERS(2),
        None,
    ),
    "change the Grad-CAM seeds": (
        {"classifier.gradcam.seeds": [4, 5]},
        {"gradcam_classifier": 2, "all": 1},
        None,
    ),
    "change an HPS setting": (
        {"features.hps.batch_size": 32},
        # HPS on coco1, coco2, parti x 2 models; no Inception or reference job; HPS of the
        # evaluation prompts (2 models x 2 sets) and of the PG shards (x 2 coefficients)
        merged(
            {"all": 1},
            QUALITY(2, extract=6),
            DIVERSE(extract=8, evaluation=4),
        ),
        None,
    ),
    "change the golden top-k": (
        {"quality.golden.top_k": 6},
        {"golden_seeds": 2, "seedbank": 2, "table1": 1, "fig_generalisation": 2, "all": 1}
        | {"golden_matrix": 1, "table1b": 1, "fig_best_of_n": 1},
        None,
    ),
    "change the bootstrap": (
        {"quality.bootstrap.resamples": 50},
        {"perseed_block": 2 * FID_BLOCKS, "all": 1} | QUALITY(2),
        None,
    ),
    "give Table 1 its own prompt count": (
        {"quality.table1.prompts": 4},
        {"table1": 1, "all": 1},
        None,
    ),
    "change a style extractor setting": (
        {"features.style.dim": 32},
        # style features of analysis (coco1) and evaluation (coco2) prompts, and of sd2's PG
        merged(
            {"seedbank": 2, "all": 1, "extract_features": 2},
            STYLE(2, extract=2),
            DIVERSE(seeds=2, extract=4),  # style of the coco2 PG shards, 2 models x 2 coeffs
        ),
        None,
    ),
    "change a style flag threshold": (
        {"style.thresholds": {"grayscale_max_chroma": 0.05}},
        # the tags change: figs 8-9 and the banks; no image is read again, no map recomputed
        {"style_table": 2, "fig8_style_map": 2, "fig9_style_seeds": 2, "seedbank": 2, "all": 1},
        None,
    ),
    "change a layout setting": (
        {"features.layout.score_threshold": 0.3},
        merged({"seedbank": 2, "all": 1}, LAYOUT(2, extract=2), DIVERSE(seeds=2, extract=4)),
        None,
    ),
    "change the inpainting pair selection": (
        {"inpainting.selection_seed": 3},
        # new pairs: both task sets, their shards, OCR and what reads it; nothing else
        merged(
            {"inpaint_pairs": 1, "prompt_set": 2, "generate": 2, "run_summary": 1},
            {"seedbank": 1, "all": 1},
            INPAINTING(extract=2),
        ),
        "/sd2-inpaint/",
    ),
    "change an OCR setting": (
        {"features.ocr.min_confidence": 0.6},
        merged({"seedbank": 1, "all": 1}, INPAINTING(extract=2)),
        None,
    ),
    "change an FPS setting": (
        {"diverse.repeats": 2},
        # the seed sets, Table 2, fig. 11 and the banks that carry the sets; nothing rendered
        merged({"seedbank": 2, "all": 1}, DIVERSE(seeds=2)),
        None,
    ),
    "change the Particle Guidance coefficients": (
        {"diverse.particle_guidance.coeffs": [100, 30]},
        # coefficient 30's shards (2 models x 2 sets) and their features, Table 2 and its
        # figure; 100 and the control stay; fig 11 shows 100, unchanged
        merged({"all": 1}, DIVERSE(particles=4, extract=12)),
        None,
    ),
    "change a Particle Guidance setting": (
        {"diverse.particle_guidance.stop_sigma": 2.0},
        # every PG shard (2 models x 2 sets x 2 coefficients), its features, Table 2, figs 11
        merged({"all": 1}, DIVERSE(particles=8, extract=24, fig11=2)),
        None,
    ),
    "score every metric on another set": (
        {"quality.best_of_n.sets": ["coco2", "parti"]},
        # the four scores besides HPS now also read parti (4 x 2 models): new feature tables
        # become inputs of parti's per-seed tables, the golden-seed matrix and Table 1b, as
        # when a metric is added; nothing is rendered, no other extractor runs
        {"extract_features": 8, "perseed_table": 2, "seedbank": 2, "all": 1}
        | {"golden_matrix": 1, "table1b": 1, "fig_best_of_n": 1},
        None,
    ),
    "drop a score": (
        {"quality.scores": ["hps", "pickscore", "imagereward", "clipscore"]},
        # the per-seed tables that read it (coco1 and coco2; the demo has no aesthetic score on
        # parti) and what reads them; no extraction, no rendering
        merged({"all": 1}, QUALITY(2) | {"perseed_table": 4}),
        None,
    ),
    "touch a speed-only key": ({"generation.encoder_threads": 2}, {}, None),
}


def rerun_dry_runs(demo: Path, folder: Path) -> dict[str, subprocess.CompletedProcess]:
    """Every RERUNS case's dry run on ``demo``, two at a time (each is one busy process)."""

    configs = [
        write_config(folder / f"case-{i}.yaml", **changes)
        for i, (changes, _, _) in enumerate(RERUNS.values())
    ]
    with ThreadPoolExecutor(max_workers=2) as pool:
        runs = pool.map(lambda c: snakemake("-n", "--configfile", str(c), cwd=demo), configs)
        return dict(zip(RERUNS, runs, strict=True))


@pytest.fixture(scope="module")
def rerun_results(demo, tmp_path_factory):
    return rerun_dry_runs(demo, tmp_path_factory.mktemp("reruns"))


@pytest.mark.slow
@pytest.mark.parametrize("case", list(RERUNS))
def test_config_changes_rerun_exactly_what_they_touch(rerun_results, case):
    _, expected, shard_filter = RERUNS[case]
    result = rerun_results[case]
    assert planned_jobs(result) == expected, result.stdout[-3000:]
    if not expected:
        assert "Nothing to be done" in result.stdout
    shards = planned_outputs(result, "generate")
    assert len(shards) == expected.get("generate", 0)
    assert all(shard_filter in s for s in shards)


@pytest.mark.slow
def test_bad_config_stops_before_any_job_and_keeps_results(demo, tmp_path):
    shard = demo / "results" / "demo" / "images" / "sd2" / "parti" / "seeds-0000-0031.tar"
    before = shard.read_bytes()
    bad = write_config(tmp_path / "bad.yaml", **{"models.sd2.scheduler.name": "ddimm"})
    result = snakemake("--configfile", str(bad), "--cores", "2", cwd=demo, check=False)
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "models.sd2.scheduler.name" in output and "euler_ancestral" in output
    assert "rule generate" not in output
    assert shard.read_bytes() == before


@pytest.mark.slow
def test_corrupt_shard_is_reported_by_the_cli(demo, tmp_path):
    original = (
        demo / "results" / "demo" / "images" / "sdxl-turbo" / "synthetic" / "seeds-0000-0031.tar"
    )
    copy = tmp_path / original.name
    shutil.copy(original, copy)
    shutil.copy(original.with_suffix(".json"), copy.with_suffix(".json"))
    data = bytearray(copy.read_bytes())
    data[5000] ^= 0xFF
    copy.write_bytes(bytes(data))
    result = subprocess.run(
        [sys.executable, "-m", "seedscope.cli", "verify", str(copy)], capture_output=True, text=True
    )
    assert result.returncode == 1 and str(copy) in result.stderr and "rerun" in result.stderr
    assert verify(original) == 128  # the real shard is untouched


@pytest.fixture(scope="module")
def paper_dry_run(tmp_path_factory) -> subprocess.CompletedProcess:
    """A dry run of the paper config (about 40 s here): shared by the tests that read it."""
    cwd = tmp_path_factory.mktemp("paper-dry-run")
    return snakemake("-n", "--configfile", str(REPO / "config.yaml"), cwd=cwd)


def test_paper_dry_run_counts_jobs(paper_dry_run):
    result = paper_dry_run
    jobs = planned_jobs(result)
    # 1,024 seeds in blocks of 16 x 4 prompt sets x 2 models, and sd2-inpaint's 2 tasks
    assert jobs["generate"] == 64 * 4 * 2 + 64 * 2
    assert jobs["prompt_set"] == 6 and jobs["coco_captions"] == 1 and jobs["seed_swap"] == 1
    assert jobs["plot_seed_swap"] == 1
    assert jobs["train_classifier"] == 2  # one per model, each with a GPU and a cost estimate
    # one extraction job per shard per extractor: Inception on coco1 and coco2 (each with its
    # per-seed FID block), the five scores on coco1, coco2 and parti, 64 blocks x 2 models
    assert jobs["perseed_block"] == 64 * 2 * 2
    quality = jobs["perseed_block"] + 64 * 2 * 5 * 3
    # and style (analysis and evaluation sets), layout and OCR once per shard they read
    assert jobs["extract_features"] == quality + 64 * 2 * 3 + 64 * 2
    assert jobs["reference_features"] == 2 and jobs["table1"] == 1 and jobs["seedbank"] == 3
    estimates = [line for line in result.stdout.splitlines() if "seed classifier (1 GPU" in line]
    assert len(estimates) == 2 and all(
        "images per epoch" in e and "GPU-hours" in e for e in estimates
    )


@pytest.mark.parametrize("config", [REPO / "config.yaml", DEMO], ids=["paper", "demo"])
def test_plan_counts_the_same_jobs_as_a_dry_run(config, tmp_path, request):
    from seedscope.plan import make_plan
    from seedscope.validate import load_config

    plan = make_plan(load_config(config))
    if config == DEMO:
        dry = snakemake("-n", "--configfile", str(config), cwd=tmp_path)
    else:
        dry = request.getfixturevalue("paper_dry_run")
    assert plan["jobs"] == planned_jobs(dry)
    if config.name == "config.yaml":
        text_to_image = 2 * 1024 * (10000 + 10000 + 1632 + 880)  # sd2 and SDXL Turbo
        assert plan["totals"]["images"] == text_to_image + 1024 * 500 * 2  # and inpainting


def test_lint_and_format_are_clean():
    lint = subprocess.run(
        [
            sys.executable,
            "-m",
            "snakemake",
            "--lint",
            "-s",
            str(REPO / "Snakefile"),
            "--configfile",
            str(REPO / "config.yaml"),
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert lint.returncode == 0 and "Lints for" not in lint.stdout + lint.stderr, (
        lint.stdout + lint.stderr
    )
    files = [str(REPO / "Snakefile"), str(REPO / "rules")]
    fmt = subprocess.run(["snakefmt", "--check", *files], capture_output=True, text=True)
    assert fmt.returncode == 0, fmt.stderr
    ruff = subprocess.run(["ruff", "check", str(REPO)], capture_output=True, text=True)
    assert ruff.returncode == 0, ruff.stdout


CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.mark.slow
def test_report_opens_in_chromium_with_every_figure(demo):
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip("Debian's chromium is not installed; .ci/run installs it where apt works")
    from PIL import Image
    from playwright.sync_api import sync_playwright

    report = demo / "report.html"
    snakemake("--configfile", str(DEMO), "--report", str(report), cwd=demo)
    rules = "\n".join(p.read_text() for p in (REPO / "rules").glob("*.smk"))
    # every figure rule: **figure_outputs(<PATHS name>, <caption>, <category>, <subcategory>)
    declared = re.findall(
        r'figure_outputs\(\s*"(\w+)",\s*"[^"]+",\s*"([^"]+)",\s*"([^"]+)",?\s*\)', rules
    )
    assert declared, "no PNG figure is marked for the report"
    run = demo / "results" / "demo"
    made = sorted(str(f.relative_to(run)) for f in run.rglob("*.png"))
    figures = []
    for name, category, subcategory in declared:  # every figure the demo made of each pattern
        regex = re.sub(r"\\\{\w+\\\}", "[^/]+", re.escape(PATHS[name]))
        matches = [(category, subcategory, f) for f in made if re.fullmatch(regex, f)]
        assert matches, f"the demo made no {PATHS[name]}"
        figures += matches
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(report.as_uri())
        for category, subcategory, figure in figures:
            page.get_by_text("Results", exact=True).click()
            page.get_by_text(category, exact=True).click()
            subcategory = subcategory.replace(
                "{model}", figure.rsplit("_", 1)[-1].removesuffix(".png")
            )
            if page.get_by_text(subcategory, exact=True).count():  # shown when there are several
                page.get_by_text(subcategory, exact=True).click()
            page.locator("tr", has_text=figure).locator("a[iconname=eye]").click()
            image = page.locator("img[src^='data:image/png']").first
            image.wait_for(timeout=15000)
            shown = image.evaluate("i => [i.complete, i.naturalWidth, i.naturalHeight]")
            with Image.open(run / figure) as png:
                assert shown == [True, *png.size], f"{figure} did not load in the report"
            page.screenshot(path=str(demo / f"report-{Path(figure).stem}.png"))
        browser.close()
