"""Inception pool3 features for FID and KID through clean-fid, mode ``clean``.

The preprocessing is clean-fid's own: ``cleanfid.resize.build_resizer(mode)`` (PIL bicubic
to 299x299 on float channels, no quantisation), then the tensor conversion of clean-fid's
``ResizeDataset``, then ``cleanfid.fid.get_batch_features`` on the feature model. The real
feature model is clean-fid's ``InceptionV3W`` wrapper around the TorchScript
``inception-2015-12-05.pt`` (what ``build_feature_extractor("clean")`` builds, without
DataParallel), so features equal ``cleanfid.fid.get_files_features(..., mode="clean")`` on the
same images. A tiny Inception-shaped CNN (:mod:`seedscope.tiny.extractors`) takes the place of
that model for the demo and the tests, as clean-fid's ``custom_feat_extractor`` does.
"""

from __future__ import annotations

import http.client
import os
import platform
import shutil
import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np
import torch

from seedscope.errors import FeatureError
from seedscope.files import file_sha256

INCEPTION_FILE = "inception-2015-12-05.pt"
MODE = "clean"


def inception_url() -> str:
    """The URL clean-fid downloads its Inception weights from."""
    from cleanfid import downloads_helper

    return downloads_helper.inception_url


def default_weights_dir() -> Path:
    """Where clean-fid itself keeps the weights (``/tmp``; ``./`` on Windows)."""
    return Path("./" if platform.system() == "Windows" else "/tmp")


def _fix(expected: Path) -> str:
    return (
        f"download {inception_url()} on a machine with network access, copy it to {expected} "
        "(or anywhere) and set features.inception.weights to its path"
    )


def clean_fid_weights(weights_dir: str | Path | None = None) -> Path:
    """clean-fid's ``inception-2015-12-05.pt`` in ``weights_dir``, downloaded if missing.

    The download is clean-fid's own (``check_download_inception``), into a temporary folder
    that is renamed into place, so an interrupted download never leaves a partial file.
    """
    from cleanfid.downloads_helper import check_download_inception

    folder = Path(weights_dir) if weights_dir else default_weights_dir()
    target = folder / INCEPTION_FILE
    if target.is_file():
        return target
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".inception-download-", dir=folder))
    except OSError as err:
        raise FeatureError(
            f"cannot write clean-fid's weights into {folder} ({err}); {_fix(target)}"
        ) from err
    try:
        check_download_inception(fpath=str(tmp))
        os.replace(tmp / INCEPTION_FILE, target)
    except (OSError, http.client.HTTPException, ValueError) as err:
        raise FeatureError(
            f"clean-fid's Inception weights {target} are missing and could not be downloaded "
            f"from {inception_url()} ({type(err).__name__}: {err}); {_fix(target)}"
        ) from err
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def local_weights(weights: str | Path) -> Path:
    """A user's ``inception-2015-12-05.pt``: the file itself or a folder that holds it."""
    path = Path(weights).expanduser()
    if path.is_dir():
        path = path / INCEPTION_FILE
    if not path.is_file():
        raise FeatureError(f"Inception weights {path} do not exist; {_fix(path)}")
    if path.name != INCEPTION_FILE:
        raise FeatureError(
            f"Inception weights {path}: clean-fid loads them by the name {INCEPTION_FILE}; "
            f"rename the file (or link it) to {path.with_name(INCEPTION_FILE)}"
        )
    return path


class CleanFIDExtractor:
    """Features of uint8 HxWx3 images through clean-fid's resize and a feature model.

    ``model`` maps a float batch (N, 3, 299, 299) in [0, 255] to (N, D) features (clean-fid's
    ``InceptionV3W`` or a tiny stand-in). Resizing runs on ``workers`` threads (PIL releases
    the GIL); results do not depend on the thread count.
    """

    name = "inception"
    needs_prompts = False

    def __init__(self, model, meta: dict[str, Any], device, batch_size: int, workers: int = 0):
        from cleanfid.resize import build_resizer

        self.model = model
        self.device = torch.device(device)
        self.batch_size = batch_size
        self.meta = meta
        self.dim = meta["dim"]
        self.fn_resize = build_resizer(MODE)
        self.workers = workers or min(4, os.cpu_count() or 1)

    def preprocess(self, image: np.ndarray) -> torch.Tensor:
        """One image as clean-fid's ``ResizeDataset`` gives it: (3, 299, 299) float in [0, 255]."""
        from torchvision.transforms.functional import to_tensor

        resized = self.fn_resize(np.asarray(image))
        if resized.dtype == np.uint8:  # the tensor conversion of cleanfid.utils.ResizeDataset
            return to_tensor(np.array(resized)) * 255
        return to_tensor(resized)

    def __call__(self, images: Sequence[np.ndarray], prompts: Sequence[str] | None = None):
        """(N, D) float32 features of ``images`` (HxWx3 uint8); ``prompts`` are ignored."""
        from cleanfid.fid import get_batch_features

        out = []
        with ThreadPoolExecutor(self.workers) as pool:
            for start in range(0, len(images), self.batch_size):
                chunk = images[start : start + self.batch_size]
                batch = torch.stack(list(pool.map(self.preprocess, chunk)))
                out.append(get_batch_features(batch, self.model, self.device))
        if not out:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.concatenate(out).astype(np.float32, copy=False)


def _load_tiny(folder: Path):
    from safetensors.torch import load_file

    from seedscope.tiny_nets import TinyInception, read_tiny_config

    config = read_tiny_config(folder, "inception")
    weights = folder / config["weights"]
    model = TinyInception(**config["arch"])
    try:
        model.load_state_dict(load_file(weights))
    except (OSError, RuntimeError) as err:
        raise FeatureError(
            f"tiny Inception weights {weights} do not load ({err}); delete {folder} and rerun"
        ) from err
    return model, weights, {"model": "tiny-inception", "arch": config["arch"]}


def load_inception(
    weights: str | Path,
    weights_dir: str | Path | None = None,
    device: str | torch.device = "cpu",
    *,
    batch_size: int,
    workers: int = 0,
) -> CleanFIDExtractor:
    """The Inception extractor from the validated ``features.inception`` section's
    ``weights``, ``weights_dir`` and ``batch_size`` (the schema gives their defaults and
    checks their values): ``weights`` is ``"clean-fid"`` (clean-fid's file in ``weights_dir``,
    None: clean-fid's default folder; downloaded at first use), a path to
    ``inception-2015-12-05.pt`` (or its folder), or a tiny extractor folder (one with a
    ``config.json``).
    """
    from cleanfid.inception_torchscript import InceptionV3W

    device = torch.device(device)
    path = Path(weights).expanduser() if str(weights) != "clean-fid" else None
    if path is not None and (path / "config.json").is_file():
        model, file, extra = _load_tiny(path)
    else:
        file = clean_fid_weights(weights_dir) if path is None else local_weights(path)
        try:
            model = InceptionV3W(str(file.parent), download=False, resize_inside=False)
        except (RuntimeError, ValueError, OSError) as err:
            raise FeatureError(
                f"Inception weights {file} do not load as TorchScript ({err}); the file is "
                f"corrupt or not clean-fid's: delete it and {_fix(file)}"
            ) from err
        extra = {"model": "inception-2015-12-05"}
    model = model.to(device).eval()
    with torch.no_grad():
        dim = int(model(torch.zeros(1, 3, 299, 299, device=device)).shape[1])
    meta = {
        "extractor": "inception",
        "mode": MODE,
        "clean_fid": version("clean-fid"),
        "weights_file": file.name,
        "weights_sha256": file_sha256(file),
        "dim": dim,
        **extra,
    }
    return CleanFIDExtractor(model, meta, device, batch_size, workers)
