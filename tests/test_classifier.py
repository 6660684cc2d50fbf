"""The seed classifier: prompt-disjoint splits, streaming from shards, resumable training,
accuracy far above chance on tiny-model images, Grad-CAM, and clear errors for bad input."""

import csv
import json
import shutil
import time
from collections import Counter

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from torch.utils.data import DataLoader

from seedscope.classifier import (
    SeedShardDataset,
    build_classifier,
    check_seed_range,
    cost_estimate,
    evaluate,
    gradcam_by_seed,
    gradcam_maps,
    image_transform,
    load_classifier,
    plot_gradcam,
    split_prompts,
    train_classifier,
)
from seedscope.classifier.gradcam import target_layer
from seedscope.classifier.train import wilson_interval
from seedscope.errors import ConfigError, DataError, ModelNotFoundError, ShardError
from seedscope.generate import render_shard
from seedscope.models import load_pipeline
from seedscope.shards import ShardReader, manifest_path

from conftest import model_spec

SEEDS = list(range(8))
COUNTS = {"train": 16, "val": 4, "test": 12}
WORDS = ["red", "blue", "green", "dog", "cat", "apple", "house", "tree"]
WORDS += ["car", "moon", "sun", "boat", "bird", "fish", "rose", "lake"]
# Small enough to train 3 + 1 + 2 epochs in seconds on one thread; enough steps (batch 8) for
# BatchNorm's running statistics to settle, without which eval-mode accuracy stays at chance.
TRAIN = dict(
    model_name="resnet10t", num_classes=8, epochs=3, batch_size=8, lr=1e-3, weight_decay=0.05
)


@pytest.fixture(scope="module")
def shards(tiny_models, tmp_path_factory):
    """32 prompts x seeds 0-7 from the tiny SD2 model, in two seed-block shards."""
    root = tmp_path_factory.mktemp("classifier-shards")
    spec = model_spec("sd2", tiny_models["sd2"], batch_size=8)
    pipe = load_pipeline("sd2", spec, "cpu")
    prompts = [
        {"id": f"p-{i:04d}", "text": f"a {WORDS[i % 16]} {WORDS[(7 * i + 3) % 16]} {i}"}
        for i in range(32)
    ]
    paths = []
    for first, last in ((0, 3), (4, 7)):
        path = root / f"seeds-{first:04d}-{last:04d}.tar"
        render_shard(pipe, "sd2", spec, "t", prompts, range(first, last + 1), path, 64)
        paths.append(path)
    return paths


@pytest.fixture(scope="module")
def splits(shards):
    return split_prompts(ShardReader(shards[0]).prompt_ids, COUNTS, seed=0)


@pytest.fixture(scope="module")
def datasets(shards, splits):
    return {
        name: SeedShardDataset(shards, ids, SEEDS, image_transform(), shuffle=name == "train")
        for name, ids in splits.items()
    }


@pytest.fixture(scope="module")
def trained(datasets, tmp_path_factory):
    """An uninterrupted 3-epoch run: its output folder and summary."""
    out = tmp_path_factory.mktemp("classifier-full")
    summary = train_classifier(datasets["train"], datasets["val"], out, seed=0, **TRAIN)
    return out, summary


def test_split_prompts_is_disjoint_complete_and_deterministic():
    ids = [f"p-{i}" for i in range(100)]
    split = split_prompts(ids, (0.8, 0.1, 0.1), seed=3)
    assert [len(split[s]) for s in ("train", "val", "test")] == [80, 10, 10]
    assert set().union(*split.values()) == set(ids)
    assert not set(split["train"]) & set(split["val"]) | set(split["train"]) & set(split["test"])
    assert not set(split["val"]) & set(split["test"])
    assert split_prompts(reversed(ids + ids), (0.8, 0.1, 0.1), seed=3) == split
    assert split_prompts(ids, (0.8, 0.1, 0.1), seed=4) != split
    counted = split_prompts(ids, {"train": 50, "val": 5, "test": 7}, seed=3)
    assert {s: len(v) for s, v in counted.items()} == {"train": 50, "val": 5, "test": 7}


def test_split_prompts_rejects_too_few_prompts_and_empty_splits():
    ids = [f"p-{i}" for i in range(24)]
    with pytest.raises(DataError, match="needs 11000 distinct prompts.*only 24"):
        split_prompts(ids, {"train": 9000, "val": 1000, "test": 1000})
    with pytest.raises(DataError, match="leaves val, test empty"):
        split_prompts(ids, (0.99, 0.005, 0.005))
    with pytest.raises(ConfigError, match="summing to at most 1"):
        split_prompts(ids, (0.8, 0.2, 0.2))
    with pytest.raises(ConfigError, match="exactly train, val, test"):
        split_prompts(ids, {"train": 10, "test": 2})


def test_dataset_splits_share_no_prompt(datasets, splits):
    assert {s: len(d) for s, d in datasets.items()} == {s: 8 * n for s, n in COUNTS.items()}
    prompts = {s: set(d.prompt_ids) for s, d in datasets.items()}
    assert prompts == {s: set(ids) for s, ids in splits.items()}
    assert not prompts["train"] & prompts["val"]
    assert not prompts["train"] & prompts["test"]
    assert not prompts["val"] & prompts["test"]


def test_labels_are_the_seeds_in_each_images_metadata(shards, datasets):
    reader_of = {e.key: r for r in map(ShardReader, shards) for e in r.entries}
    ds = datasets["train"]
    ds.return_keys = True
    try:
        seen = list(ds)
    finally:
        ds.return_keys = False
    assert len(seen) == len(ds) and Counter(label for _, label, _ in seen) == Counter(ds.labels)
    for x, label, key in seen:
        meta = reader_of[key].meta(key)
        assert meta["seed"] == SEEDS[label] and meta["prompt_id"] in ds.prompt_ids
        assert x.shape == (3, 64, 64) and x.dtype == torch.float32
    first = ds.read(int(ds.order()[0]))
    assert torch.equal(seen[0][0], ds.transform(first[0])) and seen[0][2] == first[2]


def test_order_is_fixed_by_shuffle_seed_and_epoch(datasets):
    ds = datasets["train"]
    a = ds.order()
    ds.set_epoch(1)
    b = ds.order()
    ds.set_epoch(0)
    assert np.array_equal(ds.order(), a) and not np.array_equal(a, b)
    assert sorted(a) == sorted(b) == list(range(len(ds)))


def test_two_workers_cover_every_item_exactly_once(shards, splits):
    ds = SeedShardDataset(shards, splits["val"], SEEDS, image_transform(), return_keys=True)
    keys = [
        key
        for _, _, batch_keys in DataLoader(ds, batch_size=5, num_workers=2)
        for key in batch_keys
    ]
    assert len(keys) == len(ds) == len(set(keys))
    assert set(keys) == {ds.read(i)[2] for i in range(len(ds))}


def test_seed_range_must_match_the_shards(shards, splits):
    assert check_seed_range(shards, range(8)) == SEEDS
    with pytest.raises(ConfigError, match="seeds 8-9 are configured but in no shard"):
        check_seed_range(shards, range(10))
    with pytest.raises(ConfigError, match="seeds 6-7 are in the shards but not configured"):
        SeedShardDataset(shards, splits["val"], range(6))
    with pytest.raises(ConfigError, match="seeds 0-3 are configured but in no shard"):
        check_seed_range(shards[1:], range(8))


def test_prompts_missing_from_the_shards_are_named(shards, splits):
    with pytest.raises(DataError, match="not in the shards exactly once.*'nope'"):
        SeedShardDataset(shards, splits["val"] + ["nope"], SEEDS)


def test_metadata_that_disagrees_with_the_manifest_raises(shards, splits, tmp_path):
    copies = []
    for shard in shards:
        shutil.copy(shard, tmp_path / shard.name)
        shutil.copy(manifest_path(shard), manifest_path(tmp_path / shard.name))
        copies.append(tmp_path / shard.name)
    manifest = json.loads(manifest_path(copies[0]).read_text())
    column, prompt = (manifest["columns"].index(c) for c in ("seed", "prompt_id"))
    rows = [r for r in manifest["entries"] if r[prompt] == splits["val"][0]]
    rows[0][column], rows[1][column] = rows[1][column], rows[0][column]  # swap two labels
    manifest_path(copies[0]).write_text(json.dumps(manifest))
    ds = SeedShardDataset(copies, splits["val"], SEEDS, shuffle=False)
    with pytest.raises(ShardError, match="in its metadata but .* in the manifest"):
        list(ds)


def test_killed_run_resumes_to_identical_weights(datasets, trained, tmp_path):
    full, _ = trained
    killed = train_classifier(
        datasets["train"], datasets["val"], tmp_path, seed=0, stop_after=1, **TRAIN
    )
    assert killed["epochs_done"] == 1 and killed["weights"] is None
    assert (tmp_path / "checkpoint.pt").exists() and not (tmp_path / "model.safetensors").exists()
    resumed = train_classifier(datasets["train"], datasets["val"], tmp_path, seed=0, **TRAIN)
    assert resumed["resumed_from_epoch"] == 1 and resumed["epochs_done"] == 3
    a, b = load_file(full / "model.safetensors"), load_file(tmp_path / "model.safetensors")
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    texts = [(d / "metrics.csv").read_text().splitlines() for d in (full, tmp_path)]
    rows = [list(csv.DictReader(text)) for text in texts]
    assert [r["epoch"] for r in rows[1]] == ["1", "2", "3"]
    strip = [[{k: v for k, v in r.items() if k != "seconds"} for r in rs] for rs in rows]
    assert strip[0] == strip[1]
    with pytest.raises(ConfigError, match="lr: 0.001 there, 0.002 now"):
        train_classifier(
            datasets["train"], datasets["val"], tmp_path, seed=0, **(TRAIN | {"lr": 2e-3})
        )


def test_classifier_recognises_seeds_far_above_chance(datasets, trained):
    out, summary = trained
    model = load_classifier(out / "model.safetensors")
    test = evaluate(model, datasets["test"], SEEDS, batch_size=32)
    train = evaluate(model, datasets["train"], SEEDS, batch_size=32)
    print(
        f"\nseed classifier (resnet10t, 3 epochs, 128 train images): train {train['accuracy']:.3f}"
        f", test {test['accuracy']:.3f} (95% CI {test['ci95'][0]:.3f}-{test['ci95'][1]:.3f}, "
        f"{test['images']} images), chance {test['chance']:.3f}; metrics {summary['history']}"
    )
    assert test["chance"] == 1 / 8 and test["images"] == 8 * COUNTS["test"]
    assert test["accuracy"] >= 0.9 and test["ci95"][0] > 5 * test["chance"]
    assert set(test["per_seed"]) == set(SEEDS) and len(test["confused_pairs"]) <= 10
    assert summary["final"]["val_top1"] >= 0.9


def test_evaluate_counts_confusions_and_intervals(datasets):
    class Always3(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros(()))

        def forward(self, x):
            return torch.nn.functional.one_hot(torch.full((len(x),), 3), 8).float() + self.w

    result = evaluate(Always3(), datasets["val"], SEEDS)
    assert result["accuracy"] == pytest.approx(1 / 8) and result["per_seed"][3] == 1.0
    assert {p["predicted"] for p in result["confused_pairs"]} == {3}
    assert all(p["count"] == 4 for p in result["confused_pairs"])
    assert len(result["confused_pairs"]) == 7
    assert wilson_interval(5, 10) == pytest.approx((0.2366, 0.7634), abs=1e-4)
    assert wilson_interval(0, 10) == pytest.approx((0.0, 0.2775), abs=1e-4)


def test_unknown_timm_name_lists_close_matches():
    with pytest.raises(ConfigError, match=r"unknown timm model 'resnt18'.*resnet18"):
        build_classifier("resnt18", 8)
    with pytest.raises(ConfigError, match="at least 2 seeds"):
        build_classifier("resnet10t", 1)


def test_pretrained_weights_offline_fail_fast_and_clearly():
    start = time.perf_counter()
    with pytest.raises(ModelNotFoundError, match="pretrained weights for timm model 'resnet10t'"):
        build_classifier("resnet10t", 8, pretrained=True)
    assert time.perf_counter() - start < 20
    with pytest.raises(ModelNotFoundError, match="does not exist"):
        build_classifier("resnet10t", 8, pretrained="/nonexistent/weights.safetensors")


def test_cost_estimate_for_the_papers_run():
    cost = cost_estimate(9000 * 1024, 6, "resnet50", images_per_second=2000)
    assert cost["images_per_epoch"] == 9_216_000 and cost["images_total"] == 55_296_000
    assert cost["hours"] == pytest.approx(55_296_000 / 2000 / 3600)
    assert 25e6 < cost["parameters"] < 26e6 and not cost["throughput_assumed"]
    assert cost_estimate(1000, 1, "resnet10t")["throughput_assumed"]


def test_gradcam_maps_and_figure(datasets, trained, tmp_path):
    model = load_classifier(trained[0] / "model.safetensors")
    ds = datasets["test"]
    x = torch.stack([ds.transform(ds.read(i)[0]) for i in range(4)])
    maps = gradcam_maps(model, x, ds.labels[:4])
    assert maps.shape == (4, 64, 64) and np.isfinite(maps).all()
    assert maps.min() >= 0 and maps.max() <= 1 and maps.max() > 0
    images, cams = gradcam_by_seed(model, ds, [0, 5, 7], per_seed=3)
    assert list(images) == [0, 5, 7] and all(len(v) == 3 for v in cams.values())
    assert images[0][0].shape == (64, 64, 3) and cams[0][0].shape == (64, 64)
    pdf, png = tmp_path / "fig3.pdf", tmp_path / "fig3.png"
    plot_gradcam(images, cams, pdf, png, title="Grad-CAM, tiny SD2")
    assert pdf.read_bytes()[:4] == b"%PDF" and png.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize("name", ["test_convnext", "test_efficientnet"])
def test_gradcam_target_layer_by_architecture(name):
    torch.manual_seed(0)
    model = build_classifier(name, 8)
    layer = target_layer(model)
    assert layer is (model.stages[-1] if "convnext" in name else layer)
    assert "convnext" in name or isinstance(layer, torch.nn.Conv2d)
    maps = gradcam_maps(model, torch.randn(2, 3, 64, 64), [1, 2])
    assert maps.shape == (2, 64, 64) and np.isfinite(maps).all()
