"""The DINO ViT-B/8 extractor (seedscope.features.dino) on tiny random ViTs: the round trip
through build_tiny_extractor and load_extractor, batch independence, an independent
re-implementation of Particle Guidance's preprocessing and DINO's forward, and the errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import yaml
from PIL import Image
from torch.nn import functional as F

from seedscope.errors import ConfigError, FeatureError
from seedscope.extractors import EXTRACTORS, load_extractor
from seedscope.features.dino import HUB_ID, load_dino
from seedscope.tiny.extractors import TINY_DINO, build_tiny_extractor
from seedscope.validate import load_config, validate_config

from conftest import DEMO, REPO

SETTINGS = {"weights": "tiny", "batch_size": 3}


def dino_settings(**keys) -> dict:
    """The ``features.dino`` section as the validator gives it: ``keys`` over the schema's
    defaults."""
    config = yaml.safe_load(DEMO.read_text())
    config["features"]["dino"] = keys
    return validate_config(config, check_libraries=False)["features"]["dino"]


def images(n: int, seed: int = 0, shape=(64, 64)) -> list[np.ndarray]:
    """Smooth random RGB images (uint8) of one shape."""
    rng = np.random.default_rng(seed)
    h, w = shape
    out = []
    for _ in range(n):
        small = rng.integers(0, 256, (max(h // 8, 1), max(w // 8, 1), 3), dtype=np.uint8)
        out.append(np.asarray(Image.fromarray(small).resize((w, h), Image.BILINEAR)))
    return out


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return build_tiny_extractor("dino", tmp_path_factory.mktemp("dino") / "dino")


@pytest.fixture(scope="module")
def dino(folder):
    return load_extractor("dino", SETTINGS, "cpu", weights=folder)


def test_registered_and_configured():
    assert "dino" in EXTRACTORS
    assert load_config(DEMO)["features"]["dino"] == {"weights": "tiny", "batch_size": 64}
    paper = load_config(REPO / "config.yaml")["features"]["dino"]
    assert paper == {"weights": HUB_ID, "batch_size": 32}


def test_tiny_round_trip_through_the_real_loading_path(folder, dino, tmp_path):
    assert (folder / "config.json").is_file() and (folder / "model.safetensors").is_file()
    again = build_tiny_extractor("dino", tmp_path / "again")
    other = build_tiny_extractor("dino", tmp_path / "other", seed=1)
    b, c = (load_extractor("dino", SETTINGS, "cpu", weights=f) for f in (again, other))
    assert dino.meta["weights_sha256"] == b.meta["weights_sha256"] != c.meta["weights_sha256"]
    assert dino.name == "dino" and dino.needs_prompts is False and dino.batch_size == 3
    assert dino.dim == dino.meta["dim"] == TINY_DINO["hidden_size"]
    meta = dino.meta
    assert meta["extractor"] == "dino" and meta["weights"] == str(folder)
    assert meta["weights_file"] == "model.safetensors" and meta["patch_size"] == 8
    assert meta["image_size"] == TINY_DINO["image_size"] and meta["layer_norm_eps"] == 1e-6
    assert meta["tiny"]["seed"] == 0 and meta["tiny"]["arch"] == TINY_DINO
    assert {"version", "transformers", "mean", "std"} <= set(meta)
    ims = images(5)
    fa = dino(ims)
    assert fa.dtype == np.float32 and fa.shape == (5, dino.dim) and np.isfinite(fa).all()
    assert np.array_equal(fa, b(ims))  # same seed, same weights, same numbers
    assert not np.allclose(fa, c(ims))
    assert not np.allclose(fa[0], fa[1], atol=1e-3)  # different images, different embeddings
    assert dino(ims, ["prompts", "are", "ignored", "by", "dino"]).shape == (5, dino.dim)
    assert dino([]).shape == (0, dino.dim)


def test_embedding_does_not_depend_on_batch_neighbours(dino):
    target = images(1, seed=7)[0]
    alone = dino([target])[0]
    crowd = images(6, seed=8)
    odd = images(2, seed=9, shape=(40, 72))
    for batch_size in (1, 2, 4, 64):
        dino.batch_size = batch_size
        try:
            mixed = dino([*crowd[:3], odd[0], target, *crowd[3:], odd[1]])
        finally:
            dino.batch_size = SETTINGS["batch_size"]
        np.testing.assert_allclose(mixed[4], alone, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(mixed[3], dino([odd[0]])[0], rtol=1e-5, atol=1e-5)


def _reference(model, image: np.ndarray) -> torch.Tensor:
    """Particle Guidance's dino_transform and DINO's VisionTransformer.forward, written out on
    the loaded model's parameters: patch conv, CLS, DINO's position interpolation, pre-norm
    blocks (LayerNorm eps 1e-6, softmax attention, exact GELU), final LayerNorm, CLS."""
    from torchvision import transforms

    transform = transforms.Compose(
        [
            transforms.ToTensor(),
            transforms.Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
        ]
    )
    x = transform(Image.fromarray(image).convert("RGB")).unsqueeze(0)
    emb = model.embeddings
    conv = emb.patch_embeddings.projection
    patch = conv.kernel_size[0]
    x_tokens = F.conv2d(x, conv.weight, conv.bias, stride=patch).flatten(2).transpose(1, 2)
    tokens = torch.cat([emb.cls_token, x_tokens], dim=1)
    pos = emb.position_embeddings
    npatch, n = tokens.shape[1] - 1, pos.shape[1] - 1
    w, h = x.shape[2], x.shape[3]  # DINO's names: B, nc, w, h = x.shape
    if not (npatch == n and w == h):
        w0, h0 = w // patch + 0.1, h // patch + 0.1
        grid = pos[:, 1:].reshape(1, int(math.sqrt(n)), int(math.sqrt(n)), -1).permute(0, 3, 1, 2)
        grid = F.interpolate(
            grid, scale_factor=(w0 / math.sqrt(n), h0 / math.sqrt(n)), mode="bicubic"
        )
        assert int(w0) == grid.shape[-2] and int(h0) == grid.shape[-1]
        pos = torch.cat([pos[:, :1], grid.permute(0, 2, 3, 1).reshape(1, -1, pos.shape[-1])], 1)
    z = tokens + pos
    heads = model.config.num_attention_heads
    for layer in model.layers:
        ln1, ln2, att, mlp = (
            layer.layernorm_before,
            layer.layernorm_after,
            layer.attention,
            layer.mlp,
        )
        y = F.layer_norm(z, ln1.normalized_shape, ln1.weight, ln1.bias, eps=1e-6)
        b, t, c = y.shape
        q, k, v = (
            F.linear(y, m.weight, m.bias).reshape(b, t, heads, c // heads).transpose(1, 2)
            for m in (att.q_proj, att.k_proj, att.v_proj)
        )
        a = ((q @ k.transpose(-2, -1)) * (c // heads) ** -0.5).softmax(dim=-1)
        y = (a @ v).transpose(1, 2).reshape(b, t, c)
        z = z + F.linear(y, att.o_proj.weight, att.o_proj.bias)
        y = F.layer_norm(z, ln2.normalized_shape, ln2.weight, ln2.bias, eps=1e-6)
        y = F.linear(
            F.gelu(F.linear(y, mlp.fc1.weight, mlp.fc1.bias)), mlp.fc2.weight, mlp.fc2.bias
        )
        z = z + y
    final = model.layernorm
    z = F.layer_norm(z, final.normalized_shape, final.weight, final.bias, eps=1e-6)
    return z[:, 0]


@pytest.mark.parametrize(
    "shape",
    [(32, 32), (64, 64), (40, 72), (67, 61), (32, 40)],
    ids=["native", "square", "wide", "ragged", "same-count"],
)
def test_equals_a_reimplementation_of_particle_guidance_and_dino(dino, shape):
    ims = images(2, seed=3, shape=shape)
    with torch.inference_mode():
        expected = torch.cat([_reference(dino.model, im) for im in ims]).numpy()
    np.testing.assert_allclose(dino(ims), expected, rtol=1e-4, atol=1e-5)


def test_dino_interpolation_replaces_transformers(dino, folder):
    """transformers' own position interpolation gives other numbers at 64 px: the extractor
    must be running DINO's (and at the table's own 32 px both agree)."""
    from transformers import ViTModel

    plain = ViTModel.from_pretrained(folder, add_pooling_layer=False).eval()
    for shape, same in (((64, 64), False), ((32, 32), True)):
        ims = images(2, seed=4, shape=shape)
        pixels = dino.pixels(np.stack(ims))
        with torch.inference_mode():
            theirs = plain(pixel_values=pixels, interpolate_pos_encoding=True)
        theirs = theirs.last_hidden_state[:, 0].numpy()
        assert np.allclose(dino(ims), theirs, atol=1e-5) == same


def test_layer_norm_eps_is_dinos(tmp_path):
    """facebook/dino-vitb8's config keeps ViTConfig's eps 1e-12; DINO's LayerNorms use 1e-6."""
    from transformers import ViTConfig, ViTModel

    torch.manual_seed(0)
    config = ViTConfig(**(TINY_DINO | {"layer_norm_eps": 1e-12}))
    ViTModel(config, add_pooling_layer=False).save_pretrained(tmp_path / "vit")
    extractor = load_dino(dino_settings(weights=str(tmp_path / "vit")))
    assert extractor.meta["layer_norm_eps"] == 1e-6 and "tiny" not in extractor.meta
    assert {m.eps for m in extractor.model.modules() if isinstance(m, torch.nn.LayerNorm)} == {1e-6}


def test_missing_folder_names_the_key(tmp_path):
    missing = tmp_path / "nowhere"
    with pytest.raises(FeatureError) as err:
        load_extractor("dino", dino_settings(weights=str(missing)), "cpu")
    assert "features.dino.weights" in str(err.value) and str(missing) in str(err.value)
    (tmp_path / "empty").mkdir()
    with pytest.raises(FeatureError, match="features.dino.weights.*model.safetensors"):
        load_dino(dino_settings(), weights=tmp_path / "empty")


def test_hub_id_offline_with_empty_cache(tmp_path, monkeypatch):
    import huggingface_hub.constants as hf_constants

    monkeypatch.setenv("HF_HOME", str(tmp_path))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(hf_constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(FeatureError) as err:
        load_extractor("dino", dino_settings(weights=HUB_ID, batch_size=4), "cpu")
    message = str(err.value)
    assert "features.dino.weights" in message and f"huggingface-cli download {HUB_ID}" in message
    with pytest.raises(FeatureError, match="features.dino.weights"):
        load_dino(dino_settings())  # the default is the hub id


def test_other_checkpoints_and_bad_settings_are_refused(tmp_path):
    from transformers import Dinov2Config, Dinov2Model

    torch.manual_seed(0)
    tiny = {"hidden_size": 16, "num_hidden_layers": 1, "num_attention_heads": 2}
    Dinov2Model(Dinov2Config(**tiny, image_size=28, patch_size=14)).save_pretrained(tmp_path / "v2")
    with pytest.raises(FeatureError, match="features.dino.weights"):
        load_dino(dino_settings(), weights=tmp_path / "v2")
    with pytest.raises(FeatureError, match="build_tiny_extractor"):
        load_extractor("dino", dino_settings(weights="tiny"), "cpu")
    with pytest.raises(FeatureError, match="build_tiny_extractor"):
        load_dino(dino_settings(weights="tiny"))
    with pytest.raises(ConfigError, match="features.dino.batch_size"):  # the schema's check
        dino_settings(weights="tiny", batch_size=0)
    with pytest.raises(ConfigError, match="image_size"):
        dino_settings(weights="tiny", image_size=224)


def test_bad_images_are_refused(dino):
    with pytest.raises(FeatureError, match="uint8"):
        dino([np.zeros((32, 32, 3), np.float32)])
    with pytest.raises(FeatureError, match="uint8"):
        dino([np.zeros((32, 32), np.uint8)])
    with pytest.raises(FeatureError, match="patch"):
        dino([np.zeros((4, 32, 3), np.uint8)])
