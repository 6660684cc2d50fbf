"""Figures of seed style: the seed style map with thumbnails (fig. 8) and the per-seed
grayscale, sky and border rates with example images of the top seeds (fig. 9)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.offsetbox import AnnotationBbox, OffsetImage

from seedscope.plotting import drawn_images, plt, save_figure
from seedscope.sampling import farthest_point_sampling
from seedscope.style.measures import FLAGS

THUMB_INCHES = 0.4  # width of a thumbnail on the style map
TAG_COLOURS = {"grayscale": "tab:gray", "sky": "tab:blue", "border": "tab:red"}


def shards_of_set(shards: Sequence[str], prompt_set: str) -> list[str]:
    """The shards of ``prompt_set`` (``images/<model>/<set>/seeds-*.tar``) among ``shards``."""
    return [s for s in shards if Path(s).parent.name == prompt_set]


def spread_seeds(positions: pd.DataFrame, n: int) -> list[int]:
    """``n`` seeds spread over the map: farthest point sampling from the seed nearest the centre."""
    points = positions[["x", "y"]].to_numpy(dtype=float)
    n = min(n, len(points))
    first = int(np.argmin(((points - points.mean(0)) ** 2).sum(1)))
    return [int(positions["seed"].iloc[i]) for i in farthest_point_sampling(points, n, first)]


def _scatter(ax, positions: pd.DataFrame, tags: pd.Series, font_size: float) -> None:
    ax.scatter(positions["x"], positions["y"], s=4, c="0.75", lw=0, label="seed")
    for name, colour in TAG_COLOURS.items():
        tagged = positions[tags.reindex(positions["seed"]).fillna("").str.contains(name).values]
        if len(tagged):
            ax.scatter(tagged["x"], tagged["y"], s=10, c=colour, lw=0, label=f"{name} seed")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.legend(fontsize=font_size - 2, loc="lower right", markerscale=1.5)


def plot_style_map(
    positions: pd.DataFrame,
    table: pd.DataFrame,
    shards: Sequence[str],
    prompts: Sequence[dict],
    model: str,
    pdf: str,
    png: str,
    n_seeds: int = 48,
    dpi: int = 150,
    font_size: float = 8,
) -> None:
    """Paper fig. 8: every seed at its style-map position (tagged seeds coloured), one panel per
    prompt, with the images of ``n_seeds`` seeds spread over the map drawn at their positions.
    ``shards`` are the shards of the prompts' set."""
    seeds = spread_seeds(positions, n_seeds)
    images = drawn_images(list(shards), seeds, [p["id"] for p in prompts])
    where = positions.set_index("seed")
    tags = table.set_index("seed")["tags"].fillna("")
    fig, axes = plt.subplots(1, len(prompts), figsize=(4.2 * len(prompts), 4.4), squeeze=False)
    for ax, prompt in zip(axes[0], prompts, strict=True):
        _scatter(ax, positions, tags, font_size)
        for seed in seeds:
            image = images[prompt["id"], seed]
            zoom = THUMB_INCHES * 72 / max(image.shape[:2])  # OffsetImage: zoom x pixels, in points
            box = AnnotationBbox(
                OffsetImage(image, zoom=zoom), (where.loc[seed, "x"], where.loc[seed, "y"]),
                frameon=True, pad=0.05,
            )  # fmt: skip
            colour = next((c for t, c in TAG_COLOURS.items() if t in tags.get(seed, "")), None)
            if colour:
                box.patch.set_edgecolor(colour)
            ax.add_artist(box)
        ax.margins(0.08)
        ax.set_title(prompt["text"][:60], fontsize=font_size)
    fig.suptitle(
        f"{model}: seed style map ({len(positions)} seeds; PCA + t-SNE of Gram vectors, per "
        "prompt and across prompts)",
        fontsize=font_size + 1,
    )
    save_figure(fig, pdf, png, dpi)


def _rates_panel(ax, table: pd.DataFrame, name: str, margin: float, font_size: float) -> None:
    ordered = table.sort_values([f"{name}_rate", "seed"], ascending=[False, True])
    rank = np.arange(1, len(ordered) + 1)
    ax.fill_between(rank, ordered[f"{name}_lo"], ordered[f"{name}_hi"], color="0.85", lw=0,
                    label="interval")  # fmt: skip
    ax.plot(rank, ordered[f"{name}_rate"], color="k", lw=1, label="rate")
    population = float(ordered[f"{name}_population"].iloc[0])
    ax.axhline(population, color="tab:green", lw=0.8, label="all seeds")
    ax.axhline(population + margin, color="tab:green", lw=0.8, ls="--", label="tag level")
    tagged = ordered[f"{name}_tag"].to_numpy(dtype=bool)
    ax.scatter(rank[tagged], ordered[f"{name}_rate"][tagged], s=12, c=TAG_COLOURS[name],
               zorder=3, label=f"tagged ({int(tagged.sum())})")  # fmt: skip
    ax.set_xlabel("seed rank", fontsize=font_size)
    ax.set_ylabel(f"{name} rate", fontsize=font_size)
    ax.set_ylim(0, 1)
    ax.legend(fontsize=font_size - 2)


def plot_style_seeds(
    table: pd.DataFrame,
    examples: dict[str, list[tuple[int, str]]],
    shards: Sequence[str],
    model: str,
    margin: float,
    pdf: str,
    png: str,
    dpi: int = 150,
    font_size: float = 8,
) -> None:
    """Paper fig. 9: per flag, every seed's rate ranked with its interval (tagged seeds marked),
    and flagged images of the top seeds (``examples``: flag -> (seed, prompt id) pairs)."""
    n = max((len(v) for v in examples.values()), default=0) or 1
    fig, axes = plt.subplots(
        len(FLAGS), 1 + n, figsize=(3.2 + 1.3 * n, 2.2 * len(FLAGS)), squeeze=False,
        gridspec_kw={"width_ratios": [2.4] + [1] * n},
    )  # fmt: skip
    for row, name in zip(axes, FLAGS, strict=True):
        _rates_panel(row[0], table, name, margin, font_size)
        for ax in row[1:]:
            ax.axis("off")
        for ax, (seed, prompt_id) in zip(row[1:], examples.get(name, []), strict=False):
            prompt_set = prompt_id.rsplit("-", 1)[0]
            image = drawn_images(shards_of_set(shards, prompt_set), [seed], [prompt_id])
            ax.imshow(image[prompt_id, seed])
            ax.set_title(f"seed {seed}", fontsize=font_size - 1)
        if not examples.get(name):
            row[1].text(0.5, 0.5, f"no {name} image", ha="center", fontsize=font_size)
    fig.suptitle(f"{model}: grayscale, sky and border seeds", fontsize=font_size + 1)
    save_figure(fig, pdf, png, dpi)
