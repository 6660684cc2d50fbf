"""Paper fig. 10: where seeds put an object (centroids over its modifiers) and how large and
deep they draw another one, one colour per seed."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from seedscope.layout.measures import LAYOUT_COLUMNS
from seedscope.layout.tables import LayoutFeatures
from seedscope.plotting import plt, save_figure

COLUMN = {name: i for i, name in enumerate(LAYOUT_COLUMNS)}


def object_rows(
    features: LayoutFeatures, objects_by_id: dict[str, str], obj: str, seed: int
) -> tuple[np.ndarray, int]:
    """The layout rows of ``seed``'s images of object ``obj`` where it was found, and how many
    of its images of ``obj`` there are in all."""
    mine = (features.seeds == seed) & np.array(
        [objects_by_id.get(p) == obj for p in features.prompt_ids], dtype=bool
    )
    found = mine & (features.values[:, COLUMN["found"]] > 0.5)
    return features.values[found], int(mine.sum())


def plot_layout(
    features: LayoutFeatures,
    objects_by_id: dict[str, str],
    centroid_object: str,
    size_object: str,
    seeds: Sequence[int],
    model: str,
    pdf: str,
    png: str,
    dpi: int = 150,
    font_size: float = 8,
) -> None:
    """Left: ``centroid_object``'s centroids over its modifiers for each of ``seeds`` (image
    coordinates, y down). Right: size against relative depth of ``size_object`` per seed.
    Legends give each seed's detections out of its images; an undetected image is not drawn."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(8, 3.8))
    colours = plt.get_cmap("tab10")
    for i, seed in enumerate(seeds):
        colour = colours(i % 10)
        rows, total = object_rows(features, objects_by_id, centroid_object, seed)
        left.scatter(rows[:, COLUMN["x"]], rows[:, COLUMN["y"]], s=14, color=colour,
                     label=f"seed {seed} ({len(rows)}/{total} found)")  # fmt: skip
        rows, total = object_rows(features, objects_by_id, size_object, seed)
        right.scatter(rows[:, COLUMN["depth"]], rows[:, COLUMN["size"]], s=14, color=colour,
                      label=f"seed {seed} ({len(rows)}/{total} found)")  # fmt: skip
    left.set(xlim=(0, 1), ylim=(1, 0), aspect="equal")
    left.set_xlabel("centroid x", fontsize=font_size)
    left.set_ylabel("centroid y (down)", fontsize=font_size)
    left.set_title(f'"{centroid_object}": position per seed', fontsize=font_size)
    right.set(xlim=(0, 1), ylim=(0, None))
    right.set_xlabel("relative depth (0 nearest, 1 farthest)", fontsize=font_size)
    right.set_ylabel("size (mask area fraction)", fontsize=font_size)
    right.set_title(f'"{size_object}": size and depth per seed', fontsize=font_size)
    for ax in (left, right):
        ax.legend(fontsize=font_size - 2)
        ax.tick_params(labelsize=font_size - 1)
    fig.suptitle(f"{model}: seeds and layout", fontsize=font_size + 1)
    save_figure(fig, pdf, png, dpi)
