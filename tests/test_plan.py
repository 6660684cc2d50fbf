"""``seedscope plan``: counts from the config, costs from a calibration when one matches."""

import json
import subprocess
import sys

from seedscope.config import load_config
from seedscope.plan import make_plan, prompt_set_sizes

from conftest import REPO


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
