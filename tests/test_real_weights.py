"""The paper's real models, where their weights and a GPU exist (marker ``real_weights``).

SD 2-base and SDXL Turbo, loaded from the Hugging Face cache exactly as the paper config names
them, render a small shard at batch 1; plain diffusers, set up from the seed bank's settings,
must render the same images. On a GPU node with the weights in the cache:

    pip install hpsv2 && HF_HUB_OFFLINE=1 python -m pytest -m real_weights

which also runs HPS against the reference package's ``hpsv2.score`` here, and the two
real-weights tests of test_features (HPS v2.1 on a known image, Inception features against
clean-fid's own). Elsewhere each test is skipped with the reason.
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
