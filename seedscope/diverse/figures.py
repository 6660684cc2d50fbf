"""Paper fig. 11: the images of random seeds, Particle Guidance and diverse (FPS) seeds side by
side, for a few evaluation prompts of one model."""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from seedscope.diverse.table2 import METHODS, PG  # noqa: E402
from seedscope.quality.figures import save_figure  # noqa: E402


def fig11_examples(
    prompts: Sequence[dict[str, Any]],
    seed_sets: Mapping[str, Sequence[int]],
    images: Mapping[tuple[str, int], np.ndarray],
    pg_images: Mapping[str, Sequence[np.ndarray]] | None = None,
) -> list[dict[str, Any]]:
    """Examples for :func:`plot_fig11` from prompt rows (``id``, ``text``), each seed method's
    seeds (``{method: [seed, ...]}``, real seed numbers), the images of every (prompt id, seed)
    pair (e.g. :func:`seedscope.quality.figures.drawn_images`) and Particle Guidance's images
    per prompt id (labelled "particle 1", "particle 2", ...)."""
    examples = []
    for prompt in prompts:
        shown = {
            method: [(f"seed {seed}", images[prompt["id"], int(seed)]) for seed in seeds]
            for method, seeds in seed_sets.items()
        }
        if pg_images is not None and prompt["id"] in pg_images:
            shown[PG] = [
                (f"particle {i + 1}", image) for i, image in enumerate(pg_images[prompt["id"]])
            ]
        examples.append({"text": prompt["text"], "images": shown})
    return examples


def plot_fig11(
    examples: Sequence[dict[str, Any]],
    model: str,
    pdf: str,
    png: str,
    dpi: int = 150,
    font_size: float = 8,
) -> plt.Figure:
    """Fig. 11: one row per (prompt, method), the method's ``C`` images in its columns.

    ``examples``: ``[{"text": prompt text, "images": {method: [(label, HxWx3 array), ...]}}]``;
    methods are drawn in the order of :data:`~seedscope.diverse.table2.METHODS` (any other
    after them), each image titled by its label (the seed, or the particle for PG), each row
    named by its method, the first row of a prompt also by the prompt. Returns the (closed)
    figure.
    """
    if not examples:
        raise ValueError("fig. 11 needs at least one example prompt")
    lines = []  # (prompt text or None, method, [(label, image)])
    for example in examples:
        given = example["images"]
        order = [m for m in METHODS if m in given] + [m for m in given if m not in METHODS]
        for i, method in enumerate(order):
            lines.append((example["text"] if i == 0 else None, method, list(given[method])))
    if not any(shown for _, _, shown in lines):
        raise ValueError("fig. 11: the examples hold no images")
    columns = max(len(shown) for _, _, shown in lines)
    fig, axes = plt.subplots(
        len(lines),
        columns,
        figsize=(1.2 * columns + 1.4, 1.25 * len(lines) + 0.6),
        squeeze=False,
    )
    for row, (text, method, shown) in zip(axes, lines, strict=True):
        for ax in row:
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_frame_on(False)
        for ax, (label, image) in zip(row, shown, strict=False):
            ax.imshow(np.asarray(image))
            ax.set_title(label, fontsize=font_size - 2, pad=2)
        name = textwrap.fill(method, 18)
        if text is not None:
            name = f"{textwrap.fill(text[:60], 22)}\n\n{name}"
        row[0].set_ylabel(name, fontsize=font_size - 2)
    fig.suptitle(f"{model}: diverse seeds vs random seeds and PG", fontsize=font_size + 1)
    save_figure(fig, pdf, png, dpi)
    return fig
