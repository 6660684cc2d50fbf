"""Feature extractors (clean-fid Inception, HPS with open_clip), shards, reference images."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import warnings
import zipfile

import numpy as np
import pytest
import torch
import yaml
from PIL import Image

from seedscope.errors import FeatureError, ShardError
from seedscope.extractors import load_extractor
from seedscope.features.extract import extract_shard
from seedscope.features.hps import hps_checkpoint
from seedscope.features.inception import INCEPTION_FILE, load_inception
from seedscope.features.reference import reference_table
from seedscope.features.table import read_table, write_table
from seedscope.prompts.coco import make_demo_images
from seedscope.shards import ShardReader, ShardWriter, encode_png, image_key
from seedscope.tiny.extractors import build_tiny_extractor
from seedscope.validate import validate_config

from conftest import DEMO, REPO

PROMPTS = [
    {"id": "t-00000", "text": "a red dog", "set": "t", "meta": {}},
    {"id": "t-00001", "text": "a blue cat on a mat", "set": "t", "meta": {}},
]
SEEDS = [3, 4, 5]


def extractor_settings(name: str, **keys) -> dict:
    """The ``features.<name>`` section as the validator gives it: ``keys`` over the schema's
    defaults (the demo config with its own section replaced)."""
    config = yaml.safe_load(DEMO.read_text())
    config["features"][name] = keys
    return validate_config(config, check_libraries=False)["features"][name]


def images(n: int, seed: int = 0, shapes=((48, 48), (64, 40))) -> list[np.ndarray]:
    """Smooth random RGB images of alternating shapes (uint8)."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        h, w = shapes[i % len(shapes)]
        small = rng.integers(0, 256, (h // 8, w // 8, 3), dtype=np.uint8)
        out.append(np.asarray(Image.fromarray(small).resize((w, h), Image.BILINEAR)))
    return out


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("extractors")
    return {name: build_tiny_extractor(name, root / name) for name in ("inception", "hps")}


@pytest.fixture(scope="module")
def extractors(tiny) -> dict:
    return {
        name: load_extractor(
            name, extractor_settings(name, weights="tiny", batch_size=4), "cpu", tiny[name]
        )
        for name in ("inception", "hps")
    }


def make_shard(path, prompts=PROMPTS, seeds=SEEDS):
    writer = ShardWriter(path, {"test": True})
    writer.open()
    pixels = iter(images(len(prompts) * len(seeds), seed=7, shapes=((48, 48),)))
    writer.write_chunk(
        [
            (
                image_key(p["id"], s),
                encode_png(next(pixels)),
                {"prompt_id": p["id"], "seed": s, "prompt": p["text"]},
            )
            for p in prompts
            for s in seeds
        ]
    )
    writer.finish()
    return path


@pytest.mark.parametrize("name", ["inception", "hps"])
def test_tiny_extractor_builds_saves_and_loads_deterministically(name, tiny, tmp_path):
    again = build_tiny_extractor(name, tmp_path / "again")
    other = build_tiny_extractor(name, tmp_path / "other", seed=1)
    settings = extractor_settings(name, weights="tiny", batch_size=3)
    a, b, c = (load_extractor(name, settings, "cpu", weights=f) for f in (tiny[name], again, other))
    assert a.meta["weights_sha256"] == b.meta["weights_sha256"] != c.meta["weights_sha256"]
    assert a.meta["extractor"] == name and a.meta["dim"] == a.dim
    ims, texts = images(5), ["a red dog", "a cat", "a red dog", "an apple", "a cat"]
    fa = a(ims, texts)
    assert fa.dtype == np.float32 and fa.shape == (5, a.dim) and np.isfinite(fa).all()
    assert np.array_equal(fa, b(ims, texts))
    assert not np.allclose(fa, c(ims, texts))
    a.batch_size = 5  # batching changes nothing beyond float round-off
    np.testing.assert_allclose(a(ims, texts), fa, rtol=1e-5, atol=1e-6)


def test_tiny_requires_its_folder():
    with pytest.raises(FeatureError, match="build_tiny_extractor"):
        load_extractor("inception", extractor_settings("inception", weights="tiny"), "cpu")


def test_inception_runs_clean_fids_own_preprocessing(extractors, tmp_path):
    """Features equal clean-fid's get_files_features with the same model, on the PNG files."""
    from cleanfid.fid import get_files_features
    from cleanfid.utils import ResizeDataset

    inception = extractors["inception"]
    ims = images(4)
    files = []
    for i, im in enumerate(ims):
        files.append(str(tmp_path / f"{i}.png"))
        Image.fromarray(im).save(files[-1])
    dataset = ResizeDataset(files, mode="clean")
    for i, im in enumerate(ims):
        assert torch.equal(inception.preprocess(im), dataset[i])
    expected = get_files_features(
        files,
        inception.model,
        num_workers=0,
        batch_size=4,
        device=torch.device("cpu"),
        mode="clean",
        verbose=False,
    )
    np.testing.assert_array_equal(inception(ims), expected)
    # clean-fid's resize is not a plain bilinear/bicubic tensor resize: it matters
    naive = torch.nn.functional.interpolate(
        torch.tensor(ims[0]).permute(2, 0, 1)[None].float(), (299, 299), mode="bicubic"
    )[0]
    assert not torch.allclose(naive, inception.preprocess(ims[0]), atol=0.5)


def scripted_inception(path):
    """A stand-in with the interface of clean-fid's TorchScript file (``.layers`` -> 2048)."""

    class Stand(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = torch.nn.Sequential(
                torch.nn.Conv2d(3, 8, 8, stride=8),
                torch.nn.ReLU(),
                torch.nn.AdaptiveAvgPool2d(1),
                torch.nn.Flatten(),
                torch.nn.Linear(8, 2048),
            )

        def forward(self, x, return_features: bool = False):
            return self.layers(x)

    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch.jit.script is deprecated
        torch.jit.script(Stand()).save(str(path))
    return path


def test_local_inception_file_goes_through_clean_fids_loader(tmp_path):
    path = scripted_inception(tmp_path / INCEPTION_FILE)
    by_file = load_inception(path, batch_size=2)
    by_folder = load_inception(tmp_path, batch_size=2)
    assert type(by_file.model).__name__ == "InceptionV3W"  # clean-fid's own wrapper
    assert by_file.dim == 2048 and by_file.meta["weights_file"] == INCEPTION_FILE
    ims = images(3)
    assert np.array_equal(by_file(ims), by_folder(ims))
    renamed = tmp_path / "other" / "inception.pt"
    renamed.parent.mkdir()
    renamed.write_bytes(path.read_bytes())
    with pytest.raises(FeatureError, match=f"rename.*{INCEPTION_FILE}"):
        load_inception(renamed, batch_size=2)
    broken = tmp_path / "broken" / INCEPTION_FILE
    broken.parent.mkdir()
    broken.write_bytes(b"not a torchscript file")
    with pytest.raises(FeatureError, match="corrupt"):
        load_inception(broken, batch_size=2)


def test_missing_inception_weights_say_what_and_how(tmp_path, monkeypatch):
    missing = tmp_path / "nowhere" / INCEPTION_FILE
    with pytest.raises(FeatureError) as err:
        load_inception(missing, batch_size=2)
    assert str(missing) in str(err.value) and "features.inception.weights" in str(err.value)
    # "clean-fid": clean-fid's own download, pointed at a closed port so no test downloads 95 MB
    from cleanfid import downloads_helper

    url = "http://127.0.0.1:9/inception-2015-12-05.pt"
    monkeypatch.setattr(downloads_helper, "inception_url", url)
    folder = tmp_path / "cache"
    with pytest.raises(FeatureError) as err:
        settings = extractor_settings("inception", weights="clean-fid", weights_dir=str(folder))
        load_extractor("inception", settings, "cpu")
    message = str(err.value)
    assert str(folder / INCEPTION_FILE) in message and url in message
    assert "features.inception.weights" in message
    assert list(folder.iterdir()) == []  # no partial download left behind


def test_hps_hub_offline_with_empty_cache(tmp_path, monkeypatch):
    import huggingface_hub.constants as hf_constants

    monkeypatch.setenv("HF_HOME", str(tmp_path))
    monkeypatch.setattr(hf_constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(FeatureError) as err:
        load_extractor("hps", extractor_settings("hps", version="v2.1", weights="hub"), "cpu")
    message = str(err.value)
    assert "HPS_v2.1_compressed.pt" in message and "xswu/HPSv2" in message
    assert "features.hps.weights" in message
    with pytest.raises(FeatureError, match="HPS_v2_compressed.pt.*features.hps.weights"):
        hps_checkpoint("v2.0", tmp_path / "HPS_v2_compressed.pt")


def test_hps_scores_pairs(extractors):
    hps = extractors["hps"]
    ims = images(3)
    scores = hps(ims, ["a red dog", "a red dog", "a cat"])
    assert scores.shape == (3, 1) and np.all(np.abs(scores) <= 1)  # cosine similarities
    assert scores[1, 0] != hps(ims[1:2], ["a cat"])[0, 0]
    with pytest.raises(FeatureError, match="pairs"):
        hps(ims, ["a red dog"])


@pytest.mark.parametrize("name", ["inception", "hps"])
def test_extract_shard_gives_one_aligned_row_per_image(name, extractors, tmp_path):
    shard = make_shard(tmp_path / "seeds-0003-0005.tar")
    extractor = extractors[name]
    texts = {p["id"]: p["text"] for p in PROMPTS}
    table = extract_shard(shard, extractor, texts, batch_size=4)
    reader = ShardReader(shard)
    assert list(table.keys) == [e.key for e in reader.entries]
    assert list(table.seeds) == [e.seed for e in reader.entries]
    assert list(table.prompt_ids) == [e.prompt_id for e in reader.entries]
    for row in (0, 4):
        key = table.keys[row]
        alone = extractor([np.asarray(reader.image(key))], [texts[table.prompt_ids[row]]])
        np.testing.assert_allclose(table.features[row], alone[0], rtol=1e-5, atol=1e-6)
    assert table.meta["shard"] == shard.name and table.meta["extractor"] == name
    assert len(table.meta["manifest_sha256"]) == 64
    write_table(tmp_path / "t.npz", table)
    back = read_table(tmp_path / "t.npz")
    assert np.array_equal(back.features, table.features) and back.meta == table.meta


def test_extract_shard_checks_prompts(extractors, tmp_path):
    shard = make_shard(tmp_path / "seeds-0003-0005.tar")
    with pytest.raises(FeatureError, match="t-00001.*not in the prompt file"):
        extract_shard(shard, extractors["hps"], {"t-00000": "a red dog"})
    changed = {"t-00000": "a red dog", "t-00001": "something else"}
    with pytest.raises(FeatureError, match="prompt set changed"):
        extract_shard(shard, extractors["hps"], changed)


def test_corrupted_shard_is_refused(extractors, tmp_path):
    shard = make_shard(tmp_path / "seeds-0003-0005.tar")
    entry = ShardReader(shard).entries[2]
    data = bytearray(shard.read_bytes())
    data[entry.png_offset + entry.png_size // 2] ^= 0xFF
    shard.write_bytes(bytes(data))
    with pytest.raises(ShardError, match=f"{entry.key}.*{shard}.*delete"):
        extract_shard(shard, extractors["inception"], {})


def coco_rows(names, set_name="coco1"):
    return [
        {"id": f"{set_name}-{i:05d}", "text": f"caption {i}", "set": set_name, "meta": {"image": n}}
        for i, n in enumerate(names)
    ]


def test_reference_features_from_folder_and_zip(extractors, tmp_path):
    paths = make_demo_images(tmp_path / "demo", 6, size=32)
    inception = extractors["inception"]
    rows = coco_rows([p.name for p in paths[::-1]])  # captions in selection order, not sorted
    table = reference_table(tmp_path / "demo", rows, inception, n_images=4)
    assert list(table.keys) == [p.name for p in paths[::-1][:4]]
    assert list(table.prompt_ids) == [r["id"] for r in rows[:4]] and set(table.seeds) == {-1}
    direct = inception([np.asarray(Image.open(p).convert("RGB")) for p in paths[::-1][:4]])
    np.testing.assert_allclose(table.features, direct, rtol=1e-5, atol=1e-6)
    archive = tmp_path / "train2017.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for p in paths:
            z.write(p, f"train2017/{p.name}")
    from_zip = reference_table(archive, rows, inception, n_images=4)  # names match by basename
    assert np.array_equal(from_zip.features, table.features)
    assert from_zip.keys[0] == f"train2017/{paths[-1].name}"


def test_reference_with_too_few_images_errors(extractors, tmp_path):
    paths = make_demo_images(tmp_path / "demo", 3, size=32)
    rows = coco_rows([p.name for p in paths] + ["000000000099.jpg", "000000000100.jpg"])
    with pytest.raises(FeatureError, match=r"has 3 images, at least 5 needed.*coco\.path"):
        reference_table(tmp_path / "demo", rows, extractors["inception"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(FeatureError, match="has 0 images, at least 2 needed"):
        reference_table(tmp_path / "empty", rows, extractors["inception"], n_images=2)
    with pytest.raises(FeatureError, match="not in"):  # enough images, but not the captioned ones
        reference_table(tmp_path / "demo", rows[2:], extractors["inception"])


SCRIPTS = textwrap.dedent(
    """
    import json
    import sys
    from seedscope.jobs import run_script, stand_in

    def run(script, log, input={}, output={}, params={}):
        snakemake = stand_in(input=input, output=output, params=params, log=[log], rule=script)
        run_script(f"scripts/{script}.py", snakemake)

    tmp, shard, prompts, coco_prompts, demo, settings = sys.argv[1:]
    run("build_tiny_extractor", f"{tmp}/b.log", output={"folder": f"{tmp}/inception"},
        params={"name": "inception", "proposes": None})
    common = {"extractor": "inception", "settings": json.loads(settings), "device": "cpu"}
    run("extract_features", f"{tmp}/e.log",
        input={"shard": shard, "prompts": prompts, "weights": f"{tmp}/inception"},
        output={"table": f"{tmp}/features.npz"}, params=common | {"sample": None})
    run("reference_features", f"{tmp}/r.log",
        input={"images": demo, "prompts": coco_prompts,
               "weights": f"{tmp}/inception"},
        output={"table": f"{tmp}/reference.npz"}, params=common)
    """
)


def test_scripts_run_as_snakemake_runs_them(tmp_path):
    from seedscope.prompts.rows import write_prompts

    shard = make_shard(tmp_path / "images" / "tiny" / "t" / "seeds-0003-0005.tar")
    write_prompts(PROMPTS, tmp_path / "t.jsonl")
    paths = make_demo_images(tmp_path / "demo", 3, size=32)
    write_prompts(coco_rows([p.name for p in paths]), tmp_path / "coco1.jsonl")
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            SCRIPTS,
            str(tmp_path),
            str(shard),
            str(tmp_path / "t.jsonl"),
            str(tmp_path / "coco1.jsonl"),
            str(tmp_path / "demo"),
            json.dumps(extractor_settings("inception", weights="tiny", batch_size=4)),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        env=os.environ | {"OMP_NUM_THREADS": "1"},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    features, reference = (
        read_table(tmp_path / "features.npz"),
        read_table(tmp_path / "reference.npz"),
    )
    assert len(features) == 6 and features.features.shape == (6, 32)
    assert len(reference) == 3 and set(reference.seeds) == {-1}
    log = (tmp_path / "e.log").read_text()
    assert "tiny/t/seeds-0003-0005" in log and "100%" in log
    assert (
        json.loads((tmp_path / "inception" / "config.json").read_text())["extractor"] == "inception"
    )


@pytest.mark.real_weights
def test_real_hps_weights_score_like_hpsv2():
    """Runs only where the real HPS v2.1 checkpoint is in the HF cache or SEEDSCOPE_HPS_WEIGHTS."""
    try:
        checkpoint = hps_checkpoint("v2.1", os.environ.get("SEEDSCOPE_HPS_WEIGHTS", "hub"))
    except FeatureError as err:
        pytest.skip(f"real HPS v2.1 weights are not available here (cannot be downloaded): {err}")
    settings = extractor_settings("hps", version="v2.1", weights=str(checkpoint))
    hps = load_extractor("hps", settings, "cpu")
    image = np.zeros((512, 512, 3), np.uint8)
    image[128:384, 128:384] = (220, 20, 20)
    scores = hps([image, image], ["a red square on a black background", "a photo of a dog"])
    assert 0.1 < scores[0, 0] < 0.5 and scores[0, 0] > scores[1, 0]


@pytest.mark.real_weights
def test_real_inception_weights_match_clean_fid(tmp_path):
    """Runs only where clean-fid's inception-2015-12-05.pt exists (its default folder or env)."""
    from cleanfid.fid import get_batch_features
    from cleanfid.inception_torchscript import InceptionV3W
    from cleanfid.utils import ResizeDataset

    from seedscope.features.inception import default_weights_dir

    path = os.environ.get(
        "SEEDSCOPE_INCEPTION_WEIGHTS", str(default_weights_dir() / INCEPTION_FILE)
    )
    if not os.path.isfile(path):
        pytest.skip(f"clean-fid's Inception weights {path} are not here (cannot be downloaded)")
    ours = load_inception(path, batch_size=2)
    ims = images(2)
    files = []
    for i, im in enumerate(ims):
        files.append(str(tmp_path / f"{i}.png"))
        Image.fromarray(im).save(files[-1])
    batch = torch.stack([ResizeDataset(files, mode="clean")[i] for i in range(2)])
    model = InceptionV3W(os.path.dirname(path), download=False).eval()
    expected = get_batch_features(batch, model, torch.device("cpu"))
    np.testing.assert_allclose(ours(ims), expected, rtol=1e-5, atol=1e-5)
    assert ours.dim == 2048
