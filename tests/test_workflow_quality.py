"""The demo's per-seed quality stage: tables, golden seeds, figures, Table 1, the seed bank."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from PIL import Image

from seedscope.features.table import read_table
from seedscope.seedbank import load_bank, pick
from seedscope.shards import ShardReader
from seedscope.validate import load_config

from conftest import DEMO

MODELS = ("sd2", "sdxl-turbo")


@pytest.mark.slow
def test_demo_scores_every_seed_with_cis_and_ranks(demo):
    run = demo / "results" / "demo"
    config = load_config(DEMO)
    seeds = set(range(config["seeds"]["count"]))
    for model in MODELS:
        for prompt_set, metrics in (
            ("coco1", "fid kid hps"),
            ("coco2", "fid kid hps"),
            ("parti", "hps"),
        ):
            table = pd.read_csv(run / "tables" / f"perseed_{model}_{prompt_set}.csv")
            assert set(table.seed) == seeds
            for metric in metrics.split():
                for interval in ("", "_rank"):  # every interval contains its value
                    lo, value = table[f"{metric}{interval}_lo"], table[f"{metric}{interval}"]
                    assert ((lo <= value) & (value <= table[f"{metric}{interval}_hi"])).all()
                assert (table[f"{metric}_sd"] >= 0).all()
                assert sorted(table[f"{metric}_rank"]) == list(range(1, len(seeds) + 1))
            if "fid" not in metrics:
                assert "fid" not in table.columns  # no real images for PartiPrompts


@pytest.mark.slow
def test_demo_features_are_one_row_per_image(demo):
    run = demo / "results" / "demo"
    shard = run / "images" / "sd2" / "coco1" / "seeds-0000-0031.tar"
    keys = [e.key for e in ShardReader(shard).entries]
    for extractor in ("inception", "hps"):
        table = read_table(run / "features" / extractor / "sd2" / "coco1" / "seeds-0000-0031.npz")
        assert list(table.keys) == keys
        assert table.meta["shard"].endswith("seeds-0000-0031.tar")
    reference = read_table(run / "reference" / "inception" / "coco1.npz")
    assert len(reference) == load_config(DEMO)["coco"]["parts"][0]


@pytest.mark.slow
def test_demo_golden_seeds_table1_and_figures(demo):
    run = demo / "results" / "demo"
    top_k = load_config(DEMO)["quality"]["golden"]["top_k"]
    for model in MODELS:
        main = pd.read_csv(run / "tables" / f"perseed_{model}_coco1.csv").set_index("seed")
        tags = pd.read_csv(run / "tables" / f"golden_{model}.csv")
        for seed in tags.loc[tags.tag == "golden", "seed"]:
            assert main.loc[seed, "fid_rank"] <= top_k and main.loc[seed, "hps_rank"] <= top_k
        summary = pd.read_csv(run / "tables" / f"generalisation_{model}.csv")
        scores = load_config(DEMO)["quality"]["scores"]
        assert set(summary.metric) == {"fid", "kid", *scores}
        assert ((summary.spearman_lo <= summary.spearman) & (summary.spearman <= 1)).all()
        chance = pd.read_csv(run / "tables" / f"golden_vs_chance_{model}.csv").set_index("tag")
        assert chance.loc["golden", "count"] == (tags.tag == "golden").sum()
        assert ((chance.k == min(top_k, len(main))) & (chance["N"] == len(main))).all()
        assert ((chance.p_value > 0) & (chance.p_value <= 1)).all()
    table1 = pd.read_csv(run / "tables" / "table1_random_vs_golden.csv")
    assert (
        len(table1) == len(MODELS) * 3 * 2
    )  # (coco2 FID, coco2 HPS, parti HPS) x (random, golden)
    assert set(table1.seeds) == {"random", "golden"}
    filled = table1.dropna(subset=["value"])  # an empty golden set gives a row of NaN
    assert ((filled.lo <= filled.value) & (filled.value <= filled.hi)).all()
    assert "\\begin{tabular}" in (run / "tables" / "table1_random_vs_golden.tex").read_text()
    assert "| model |" in (run / "tables" / "table1_random_vs_golden.md").read_text()
    figures = [f"fig5_best_worst_seeds_{m}" for m in MODELS]
    figures += ["fig6_fid_generalisation", "fig7_hps_generalisation"]
    for name in figures:
        assert (run / "figures" / f"{name}.pdf").stat().st_size > 1000
        with Image.open(run / "figures" / f"{name}.png") as png:
            assert min(png.size) > 200


@pytest.mark.slow
def test_demo_seed_bank_serves_seeds(demo):
    run = demo / "results" / "demo"
    for model in MODELS:
        bank = load_bank(run / "seedbank" / f"{model}.json")
        assert bank["model"]["name"] == model and len(bank["seeds"]) == 32
        assert bank["model"]["steps"] == load_config(DEMO)["models"][model]["steps"]
        golden = bank["tags"].get("golden", [])
        chosen = pick(bank, 4, prefer=["golden"], avoid=["inferior"])
        assert (
            chosen[: len(golden)] == [s["seed"] for s in bank["seeds"] if s["seed"] in golden][:4]
        )
        assert not set(chosen) & set(bank["tags"].get("inferior", []))
        json.dumps(bank, allow_nan=False)  # strict JSON, no NaN
