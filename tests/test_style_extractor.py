"""The style extractor and its tiny network: layer naming, what is captured, the row layout,
determinism, and every error a misconfigured ``features.style`` gives."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from torchvision.models.vgg import cfgs, make_layers

from seedscope.errors import ConfigError, FeatureError
from seedscope.style.extractor import (
    GATYS_LAYERS,
    GRAM_OFFSET,
    StyleExtractor,
    layer_names,
    load_style,
)
from seedscope.style.gram import GramProjection, gram_layers
from seedscope.style.measures import MEASURES, measure_batch
from seedscope.tiny.style import TINY_STYLE_FILE, build_tiny_style
from seedscope.validate import validate_config

from conftest import DEMO


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return build_tiny_style(tmp_path_factory.mktemp("style") / "tiny", seed=0)


def style_settings(**keys) -> dict:
    """The ``features.style`` section as the validator gives it: ``keys`` over the schema's
    defaults (the demo config with its own section replaced)."""
    config = yaml.safe_load(DEMO.read_text())
    config["features"]["style"] = keys
    return validate_config(config, check_libraries=False)["features"]["style"]


def images(n: int, size: int = 64, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return list(rng.integers(0, 256, (n, size, size, 3), dtype=np.uint8))


def test_vgg19_layer_names_are_the_usual_indices():
    names = layer_names(make_layers(cfgs["E"]))
    assert [names[n] for n in GATYS_LAYERS] == [1, 6, 11, 20, 29]
    assert names["relu4_2"] == 22 and names["relu5_4"] == 35 and len(names) == 16


def test_tiny_rows_are_measures_then_projected_gram(tiny):
    extractor = load_style(style_settings(weights="tiny", dim=64, batch_size=3), weights=tiny)
    batch = images(5)
    rows = extractor(batch)
    assert rows.shape == (5, len(MEASURES) + 64) == (5, extractor.dim) and rows.dtype == np.float32
    assert extractor.name == "style" and not extractor.needs_prompts and extractor.batch_size == 3

    # the layout the table's meta records: the measure columns, then the Gram projection
    assert list(MEASURES) == extractor.meta["measure_columns"]
    assert extractor.meta["gram_offset"] == GRAM_OFFSET == len(MEASURES)
    expected = measure_batch(np.stack(batch))
    for column, name in enumerate(MEASURES):
        np.testing.assert_array_equal(rows[:, column], expected[name])
    gram = rows[:, GRAM_OFFSET:]

    # reference: the ReLU outputs captured by hooks on an untouched copy of the network
    from safetensors.torch import load_file

    reference = make_layers(json.loads((tiny / "config.json").read_text())["cfg"])
    reference.load_state_dict(load_file(tiny / TINY_STYLE_FILE))
    captured = []
    for index in sorted(layer_names(reference)[n] for n in GATYS_LAYERS):
        reference[index].register_forward_hook(lambda m, i, out: captured.append(out.clone()))
    x = torch.from_numpy(np.stack(batch)).permute(0, 3, 1, 2).float() / 255
    mean, std = torch.tensor([0.485, 0.456, 0.406]), torch.tensor([0.229, 0.224, 0.225])
    with torch.no_grad():
        reference((x - mean.view(1, 3, 1, 1)) / std.view(1, 3, 1, 1))
    projection = GramProjection(extractor.meta["channels"], 64, seed=0, nonzeros=8)
    np.testing.assert_allclose(gram, projection(gram_layers(captured)).numpy(), atol=1e-5)
    assert gram.std() > 0.01  # not a constant (dead) network


def test_tiny_is_deterministic_and_seeded(tiny, tmp_path):
    batch = images(4, seed=1)
    first = load_style(style_settings(weights="tiny"), weights=tiny)
    again = load_style(style_settings(), weights=build_tiny_style(tmp_path / "same", seed=0))
    other = load_style(style_settings(), weights=build_tiny_style(tmp_path / "other", seed=1))
    rows = first(batch)
    np.testing.assert_array_equal(rows, first(batch))
    np.testing.assert_array_equal(rows, again(batch))
    assert first.meta == again.meta and first.meta["weights"] == "tiny"
    assert not np.allclose(rows[:, GRAM_OFFSET:], other(batch)[:, GRAM_OFFSET:], atol=1e-3)
    reprojected = load_style(style_settings(projection_seed=1), weights=tiny)(batch)
    assert not np.allclose(rows[:, GRAM_OFFSET:], reprojected[:, GRAM_OFFSET:], atol=1e-3)


def test_meta_batching_and_resize(tiny):
    extractor = load_style(
        style_settings(layers=["relu3_1", "relu1_1"], image_size=32), weights=tiny
    )
    meta = extractor.meta
    assert meta["layers"] == ["relu1_1", "relu3_1"] and meta["channels"] == [8, 16]
    assert (meta["gram_offset"], meta["projection_dim"], meta["dim"]) == (5, 1024, 1029)
    assert meta["image_size"] == 32 and len(meta["weights_sha256"]) == 64
    batch = images(20, size=64, seed=2)
    rows = extractor(batch)
    np.testing.assert_allclose(rows[:7], extractor(batch[:7]), atol=1e-6)  # batches of 16 + 4
    full = load_style(style_settings(layers=["relu3_1", "relu1_1"]), weights=tiny)(batch)
    # the measures read the images as given, the Gram vectors the resized ones
    np.testing.assert_array_equal(rows[:, :GRAM_OFFSET], full[:, :GRAM_OFFSET])
    assert not np.allclose(rows[:, GRAM_OFFSET:], full[:, GRAM_OFFSET:], atol=1e-3)
    wide = extractor(images(2, size=96, seed=3))  # 96x96 -> 32x32
    assert wide.shape == (2, 1029) and extractor([]).shape == (0, 1029)


def test_vgg19_state_dict_file_loads_and_reports_its_sha256(tmp_path, monkeypatch):
    torch.manual_seed(0)
    features = make_layers(cfgs["E"])
    state = {f"features.{k}": v for k, v in features.state_dict().items()}
    state["classifier.6.bias"] = torch.zeros(1000)  # a whole vgg19 state dict: ignored
    path = tmp_path / "vgg19.pth"
    torch.save(state, path)
    extractor = load_style(style_settings(weights=str(path), layers=["relu2_1"], dim=32))
    assert extractor.meta["weights_file"] == "vgg19.pth" and extractor.meta["channels"] == [128]
    assert len(extractor.features) == 7  # truncated after relu2_1
    assert not any(getattr(m, "inplace", False) for m in extractor.features)
    rows = extractor(images(2, size=32))
    assert rows.shape == (2, len(MEASURES) + 32)

    # "torchvision" reads the same file from the torch hub cache without fetching it
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    (tmp_path / "torch" / "hub" / "checkpoints").mkdir(parents=True)
    path.rename(tmp_path / "torch" / "hub" / "checkpoints" / "vgg19-dcbb9e9d.pth")
    cached = load_style(style_settings(weights="torchvision", layers=["relu2_1"], dim=32))
    assert cached.meta["weights"] == "torchvision:VGG19_Weights.IMAGENET1K_V1"
    assert cached.meta["weights_sha256"] == extractor.meta["weights_sha256"]
    np.testing.assert_array_equal(cached(images(2, size=32)), rows)

    del state["features.0.weight"]
    torch.save(state, path)
    with pytest.raises(FeatureError, match="do not fit VGG"):
        load_style(style_settings(weights=str(path)))


def test_missing_weights_file_names_file_key_and_fix(tmp_path):
    missing = tmp_path / "vgg19-dcbb9e9d.pth"
    with pytest.raises(ConfigError, match=r"features\.style\.weights: .* is not a file"):
        style_settings(weights=str(missing))  # validation refuses it before any job
    # the job's own check: the file is gone (or never copied) where the job runs
    with pytest.raises(FeatureError) as err:
        load_style(style_settings() | {"weights": str(missing)})
    message = str(err.value)
    assert str(missing) in message and "features.style.weights" in message
    assert "https://download.pytorch.org/models/vgg19-dcbb9e9d.pth" in message


def test_torchvision_fetch_failing_offline_says_what_to_do(tmp_path, monkeypatch):
    """An empty hub cache and a proxy that refuses at once make the fetch fail fast anywhere
    (HF_HUB_OFFLINE does not apply to torchvision); here the network is unreachable anyway.
    How fast it fails: benchmarks/bench_offline_failures.py."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    for name in ("https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")
    for name in ("no_proxy", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(urllib.request, "_opener", None)  # rebuilt with the proxy above
    with pytest.raises(FeatureError) as err:
        load_style(style_settings())
    message = str(err.value)
    assert "https://download.pytorch.org/models/vgg19-dcbb9e9d.pth" in message
    assert "features.style.weights" in message and "its path" in message
    assert not list(tmp_path.rglob("*.pth"))


def test_tiny_without_folder_and_broken_folders(tiny, tmp_path):
    with pytest.raises(FeatureError, match=r"features\.style\.weights.*build_tiny_style\(folder\)"):
        load_style(style_settings(weights="tiny"))
    with pytest.raises(FeatureError, match="unreadable"):
        load_style(style_settings(), weights=tmp_path)  # a folder without config.json
    broken = build_tiny_style(tmp_path / "broken")
    (broken / TINY_STYLE_FILE).write_bytes(b"not safetensors")
    with pytest.raises(FeatureError, match="do not load"):
        load_style(style_settings(), weights=broken)
    (broken / TINY_STYLE_FILE).unlink()
    with pytest.raises(FeatureError, match="do not load"):
        load_style(style_settings(), weights=broken)
    config = json.loads((tiny / "config.json").read_text())
    (broken / "config.json").write_text(json.dumps(config | {"extractor": "inception"}))
    with pytest.raises(FeatureError, match="not a tiny style extractor"):
        load_style(style_settings(), weights=broken)


def test_bad_settings_and_inputs(tiny):
    # what the network decides: layer names it has, each once
    with pytest.raises(FeatureError, match=r"unknown \['relu6_1'\].*relu5_2"):
        load_style(style_settings(layers=["relu1_1", "relu6_1"]), weights=tiny)
    with pytest.raises(FeatureError, match="distinct"):
        load_style(style_settings(layers=["relu1_1", "relu1_1"]), weights=tiny)
    # what validation refuses before any job (the schema, and the validator for measure)
    with pytest.raises(ConfigError, match=r"features\.style\.measure: \['sky_bands'\]"):
        style_settings(measure={"sky_bands": 0.5})
    with pytest.raises(ConfigError, match=r"features\.style\.image_size: 0 .* minimum of 16"):
        style_settings(image_size=0)
    for key in ("dim", "nonzeros", "batch_size"):
        with pytest.raises(ConfigError, match=rf"features\.style\.{key}: 0 .* minimum"):
            style_settings(**{key: 0})
    with pytest.raises(ConfigError, match=r"features\.style\.layers: 'relu1_1' is not of type"):
        style_settings(layers="relu1_1")
    # a cross-key rule the schema cannot state: the projection's dim and nonzeros
    with pytest.raises(ConfigError, match="nonzeros"):
        load_style(style_settings(dim=100), weights=tiny)
    extractor = load_style(style_settings(), weights=tiny)
    with pytest.raises(FeatureError, match="one size"):
        extractor(images(1, size=64) + images(1, size=48))


def test_measure_settings_reach_the_measures(tiny):
    batch = [np.full((64, 64, 3), 250, np.uint8)]
    batch[0][32:] = 0  # white top half, black bottom half
    default = load_style(style_settings(), weights=tiny)
    tall = load_style(style_settings(measure={"sky_band": 1.0}), weights=tiny)
    assert default.meta["measure"] == {} and tall.meta["measure"] == {"sky_band": 1.0}
    sky = MEASURES.index("sky_fraction")
    # the band of the whole image: rows 0-30 are sky (row 31 steps down to black)
    assert default(batch)[0, sky] == 1.0 and tall(batch)[0, sky] == 31 / 64


def test_extractor_protocol_attributes(tiny):
    extractor = load_style(style_settings(), weights=tiny)
    assert isinstance(extractor, StyleExtractor)
    for name in ("name", "dim", "batch_size", "needs_prompts", "meta"):
        assert hasattr(extractor, name)
    assert extractor.meta["extractor"] == "style" and extractor.meta["tiny_seed"] == 0


@pytest.mark.real_weights
def test_real_vgg19_from_the_torch_hub_cache():
    """VGG-19's ImageNet weights, where torchvision has fetched them (skipped elsewhere)."""
    cached = Path(torch.hub.get_dir()) / "checkpoints" / "vgg19-dcbb9e9d.pth"
    if not cached.is_file():
        pytest.skip(f"{cached} is absent; fetch it where the internet is reachable")
    extractor = load_style(style_settings(weights="torchvision", dim=256))
    assert extractor.meta["weights_sha256"].startswith("dcbb9e9d")
    assert extractor.meta["channels"] == [64, 128, 256, 512, 512]
    rows = extractor(images(2, size=128))
    assert rows.shape == (2, len(MEASURES) + 256) and np.isfinite(rows).all()
    from_file = load_style(style_settings(weights=str(cached), dim=256))
    np.testing.assert_allclose(rows, from_file(images(2, size=128)))
