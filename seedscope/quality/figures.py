"""Figures of per-seed quality: best and worst seeds' images (fig. 5), set 1 vs set 2 (figs 6-7)."""

from __future__ import annotations

import textwrap

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from seedscope.shards import ShardReader, image_key  # noqa: E402

METRIC_LABELS = {"fid": "FID (lower is better)", "kid": "KID", "hps": "HPS v2 (higher is better)"}


def best_and_worst(table: pd.DataFrame, metric: str, n: int) -> tuple[list[int], list[int]]:
    """The ``n`` best and ``n`` worst seeds by ``metric`` (best first; worst last)."""
    ordered = table.sort_values([f"{metric}_rank", "seed"])["seed"].astype(int).tolist()
    return ordered[:n], ordered[-n:]


def plot_best_worst(
    table: pd.DataFrame,
    shards: list[str],
    prompts: list[dict],
    model: str,
    pdf: str,
    png: str,
    n_seeds: int = 3,
    metric: str = "fid",
    dpi: int = 150,
    font_size: float = 8,
) -> None:
    """Paper fig. 5: for each prompt, the images of the top and bottom seeds by ``metric``."""
    best, worst = best_and_worst(table, metric, n_seeds)
    seeds = best + worst
    readers = [ShardReader(s) for s in shards]
    owner = {seed: r for r in readers for seed in {e.seed for e in r.entries}}
    value = table.set_index("seed")[metric]
    fig, axes = plt.subplots(
        len(prompts),
        len(seeds),
        figsize=(1.2 * len(seeds), 1.25 * len(prompts) + 0.4),
        squeeze=False,
    )
    for r, prompt in enumerate(prompts):
        for c, seed in enumerate(seeds):
            ax = axes[r][c]
            ax.imshow(np.asarray(owner[seed].image(image_key(prompt["id"], seed))))
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                kind = "best" if c < len(best) else "worst"
                title = f"{kind}: seed {seed}\n{metric.upper()} {value[seed]:.4g}"
                ax.set_title(title, fontsize=font_size - 1)
        axes[r][0].set_ylabel(textwrap.fill(prompt["text"][:48], 16), fontsize=font_size - 2)
    fig.suptitle(
        f"{model}: top-{n_seeds} and bottom-{n_seeds} seeds by {metric.upper()}",
        fontsize=font_size + 1,
    )
    fig.tight_layout()
    fig.savefig(pdf)
    fig.savefig(png, dpi=dpi)
    plt.close(fig)


def plot_set_vs_set(
    pairs: dict[str, pd.DataFrame],
    correlations: dict[str, pd.DataFrame],
    metric: str,
    sets: tuple[str, str],
    pdf: str,
    png: str,
    golden: dict[str, list[int]] | None = None,
    dpi: int = 150,
    font_size: float = 8,
) -> None:
    """Figs 6 and 7: per-seed ``metric`` on set 1 vs set 2, one panel per model, with CI bars.

    ``pairs[model]`` has ``<metric>_1``, ``<metric>_2`` and their ``_lo``/``_hi``;
    ``correlations[model]`` is :func:`seedscope.quality.golden.generalisation`'s table.
    """
    models = list(pairs)
    fig, axes = plt.subplots(1, len(models), figsize=(3.2 * len(models), 3.2), squeeze=False)
    for ax, model in zip(axes[0], models, strict=True):
        both = pairs[model]
        x, y = both[f"{metric}_1"], both[f"{metric}_2"]
        xerr = [x - both[f"{metric}_lo_1"], both[f"{metric}_hi_1"] - x]
        yerr = [y - both[f"{metric}_lo_2"], both[f"{metric}_hi_2"] - y]
        ax.errorbar(x, y, xerr=xerr, yerr=yerr, fmt="none", ecolor="0.8", elinewidth=0.5, zorder=1)
        is_golden = both["seed"].isin((golden or {}).get(model, []))
        ax.scatter(x[~is_golden], y[~is_golden], s=6, color="tab:blue", zorder=2, label="seed")
        ax.scatter(x[is_golden], y[is_golden], s=9, color="goldenrod", zorder=3, label="golden")
        row = correlations[model].set_index("metric").loc[metric]
        ax.set_title(
            f"{model}\nSpearman {row['spearman']:.2f} [{row['spearman_lo']:.2f}, "
            f"{row['spearman_hi']:.2f}], Kendall {row['kendall']:.2f}",
            fontsize=font_size,
        )
        ax.set_xlabel(f"{METRIC_LABELS[metric]}, {sets[0]}", fontsize=font_size)
        ax.set_ylabel(f"{METRIC_LABELS[metric]}, {sets[1]}", fontsize=font_size)
        ax.tick_params(labelsize=font_size - 1)
        ax.xaxis.set_major_locator(MaxNLocator(4))
        ax.yaxis.set_major_locator(MaxNLocator(5))
        ax.legend(fontsize=font_size - 2, loc="best")
    fig.tight_layout()
    fig.savefig(pdf)
    fig.savefig(png, dpi=dpi)
    plt.close(fig)
