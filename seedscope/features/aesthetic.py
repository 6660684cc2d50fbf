"""LAION aesthetic predictor v2: how beautiful an image is, on a 1-10 scale, from CLIP.

Reference: C. Schuhmann, "improved-aesthetic-predictor" (github.com/christophschuhmann/
improved-aesthetic-predictor, ``simple_inference.py``), the predictor used to build
LAION-Aesthetics; weights ``sac+logos+ava1-l14-linearMSE.pth`` (trained with MSE on SAC, LAION
logos and AVA ratings), mirrored on the Hugging Face hub by
``camenduru/improved-aesthetic-predictor``.

- **Embedding**: OpenAI CLIP ViT-L/14's image embedding (``clip.load("ViT-L/14")``,
  ``encode_image``). transformers' ``openai/clip-vit-large-patch14`` is the same network
  converted: ``get_image_features`` (the vision tower's pooled output through its projection)
  is ``encode_image``. Preprocessing: see :mod:`seedscope.features.clip_common` (PIL bicubic
  resize of the shorter side to 224, centre crop, OpenAI CLIP mean and std: the ``clip``
  package's ``preprocess``).
- **Predictor**: the reference's ``MLP(768)``: ``layers`` = ``Linear(768, 1024), Dropout(0.2),
  Linear(1024, 128), Dropout(0.2), Linear(128, 64), Dropout(0.1), Linear(64, 16),
  Linear(16, 1)`` without activations (the "linear" of the file name), in eval mode (dropout
  off). The published state dict (keys ``layers.0.weight`` ... ``layers.7.bias``) loads with
  ``torch.load(weights_only=True)`` and ``load_state_dict(strict=True)`` into
  :class:`AestheticMLP`, whose keys are the same.
- **Score**: ``MLP(e / ||e||)`` of the image embedding ``e``, L2-normalised as the reference's
  ``normalized``; about 4 to 7 for ordinary photographs.
- **What differs**: the reference loads CLIP with the ``clip`` package, which on CUDA holds
  the model in fp16; here float32 on CPU and fp16 autocast on CUDA, with the normalisation and
  the MLP in float32. Images are scored in batches (the reference scores one).

``features.aesthetic.weights`` is ``hub`` (``mlp_file`` from the hub repo ``mlp_repo``, and
the CLIP of the ``clip`` key), a local ``.pth`` file of the MLP (or a folder holding
``mlp_file``, such as a clone of the reference repository), or the tiny folder a rule builds
for the demo (:func:`seedscope.tiny.scorers.build_tiny_aesthetic`): a tiny CLIP saved with
``save_pretrained`` and an MLP state dict in the published layout, named by its marker file.
"""

from __future__ import annotations

import pickle
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from seedscope.errors import FeatureError, error_line
from seedscope.features.clip_common import ClipScorer, load_clip, refuse_tiny, tiny_marker
from seedscope.files import file_sha256

NAME = "aesthetic"
KEY = "features.aesthetic.weights"
# Bumped when the score of the same image with the same weights would change.
VERSION = 1
REFERENCE = "https://github.com/christophschuhmann/improved-aesthetic-predictor"


class AestheticMLP(nn.Module):
    """The reference's MLP head (module docstring); ``dim`` is the CLIP embedding's."""

    def __init__(self, dim: int = 768):
        super().__init__()
        self.layers = nn.Sequential(
            nn.Linear(dim, 1024),
            nn.Dropout(0.2),
            nn.Linear(1024, 128),
            nn.Dropout(0.2),
            nn.Linear(128, 64),
            nn.Dropout(0.1),
            nn.Linear(64, 16),
            nn.Linear(16, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


def hub_url(repo: str, filename: str) -> str:
    """Where the Hugging Face hub serves ``filename`` of ``repo``."""
    return f"https://huggingface.co/{repo}/resolve/main/{filename}"


def mlp_file(settings: dict[str, Any], weights: str | Path = "hub") -> Path:
    """The MLP weights: ``settings["mlp_file"]`` of the hub repo ``settings["mlp_repo"]`` (or
    its cache) for ``"hub"``; else a local file, or a folder holding ``mlp_file``. Raises
    :class:`FeatureError` naming the file and how to provide it."""
    repo, filename = settings["mlp_repo"], settings["mlp_file"]
    fix = (
        f"download it elsewhere (`huggingface-cli download {repo} {filename}`, "
        f"{hub_url(repo, filename)}, or {filename} of {REFERENCE}) and either copy the Hugging "
        f"Face cache here (HF_HOME) or set {KEY} to the file's path"
    )
    if str(weights) == "hub":
        from huggingface_hub import hf_hub_download

        try:
            return Path(hf_hub_download(repo, filename))
        except (OSError, ValueError) as err:
            raise FeatureError(
                f"the aesthetic predictor's MLP {filename} of the Hugging Face repo {repo} is not "
                f"in the local cache and could not be downloaded ({error_line(err)}); {fix}"
            ) from err
    path = Path(weights).expanduser()
    if path.is_dir() and (path / filename).is_file():
        return path / filename
    if not path.is_file():
        raise FeatureError(
            f"{KEY}: the aesthetic predictor's MLP {path} is neither a file nor a folder "
            f"holding {filename}; {fix}"
        )
    return path


def load_mlp(path: Path) -> AestheticMLP:
    """:class:`AestheticMLP` with the state dict of ``path`` (``torch.load(weights_only=True)``,
    ``load_state_dict(strict=True)``), in eval mode; its input size is read from the file."""
    fix = (
        "it is corrupt or not the aesthetic predictor's MLP: delete it and download it again "
        f"({REFERENCE}), or set {KEY} to a good copy"
    )
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, OSError, EOFError, pickle.UnpicklingError) as err:
        raise FeatureError(f"{KEY}: {path} does not load ({error_line(err)}); {fix}") from err
    first = state.get("layers.0.weight") if isinstance(state, dict) else None
    if not isinstance(first, torch.Tensor) or first.ndim != 2:
        raise FeatureError(f"{KEY}: {path} has no MLP state dict (layers.0.weight ...); {fix}")
    mlp = AestheticMLP(int(first.shape[1]))
    try:
        mlp.load_state_dict(state, strict=True)
    except RuntimeError as err:
        raise FeatureError(f"{KEY}: {path} is not the MLP ({error_line(err)}); {fix}") from err
    return mlp.eval()


class AestheticScorer(ClipScorer):
    """The aesthetic score of images (module docstring); prompts are not used."""

    name = NAME
    label = "The aesthetic predictor"
    needs_prompts = False

    def __init__(self, model, processor, mlp: AestheticMLP, meta, device, batch_size: int):
        super().__init__(model, processor, meta, device, batch_size)
        self.mlp = mlp.eval().to(self.device)

    def score_batch(self, images: Sequence[np.ndarray], prompts: Sequence[str] | None):
        embeddings = self.image_embeddings(images)  # unit, float32
        with torch.inference_mode():
            return self.mlp(embeddings)[:, 0]


def load_aesthetic(
    settings: dict[str, Any],
    device: str | torch.device = "cpu",
    weights: str | Path | None = None,
) -> AestheticScorer:
    """The aesthetic scorer from the validated ``features.aesthetic`` section (``weights``,
    ``clip``, ``mlp_repo``, ``mlp_file``, ``batch_size``; the schema gives the defaults).

    ``weights``, when given (a tiny extractor folder, or a local MLP file or folder),
    overrides ``settings["weights"]``; with ``settings["weights"] == "tiny"`` it is required.
    A tiny folder (one with the marker file) holds both the CLIP and the MLP; otherwise the
    CLIP is the ``clip`` key's. Missing or unloadable weights are a
    :class:`~seedscope.errors.FeatureError` naming the config key, the hub repo and file and
    how to provide a local copy.
    """
    source = settings["weights"] if weights is None else weights
    refuse_tiny(source, NAME)
    folder = Path(source).expanduser() if str(source) != "hub" else None
    marker = tiny_marker(folder, NAME) if folder is not None and folder.is_dir() else None
    what = "CLIP ViT-L/14 CLIPModel"
    if marker:
        assert folder is not None
        path = folder / marker["mlp"]
        loaded = load_clip(folder, KEY, what)
    else:
        path = mlp_file(settings, source)
        loaded = load_clip(settings["clip"], "features.aesthetic.clip", what)
    mlp = load_mlp(path)
    projection = int(loaded.model.config.projection_dim)
    if mlp.layers[0].in_features != projection:
        raise FeatureError(
            f"{KEY}: the MLP {path} reads {mlp.layers[0].in_features}-d embeddings but the CLIP "
            f"{loaded.described['weights']} gives {projection}-d ones; the published MLP needs "
            "CLIP ViT-L/14 (features.aesthetic.clip: openai/clip-vit-large-patch14)"
        )
    meta = {
        "extractor": NAME,
        "version": VERSION,
        "model": "tiny" if marker else "LAION aesthetic predictor v2 (sac+logos+ava1, linear MSE)",
        "clip": loaded.described,
        "transformers": loaded.described["transformers"],
        "weights": str(source),
        "weights_file": path.name,
        "weights_sha256": file_sha256(path),
        "score": "MLP(image embedding / ||image embedding||)",
        "dim": 1,
    }
    if marker:
        meta["tiny"] = marker
    return AestheticScorer(
        loaded.model, loaded.processor, mlp, meta, device, settings["batch_size"]
    )
