"""The inpainting stage wired into the workflow: inpaint prompt sets go to inpainting models
only, each image is rendered with its own pair's image and mask (byte-identical to the plain
path, resumable like every shard), OCR reads each image's mask from the pair set, and the seed
bank of the inpainting model carries the text tag."""

from __future__ import annotations

import copy
import json

import numpy as np
import pandas as pd
import pytest

from seedscope.cli import main
from seedscope.dag import Dag
from seedscope.errors import ConfigError, DataError
from seedscope.features.extract import extract_shard
from seedscope.generate import render_shard, rerender
from seedscope.inpainting.pairs import demo_pairs, inpainting_prompts, read_pair_set, write_pairs
from seedscope.inpainting.render import PairConditioning, PairMasks, shard_conditioning
from seedscope.models import load_pipeline
from seedscope.prompts.coco import make_demo_images
from seedscope.seedbank import build_bank, load_bank, save_bank
from seedscope.shards import ShardReader
from seedscope.study import model_prompt_sets
from seedscope.validate import load_config, validate_config

from conftest import DEMO, REPO, model_spec


@pytest.fixture(scope="module")
def demo_config():
    return load_config(DEMO)


def changed(config: dict, change) -> dict:
    config = copy.deepcopy(config)
    change(config)
    return validate_config(config, check_libraries=False)


def test_inpaint_sets_go_to_inpainting_models_only(demo_config):
    sets = {m: model_prompt_sets(demo_config, m) for m in demo_config["models"]}
    assert sets["sd2-inpaint"] == ["removal", "completion"]
    assert "removal" not in sets["sd2"] and "coco1" in sets["sd2"]
    with pytest.raises(ConfigError, match=r"models\.sd2\.prompt_sets: 'removal' is a inpaint set"):
        changed(demo_config, lambda c: c["models"]["sd2"].update(prompt_sets=["coco1", "removal"]))
    with pytest.raises(ConfigError, match=r"models\.sd2-inpaint\.prompt_sets: 'coco1' is a coco"):
        changed(demo_config, lambda c: c["models"]["sd2-inpaint"].update(prompt_sets=["coco1"]))


BAD = [
    (
        lambda c: c["inpainting"].update(annotations="/nowhere/instances_train2017.json"),
        r"inpainting\.annotations: /nowhere/instances_train2017\.json does not exist",
    ),
    (lambda c: c["inpainting"].update(annotations="download"), r"coco\.images: 'demo' images"),
    (lambda c: c["inpainting"].update(area_bounds=[0.5, 0.1]), r"inpainting\.area_bounds"),
    (
        lambda c: (
            c["models"]["sd2-inpaint"].update(resolution=128)
            or c["models"].update(other=dict(c["models"]["sd2-inpaint"], resolution=64))
        ),
        r"inpainting models render at \[64, 128\] px",
    ),
]


@pytest.mark.parametrize("change,message", BAD, ids=[m[:28] for _, m in BAD])
def test_bad_inpainting_settings_stop_before_any_job(demo_config, change, message):
    with pytest.raises(ConfigError, match=message):
        changed(demo_config, change)


def test_paper_dag_prices_the_inpainting_jobs():
    dag = Dag(load_config(REPO / "config.yaml"))
    counts = dag.job_counts()
    assert dag.inpainting_models() == ["sd2-inpaint"]
    assert len(dag.ocr_jobs()) == 2 * 64 and counts["inpaint_pairs"] == 1
    assert counts["coco_annotations_download"] == 1 and counts["fig12_inpainting_text"] == 1
    assert counts["text_table"] == 1 and counts["text_task_table"] == 2  # both tasks, and each
    assert counts["generate"] == 2 * 4 * 64 + 2 * 64  # text-to-image, then the two tasks
    from seedscope.plan import make_plan

    plan = make_plan(load_config(REPO / "config.yaml"))
    assert plan["models"]["sd2-inpaint"]["images"] == 500 * 2 * 1024  # the paper's 1,024,000


@pytest.fixture(scope="module")
def pair_set(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("pairs")
    images = make_demo_images(tmp / "images", 3, size=48)
    from PIL import Image

    named = [(p.name, Image.open(p).convert("RGB")) for p in images]
    write_pairs(tmp / "pairs", demo_pairs(named, 3, resolution=64, seed=0))
    return tmp / "pairs"


@pytest.fixture(scope="module")
def inpainter(tmp_path_factory):
    from seedscope.tiny.diffusion import build_tiny_pipeline

    folder = build_tiny_pipeline("sd2-inpaint", tmp_path_factory.mktemp("inpaint") / "m")
    spec = model_spec("sd2", folder, pipeline="StableDiffusionInpaintPipeline", tiny="sd2-inpaint")
    return spec, load_pipeline("sd2-inpaint", spec, "cpu")


def test_each_image_gets_its_own_pair_and_the_fast_path_writes_the_plain_bytes(
    pair_set, inpainter, tmp_path
):
    spec, pipe = inpainter
    prompts = inpainting_prompts(read_pair_set(pair_set), "completion", set_name="completion")
    conditioning = PairConditioning(pair_set, prompts, spec["resolution"])
    shards = {}
    for fast in (True, False):
        shards[fast] = tmp_path / f"fast-{fast}" / "seeds-0000-0002.tar"
        render_shard(
            pipe, "sd2-inpaint", spec, "completion", prompts, [0, 1, 2], shards[fast],
            chunk_size=4, fast=fast, conditioning=conditioning,
        )  # fmt: skip
    fast, plain = ShardReader(shards[True]), ShardReader(shards[False])
    assert [e.png_sha256 for e in fast.entries] == [e.png_sha256 for e in plain.entries]
    meta = fast.meta(fast.entries[0].key)
    assert meta["prompt_meta"]["pair_id"] == "pair-00000" and meta["prompt_meta"]["task"]
    images = {(e.prompt_id, e.seed): np.asarray(fast.image(e.key)) for e in fast.entries}
    ids = [p["id"] for p in prompts]
    # outside its mask an inpainting keeps its own pair's image, so images of two pairs differ
    assert not np.array_equal(images[ids[0], 0], images[ids[1], 0])
    assert not np.array_equal(images[ids[0], 0], images[ids[0], 1])  # seeds differ


def test_an_inpainted_image_renders_again_from_its_pair_set(pair_set, inpainter, tmp_path, capsys):
    spec, pipe = inpainter
    prompts = inpainting_prompts(read_pair_set(pair_set), "removal", set_name="removal")
    shard = tmp_path / "seeds-0000-0002.tar"
    pairs = PairConditioning(pair_set, prompts, spec["resolution"])
    render_shard(
        pipe, "sd2-inpaint", spec, "removal", prompts, [0, 1, 2], shard, 4, conditioning=pairs
    )
    reader = ShardReader(shard)
    conditioning = shard_conditioning(reader, pair_set)
    for entry in reader.entries[1::3]:  # batches span two prompts (batch size 4, 3 seeds)
        meta = reader.meta(entry.key)
        stored = np.asarray(reader.image(entry.key))
        assert np.array_equal(rerender(meta, pipe, conditioning=conditioning), stored)
        with pytest.raises(DataError, match=r"inpainted from pair pair-0000\d: give the pair set"):
            rerender(meta, pipe)
    key = reader.entries[4].key
    assert main(["rerender", str(shard), key, "--pairs", str(pair_set)]) == 0
    assert f"{key}: max difference 0 levels" in capsys.readouterr().out
    assert main(["rerender", str(shard), key]) == 2  # no pair set: a clear error, not a crash
    assert "--pairs results/<run>/inpainting/pairs" in capsys.readouterr().err


def test_rendering_without_pairs_is_refused_for_text_prompts(pair_set):
    with pytest.raises(DataError, match="names no pair"):
        PairConditioning(pair_set, [{"id": "coco1-00000", "text": "a dog", "meta": {}}], 64)


class CountingOCR:
    """Stands in for the OCR extractor: records the masks it is given."""

    name, dim, batch_size, needs_prompts, needs_masks = "ocr", 3, 4, False, True
    meta = {"extractor": "ocr"}

    def __init__(self):
        self.masks = []

    def __call__(self, images, masks):
        self.masks += list(masks)
        return np.array([[m.mean(), 1.0, 1.0] for m in masks], np.float32)


def test_ocr_extraction_reads_each_images_mask_from_the_pair_set(pair_set, inpainter, tmp_path):
    spec, pipe = inpainter
    prompts = inpainting_prompts(read_pair_set(pair_set), "removal", set_name="removal")
    shard = tmp_path / "removal" / "seeds-0000-0001.tar"
    render_shard(
        pipe, "sd2-inpaint", spec, "removal", prompts, [0, 1], shard, chunk_size=6,
        conditioning=PairConditioning(pair_set, prompts, 64),
    )  # fmt: skip
    ocr = CountingOCR()
    masks = PairMasks(pair_set, prompts)
    table = extract_shard(shard, ocr, masks_by_id=masks)
    assert len(table) == 6 and len(ocr.masks) == 6
    for prompt_id, mask, row in zip(table.prompt_ids, ocr.masks, table.features, strict=True):
        assert np.array_equal(mask, masks[prompt_id]) and row[0] == pytest.approx(mask.mean())


def test_inpainting_bank_lists_fewest_text_first_and_pick_avoids_text(tmp_path, capsys):
    seeds = np.arange(6)
    ratio = np.array([0.0, 0.5, 0.1, 0.0, 0.9, 0.2])
    text = pd.DataFrame({"seed": seeds, "text_tag": ratio > 0.4})
    for task in ("removal", "completion"):
        text[f"{task}_ratio"] = ratio
        text[f"{task}_ratio_rank"] = pd.Series(ratio).rank(ascending=False, method="min")
        text[f"{task}_ratio_lo"], text[f"{task}_ratio_hi"] = ratio / 2, ratio * 2
        text[f"{task}_text_rate"] = ratio
    bank = build_bank("sd2-inpaint", {"pipeline": "StableDiffusionInpaintPipeline"}, {}, {},
                      None, "hash", appearance={"text": text})  # fmt: skip
    save_bank(bank, tmp_path / "b.json")
    bank = load_bank(tmp_path / "b.json")
    assert bank["tags"]["text"] == [1, 4]
    order = [s["seed"] for s in bank["seeds"]]
    assert set(order[:2]) == {0, 3} and order[-1] == 4
    assert bank["seeds"][-1]["text"]["removal_ratio"] == 0.9
    assert main(["pick", "--bank", str(tmp_path / "b.json"), "--n", "4", "--avoid", "text",
                 "--json"]) == 0  # fmt: skip
    assert set(json.loads(capsys.readouterr().out)["seeds"]) == {0, 2, 3, 5}
