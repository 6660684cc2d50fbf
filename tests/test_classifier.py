"""The seed classifier: text-disjoint splits, streaming from shards, resumable training that
never resumes a checkpoint of other data or settings, accuracy far above chance on tiny-model
images, Grad-CAM, and clear errors for bad input."""

import csv
import json
import logging
import random
import shutil
from collections import Counter

import numpy as np
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file
from torch.utils.data import DataLoader

from seedscope.classifier import (
    SeedShardDataset,
    build_classifier,
    evaluate,
    gradcam_by_seed,
    gradcam_maps,
    image_transform,
    load_classifier,
    normalise_text,
    plot_gradcam,
    split_prompts,
    train_classifier,
)
from seedscope.classifier.checkpoint import load_checkpoint
from seedscope.classifier.gradcam import target_layer
from seedscope.errors import ConfigError, DataError, ModelNotFoundError, ShardError
from seedscope.generate import render_shard
from seedscope.models import load_pipeline
from seedscope.shards import ShardReader, manifest_path
from seedscope.stats import wilson_interval

from conftest import model_spec

SEEDS = list(range(8))
COUNTS = {"train": 16, "val": 4, "test": 12}
WORDS = ["red", "blue", "green", "dog", "cat", "apple", "house", "tree"]
WORDS += ["car", "moon", "sun", "boat", "bird", "fish", "rose", "lake"]
PROMPTS = [
    {"id": f"p-{i:04d}", "text": f"a {WORDS[i % 16]} {WORDS[(7 * i + 3) % 16]} {i}"}
    for i in range(32)
]
# Small enough to train 3 + 1 + 2 epochs in seconds on one thread; enough steps (batch 8) for
# BatchNorm's running statistics to settle, without which eval-mode accuracy stays at chance.
TRAIN = dict(
    model_name="resnet10t", num_classes=8, epochs=3, batch_size=8, lr=1e-3, weight_decay=0.05
)


@pytest.fixture(scope="module")
def sd2(tiny_models):
    """The tiny SD2 pipeline and its config entry."""
    spec = model_spec("sd2", tiny_models["sd2"], batch_size=8)
    return load_pipeline("sd2", spec, "cpu"), spec


def render(sd2, prompts, first, last, root):
    """Render ``prompts`` x seeds ``first``-``last`` into ``root``'s shard of that block."""
    path = root / f"seeds-{first:04d}-{last:04d}.tar"
    render_shard(sd2[0], "sd2", sd2[1], "t", prompts, range(first, last + 1), path, 64)
    return path


@pytest.fixture(scope="module")
def shards(sd2, tmp_path_factory):
    """32 prompts x seeds 0-7 from the tiny SD2 model, in two seed-block shards."""
    root = tmp_path_factory.mktemp("classifier-shards")
    return [render(sd2, PROMPTS, first, last, root) for first, last in ((0, 3), (4, 7))]


@pytest.fixture(scope="module")
def rerendered(sd2, shards, tmp_path_factory):
    """The same shards, but seeds 4-7 rendered again for other texts under the same prompt ids."""
    root = tmp_path_factory.mktemp("classifier-rerendered")
    shutil.copy(shards[0], root / shards[0].name)
    shutil.copy(manifest_path(shards[0]), manifest_path(root / shards[0].name))
    other = [p | {"text": p["text"].replace("a ", "two ", 1)} for p in PROMPTS]
    return [root / shards[0].name, render(sd2, other, 4, 7, root)]


@pytest.fixture(scope="module")
def splits(shards):
    return split_prompts({p["id"]: p["text"] for p in PROMPTS}, COUNTS, seed=0)


def make_datasets(shards, splits, transform=None):
    """Train (shuffled), val and test datasets of ``splits``."""
    return {
        name: SeedShardDataset(
            shards, ids, SEEDS, transform or image_transform(), shuffle=name == "train"
        )
        for name, ids in splits.items()
    }


@pytest.fixture(scope="module")
def datasets(shards, splits):
    return make_datasets(shards, splits)


@pytest.fixture(scope="module")
def trained(datasets, tmp_path_factory):
    """An uninterrupted 3-epoch run: its output folder and summary."""
    out = tmp_path_factory.mktemp("classifier-full")
    summary = train_classifier(datasets["train"], datasets["val"], out, seed=0, **TRAIN)
    return out, summary


@pytest.fixture(scope="module")
def killed(datasets, tmp_path_factory):
    """A run stopped after its first epoch (as a kill would): its output folder and summary."""
    out = tmp_path_factory.mktemp("classifier-killed")
    summary = train_classifier(
        datasets["train"], datasets["val"], out, seed=0, stop_after=1, **TRAIN
    )
    return out, summary


def copy_run(run, to):
    """A copy of a run's output folder, to train on in place."""
    shutil.copytree(run[0], to)
    return to


def identity_of(weights):
    """The identity hash in the metadata of a ``model.safetensors``."""
    with safe_open(str(weights), "pt") as f:
        return f.metadata()["identity_sha256"]


def test_split_prompts_is_disjoint_complete_and_deterministic():
    pairs = [(f"p-{i}", f"prompt number {i}") for i in range(100)]
    ids = [i for i, _ in pairs]
    split = split_prompts(pairs, (0.8, 0.1, 0.1), seed=3)
    assert [len(split[s]) for s in ("train", "val", "test")] == [80, 10, 10]
    assert set().union(*split.values()) == set(ids)
    assert not set(split["train"]) & set(split["val"]) | set(split["train"]) & set(split["test"])
    assert not set(split["val"]) & set(split["test"])
    assert split_prompts(reversed(pairs + pairs), (0.8, 0.1, 0.1), seed=3) == split
    assert split_prompts(dict(pairs), (0.8, 0.1, 0.1), seed=3) == split
    assert split_prompts(pairs, (0.8, 0.1, 0.1), seed=4) != split
    counted = split_prompts(pairs, {"train": 50, "val": 5, "test": 7}, seed=3)
    assert {s: len(v) for s, v in counted.items()} == {"train": 50, "val": 5, "test": 7}


def test_normalise_text_folds_case_width_whitespace_and_end_punctuation():
    assert normalise_text("  A  Dog\ton the BEACH. ") == "a dog on the beach"
    assert normalise_text("\u201cA dog on the beach!\u201d") == "a dog on the beach"
    assert normalise_text("\uff21 \uff24\uff4f\uff47\u00a0\uff11") == "a dog 1"  # full width
    assert normalise_text("STRASSE") == normalise_text("stra\u00dfe") == "strasse"
    assert normalise_text("a dog, on the beach") != "a dog on the beach"
    assert normalise_text("...") == ""


def duplicated_prompts(rng):
    """~300 prompts in groups of up to five texts that differ only in case, width, whitespace
    and end punctuation, plus 12 empty-caption fallbacks; ids in random order."""
    prompts = {}
    for i in range(120):
        base = f"a photo of thing {i} on a table"
        wide = base.replace("a", "\uff41").replace(
            str(i), "".join(chr(0xFF10 + int(d)) for d in str(i))
        )
        variants = [base, base.upper(), f"  {base.title()}. ", base.replace(" ", " \t "), wide]
        for j, text in enumerate(variants[: 1 + i % 5]):
            prompts[f"c-{rng.randrange(10**9):09d}-{i}-{j}"] = text
    for j in range(12):
        prompts[f"e-{j}"] = ["an image", "An image.", " an  image"][j % 3]
    return prompts


def test_split_prompts_keeps_every_normalised_text_on_one_side():
    prompts = duplicated_prompts(random.Random(0))
    groups = Counter(normalise_text(t) for t in prompts.values())
    assert len(groups) == 121 and max(groups.values()) == 12  # the duplicates are real
    for seed in range(5):
        split = split_prompts(prompts, (0.7, 0.15, 0.15), seed=seed)
        assert sorted(i for ids in split.values() for i in ids) == sorted(prompts)
        texts = {s: {normalise_text(prompts[i]) for i in ids} for s, ids in split.items()}
        assert not texts["train"] & texts["val"] and not texts["train"] & texts["test"]
        assert not texts["val"] & texts["test"]
        for name, fraction in (("train", 0.7), ("val", 0.15), ("test", 0.15)):
            assert abs(len(split[name]) - fraction * len(prompts)) <= 12, (seed, name)
        shuffled = list(prompts.items())
        random.Random(seed).shuffle(shuffled)
        assert split_prompts(shuffled, (0.7, 0.15, 0.15), seed=seed) == split
    counted = split_prompts(prompts, {"train": 150, "val": 40, "test": 40}, seed=1)
    assert all(abs(len(counted[s]) - n) < 12 for s, n in (("train", 150), ("val", 40)))
    assert abs(len(counted["test"]) - 40) < 12
    assert split_prompts(prompts, (0.7, 0.15, 0.15), seed=1) != split_prompts(
        prompts, (0.7, 0.15, 0.15), seed=2
    )


def test_split_prompts_rejects_too_few_prompts_and_empty_splits():
    pairs = [(f"p-{i}", f"prompt number {i}") for i in range(24)]
    with pytest.raises(DataError, match="needs 11000 distinct prompts.*only 24"):
        split_prompts(pairs, {"train": 9000, "val": 1000, "test": 1000})
    with pytest.raises(DataError, match="leaves val, test empty"):
        split_prompts(pairs, (0.99, 0.005, 0.005))
    with pytest.raises(DataError, match="1 distinct texts.*shared by 24 prompts.*val, test empty"):
        split_prompts([(i, "An image.") for i, _ in pairs], (0.8, 0.1, 0.1))
    with pytest.raises(ConfigError, match="summing to at most 1"):
        split_prompts(pairs, (0.8, 0.2, 0.2))
    with pytest.raises(ConfigError, match="exactly train, val, test"):
        split_prompts(pairs, {"train": 10, "test": 2})
    with pytest.raises(DataError, match="'p-0' has two texts"):
        split_prompts(pairs + [("p-0", "another text")])
    with pytest.raises(TypeError, match=r"\(prompt id, text\) pairs"):
        split_prompts([i for i, _ in pairs])


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
    assert SeedShardDataset(shards, splits["val"], range(8)).seeds == SEEDS
    with pytest.raises(ConfigError, match="seeds 8-9 are configured but in no shard"):
        SeedShardDataset(shards, splits["val"], range(10))
    with pytest.raises(ConfigError, match="seeds 6-7 are in the shards but not configured"):
        SeedShardDataset(shards, splits["val"], range(6))
    with pytest.raises(ConfigError, match="seeds 0-3 are configured but in no shard"):
        SeedShardDataset(shards[1:], splits["val"], range(8))


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


def test_killed_run_resumes_to_identical_weights(datasets, trained, killed, tmp_path):
    full, summary = trained
    out = copy_run(killed, tmp_path / "run")
    assert killed[1]["epochs_done"] == 1 and killed[1]["weights"] is None
    assert (out / "checkpoint.pt").exists() and not (out / "model.safetensors").exists()
    resumed = train_classifier(datasets["train"], datasets["val"], out, seed=0, **TRAIN)
    assert resumed["resumed_from_epoch"] == 1 and resumed["epochs_done"] == 3
    a, b = load_file(full / "model.safetensors"), load_file(out / "model.safetensors")
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    texts = [(d / "metrics.csv").read_text().splitlines() for d in (full, out)]
    rows = [list(csv.DictReader(text)) for text in texts]
    assert [r["epoch"] for r in rows[1]] == ["1", "2", "3"]
    strip = [[{k: v for k, v in r.items() if k != "seconds"} for r in rs] for rs in rows]
    assert strip[0] == strip[1]


def test_finished_run_deletes_its_checkpoint_and_records_its_identity(trained, killed):
    full, summary = trained
    assert summary["epochs_done"] == 3 and not (full / "checkpoint.pt").exists()
    assert not (full / "checkpoint.pt.tmp").exists()
    assert identity_of(full / "model.safetensors") == summary["identity_sha256"]
    assert killed[1]["identity_sha256"] == summary["identity_sha256"]
    with safe_open(str(full / "model.safetensors"), "pt") as f:
        identity = json.loads(f.metadata()["identity"])
    assert identity["settings"]["lr"] == TRAIN["lr"] and identity["train"]["prompts"] == 16
    assert identity["train"]["transform"]["size"] is None
    assert len(identity["val"]["shards_content_sha256"]) == 2


def stale_case(change, shards, rerendered, splits):
    """Train and val datasets and settings of a run that differs from ``killed`` in ``change``,
    and the key that the warning must name."""
    if change == "split":
        other = split_prompts({p["id"]: p["text"] for p in PROMPTS}, COUNTS, seed=1)
        return make_datasets(shards, other), TRAIN, "train.prompt_ids_sha256"
    if change == "image size":
        sized = make_datasets(shards, splits, image_transform(32))
        return sized, TRAIN, "train.transform.size: None there, 32 now"
    if change == "re-rendered shard":
        return make_datasets(rerendered, splits), TRAIN, "train.shards_content_sha256"
    return make_datasets(shards, splits), TRAIN | {"lr": 2e-3}, "lr: 0.001 there, 0.002 now"


@pytest.mark.parametrize("change", ["lr", "split", "image size", "re-rendered shard"])
def test_checkpoint_of_other_data_or_settings_is_ignored(
    change, shards, rerendered, splits, killed, tmp_path, caplog
):
    out = copy_run(killed, tmp_path / "run")
    data, settings, named = stale_case(change, shards, rerendered, splits)
    with caplog.at_level(logging.WARNING, logger="seedscope.classifier.checkpoint"):
        run = train_classifier(data["train"], data["val"], out, seed=0, stop_after=1, **settings)
    assert run["resumed_from_epoch"] == 0 and run["epochs_done"] == 1
    assert run["identity_sha256"] != killed[1]["identity_sha256"]
    assert "ignoring checkpoint" in caplog.text and named in caplog.text


@pytest.mark.parametrize("content", [b"not a checkpoint", "no identity"])
def test_unreadable_or_anonymous_checkpoint_is_ignored(content, datasets, tmp_path, caplog):
    if isinstance(content, bytes):
        (tmp_path / "checkpoint.pt").write_bytes(content)
    else:  # what checkpoints held before they carried an identity
        torch.save({"config": {"lr": TRAIN["lr"]}, "epoch": 1}, tmp_path / "checkpoint.pt")
    with caplog.at_level(logging.WARNING, logger="seedscope.classifier.checkpoint"):
        run = train_classifier(
            datasets["train"], datasets["val"], tmp_path, seed=0, stop_after=1, **TRAIN
        )
    assert run["resumed_from_epoch"] == 0 and run["epochs_done"] == 1
    why = "cannot be read" if isinstance(content, bytes) else "has no identity"
    assert why in caplog.text


def test_checkpoint_error_without_a_message_is_ignored_too(tmp_path, monkeypatch, caplog):
    (tmp_path / "checkpoint.pt").write_bytes(b"x")

    def fail(*args, **kwargs):
        raise EOFError()  # an empty message: the warning still quotes the error's type

    monkeypatch.setattr(torch, "load", fail)
    with caplog.at_level(logging.WARNING, logger="seedscope.classifier.checkpoint"):
        assert load_checkpoint(tmp_path / "checkpoint.pt", {"settings": {}}) is None
    assert "it cannot be read (EOFError: )" in caplog.text


def test_rerun_on_rerendered_shards_trains_new_weights(trained, rerendered, splits, tmp_path):
    new = make_datasets(rerendered, splits)
    finished = copy_run(trained, tmp_path / "finished")
    rerun = train_classifier(new["train"], new["val"], finished, seed=0, **TRAIN)
    assert rerun["resumed_from_epoch"] == 0 and rerun["epochs_done"] == 3
    old, fresh = load_file(trained[0] / "model.safetensors"), load_file(rerun["weights"])
    assert any(not torch.equal(old[k], fresh[k]) for k in old)
    assert identity_of(rerun["weights"]) == rerun["identity_sha256"]
    assert rerun["identity_sha256"] != trained[1]["identity_sha256"]


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


def test_pretrained_weights_offline_fail_clearly():
    """How fast it fails: benchmarks/bench_offline_failures.py."""
    with pytest.raises(ModelNotFoundError, match="pretrained weights for timm model 'resnet10t'"):
        build_classifier("resnet10t", 8, pretrained=True)
    with pytest.raises(ModelNotFoundError, match="does not exist"):
        build_classifier("resnet10t", 8, pretrained="/nonexistent/weights.safetensors")


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
    assert layer is (model.stages[-1] if "convnext" in name else model.conv_head)
    convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    assert "convnext" in name or layer is convs[-1]  # EfficientNet: the last Conv2d
    maps = gradcam_maps(model, torch.randn(2, 3, 64, 64), [1, 2])
    assert maps.shape == (2, 64, 64) and np.isfinite(maps).all()
