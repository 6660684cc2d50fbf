"""Paper fig. 12: seeds that write text when inpainting. Per task, every seed's mean text ratio
in the mask, ranked with its interval (tagged seeds marked); and inpaintings of the most
text-prone seeds with the mask outlined and the detected text boxes drawn."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
from matplotlib.patches import Polygon

from seedscope.plotting import plt, save_figure


def _ranked(ax, table: pd.DataFrame, task: str, font_size: float) -> None:
    ordered = table.sort_values([f"{task}_ratio", "seed"], ascending=[False, True])
    rank = np.arange(1, len(ordered) + 1)
    ax.fill_between(rank, ordered[f"{task}_ratio_lo"], ordered[f"{task}_ratio_hi"],
                    color="0.85", lw=0, label="interval")  # fmt: skip
    ax.plot(rank, ordered[f"{task}_ratio"], color="k", lw=1, label="mean text ratio")
    tagged = ordered["text_tag"].to_numpy(dtype=bool)
    ax.scatter(rank[tagged], ordered[f"{task}_ratio"][tagged], s=12, c="tab:red", zorder=3,
               label=f"tagged text ({int(tagged.sum())})")  # fmt: skip
    ax.set_title(f"{task}: text in the mask per seed", fontsize=font_size)
    ax.set_xlabel("seed rank", fontsize=font_size)
    ax.set_ylabel("fraction of the mask", fontsize=font_size)
    ax.legend(fontsize=font_size - 2)


def text_prone(table: pd.DataFrame, task: str, n: int) -> list[int]:
    """The ``n`` seeds with the highest mean text ratio in ``task`` (ties by seed)."""
    ordered = table.sort_values([f"{task}_ratio", "seed"], ascending=[False, True])
    return ordered["seed"].astype(int).tolist()[:n]


def plot_inpainting_text(
    table: pd.DataFrame,
    tasks: Sequence[str],
    examples: dict[str, list[tuple[int, np.ndarray, np.ndarray, list]]],
    model: str,
    pdf: str,
    png: str,
    dpi: int = 150,
    font_size: float = 8,
) -> None:
    """Fig. 12. ``examples[task]`` lists ``(seed, image, mask, text boxes)`` to draw; a box
    has ``points`` (polygon corners in pixels) and ``text``."""
    n = max((len(v) for v in examples.values()), default=0) or 1
    fig, axes = plt.subplots(
        len(tasks), 1 + n, figsize=(3.4 + 1.4 * n, 2.4 * len(tasks)), squeeze=False,
        gridspec_kw={"width_ratios": [2.6] + [1] * n},
    )  # fmt: skip
    for row, task in zip(axes, tasks, strict=True):
        _ranked(row[0], table, task, font_size)
        for ax in row[1:]:
            ax.axis("off")
        for ax, (seed, image, mask, boxes) in zip(row[1:], examples.get(task, []), strict=False):
            ax.imshow(image)
            ax.contour(mask, levels=[0.5], colors="yellow", linewidths=0.8)
            for box in boxes:
                ax.add_patch(Polygon(np.asarray(box.points), fill=False, ec="red", lw=0.8))
            found = ", ".join(b.text for b in boxes)[:24]
            ax.set_title(f"seed {seed}" + (f"\n'{found}'" if found else ""), fontsize=font_size - 2)
    fig.suptitle(f"{model}: seeds that write text when inpainting", fontsize=font_size + 1)
    save_figure(fig, pdf, png, dpi)


def gather_examples(
    table: pd.DataFrame,
    tasks: Sequence[str],
    n_seeds: int,
    n_pairs: int,
    read_images: Callable[[str, list[int], list[str]], dict[tuple[str, int], np.ndarray]],
    prompts: dict[str, list[dict]],
    mask_of: Callable[[str], np.ndarray],
    detect: Callable[[np.ndarray], list],
) -> dict[str, list[tuple[int, np.ndarray, np.ndarray, list]]]:
    """Per task, the first ``n_pairs`` prompts of the ``n_seeds`` most text-prone seeds:
    ``(seed, image, mask, boxes)``, the images read at once per task with
    ``read_images(task, seeds, prompt_ids) -> {(prompt_id, seed): image}``."""
    examples = {}
    for task in tasks:
        seeds = text_prone(table, task, n_seeds)
        ids = [row["id"] for row in prompts[task][:n_pairs]]
        images = read_images(task, seeds, ids)
        examples[task] = [
            (seed, images[pid, seed], mask_of(pid), detect(images[pid, seed]))
            for seed in seeds
            for pid in ids
        ]
    return examples
