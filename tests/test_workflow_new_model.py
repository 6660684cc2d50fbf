"""A model added to the config alone joins the whole study: a tiny SD 3 from a local folder.

The demo's finished results are copied (with their times, so Snakemake sees them as current);
the config gains one model entry and nothing else. The dry run plans that model's jobs and the
pooled tables and figures that read every model, never the other models' shards; the run then
renders its shards, scores them and writes its per-seed tables and seed bank.
"""

from __future__ import annotations

import shutil

import pandas as pd
import pytest
import yaml
from test_workflow import planned_outputs

from seedscope.seedbank import load_bank
from seedscope.shards import verify

from conftest import DEMO, planned_jobs, snakemake


@pytest.mark.slow
def test_a_tiny_sd3_from_a_folder_flows_into_tables_and_seed_bank(demo, tmp_path):
    from seedscope.tiny.diffusion import build_tiny_pipeline

    work = tmp_path / "work"
    shutil.copytree(demo / "results", work / "results", symlinks=True)  # copy2 keeps mtimes
    shutil.copytree(demo / ".snakemake", work / ".snakemake", symlinks=True)
    weights = build_tiny_pipeline("sd3", tmp_path / "tiny-sd3")
    config = yaml.safe_load(DEMO.read_text())
    config["models"]["sd3"] = {
        "pipeline": "StableDiffusion3Pipeline",
        "weights": str(weights),
        "resolution": 64,
        "steps": 2,
        "guidance": 4.0,
        "batch_size": 16,
    }
    path = tmp_path / "with_sd3.yaml"
    path.write_text(yaml.safe_dump(config))

    dry = snakemake("-n", "--configfile", str(path), cwd=work)
    jobs = planned_jobs(dry.stdout)
    shards = planned_outputs(dry, "generate")
    text_sets = [s for s, spec in config["prompt_sets"].items() if spec["kind"] != "inpaint"]
    assert jobs["generate"] == len(text_sets) and all("/sd3/" in s for s in shards)
    assert jobs["seedbank"] == 1 and jobs["golden_seeds"] == 1 and jobs["perseed_table"] == 3
    assert jobs["train_classifier"] == 1  # the new model's seed classifier, no other

    run = work / "results" / "demo"
    targets = [f"results/demo/tables/perseed_sd3_{s}.csv" for s in ("coco1", "coco2", "parti")]
    targets.append("results/demo/seedbank/sd3.json")
    snakemake("--configfile", str(path), "--cores", "2", *targets, cwd=work)
    for shard in sorted((run / "images" / "sd3").glob("*/*.tar")):
        assert verify(shard) > 0
    seeds = set(range(config["seeds"]["count"]))
    for prompt_set, metrics in (
        ("coco1", ["fid", "hps"]),
        ("coco2", ["fid", "hps"]),
        ("parti", ["hps"]),
    ):
        table = pd.read_csv(run / "tables" / f"perseed_sd3_{prompt_set}.csv")
        assert set(table.seed) == seeds
        for metric in metrics:
            assert table[metric].notna().all()
            assert (
                (table[f"{metric}_lo"] <= table[metric]) & (table[metric] <= table[f"{metric}_hi"])
            ).all()
    bank = load_bank(run / "seedbank" / "sd3.json")
    assert (
        bank["model"]["name"] == "sd3" and bank["model"]["pipeline"] == "StableDiffusion3Pipeline"
    )
    assert {entry["seed"] for entry in bank["seeds"]} == seeds
