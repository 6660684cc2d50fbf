"""Grad-CAM heatmaps of the seed classifier (figures 3-4 of the paper), via pytorch-grad-cam."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image


def target_layer(model: torch.nn.Module) -> torch.nn.Module:
    """The layer Grad-CAM reads: ResNet ``layer4[-1]``, ConvNeXt ``stages[-1]``, else the last
    ``Conv2d``."""
    if hasattr(model, "layer4"):
        return model.layer4[-1]
    if "convnext" in type(model).__name__.lower() and hasattr(model, "stages"):
        return model.stages[-1]
    convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    if not convs:
        raise ValueError(f"{type(model).__name__} has no Conv2d layer for Grad-CAM to read")
    return convs[-1]


def gradcam_maps(
    model: torch.nn.Module,
    images: torch.Tensor,
    labels: Sequence[int] | torch.Tensor,
    batch_size: int = 32,
) -> np.ndarray:
    """Grad-CAM maps for class ``labels[i]`` of ``images[i]`` (the model's input tensors).

    Returns float32 maps of shape (N, H, W), the input's spatial size, each scaled to [0, 1].
    Puts ``model`` in eval mode.
    """
    from pytorch_grad_cam import GradCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    labels = [int(v) for v in labels]
    if len(labels) != len(images):
        raise ValueError(f"{len(images)} images but {len(labels)} labels")
    device = next(model.parameters()).device
    maps = []
    with GradCAM(model=model, target_layers=[target_layer(model)]) as cam:
        for start in range(0, len(images), batch_size):
            batch = images[start : start + batch_size].to(device)
            targets = [ClassifierOutputTarget(c) for c in labels[start : start + batch_size]]
            maps.append(cam(input_tensor=batch, targets=targets))
    return np.nan_to_num(np.concatenate(maps).astype(np.float32))


def gradcam_by_seed(
    model: torch.nn.Module, dataset, seeds: Sequence[int], per_seed: int
) -> tuple[dict[int, list[np.ndarray]], dict[int, list[np.ndarray]]]:
    """Images (uint8 HxWx3) and Grad-CAM maps for ``per_seed`` images of each of ``seeds``.

    Images come from ``dataset.examples`` (a ``SeedShardDataset``) and go through its transform;
    each map is for the image's true seed.
    """
    examples = dataset.examples(seeds, per_seed)
    images_by_seed, maps_by_seed = {}, {}
    for seed, images in examples.items():
        x = torch.stack([dataset.transform(im) for im in images])
        maps = gradcam_maps(model, x, [dataset.seeds.index(seed)] * len(images))
        images_by_seed[seed] = [np.asarray(im) for im in images]
        maps_by_seed[seed] = list(maps)
    return images_by_seed, maps_by_seed


def _resize_map(cam: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    if cam.shape == shape:
        return cam
    resized = Image.fromarray(cam.astype(np.float32)).resize(
        (shape[1], shape[0]), Image.Resampling.BILINEAR
    )
    return np.asarray(resized)


def plot_gradcam(
    images_by_seed: Mapping[int, Sequence[np.ndarray]],
    maps_by_seed: Mapping[int, Sequence[np.ndarray]],
    out_pdf: str | Path,
    out_png: str | Path,
    title: str = "Grad-CAM of the seed classifier",
    caption: str | None = None,
    alpha: float = 0.5,
) -> None:
    """One row per seed: its images with their Grad-CAM overlaid, then the seed's mean map.

    Writes the same figure to ``out_pdf`` and ``out_png`` (150 dpi).
    """
    from matplotlib.figure import Figure

    seeds = list(images_by_seed)
    if not seeds or set(seeds) != set(maps_by_seed):
        raise ValueError("images_by_seed and maps_by_seed must have the same, non-empty seeds")
    cols = max(len(images_by_seed[s]) for s in seeds) + 1
    fig = Figure(figsize=(1.6 * cols, 1.6 * len(seeds) + 0.9), layout="constrained")
    axes = fig.subplots(len(seeds), cols, squeeze=False)
    for row, seed in zip(axes, seeds, strict=True):
        images, maps = images_by_seed[seed], maps_by_seed[seed]
        shape = np.asarray(images[0]).shape[:2]
        resized = [_resize_map(np.asarray(m), shape) for m in maps]
        for ax, image, cam in zip(row, images, resized, strict=False):
            ax.imshow(image)
            ax.imshow(cam, cmap="jet", alpha=alpha, vmin=0, vmax=1)
        row[-1].imshow(np.mean(resized, axis=0), cmap="jet", vmin=0, vmax=1)
        row[0].set_ylabel(f"seed {seed}")
        if seed == seeds[0]:
            row[-1].set_title("mean map", fontsize=8)
        for ax in row:
            ax.set_xticks([])
            ax.set_yticks([])
            if not ax.images:
                ax.set_axis_off()
    fig.suptitle(title)
    fig.supxlabel(
        caption
        or "Each row: images of one seed from different prompts with the Grad-CAM map of the "
        "true seed overlaid (red = most evidence); last column: the seed's mean map.",
        fontsize=7,
        wrap=True,
    )
    for path in (out_pdf, out_png):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=150)
