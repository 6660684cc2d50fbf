"""ImageReward v1.0 with its real weights (marker ``real_weights``): seedscope's extractor on the
example of ImageReward's README, and against the reference package's own model.

Where the weights are in the Hugging Face cache (they cannot be downloaded here):

    huggingface-cli download THUDM/ImageReward ImageReward.pt med_config.json
    huggingface-cli download bert-base-uncased
    pip install --no-deps image-reward==1.5       # the reference package (second test)
    git clone https://github.com/THUDM/ImageReward  # the README's images (first test)
    IMAGEREWARD_ASSETS=ImageReward/assets/images HF_HUB_OFFLINE=1 \\
        python -m pytest -m real_weights tests/test_real_weights_imagereward.py

Each test is skipped with the reason where something is missing. A GPU is used where there is
one (ImageReward runs in float32 on either).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from test_imagereward import REFERENCE, imagereward_reference, package_scores

from seedscope.features.imagereward import (
    CHECKPOINT_FILE,
    HUB_REPO,
    MED_CONFIG_FILE,
    TOKENIZER,
    load_imagereward,
)

pytestmark = pytest.mark.real_weights

# README.md of THUDM/ImageReward ("Example Use"): assets/images/{1,2,3,4}.webp, this prompt,
# and the rewards printed by example.py ("may be slightly different depending on the compute
# device").
README_PROMPT = "a painting of an ocean with clouds and birds, day time, low depth field effect"
README_REWARDS = [0.5811622738838196, 0.2745276093482971, -1.4131819009780884, -2.029569625854492]
DEVICE = "cuda" if torch.cuda.is_available() else "cpu"


def _cached(repo: str, filename: str) -> Path:
    """``filename`` of ``repo`` in the Hugging Face cache, or a skip saying how to get it."""
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        return Path(hf_hub_download(repo, filename, local_files_only=True))
    except LocalEntryNotFoundError:
        pytest.skip(
            f"{filename} of {repo} is not in the Hugging Face cache (it cannot be downloaded "
            f"here); run `huggingface-cli download {repo} {filename}` where there is a network"
        )


@pytest.fixture(scope="module")
def files() -> dict[str, Path]:
    _cached(TOKENIZER, "vocab.txt")
    return {
        "checkpoint": _cached(HUB_REPO, CHECKPOINT_FILE),
        "med_config": _cached(HUB_REPO, MED_CONFIG_FILE),
    }


@pytest.fixture(scope="module")
def scorer(files):
    settings = {"weights": "hub", "med_config": "hub", "tokenizer": TOKENIZER, "batch_size": 4}
    return load_imagereward(settings, DEVICE)


def _readme_images() -> list[np.ndarray] | None:
    folder = os.environ.get("IMAGEREWARD_ASSETS")
    if not folder:
        return None
    paths = [Path(folder) / f"{i}.webp" for i in range(1, 5)]
    if not all(p.is_file() for p in paths):
        pytest.fail(f"IMAGEREWARD_ASSETS={folder} lacks the README's images 1.webp ... 4.webp")
    return [np.asarray(Image.open(p).convert("RGB")) for p in paths]


def test_readme_example_scores(scorer):
    images = _readme_images()
    if images is None:
        pytest.skip(
            "the README's example images are not here: clone https://github.com/THUDM/ImageReward "
            "and set IMAGEREWARD_ASSETS to its assets/images"
        )
    assert scorer.meta["model"] == "ImageReward-v1.0"
    ours = scorer(images, [README_PROMPT] * 4)[:, 0]
    np.testing.assert_allclose(ours, README_REWARDS, rtol=0, atol=0.02)
    assert list(np.argsort(-ours)) == [0, 1, 2, 3]  # the README's ranking [1, 2, 3, 4]


def test_real_checkpoint_scores_like_the_package(scorer, files):
    """The package's ``ImageReward.load(<ImageReward.pt>, med_config=<med_config.json>)`` (what
    ``load("ImageReward-v1.0")`` does after downloading) and its ``score``, on the same
    device."""
    if not _reference_installed():
        pytest.skip(f"the reference package image-reward is not installed ({REFERENCE})")
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, (512, 512, 3), dtype=np.uint8) for _ in range(2)]
    images[1][128:384, 128:384] = (220, 20, 20)
    images += [np.asarray(Image.fromarray(images[1]).resize((640, 384)))]
    prompts = ["a red square", "a red square", "a photo of an astronaut riding a horse"]
    readme = _readme_images()
    if readme is not None:
        images, prompts = images + readme, prompts + [README_PROMPT] * 4
    ours = scorer(images, prompts)[:, 0]
    with imagereward_reference(TOKENIZER) as utils:
        theirs = package_scores(
            utils, files["checkpoint"], files["med_config"], images, prompts, DEVICE
        )
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-3 if DEVICE == "cuda" else 1e-4)


def _reference_installed() -> bool:
    import importlib.util

    return importlib.util.find_spec("ImageReward") is not None
