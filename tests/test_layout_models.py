"""The layout extractor end to end on the tiny Mask2Former and Depth Anything, and its errors.

Random weights detect nothing above the threshold, so the found path is exercised by a model
whose class head is biased towards "dog" (every query then predicts a dog with a mask score above
0.5); the selection logic itself is tested on constructed outputs in ``test_layout.py``.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch
import yaml

from seedscope.errors import ConfigError, FeatureError
from seedscope.layout.extractor import load_layout
from seedscope.layout.labels import COCO_LABELS
from seedscope.layout.measures import LAYOUT_COLUMNS
from seedscope.tiny.layout import build_tiny_layout
from seedscope.tiny_nets import FORMAT, read_tiny_config
from seedscope.validate import validate_config

from conftest import DEMO

os.environ["HF_HUB_OFFLINE"] = "1"


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return build_tiny_layout(tmp_path_factory.mktemp("tiny-layout"), seed=0)


@pytest.fixture(scope="module")
def extractor(tiny):
    return load_layout(layout_settings(batch_size=4), weights=tiny)


def layout_settings(**keys) -> dict:
    """The ``features.layout`` section as the validator gives it: ``keys`` over the schema's
    defaults (the demo config with its own section replaced)."""
    config = yaml.safe_load(DEMO.read_text())
    config["features"]["layout"] = keys
    return validate_config(config, check_libraries=False)["features"]["layout"]


def images(n: int, seed: int = 0, size: int = 64) -> list[np.ndarray]:
    return list(np.random.default_rng(seed).integers(0, 256, (n, size, size, 3), dtype=np.uint8))


def test_tiny_folder_and_meta(tiny, extractor):
    config = read_tiny_config(tiny, "layout")
    assert config["format"] == FORMAT and config["seed"] == 0
    assert extractor.name == "layout" and extractor.dim == 5 and extractor.batch_size == 4
    assert extractor.needs_objects and not extractor.needs_prompts
    assert extractor.segmenter.config.id2label == dict(enumerate(COCO_LABELS))
    meta = extractor.meta
    assert meta["extractor"] == "layout" and meta["columns"] == list(LAYOUT_COLUMNS)
    assert meta["score_threshold"] == 0.5 and meta["depth_output"] == "disparity"
    assert "larger is farther" in meta["depth_convention"]
    for key in ("segmenter", "depth"):
        assert meta[key]["folder"] == str((tiny / key).resolve())
        assert len(meta[key]["sha256"]) == 64
    assert meta["segmenter"]["sha256"] != meta["depth"]["sha256"]


def test_runs_end_to_end_deterministically(tiny, extractor, tmp_path):
    batch = images(10)
    objects = ["dog", "cat", "person", "sofa", "tv"] * 2
    with pytest.raises(ConfigError, match="'sofa'"):
        extractor(batch, objects)
    objects[3] = objects[8] = "couch"
    out = extractor(batch, objects)
    assert out.shape == (10, 5) and out.dtype == np.float32
    assert set(np.unique(out[:, 0])) <= {0.0, 1.0}
    assert np.isnan(out[out[:, 0] == 0, 1:]).all()
    np.testing.assert_array_equal(out, extractor(batch, objects))
    again = load_layout(
        layout_settings(batch_size=8), weights=build_tiny_layout(tmp_path / "again", 0)
    )
    np.testing.assert_array_equal(out, again(batch, objects))
    assert extractor([], []).shape == (0, 5)
    with pytest.raises(FeatureError, match="one object name per image"):
        extractor(batch, objects[:3])


def test_found_objects_are_measured_and_batches_do_not_mix(tiny):
    biased = load_layout(layout_settings(batch_size=3), weights=tiny)
    with torch.no_grad():  # every query becomes a confident dog
        biased.segmenter.class_predictor.bias[biased.label2id["dog"]] = 30.0
    batch = images(7, seed=1)
    objects = ["dog", "cat", "dog", "dog", "bird", "dog", "cat"]
    out = biased(batch, objects)
    is_dog = np.array([o == "dog" for o in objects])
    np.testing.assert_array_equal(out[:, 0], is_dog.astype(np.float32))
    assert ((out[is_dog, 1:] >= 0) & (out[is_dog, 1:] <= 1)).all()
    assert (out[is_dog, 3] > 0).all()
    one_by_one = np.concatenate([biased([im], [o]) for im, o in zip(batch, objects, strict=True)])
    np.testing.assert_allclose(out, one_by_one, atol=1e-5)


def test_hub_weights_take_segmenter_and_depth_as_given(tiny):
    folders = {"segmenter": str(tiny / "segmenter"), "depth": str(tiny / "depth")}
    extractor = load_layout(layout_settings(weights="hub", **folders))
    assert extractor.meta["segmenter"]["source"] == folders["segmenter"]
    assert "tiny" not in extractor.meta


def test_tiny_requires_a_folder_and_bad_settings_fail():
    with pytest.raises(FeatureError, match="weights is 'tiny' but no tiny layout folder"):
        load_layout(layout_settings(weights="tiny"))
    # the schema's: unknown keys, the threshold's and the batch size's ranges
    with pytest.raises(ConfigError, match=r"features\.layout: .*'segmentor' was unexpected"):
        layout_settings(segmentor="x")
    with pytest.raises(ConfigError, match=r"features\.layout\.score_threshold: 1\.5 .* maximum"):
        layout_settings(score_threshold=1.5)
    with pytest.raises(ConfigError, match=r"features\.layout\.batch_size: 0 .* minimum"):
        layout_settings(batch_size=0)
    # the loader's: the schema takes any string as weights, and checks no alias's COCO label
    with pytest.raises(ConfigError, match="weights is 'large'"):
        load_layout(layout_settings(weights="large"))
    with pytest.raises(ConfigError, match="'sofa'"):
        load_layout(layout_settings(labels={"sofa": "sofa"}))


def test_missing_local_folder_names_the_key_and_the_fix(tmp_path):
    # validation refuses such a folder (test_appearance); here it is gone where the job runs
    settings = layout_settings() | {"segmenter": str(tmp_path / "nowhere")}
    with pytest.raises(FeatureError, match=r"features.layout.segmenter: local folder .* does no"):
        load_layout(settings)


def test_hub_id_not_in_the_offline_cache_names_the_key_and_the_fix(tiny, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    depth = "seedscope-test/no-such-depth"
    settings = layout_settings(segmenter=str(tiny / "segmenter"), depth=depth)
    with pytest.raises(FeatureError) as err:
        load_layout(settings)
    message = str(err.value)
    assert "features.layout.depth" in message and "Hugging Face hub id" in message
    assert "huggingface-cli download seedscope-test/no-such-depth" in message


def test_a_folder_of_the_wrong_model_is_refused(tiny):
    with pytest.raises(FeatureError, match="segmenter: .* is not a Mask2Former.*missing"):
        load_layout(layout_settings(segmenter=str(tiny / "depth")))
