"""Figures of per-seed quality: best and worst seeds' images (fig. 5), set 1 vs set 2 (figs 6-7)."""

from __future__ import annotations

import io
import re
import textwrap
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402
from PIL import Image  # noqa: E402

from seedscope.errors import ShardError  # noqa: E402
from seedscope.files import sha256_hex  # noqa: E402
from seedscope.shards import ShardReader, image_key  # noqa: E402

METRIC_LABELS = {"fid": "FID (lower is better)", "kid": "KID", "hps": "HPS v2 (higher is better)"}
SEED_BLOCK = re.compile(r"seeds-(\d+)-(\d+)\.tar$")  # a shard's name: seeds-<first>-<last>.tar


def best_and_worst(table: pd.DataFrame, metric: str, n: int) -> tuple[list[int], list[int]]:
    """The ``n`` best and ``n`` worst seeds by ``metric`` (best first; worst last)."""
    ordered = table.sort_values([f"{metric}_rank", "seed"])["seed"].astype(int).tolist()
    return ordered[:n], ordered[-n:]


def shard_of_seed(shards: list[str], seed: int) -> str:
    """The shard whose seed block, from its name ``seeds-<first>-<last>.tar``, holds ``seed``."""
    for shard in shards:
        block = SEED_BLOCK.search(Path(shard).name)
        if block and int(block[1]) <= seed <= int(block[2]):
            return shard
    raise ValueError(
        f"seed {seed} is in none of the {len(shards)} shards given (their names must be "
        "seeds-<first>-<last>.tar); pass the shards of every seed of the per-seed table"
    )


def _read_drawn(shard: str, keys: list[str]) -> dict[str, np.ndarray]:
    """The images ``keys`` of one shard, each checked against its sha256 in the manifest.

    A function of its own, so that the shard's parsed manifest is freed on return, before the
    next shard's is read.
    """
    images = {}
    with ShardReader(shard) as reader:
        for key in keys:
            png = reader.png(key)
            if sha256_hex(png) != reader.entry(key).png_sha256:
                raise ShardError(
                    f"image {key} in shard {shard} does not match its sha256 in the manifest "
                    "(corrupted on disk?); delete the shard and its manifest and rerun the "
                    "workflow: Snakemake renders that shard again"
                )
            with Image.open(io.BytesIO(png)) as image:
                images[key] = np.asarray(image.convert("RGB"))
    return images


def drawn_images(
    shards: list[str], seeds: list[int], prompt_ids: list[str]
) -> dict[tuple[str, int], np.ndarray]:
    """The images of every (prompt, seed) pair, read from the shards of ``seeds`` only.

    Each seed's shard is found by its name; shards are opened one at a time, and only the
    drawn images are read (and verified), so memory stays that of one manifest.
    """
    by_shard: dict[str, list[int]] = {}
    for seed in seeds:
        by_shard.setdefault(shard_of_seed(shards, seed), []).append(seed)
    images = {}
    for shard, shard_seeds in by_shard.items():
        keys = {image_key(p, s): (p, s) for p in prompt_ids for s in shard_seeds}
        for key, image in _read_drawn(shard, list(keys)).items():
            images[keys[key]] = image
    return images


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
    """Paper fig. 5: for each prompt, the images of the top and bottom seeds by ``metric``.

    ``shards`` may list every shard of the prompt set: only those of the drawn seeds are read.
    """
    best, worst = best_and_worst(table, metric, n_seeds)
    seeds = best + worst
    images = drawn_images(shards, seeds, [prompt["id"] for prompt in prompts])
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
            ax.imshow(images[prompt["id"], seed])
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


def check_intervals(both: pd.DataFrame, metric: str, suffix: str, where: str) -> None:
    """Raise ``ValueError`` naming the seeds whose interval does not contain their value.

    ``both`` has ``<metric><suffix>`` and ``<metric>_lo<suffix>``/``<metric>_hi<suffix>``; a
    missing (NaN) bound counts as not containing the value. Error bars are drawn from these,
    so an interval that excludes its value would become a negative bar.
    """
    value = both[f"{metric}{suffix}"]
    lo, hi = both[f"{metric}_lo{suffix}"], both[f"{metric}_hi{suffix}"]
    bad = both.loc[~((lo <= value) & (value <= hi))]
    if bad.empty:
        return
    seeds = bad["seed"].astype(int).tolist()
    shown = ", ".join(map(str, seeds[:20])) + (
        f" and {len(seeds) - 20} more" if len(seeds) > 20 else ""
    )
    first = bad.iloc[0]
    raise ValueError(
        f"{where}: the {metric} intervals of {len(seeds)} seeds do not contain their values "
        f"(seeds {shown}; e.g. seed {int(first['seed'])}: {first[f'{metric}{suffix}']:.6g} "
        f"not in [{first[f'{metric}_lo{suffix}']:.6g}, {first[f'{metric}_hi{suffix}']:.6g}]). "
        "A confidence interval must satisfy lo <= value <= hi: the per-seed table is wrong "
        "upstream; fix it and rerun its rule (perseed_table) rather than plotting negative bars"
    )


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
    Raises ``ValueError`` (see :func:`check_intervals`) if an interval excludes its value.
    """
    for model, both in pairs.items():
        for suffix, prompt_set in zip(("_1", "_2"), sets, strict=True):
            check_intervals(both, metric, suffix, f"{model} on {prompt_set}")
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
