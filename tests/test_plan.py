"""``seedscope plan``: the DAG's jobs and images (checked against a dry run), costs from a
calibration when one matches."""

import json
import re
import subprocess
import sys
from collections import Counter

import pytest

from seedscope.plan import format_plan, make_plan
from seedscope.study import prompt_set_sizes
from seedscope.validate import load_config

from conftest import DEMO, REPO, snakemake


def test_prompt_set_sizes_of_the_paper():
    sizes = prompt_set_sizes(load_config(REPO / "config.yaml"))
    text = {"coco1": 10000, "coco2": 10000, "parti": 1632, "synthetic": 880}
    assert sizes == text | {"removal": 500, "completion": 500}  # the inpainting pairs, per task
    assert sum(text.values()) == 22512


def test_calibration_replaces_the_flop_estimate_when_it_matches(tmp_path):
    config = load_config(REPO / "config.yaml")
    estimated = make_plan(config)["models"]["sd2"]
    assert estimated["cost_source"].startswith("estimated")
    calibration = {
        "sd2": {
            "device": "H100",
            "architecture": "full",
            "resolution": 512,
            "steps": 50,
            "seconds_per_image": 0.5,
        },
    }
    measured = make_plan(config, calibration)["models"]["sd2"]
    assert measured["cost_source"] == "measured on H100"
    assert measured["generation_gpu_hours"] == estimated["images"] * 0.5 / 3600
    other_steps = {"sd2": calibration["sd2"] | {"steps": 20}}
    assert make_plan(config, other_steps)["models"]["sd2"]["cost_source"].startswith("estimated")
    tiny = {"sd2": calibration["sd2"] | {"architecture": "tiny"}}
    assert make_plan(config, tiny)["models"]["sd2"]["cost_source"].startswith("estimated")


def test_cli_prints_and_writes_json(tmp_path):
    calibration = tmp_path / "calibration.json"
    calibration.write_text(
        json.dumps(
            {
                "sdxl-turbo": {
                    "device": "H200",
                    "architecture": "full",
                    "resolution": 512,
                    "steps": 1,
                    "seconds_per_image": 0.01,
                }
            }
        )
    )
    out = tmp_path / "plan.json"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "seedscope.cli",
            "plan",
            str(REPO / "config.yaml"),
            "--calibration",
            str(calibration),
            "--json",
            str(out),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert (
        "generate" in result.stdout
        and "640" in result.stdout
        and "measured on H200" in result.stdout
    )
    plan = json.loads(out.read_text())
    assert plan["jobs"]["generate"] == 2 * 4 * 64 + 2 * 64  # text-to-image, then inpainting
    assert plan["models"]["sdxl-turbo"]["generation_gpu_hours"] == 23_052_288 * 0.01 / 3600


def test_transformer_models_are_priced_from_their_counted_flops():
    from seedscope.architectures import transformer_flops
    from seedscope.plan import TRANSFORMER_TFLOP, denoiser_tflop, seconds_per_image

    # the table is what the counter gives (the smallest architecture; the others take minutes)
    for resolution, tflop in zip((512, 1024), TRANSFORMER_TFLOP["pixart-sigma"], strict=True):
        assert abs(transformer_flops("pixart-sigma", resolution) / 1e12 - tflop) < 1e-3
    flux = {"pipeline": "FluxPipeline", "weights": "x", "resolution": 1024, "steps": 28}
    flux["guidance"] = 3.5
    assert denoiser_tflop(flux) == TRANSFORMER_TFLOP["flux-dev"][1]
    assert abs(denoiser_tflop(flux | {"resolution": 512}) - TRANSFORMER_TFLOP["flux-dev"][0]) < 1e-9
    # FLUX's guidance is an embedding: one forward per step, whatever the guidance
    with_guidance = seconds_per_image("m", flux | {"guidance": 3.5}, {})[0]
    assert with_guidance == seconds_per_image("m", flux | {"guidance": 1.0}, {})[0]
    sd3 = flux | {"pipeline": "StableDiffusion3Pipeline", "guidance": 5.0}
    assert denoiser_tflop(sd3) == TRANSFORMER_TFLOP["sd3.5-large"][1]
    medium = sd3 | {"weights": "stabilityai/stable-diffusion-3-medium-diffusers"}
    assert denoiser_tflop(medium) == TRANSFORMER_TFLOP["sd3-medium"][1]
    # two passes per step with guidance: SD 3 costs twice its forward count per step
    two = seconds_per_image("m", sd3, {})[0] - seconds_per_image("m", sd3 | {"steps": 27}, {})[0]
    one = seconds_per_image("m", flux, {})[0] - seconds_per_image("m", flux | {"steps": 27}, {})[0]
    assert abs(two / one - 2 * 31.121 / 74.385) < 1e-6


# What each job's output path says about it, read here from the paths themselves: a
# generation or extraction job covers one seed block of one prompt set, a Particle Guidance job
# one coefficient of one set.
BLOCK = r"(?P<model>[^/]+)/(?P<set>[^/]+)/seeds-(?P<first>\d+)-(?P<last>\d+)"
PARTICLES = r"(?P<model>[^/]+)/(?P<set>[^/]+)/coeff-(?P<coeff>[^/]+)"
OUTPUTS = {
    "generate": rf"/images/{BLOCK}\.tar",
    "extract_features": rf"/features/(?P<extractor>[^/]+)/{BLOCK}\.npz",
    "extract_evaluation_features": rf"/diverse/features/(?P<extractor>[^/]+)/{BLOCK}\.npz",
    "particle_guidance": rf"/particle/{PARTICLES}\.tar",
    "extract_particle_features": rf"/particle/features/(?P<extractor>[^/]+)/{PARTICLES}\.npz",
}
# The prompts a job reads of its set, by hand from the configs: every prompt (the paper's sizes
# are test_prompt_set_sizes_of_the_paper's), but a style job reads the analysis sample
# (style.prompts) on coco1 and the evaluation sample (diverse.style_prompts) on coco2, and the
# evaluation prompts are that sample and half the synthetic set (half of each object's
# modifiers: 40 x 11 in the paper, 2 x 1 in the demo); Particle Guidance renders C = 4 particles
# of each evaluation prompt.
PROMPTS = {
    "paper": {
        "sets": {"coco1": 10000, "coco2": 10000, "parti": 1632, "synthetic": 880}
        | {"removal": 500, "completion": 500},
        "style": {"coco1": 100, "coco2": 500},
        "evaluation": {"coco2": 500, "synthetic": 440},
        "particles": 4,
    },
    "demo": {
        "sets": {
            "coco1": 12,
            "coco2": 12,
            "parti": 4,
            "synthetic": 4,
            "removal": 2,
            "completion": 2,
        },
        "style": {"coco1": 12, "coco2": 6},
        "evaluation": {"coco2": 6, "synthetic": 2},
        "particles": 4,
    },
}


def job_images(rule: str, job: dict[str, str], prompts: dict) -> int:
    """The images one job of the dry run renders or reads, from its wildcards."""
    if "coeff" in job:
        return prompts["particles"] * prompts["evaluation"][job["set"]]
    if rule == "extract_evaluation_features":
        per_seed = prompts["evaluation"][job["set"]]
    elif job.get("extractor") == "style":
        per_seed = prompts["style"][job["set"]]
    else:
        per_seed = prompts["sets"][job["set"]]
    return (int(job["last"]) - int(job["first"]) + 1) * per_seed


def dry_run_images(summary: str, prompts: dict) -> tuple[Counter, Counter]:
    """From ``snakemake --summary`` (output file, rule, ... per line): the images per (rule,
    model or extractor) and the jobs per rule of the rules that render or extract images."""
    images, jobs = Counter(), Counter()
    for line in summary.splitlines():
        path, _, rule, *_ = line.split("\t") + ["", "", ""]
        match = re.search(OUTPUTS[rule] + "$", path) if rule in OUTPUTS else None
        if match:
            job = match.groupdict()
            images[rule, job.get("extractor", job["model"])] += job_images(rule, job, prompts)
            jobs[rule] += 1
    return images, jobs


@pytest.mark.parametrize("name", ["paper", "demo"])
def test_plan_adds_up_the_images_of_the_dry_runs_jobs(name, tmp_path):
    config = REPO / "config.yaml" if name == "paper" else DEMO
    plan = make_plan(load_config(config))
    # --summary builds the DAG without scheduling it: one line per output file, with its rule
    summary = snakemake("--summary", "--configfile", str(config), cwd=tmp_path).stdout
    images, jobs = dry_run_images(summary, PROMPTS[name])
    assert jobs == {rule: plan["jobs"][rule] for rule in OUTPUTS}  # every job was read
    rendered = {model: m["images"] for model, m in plan["models"].items()}
    assert rendered == {m: images["generate", m] for m in rendered}
    pg = sum(n for (rule, _), n in images.items() if rule == "particle_guidance")
    assert plan["totals"]["particle_images"] == pg
    totals = plan["totals"]
    extractors = {e for rule, e in images if rule.startswith("extract")} - {"ocr"}
    scores = load_config(config)["quality"]["scores"]
    assert extractors == {"inception", "style", "layout", "dino", *scores}
    for e in extractors:
        shards = images["extract_features", e] + images["extract_evaluation_features", e]
        particle = images["extract_particle_features", e]
        assert (totals["feature_images"][e], totals["particle_feature_images"][e]) == (
            shards + particle,
            particle,
        ), e
    assert totals["ocr_images"] == images["extract_features", "ocr"]
    if name == "paper":
        # 2 models x 1,024 seeds x (100 analysis + 500 evaluation prompts), and C = 4 particles
        # x 6 coefficients (the control too) x 500 prompts x 2 models
        assert "style 1,228,800 images + 24,000 Particle Guidance images" in format_plan(plan)
