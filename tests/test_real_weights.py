"""The paper's real models, where their weights and a GPU exist (marker ``real_weights``).

SD 2-base and SDXL Turbo, loaded from the Hugging Face cache exactly as the paper config names
them, render a small shard at batch 1; plain diffusers, set up from the seed bank's settings,
must render the same images. On a GPU node with the weights in the cache:

    pip install hpsv2 && HF_HUB_OFFLINE=1 python -m pytest -m real_weights

which also runs HPS against the reference package's ``hpsv2.score`` here, and the two
real-weights tests of test_features (HPS v2.1 on a known image, Inception features against
clean-fid's own), and PickScore, CLIPScore (``pip install torchmetrics``) and the LAION aesthetic
predictor against their reference computations. Elsewhere each test is skipped with the reason.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from seedscope.generate import render_shard
from seedscope.models import load_pipeline
from seedscope.seedbank import MODEL_KEYS, pipeline_settings
from seedscope.seedbank import load_pipeline as load_bank_pipeline
from seedscope.shards import ShardReader, image_key, verify
from seedscope.validate import load_config

from conftest import REPO

pytestmark = pytest.mark.real_weights

PROMPTS = [{"id": "r-00000", "text": "a photo of a red apple on a wooden table"}]
SEEDS = [0, 1]
STEPS = {"sd2": 10, "sdxl-turbo": 1}  # fewer than the study's sd2 steps: the test checks equality
LEVELS = 2  # float16 on a GPU: the engine's batched path and plain diffusers' call may differ


def _cached(repo: str) -> str:
    """The local snapshot of ``repo`` in the Hugging Face cache, or a skip saying why not."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        return snapshot_download(repo, local_files_only=True)
    except LocalEntryNotFoundError:
        pytest.skip(
            f"{repo} is not in the Hugging Face cache (it cannot be downloaded here); run "
            f"`huggingface-cli download {repo}` on a machine with network access"
        )


@pytest.mark.parametrize("model", ["sd2", "sdxl-turbo"])
def test_paper_model_shard_matches_plain_diffusers(model, tmp_path, monkeypatch):
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA GPU: the paper's models at 512 px take minutes per image on CPU")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    spec = dict(load_config(REPO / "config.yaml")["models"][model])
    _cached(spec["weights"])
    spec |= {"steps": STEPS[model], "batch_size": 1}
    shard = tmp_path / "seeds-0000-0001.tar"
    render_shard(load_pipeline(model, spec, "cuda"), model, spec, "t", PROMPTS, SEEDS, shard, 2)
    assert verify(shard) == len(SEEDS)
    bank = {"model": {"name": model, **{k: spec.get(k) for k in MODEL_KEYS}, "device": "cuda"}}
    call = pipeline_settings(bank, "cuda")["call"]
    pipe = load_bank_pipeline(bank, "cuda")
    pipe.set_progress_bar_config(disable=True)
    reader = ShardReader(shard)
    stored = {}
    for seed in SEEDS:
        generator = torch.Generator("cpu").manual_seed(seed)
        image = pipe(PROMPTS[0]["text"], generator=generator, **call).images[0]
        stored[seed] = np.asarray(reader.image(image_key(PROMPTS[0]["id"], seed)), int)
        assert np.abs(np.asarray(image, int) - stored[seed]).max() <= LEVELS
    assert np.abs(stored[0] - stored[1]).max() > 10 * LEVELS  # another seed, another image


@pytest.mark.parametrize("version", ["v2.0", "v2.1"])
def test_hps_scores_like_hpsv2(version, tmp_path):
    """seedscope's HPS extractor against the reference package's own ``hpsv2.score``."""
    from PIL import Image

    from seedscope.errors import FeatureError
    from seedscope.extractors import load_extractor
    from seedscope.features.hps import hps_checkpoint

    hpsv2 = pytest.importorskip("hpsv2", reason="the reference scorer: pip install hpsv2")
    try:
        checkpoint = hps_checkpoint(version, "hub")
    except FeatureError as err:
        pytest.skip(f"HPS {version} weights are not available here: {err}")
    device = "cuda" if torch.cuda.is_available() else "cpu"
    hps = load_extractor(
        "hps", {"version": version, "weights": str(checkpoint), "batch_size": 32}, device
    )
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, (512, 512, 3), dtype=np.uint8) for _ in range(2)]
    images[1][128:384, 128:384] = (220, 20, 20)
    prompt = "a red square"
    files = []
    for i, image in enumerate(images):
        files.append(str(tmp_path / f"{i}.png"))
        Image.fromarray(image).save(files[-1])
    ours = hps(images, [prompt, prompt])[:, 0]
    theirs = np.array(
        [float(np.ravel(s)[0]) for s in hpsv2.score(files, prompt, hps_version=version)]
    )
    np.testing.assert_allclose(ours, theirs, atol=5e-3)


def test_fid_of_real_inception_features_equals_clean_fid_compute_fid(tmp_path):
    """FID from seedscope's Inception features and Fréchet distance against clean-fid's own
    ``compute_fid`` on two folders of images (where its Inception weights are present)."""
    import os

    from cleanfid import fid
    from PIL import Image

    from seedscope.features.inception import INCEPTION_FILE, default_weights_dir, load_inception
    from seedscope.quality.frechet import frechet_to_reference, reference_stats

    path = os.environ.get(
        "SEEDSCOPE_INCEPTION_WEIGHTS", str(default_weights_dir() / INCEPTION_FILE)
    )
    if not os.path.isfile(path):
        pytest.skip(f"clean-fid's Inception weights {path} are not here (cannot be downloaded)")
    rng = np.random.default_rng(0)
    folders = {name: tmp_path / name for name in ("a", "b")}
    images = {}
    for shift, (name, folder) in enumerate(folders.items()):
        folder.mkdir()
        images[name] = [
            np.clip(rng.normal(110 + 30 * shift, 60, (64, 64, 3)), 0, 255).astype(np.uint8)
            for _ in range(40)
        ]
        for i, image in enumerate(images[name]):
            Image.fromarray(image).save(folder / f"{i:03d}.png")
    inception = load_inception(path, batch_size=20)
    ours = frechet_to_reference(
        inception(images["a"]), reference_stats(inception(images["b"]), "cpu")
    )
    theirs = fid.compute_fid(str(folders["a"]), str(folders["b"]), mode="clean", device="cpu")
    assert float(np.ravel(ours)[0]) == pytest.approx(theirs, rel=1e-3)


def test_dino_vitb8_loads_and_embeds(monkeypatch):
    """facebook/dino-vitb8 from the cache through the extractor: ViT-B/8, 768-d CLS embeddings
    at DINO's 224 px and at a generated image's own 512 px (interpolated positions)."""
    from seedscope.extractors import load_extractor
    from seedscope.features.dino import HUB_ID

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    _cached(HUB_ID)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    dino = load_extractor("dino", {"weights": HUB_ID, "batch_size": 2}, device)
    config = dino.model.config
    assert config.patch_size == 8 and config.hidden_size == 768 and config.image_size == 224
    assert dino.dim == dino.meta["dim"] == 768 and dino.meta["layer_norm_eps"] == 1e-6
    assert dino.meta["weights_sha256"] and dino.meta["revision"]
    rng = np.random.default_rng(0)
    for size in (224, 512):
        images = [rng.integers(0, 256, (size, size, 3), dtype=np.uint8) for _ in range(2)]
        features = dino(images)
        assert features.shape == (2, 768) and features.dtype == np.float32
        assert np.isfinite(features).all() and not np.allclose(features[0], features[1])


# --- the per-image quality scores: PickScore, CLIPScore, the LAION aesthetic predictor ------


def _photograph(size: int = 512) -> np.ndarray:
    """A PIL-drawn stand-in for a photograph: sky over a meadow, a sun and a red house."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (size, size))
    draw = ImageDraw.Draw(image)
    for y in range(size):  # sky fading to the horizon, then grass
        t = y / size
        colour = (int(90 + 120 * t), int(150 + 80 * t), 235) if t < 0.6 else (60, 150, 50)
        draw.line([(0, y), (size, y)], fill=colour)
    draw.ellipse([size * 0.7, size * 0.1, size * 0.85, size * 0.25], fill=(250, 230, 120))
    draw.rectangle([size * 0.2, size * 0.45, size * 0.5, size * 0.7], fill=(180, 40, 30))
    roof = [(size * 0.17, size * 0.45), (size * 0.35, size * 0.3), (size * 0.53, size * 0.45)]
    draw.polygon(roof, fill=(90, 50, 40))
    return np.asarray(image)


def _score_images() -> tuple[list[np.ndarray], list[str]]:
    """A photograph (scikit-image's bundled "chelsea", 451 x 300, where installed; else the
    drawing), a red square on noise and the noise, with prompts."""
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 256, (512, 512, 3), dtype=np.uint8)
    square = noise.copy()
    square[128:384, 128:384] = (220, 20, 20)
    try:
        from skimage import data

        photo, caption = np.ascontiguousarray(data.chelsea()), "a photo of a tabby cat"
    except ImportError:
        photo, caption = _photograph(), "a red house under a blue sky"
    return [photo, square, noise], [caption, "a red square", "a red square"]


def _embedding(output) -> torch.Tensor:
    """get_*_features' value: a tensor in transformers 4 (which the references were written
    for), a model output holding it as pooler_output in transformers 5."""
    return output if isinstance(output, torch.Tensor) else output.pooler_output


def test_pickscore_matches_its_readme(monkeypatch):
    """seedscope's PickScore against the README's ``calc_probs`` code (before its softmax),
    one prompt at a time. The processor is loaded with the PIL backend, which is what the
    README's ``AutoProcessor`` was before transformers 5."""
    from PIL import Image
    from transformers import AutoModel, AutoProcessor

    from seedscope.extractors import load_extractor

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    settings = load_config(REPO / "config.yaml")["features"]["pickscore"] | {"weights": "hub"}
    _cached(settings["model"])
    _cached(settings["processor"])
    device = "cuda" if torch.cuda.is_available() else "cpu"
    images, prompts = _score_images()
    ours = load_extractor("pickscore", settings, device)(images, prompts)[:, 0]

    processor = AutoProcessor.from_pretrained(settings["processor"], backend="pil")
    model = AutoModel.from_pretrained(settings["model"]).eval().to(device)
    theirs = []
    for image, prompt in zip(images, prompts, strict=True):
        image_inputs = processor(
            images=[Image.fromarray(image)],
            padding=True,
            truncation=True,
            max_length=77,
            return_tensors="pt",
        ).to(device)
        text_inputs = processor(
            text=prompt, padding=True, truncation=True, max_length=77, return_tensors="pt"
        ).to(device)
        with torch.no_grad():
            image_embs = _embedding(model.get_image_features(**image_inputs))
            image_embs = image_embs / torch.norm(image_embs, dim=-1, keepdim=True)
            text_embs = _embedding(model.get_text_features(**text_inputs))
            text_embs = text_embs / torch.norm(text_embs, dim=-1, keepdim=True)
            scores = model.logit_scale.exp() * (text_embs @ image_embs.T)[0]
        theirs.append(float(scores[0]))
    atol = 0.05 if device == "cuda" else 2e-3  # ours runs under fp16 autocast on CUDA
    np.testing.assert_allclose(ours, theirs, atol=atol)
    assert 15 < ours[0] < 30 and ours[1] > ours[2]  # the red square scores above bare noise


def test_clipscore_matches_torchmetrics(monkeypatch):
    """seedscope's CLIPScore against torchmetrics' CLIPScore with the real ViT-L/14, one image
    per update. torchmetrics 1.9 normalises get_*_features' value, a tensor only before
    transformers 5, so its model is given by a callable whose model returns the tensor; its
    processor is checked both as ours (PIL backend, tightly) and as torchmetrics would load it
    (transformers 5's default torchvision backend: interpolation round-off only)."""
    pytest.importorskip("torchmetrics", reason="the reference: pip install torchmetrics")
    from torchmetrics.multimodal import CLIPScore
    from transformers import CLIPModel, CLIPProcessor

    from seedscope.extractors import load_extractor

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    settings = load_config(REPO / "config.yaml")["features"]["clipscore"] | {"weights": "hub"}
    _cached(settings["model"])
    device = "cuda" if torch.cuda.is_available() else "cpu"
    images, prompts = _score_images()
    ours = load_extractor("clipscore", settings, device)(images, prompts)[:, 0]

    class Transformers4Outputs(torch.nn.Module):
        def __init__(self, model):
            super().__init__()
            self.model, self.config = model, model.config

        def get_image_features(self, *args, **kwargs):
            return _embedding(self.model.get_image_features(*args, **kwargs))

        def get_text_features(self, *args, **kwargs):
            return _embedding(self.model.get_text_features(*args, **kwargs))

    for backend, atol in (("pil", 0.05 if device == "cuda" else 2e-3), (None, 0.5)):

        def model_and_processor(backend=backend):
            model = Transformers4Outputs(CLIPModel.from_pretrained(settings["model"]).eval())
            extra = {"backend": backend} if backend else {}
            return model, CLIPProcessor.from_pretrained(settings["model"], **extra)

        metric = CLIPScore(model_name_or_path=model_and_processor)
        theirs = []
        for image, prompt in zip(images, prompts, strict=True):
            metric.reset()
            pixels = torch.from_numpy(image.copy()).permute(2, 0, 1)
            metric.update(pixels.to(device) if device == "cuda" else pixels, prompt)
            theirs.append(float(metric.compute()))
        np.testing.assert_allclose(ours, theirs, atol=atol, err_msg=f"backend {backend}")
    assert 15 < ours[0] < 40 and ours[1] > ours[2]


def test_aesthetic_matches_the_reference_predictor(monkeypatch):
    """seedscope's aesthetic score against the reference's ``simple_inference.py`` computation,
    re-implemented: the ``clip`` package's preprocessing (torchvision on the PIL image),
    ``encode_image`` (the same network as transformers' ViT-L/14 vision tower and projection),
    numpy's L2 normalisation, and the reference's MLP loaded from the published file."""
    from PIL import Image
    from torchvision import transforms
    from transformers import CLIPModel

    from seedscope.errors import FeatureError
    from seedscope.extractors import load_extractor
    from seedscope.features.aesthetic import mlp_file

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    settings = load_config(REPO / "config.yaml")["features"]["aesthetic"] | {"weights": "hub"}
    _cached(settings["clip"])
    try:
        path = mlp_file(settings, "hub")
    except FeatureError as err:
        pytest.skip(f"the aesthetic predictor's MLP is not available here: {err}")
    device = "cuda" if torch.cuda.is_available() else "cpu"
    images, _ = _score_images()
    ours = load_extractor("aesthetic", settings, device)(images)[:, 0]

    clip = CLIPModel.from_pretrained(settings["clip"]).eval().to(device)
    size, dim = clip.config.vision_config.image_size, clip.config.projection_dim
    preprocess = transforms.Compose(
        [
            transforms.Resize(size, interpolation=transforms.InterpolationMode.BICUBIC),
            transforms.CenterCrop(size),
            lambda image: image.convert("RGB"),
            transforms.ToTensor(),
            transforms.Normalize(
                (0.48145466, 0.4578275, 0.40821073), (0.26862954, 0.26130258, 0.27577711)
            ),
        ]
    )
    pixels = torch.stack([preprocess(Image.fromarray(image)) for image in images]).to(device)
    with torch.no_grad():
        pooled = clip.vision_model(pixel_values=pixels).pooler_output
        features = clip.visual_projection(pooled).cpu().numpy()
    norms = np.atleast_1d(np.linalg.norm(features, 2, -1))
    norms[norms == 0] = 1
    embeddings = features / np.expand_dims(norms, -1)
    head = torch.nn.Module()
    head.layers = torch.nn.Sequential(
        torch.nn.Linear(dim, 1024),
        torch.nn.Dropout(0.2),
        torch.nn.Linear(1024, 128),
        torch.nn.Dropout(0.2),
        torch.nn.Linear(128, 64),
        torch.nn.Dropout(0.1),
        torch.nn.Linear(64, 16),
        torch.nn.Linear(16, 1),
    )
    head.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    with torch.no_grad():
        theirs = head.eval().layers(torch.from_numpy(embeddings).float())[:, 0].numpy()
    atol = 0.02 if device == "cuda" else 1e-4  # ours runs under fp16 autocast on CUDA
    np.testing.assert_allclose(ours, theirs, atol=atol)
    assert (size, dim) == (224, 768)  # CLIP ViT-L/14
    assert 1 < ours[0] < 10 and np.isfinite(ours).all()  # the photograph on the 1-10 scale
