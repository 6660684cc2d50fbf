"""The per-image quality scores PickScore, CLIPScore and the LAION aesthetic predictor
(seedscope/features/{pickscore,clipscore,aesthetic}.py) on tiny random CLIPs: built by
build_tiny_extractor, loaded by load_extractor, each score against its published formula
computed here independently (open_clip's tokenizer, torchvision's CLIP preprocessing, the
model's towers called directly, torchmetrics' CLIPScore), batch independence, the tokenizer
against open_clip's, and the errors."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch
import yaml
from PIL import Image

from seedscope.config import apply_schema
from seedscope.errors import ConfigError, FeatureError
from seedscope.extractors import EXTRACTORS, load_extractor
from seedscope.features.aesthetic import AestheticMLP
from seedscope.files import file_sha256
from seedscope.tiny.extractors import TINY_EXTRACTORS, build_tiny_extractor
from seedscope.tiny.scorers import TINY_CLIP, TINY_MLP_FILE, clip_bpe

from conftest import DEMO

SCORERS = ("pickscore", "clipscore", "aesthetic")
PROMPTS = ["a photo of a cat", "a red car, parked in the city's street!", "two dogs"]
MEAN = (0.48145466, 0.4578275, 0.40821073)  # OpenAI CLIP's, as the clip package normalises
STD = (0.26862954, 0.26130258, 0.27577711)


def section(name: str, **keys) -> dict:
    """The ``features.<name>`` section as the schema gives it: ``keys`` over its defaults."""
    config = yaml.safe_load(DEMO.read_text())
    config["features"] = {name: keys}
    return apply_schema(config)["features"][name]


def images(n: int, seed: int = 0, shapes=((48, 48), (64, 48), (40, 56))) -> list[np.ndarray]:
    """Smooth random RGB images (uint8) of a few shapes."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        h, w = shapes[i % len(shapes)]
        small = rng.integers(0, 256, (h // 8, w // 8, 3), dtype=np.uint8)
        out.append(np.asarray(Image.fromarray(small).resize((w, h), Image.BILINEAR)))
    return out


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("scorers")
    return {name: build_tiny_extractor(name, root / name) for name in SCORERS}


@pytest.fixture(scope="module")
def scorers(folders):
    return {
        name: load_extractor(name, section(name, weights="tiny", batch_size=4), "cpu", folder)
        for name, folder in folders.items()
    }


# --- an independent computation of each published formula --------------------------------


def reference_pixels(image: np.ndarray, size: int) -> torch.Tensor:
    """The openai clip package's ``preprocess`` at ``size`` px: PIL bicubic resize of the
    shorter side, centre crop, ToTensor, Normalize (torchvision, not transformers)."""
    from torchvision import transforms

    preprocess = transforms.Compose(
        [
            transforms.Resize(size, interpolation=transforms.InterpolationMode.BICUBIC),
            transforms.CenterCrop(size),
            transforms.ToTensor(),
            transforms.Normalize(MEAN, STD),
        ]
    )
    return preprocess(Image.fromarray(image).convert("RGB"))


def reference_image_embeddings(model, ims: list[np.ndarray]) -> np.ndarray:
    """Vision tower -> pooled output -> visual projection, then L2-normalised with numpy (as
    the aesthetic reference's ``normalized``)."""
    size = model.config.vision_config.image_size
    pixels = torch.stack([reference_pixels(im, size) for im in ims])
    with torch.no_grad():
        pooled = model.vision_model(pixel_values=pixels).pooler_output
        e = model.visual_projection(pooled).numpy().astype(np.float64)
    return e / np.linalg.norm(e, axis=-1, keepdims=True)


def reference_text_embeddings(model, prompts: list[str]) -> np.ndarray:
    """open_clip's CLIP tokens (up to the end token), one prompt at a time, through the text
    tower and its projection, L2-normalised."""
    import open_clip

    tokenizer = open_clip.get_tokenizer("ViT-L-14")
    out = []
    for prompt in prompts:
        ids = tokenizer([prompt])[0].tolist()
        ids = ids[: ids.index(49407) + 1]
        with torch.no_grad():
            pooled = model.text_model(input_ids=torch.tensor([ids])).pooler_output
            out.append(model.text_projection(pooled)[0].numpy().astype(np.float64))
    e = np.stack(out)
    return e / np.linalg.norm(e, axis=-1, keepdims=True)


def reference_cosines(folder, ims, prompts) -> tuple[np.ndarray, object]:
    from transformers import CLIPModel

    model = CLIPModel.from_pretrained(folder).eval()
    image = reference_image_embeddings(model, ims)
    text = reference_text_embeddings(model, prompts)
    return (image * text).sum(-1), model


# --- registry, schema, tiny folders -------------------------------------------------------


def test_registered_with_schema_defaults():
    for name in (*SCORERS, "imagereward"):
        assert name in EXTRACTORS and name in TINY_EXTRACTORS
    assert section("pickscore") == {
        "weights": "hub",
        "model": "yuvalkirstain/PickScore_v1",
        "processor": "laion/CLIP-ViT-H-14-laion2B-s32B-b79K",
        "batch_size": 32,
    }
    assert section("clipscore") == {
        "weights": "hub",
        "model": "openai/clip-vit-large-patch14",
        "batch_size": 32,
    }
    assert section("aesthetic") == {
        "weights": "hub",
        "clip": "openai/clip-vit-large-patch14",
        "mlp_repo": "camenduru/improved-aesthetic-predictor",
        "mlp_file": "sac+logos+ava1-l14-linearMSE.pth",
        "batch_size": 32,
    }
    assert section("imagereward") == {
        "weights": "hub",
        "med_config": "hub",
        "tokenizer": "bert-base-uncased",
        "batch_size": 32,
    }
    with pytest.raises(ConfigError, match="batch_size"):
        section("pickscore", batch_size=0)
    with pytest.raises(ConfigError, match="clipscore"):
        section("clipscore", processor="x")  # clipscore's processor is its model's


def test_scorer_attributes_and_meta(folders, scorers):
    for name, scorer in scorers.items():
        assert scorer.name == name and scorer.dim == 1 and scorer.batch_size == 4
        assert scorer.needs_prompts == (name != "aesthetic")
        meta = scorer.meta
        assert meta["extractor"] == name and meta["dim"] == 1 and meta["model"] == "tiny"
        assert meta["tiny"]["extractor"] == name and meta["tiny"]["seed"] == 0
        clip = meta["clip"] if name == "aesthetic" else meta
        assert clip["weights_file"] == "model.safetensors"
        assert clip["weights_sha256"] == file_sha256(folders[name] / "model.safetensors")
        assert clip["transformers"] and clip["image_backend"] == "pil"
        json.dumps(meta)  # goes into every feature table
    meta = scorers["aesthetic"].meta
    assert meta["weights_file"] == TINY_MLP_FILE
    assert meta["weights_sha256"] == file_sha256(folders["aesthetic"] / TINY_MLP_FILE)
    assert scorers["pickscore"].meta["logit_scale"] == pytest.approx(100.0, rel=1e-5)


def test_tiny_folders_load_through_from_pretrained_and_are_seeded(folders, tmp_path):
    from transformers import CLIPModel, CLIPProcessor

    for folder in folders.values():
        names = {p.name for p in folder.iterdir()}
        assert {"config.json", "model.safetensors", "vocab.json", "merges.txt"} <= names
        assert {"tokenizer.json", "seedscope-tiny.json"} <= names
        model = CLIPModel.from_pretrained(folder)
        assert model.config.projection_dim == TINY_CLIP["projection_dim"]
        processor = CLIPProcessor.from_pretrained(folder)
        assert processor.image_processor.crop_size == {"height": 32, "width": 32}
    again = build_tiny_extractor("clipscore", tmp_path / "again")
    other = build_tiny_extractor("clipscore", tmp_path / "other", seed=1)
    same = file_sha256(again / "model.safetensors")
    assert same == file_sha256(folders["clipscore"] / "model.safetensors")
    assert same != file_sha256(other / "model.safetensors")
    mlp = torch.load(folders["aesthetic"] / TINY_MLP_FILE, weights_only=True)
    assert list(mlp) == list(AestheticMLP(32).state_dict())  # the published key layout
    assert list(mlp)[:2] == ["layers.0.weight", "layers.0.bias"]


def test_tiny_tokenizer_matches_open_clip(folders, tmp_path):
    """vocab.json and merges.txt as the Hugging Face CLIP repos hold them, and the saved
    tokenizer, give open_clip's token ids, truncation included."""
    import open_clip
    from transformers import CLIPProcessor, CLIPTokenizer

    vocab, merges = clip_bpe()
    assert len(vocab) == 49408 and len(merges) == 48894
    folder = folders["clipscore"]
    ids = json.loads((folder / "vocab.json").read_text(encoding="utf-8"))
    assert len(ids) == 49408 and ids["<|startoftext|>"] == 49406 and ids["<|endoftext|>"] == 49407
    lines = (folder / "merges.txt").read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("#version") and len(lines) == 1 + 48894
    only_files = tmp_path / "bpe"
    only_files.mkdir()
    for file in ("vocab.json", "merges.txt"):
        shutil.copy(folder / file, only_files / file)
    reference = open_clip.get_tokenizer("ViT-L-14")
    prompts = [
        *PROMPTS,
        "An astronaut riding a horse on Mars, 4k, trending on ArtStation",
        "3 bowls of fruit   on a 1970s table (close-up); café au lait",
        " ".join(["a very long prompt about a small red bird"] * 12),  # > 77 tokens
    ]
    tokenizers = {
        "saved": CLIPProcessor.from_pretrained(folder).tokenizer,
        "vocab+merges": CLIPTokenizer.from_pretrained(only_files),
        "pickscore": CLIPProcessor.from_pretrained(folders["pickscore"]).tokenizer,
    }
    for prompt in prompts:
        expected = reference([prompt])[0].tolist()
        expected = expected[: expected.index(49407) + 1]
        for which, tokenizer in tokenizers.items():
            got = tokenizer(prompt, truncation=True, max_length=77)["input_ids"]
            assert got == expected, (which, prompt)
    assert len(expected) == 77  # the long prompt was cut, its end token kept last
    assert tokenizers["pickscore"].pad_token == "<|endoftext|>"
    assert tokenizers["saved"]("wow!! !")["input_ids"] == [49406, 2781, 748, 256, 49407]


def test_pickscore_is_logit_scale_times_cosine(folders, scorers):
    ims = images(5)
    prompts = [PROMPTS[i % 3] for i in range(5)]
    cos, model = reference_cosines(folders["pickscore"], ims, prompts)
    expected = float(model.logit_scale.detach().exp()) * cos
    got = scorers["pickscore"](ims, prompts)
    assert got.shape == (5, 1) and got.dtype == np.float32
    np.testing.assert_allclose(got[:, 0], expected, rtol=1e-4, atol=1e-3)
    assert np.ptp(got) > 0.1  # prompts and images change it


def test_clipscore_is_100_times_clipped_cosine(folders, scorers, tmp_path):
    from transformers import CLIPModel

    ims = images(5)
    prompts = [PROMPTS[i % 3] for i in range(5)]
    cos, _ = reference_cosines(folders["clipscore"], ims, prompts)
    assert (cos > 0).all()  # the tiny builder orients the random towers so
    got = scorers["clipscore"](ims, prompts)[:, 0]
    np.testing.assert_allclose(got, 100 * np.maximum(cos, 0), rtol=1e-4, atol=1e-3)
    # The same CLIP with its image embeddings negated: every cosine negative, every score 0.
    flipped = tmp_path / "flipped"
    model = CLIPModel.from_pretrained(folders["clipscore"])
    with torch.no_grad():
        model.visual_projection.weight.neg_()
    model.save_pretrained(flipped)
    for file in ("tokenizer.json", "tokenizer_config.json", "processor_config.json"):
        shutil.copy(folders["clipscore"] / file, flipped / file)
    negative = load_extractor("clipscore", section("clipscore", weights=str(flipped)), "cpu")
    assert negative.meta["model"] == str(flipped) and "tiny" not in negative.meta
    np.testing.assert_array_equal(negative(ims, prompts), np.zeros((5, 1), np.float32))


def test_clipscore_equals_torchmetrics(folders, scorers):
    """torchmetrics' CLIPScore, one image per update (it clips the mean of an update), on the
    tiny model. Its model argument is a callable giving (model, processor): the processor is
    loaded as ours (PIL backend), and the model's get_*_features return the embedding tensor
    as in transformers 4, which torchmetrics 1.9 expects (transformers 5 returns a model
    output with it as pooler_output)."""
    pytest.importorskip("torchmetrics", reason="pip install torchmetrics (the dev extra)")
    from torchmetrics.multimodal import CLIPScore
    from transformers import CLIPModel, CLIPProcessor

    class Transformers4Outputs(torch.nn.Module):
        def __init__(self, model):
            super().__init__()
            self.model, self.config = model, model.config

        def get_image_features(self, *args, **kwargs):
            return self.model.get_image_features(*args, **kwargs).pooler_output

        def get_text_features(self, *args, **kwargs):
            return self.model.get_text_features(*args, **kwargs).pooler_output

    folder = folders["clipscore"]

    def model_and_processor():
        model = CLIPModel.from_pretrained(folder).eval()
        return Transformers4Outputs(model), CLIPProcessor.from_pretrained(folder, backend="pil")

    metric = CLIPScore(model_name_or_path=model_and_processor)
    ims = images(4)
    prompts = [PROMPTS[i % 3] for i in range(4)]
    theirs = []
    for image, prompt in zip(ims, prompts, strict=True):
        metric.reset()
        metric.update(torch.from_numpy(image.copy()).permute(2, 0, 1), prompt)
        theirs.append(float(metric.compute()))
    ours = scorers["clipscore"](ims, prompts)[:, 0]
    np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-3)


def test_aesthetic_is_the_mlp_of_the_normalised_image_embedding(folders, scorers, tmp_path):
    """The tiny MLP is nearly constant on a random CLIP's nearly parallel embeddings; the MLP
    has no activations, so its first layer scaled by 1,000 spreads the scores 1,000 times
    wider. That MLP is loaded as a local weights file beside the tiny CLIP (the clip key)."""
    from transformers import CLIPModel

    ims = images(5)
    model = CLIPModel.from_pretrained(folders["aesthetic"]).eval()
    embeddings = reference_image_embeddings(model, ims)
    state = torch.load(folders["aesthetic"] / TINY_MLP_FILE, weights_only=True)
    state["layers.0.weight"] = state["layers.0.weight"] * 1000
    torch.save(state, tmp_path / "sharp.pth")
    head = torch.nn.Module()  # the reference's MLP(768), at the tiny model's 32 dimensions
    head.layers = torch.nn.Sequential(
        torch.nn.Linear(32, 1024),
        torch.nn.Dropout(0.2),
        torch.nn.Linear(1024, 128),
        torch.nn.Dropout(0.2),
        torch.nn.Linear(128, 64),
        torch.nn.Dropout(0.1),
        torch.nn.Linear(64, 16),
        torch.nn.Linear(16, 1),
    )
    head.load_state_dict(state)
    with torch.no_grad():
        expected = head.eval().layers(torch.from_numpy(embeddings).float())[:, 0].numpy()
    settings = section("aesthetic", clip=str(folders["aesthetic"]), batch_size=2)
    sharp = load_extractor("aesthetic", settings, "cpu", tmp_path / "sharp.pth")
    got = sharp(ims)
    assert np.ptp(expected) > 0.1  # images change it
    np.testing.assert_allclose(got[:, 0], expected, rtol=1e-4, atol=1e-3)
    np.testing.assert_array_equal(sharp(ims, ["anything"] * 5), got)  # prompts are not used
    tiny = scorers["aesthetic"](ims)[:, 0]  # the tiny MLP itself, through its marker
    head.load_state_dict(torch.load(folders["aesthetic"] / TINY_MLP_FILE, weights_only=True))
    with torch.no_grad():
        expected = head.layers(torch.from_numpy(embeddings).float())[:, 0].numpy()
    np.testing.assert_allclose(tiny, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", SCORERS)
def test_batch_independence(name, folders, scorers):
    ims = images(7, seed=3)
    prompts = [PROMPTS[i % 3] for i in range(7)]
    one = load_extractor(name, section(name, weights="tiny", batch_size=1), "cpu", folders[name])
    np.testing.assert_allclose(one(ims, prompts), scorers[name](ims, prompts), atol=1e-5)
    reversed_scores = scorers[name](ims[::-1], prompts[::-1])[::-1]
    np.testing.assert_allclose(reversed_scores, scorers[name](ims, prompts), atol=1e-5)
    assert scorers[name]([], []).shape == (0, 1)


@pytest.mark.parametrize("name", ["pickscore", "clipscore"])
def test_prompt_sensitive_scores_change_with_the_prompt(name, scorers):
    image = images(1)
    scores = [float(scorers[name](image, [p])[0, 0]) for p in PROMPTS]
    assert len(set(scores)) == len(PROMPTS)
    with pytest.raises(FeatureError, match="pairs"):
        scorers[name](images(2), ["one prompt"])
    with pytest.raises(FeatureError, match="pairs"):
        scorers[name](images(2))


def test_bad_images_are_refused(scorers):
    with pytest.raises(FeatureError, match="uint8"):
        scorers["aesthetic"]([np.zeros((32, 32, 3), np.float32)])
    with pytest.raises(FeatureError, match="HxWx3"):
        scorers["pickscore"]([np.zeros((32, 32), np.uint8)], ["a cat"])


# --- errors -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", SCORERS)
def test_missing_folder_and_tiny_without_folder(name, tmp_path):
    missing = tmp_path / "nowhere"
    with pytest.raises(FeatureError) as err:
        load_extractor(name, section(name, weights=str(missing)), "cpu")
    assert f"features.{name}.weights" in str(err.value) and str(missing) in str(err.value)
    with pytest.raises(FeatureError, match="build_tiny_extractor"):
        load_extractor(name, section(name, weights="tiny"), "cpu")


@pytest.fixture
def empty_offline_cache(tmp_path, monkeypatch):
    import huggingface_hub.constants as hf_constants

    monkeypatch.setenv("HF_HOME", str(tmp_path))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(hf_constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", True)


def test_hub_weights_offline_with_empty_cache(empty_offline_cache, folders):
    with pytest.raises(FeatureError) as err:
        load_extractor("pickscore", section("pickscore"), "cpu")
    message = str(err.value)
    assert "features.pickscore.model" in message and "model.safetensors" in message
    assert "huggingface-cli download yuvalkirstain/PickScore_v1" in message
    with pytest.raises(FeatureError) as err:  # the model is here, its processor is not
        load_extractor("pickscore", section("pickscore", model=str(folders["clipscore"])), "cpu")
    message = str(err.value)
    assert "features.pickscore.processor" in message
    assert "huggingface-cli download laion/CLIP-ViT-H-14-laion2B-s32B-b79K" in message
    with pytest.raises(FeatureError) as err:
        load_extractor("clipscore", section("clipscore"), "cpu")
    message = str(err.value)
    assert "features.clipscore.model" in message
    assert "huggingface-cli download openai/clip-vit-large-patch14" in message
    with pytest.raises(FeatureError) as err:
        load_extractor("aesthetic", section("aesthetic"), "cpu")
    message = str(err.value)
    assert "sac+logos+ava1-l14-linearMSE.pth" in message
    assert "camenduru/improved-aesthetic-predictor" in message
    assert "features.aesthetic.weights" in message


def test_wrong_files_are_refused(folders, tmp_path):
    with pytest.raises(FeatureError, match="tiny 'clipscore' extractor, not 'pickscore'"):
        load_extractor("pickscore", section("pickscore"), "cpu", folders["clipscore"])
    # the published MLP's 768-d input against a 32-d CLIP
    published = tmp_path / "sac+logos+ava1-l14-linearMSE.pth"
    torch.save(AestheticMLP(768).state_dict(), published)
    tiny_clip = str(folders["clipscore"])
    with pytest.raises(FeatureError, match="768-d embeddings .* 32-d"):
        load_extractor("aesthetic", section("aesthetic", clip=tiny_clip), "cpu", published)
    # a folder holding the file is taken too (a clone of the reference repository)
    with pytest.raises(FeatureError, match="768-d embeddings"):
        load_extractor("aesthetic", section("aesthetic", clip=tiny_clip), "cpu", tmp_path)
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"not a checkpoint")
    with pytest.raises(FeatureError, match="does not load.*features.aesthetic.weights"):
        load_extractor("aesthetic", section("aesthetic", clip=tiny_clip), "cpu", garbage)
    other = tmp_path / "other.pth"
    torch.save({"layers.0.weight": torch.zeros(1024, 32), "extra": torch.zeros(1)}, other)
    with pytest.raises(FeatureError, match="not the MLP"):
        load_extractor("aesthetic", section("aesthetic", clip=tiny_clip), "cpu", other)
    # a 32-d MLP file with the tiny CLIP of the clip key loads: the real loading path
    mlp = tmp_path / "mlp32.pth"
    shutil.copy(folders["aesthetic"] / TINY_MLP_FILE, mlp)
    clip = str(folders["aesthetic"])
    scorer = load_extractor("aesthetic", section("aesthetic", clip=clip), "cpu", mlp)
    assert scorer.meta["model"] != "tiny" and scorer.meta["weights_file"] == "mlp32.pth"
    assert scorer(images(1)).shape == (1, 1)
    # a folder that is not a CLIPModel
    (tmp_path / "empty").mkdir()
    with pytest.raises(FeatureError, match="features.clipscore.weights.*model.safetensors"):
        load_extractor("clipscore", section("clipscore"), "cpu", tmp_path / "empty")
