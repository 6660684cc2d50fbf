"""The style and layout stages wired into the workflow: config checks before any job, the
analysis-prompt sample, extraction through shards into feature tables, the per-seed style table
with planted phenomena found end to end, and the seed bank's new tags."""

from __future__ import annotations

import copy
import json

import numpy as np
import pandas as pd
import pytest
from test_style import PLANT, colourful

from seedscope.cli import main
from seedscope.dag import Dag
from seedscope.errors import ConfigError
from seedscope.extractors import load_extractor
from seedscope.features.extract import extract_shard
from seedscope.features.table import write_table
from seedscope.seedbank import build_bank, load_bank, save_bank
from seedscope.shards import ShardWriter, encode_png, image_key
from seedscope.style.measures import FLAGS
from seedscope.style.sample import sample_prompts
from seedscope.style.tables import read_style_tables, style_table
from seedscope.validate import load_config, validate_config

from conftest import DEMO, REPO


@pytest.fixture(scope="module")
def demo():
    return load_config(DEMO)


def changed(config: dict, change) -> dict:
    config = copy.deepcopy(config)
    change(config)
    return validate_config(config, check_libraries=False)


BAD = [
    (lambda c: c["style"].update(prompts=13), r"style\.prompts: 13 .* holds 12; lower"),
    (
        lambda c: c["prompt_sets"]["synthetic"].update(objects=["dog", "sofa"]),
        r"'sofa' is not a COCO class.*features\.layout\.labels",
    ),
    (
        lambda c: c["features"]["style"].update(weights="/nowhere/vgg19.pth"),
        r"features\.style\.weights: /nowhere/vgg19\.pth is not a file; download",
    ),
    (
        lambda c: c["features"]["layout"].update(weights="hub", segmenter="/nowhere/m2f"),
        r"features\.layout\.segmenter: /nowhere/m2f holds no config\.json",
    ),
    (
        lambda c: c["features"]["layout"].update(weights="hub", depth="./missing/depth"),
        r"features\.layout\.depth: \./missing/depth holds no config\.json",
    ),
    (lambda c: c["layout"].update(prompt_set="coco1"), r"layout\.prompt_set: 'coco1' is a coco"),
    (
        lambda c: c["layout"]["fig10"].update(centroid_object="horse"),
        r"layout\.fig10\.centroid_object: 'horse' is not an object",
    ),
    (
        lambda c: c["style"].update(thresholds={"sky_band": 0.3}),
        r"style\.thresholds: \['sky_band'\]",
    ),
    (lambda c: c["style"].update(models=["sd2-inpaint"]), r"style\.models: model 'sd2-inpaint'"),
]


@pytest.mark.parametrize("change,message", BAD, ids=[m[:30] for _, m in BAD])
def test_bad_style_and_layout_settings_stop_before_any_job(demo, change, message):
    with pytest.raises(ConfigError, match=message):
        changed(demo, change)


def test_a_known_alias_maps_an_object_to_its_coco_label(demo):
    config = changed(
        demo,
        lambda c: (
            c["prompt_sets"]["synthetic"].update(objects=["dog", "sofa"]),
            c["features"]["layout"].update(labels={"sofa": "couch"}),
            c["layout"]["fig10"].update(size_object="sofa"),
        ),
    )
    assert config["features"]["layout"]["labels"] == {"sofa": "couch"}


def test_analysis_prompts_are_a_seeded_sample_in_file_order():
    ids = [f"coco1-{i:05d}" for i in range(50)]
    chosen = sample_prompts(ids, 10, seed=3)
    assert chosen == sample_prompts(ids, 10, seed=3) and len(set(chosen)) == 10
    assert chosen == sorted(chosen) and chosen != sample_prompts(ids, 10, seed=4)
    assert sample_prompts(ids, 50, seed=0) == ids
    with pytest.raises(ConfigError, match="style.prompts: 51"):
        sample_prompts(ids, 51, seed=0)


def test_paper_dag_extracts_style_and_layout_once_per_shard_of_their_sets():
    dag = Dag(load_config(REPO / "config.yaml"))
    jobs = dag.appearance_jobs()
    # style on the analysis set and (for the diverse seeds) the evaluation set, layout once
    assert len(jobs) == len({tuple(j.values()) for j in jobs}) == 3 * 2 * 64
    assert {(j["extractor"], j["set"]) for j in jobs} == {
        ("style", "coco1"),
        ("style", "coco2"),
        ("layout", "synthetic"),
    }
    counts = dag.job_counts()
    quality = len(dag.perseed_block_jobs()) + len(dag.score_feature_jobs())
    assert counts["extract_features"] == quality + len(jobs) + len(dag.ocr_jobs())
    for rule in ("style_table", "style_map", "fig8_style_map", "fig9_style_seeds", "layout_table"):
        assert counts[rule] == 2
    targets = dag.targets()
    assert dag.path("fig10", model="sdxl-turbo") in targets
    no_layout = Dag(
        changed(load_config(REPO / "config.yaml"), lambda c: c["layout"].update(enabled=False))
    )
    assert all(j["extractor"] == "style" for j in no_layout.appearance_jobs())
    assert "fig10_layout" not in no_layout.job_counts()


def write_shard(path, prompt_ids, seeds, images):
    writer = ShardWriter(path, {"test": True})
    writer.open()
    pixels = iter(images)
    writer.write_chunk(
        [
            (image_key(p, s), encode_png(next(pixels)), {"prompt_id": p, "seed": s})
            for s in seeds
            for p in prompt_ids
        ]
    )
    writer.finish()
    return path


@pytest.fixture(scope="module")
def planted_tables(tmp_path_factory, demo):
    """Two seed blocks of 10 seeds x 30 prompts of 64 px images; seed 103 desaturated, 107
    framed, 112 with a white sky in 80 % of its prompts (3 % of all others by chance), as in
    test_style; extracted by the tiny style extractor on a sample of 24 prompts."""
    from seedscope.tiny.style import build_tiny_style

    tmp = tmp_path_factory.mktemp("style")
    rng = np.random.default_rng(15)
    prompt_ids = [f"s-{i:05d}" for i in range(30)]
    keep = set(sample_prompts(prompt_ids, 24, seed=0))
    config = copy.deepcopy(demo)
    config["features"]["style"] = {"weights": "tiny", "dim": 64, "batch_size": 50}
    settings = validate_config(config, check_libraries=False)["features"]["style"]
    extractor = load_extractor("style", settings, "cpu", build_tiny_style(tmp / "vgg"))
    tables = []
    for first in (100, 110):
        seeds = list(range(first, first + 10))
        images = []
        for seed in seeds:
            batch = colourful(rng, len(prompt_ids))
            for planted, paint in PLANT.values():
                chosen = rng.random(len(prompt_ids)) < (0.8 if seed - 100 == planted else 0.03)
                batch[chosen] = paint(batch[chosen], rng)
            images += list(batch)
        shard = write_shard(tmp / f"seeds-{first}.tar", prompt_ids, seeds, images)
        table = extract_shard(shard, extractor, keep_prompts=keep)
        tables.append(write_table(tmp / f"seeds-{first}.npz", table))
    return tables, keep


def test_planted_style_seeds_are_found_through_shards_and_feature_tables(planted_tables):
    paths, keep = planted_tables
    features = read_style_tables(paths)
    assert set(features.prompt_ids) == keep and len(features.seeds) == 20 * 24
    assert features.gram.shape == (20 * 24, 64)
    table = style_table(features, {}, confidence=0.95, margin=0.1)
    expected = {100 + planted: name for name, (planted, _) in PLANT.items()}
    assert dict(zip(table["seed"], table["tags"], strict=True)) == {
        seed: expected.get(seed, "") for seed in range(100, 120)
    }
    assert (table["n"] == 24).all() and {f"{f}_lo" for f in FLAGS} <= set(table.columns)
    # a flag threshold changes the tags without reading an image again
    strict = style_table(features, {"border_min_step": 1.0}, confidence=0.95, margin=0.1)
    assert not strict["border_tag"].any() and strict["grayscale_tag"].sum() == 1


def test_seed_bank_carries_style_tags_and_pick_avoids_them(planted_tables, tmp_path, capsys):
    paths, _ = planted_tables
    rates = style_table(read_style_tables(paths), {}, confidence=0.95, margin=0.1)
    seeds = rates["seed"]
    per_seed = pd.DataFrame({"seed": seeds, "fid": np.arange(20.0), "fid_rank": np.arange(1, 21)})
    layout = pd.DataFrame(
        {"seed": seeds, "detection_rate": 0.5, "x_mean": 0.25, "y_mean": 0.5, "size_mean": 0.1,
         "depth_mean": np.where(seeds == 100, np.nan, 0.4)}
    )  # fmt: skip
    bank = build_bank(
        "sd2", {"pipeline": "StableDiffusionPipeline"}, {"coco1": per_seed}, {"golden": [100]},
        {"set": "coco1", "metrics": ["fid"], "top_k": 1}, "hash",
        appearance={"style": rates, "style_map": pd.DataFrame({"seed": seeds, "x": 1.0, "y": 2.0}),
                    "layout": layout},
    )  # fmt: skip
    save_bank(bank, tmp_path / "sd2.json")
    bank = load_bank(tmp_path / "sd2.json")
    assert bank["tags"]["grayscale"] == [103] and bank["tags"]["border"] == [107]
    assert bank["tags"]["sky"] == [112]
    entry = {s["seed"]: s for s in bank["seeds"]}
    assert entry[103]["tags"] == ["grayscale"] and entry[103]["style"]["grayscale_rate"] > 0.5
    assert entry[101]["style_map"] == {"x": 1.0, "y": 2.0}
    assert entry[100]["layout"]["depth_mean"] is None and entry[101]["layout"]["x_mean"] == 0.25
    bank_file = str(tmp_path / "sd2.json")
    assert main(["pick", "--bank", bank_file, "--n", "19", "--avoid", "grayscale,border"]) == 2
    assert "18 seeds without tags ['grayscale', 'border']" in capsys.readouterr().err
    pick = ["pick", "--bank", bank_file, "--n", "18", "--avoid", "grayscale,border", "--json"]
    assert main(pick) == 0
    picked = json.loads(capsys.readouterr().out)["seeds"]
    assert picked[0] == 100 and not {103, 107} & set(picked) and len(picked) == 18
