"""Figures of per-seed quality: best and worst seeds' images by FID and HPS (fig. 5), per-seed
values on prompt set 1 and set 2 (figs 6-7), and quality against renders per prompt (Table 1b's
figure)."""

from __future__ import annotations

import textwrap

import numpy as np
import pandas as pd
from matplotlib.ticker import MaxNLocator

from seedscope.plotting import drawn_images, plt, save_figure
from seedscope.quality.best_of_n import NO_VERIFIER
from seedscope.quality.perseed import LOWER_IS_BETTER, ranks

FIG5_METRICS = ("fid", "hps")  # fig. 5 draws the seeds of each of these that the table has
# how figures and tables spell the metrics (HPS takes its version: metric_name)
METRIC_NAMES = {
    "fid": "FID",
    "kid": "KID",
    "pickscore": "PickScore",
    "imagereward": "ImageReward",
    "clipscore": "CLIPScore",
    "aesthetic": "LAION aesthetic",
}


def metric_name(metric: str, hps_version: str | None = None) -> str:
    """A metric's name as figures print it: ``FID``, ``KID`` or ``HPS <version>``.

    HPS scores of v2.0 and v2.1 differ, so an HPS label without its version is refused.
    """
    if metric == "hps":
        if not hps_version:
            raise ValueError(
                "an HPS label needs its version (config features.hps.version: v2.0 or v2.1); "
                "pass hps_version"
            )
        return f"HPS {hps_version}"
    return METRIC_NAMES.get(metric, metric.upper())


def metric_label(metric: str, hps_version: str | None = None) -> str:
    """An axis label: the metric's name (with the HPS version) and which way is better."""
    better = "lower" if LOWER_IS_BETTER[metric] else "higher"
    return f"{metric_name(metric, hps_version)} ({better} is better)"


def set_one_order(both: pd.DataFrame, metric: str) -> pd.DataFrame:
    """``both``'s rows in set-1 rank order: rank 1 (the best seed on set 1) first.

    Uses ``<metric>_rank_1`` (the per-seed table's rank) where present, else ranks the values
    (lower is better for FID/KID, higher for HPS); ties go by seed.
    """
    rank = f"{metric}_rank_1"
    if rank not in both:
        both = both.assign(**{rank: ranks(both[f"{metric}_1"].to_numpy(), LOWER_IS_BETTER[metric])})
    return both.sort_values([rank, "seed"]).reset_index(drop=True)


def best_and_worst(table: pd.DataFrame, metric: str, n: int) -> tuple[list[int], list[int]]:
    """The ``n`` best and ``n`` worst seeds by ``metric`` (best first; worst last)."""
    ordered = table.sort_values([f"{metric}_rank", "seed"])["seed"].astype(int).tolist()
    return ordered[:n], ordered[-n:]


def fig5_metrics(table: pd.DataFrame) -> list[str]:
    """The metrics of :data:`FIG5_METRICS` that ``table`` has (a value and a rank column)."""
    metrics = [m for m in FIG5_METRICS if {m, f"{m}_rank"} <= set(table.columns)]
    if not metrics:
        raise ValueError(
            f"the per-seed table has none of {', '.join(FIG5_METRICS)} with its _rank column "
            f"(columns: {', '.join(map(str, table.columns))}); fig. 5 needs the per-seed table "
            "of the FID set, where FID and/or HPS are scored"
        )
    return metrics


def plot_best_worst(
    table: pd.DataFrame,
    shards: list[str],
    prompts: list[dict],
    model: str,
    pdf: str,
    png: str,
    n_seeds: int = 3,
    hps_version: str | None = None,
    dpi: int = 150,
    font_size: float = 8,
) -> plt.Figure:
    """Paper fig. 5: for each prompt, the images of the top and bottom seeds by FID and by HPS.

    Four groups of columns, "best by FID", "worst by FID", "best by HPS <version>", "worst by
    HPS <version>" (only the metrics ``table`` has: FID only if it has no ``hps`` column, and
    vice versa). ``shards`` may list every shard of the prompt set: only those of the drawn
    seeds are read, one at a time. Returns the (closed) figure.
    """
    groups = []  # (title, metric, seeds)
    for metric in fig5_metrics(table):
        best, worst = best_and_worst(table, metric, n_seeds)
        name = metric_name(metric, hps_version)
        groups += [(f"best by {name}", metric, best), (f"worst by {name}", metric, worst)]
    columns = [(title, metric, seed) for title, metric, seeds in groups for seed in seeds]
    seeds = list(dict.fromkeys(seed for _, _, seed in columns))
    images = drawn_images(shards, seeds, [prompt["id"] for prompt in prompts])
    values = table.set_index("seed")
    fig, axes = plt.subplots(
        len(prompts),
        len(columns),
        figsize=(1.2 * len(columns), 1.25 * len(prompts) + 0.7),
        squeeze=False,
    )
    for r, prompt in enumerate(prompts):
        for c, (title, metric, seed) in enumerate(columns):
            ax = axes[r][c]
            ax.imshow(images[prompt["id"], seed])
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                value = values.loc[seed, metric]
                name = metric_name(metric, hps_version)
                ax.set_title(f"{title}\nseed {seed}\n{name} {value:.4g}", fontsize=font_size - 2)
        axes[r][0].set_ylabel(textwrap.fill(prompt["text"][:48], 16), fontsize=font_size - 2)
    names = " and by ".join(metric_name(m, hps_version) for m in fig5_metrics(table))
    fig.suptitle(
        f"{model}: top-{n_seeds} and bottom-{n_seeds} seeds by {names}", fontsize=font_size + 1
    )
    save_figure(fig, pdf, png, dpi)
    return fig


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


def _rank_order_panel(ax, both, metric, sets, golden, name, font_size) -> None:
    """Panel (a), as in the paper: seeds in set-1 rank order, set 1 and set 2 as two series."""
    ordered = set_one_order(both, metric)
    x = np.arange(1, len(ordered) + 1)
    is_golden = ordered["seed"].isin(golden).to_numpy()
    # set 1 is monotone in this order, drawn as a line; set 2 as points, so its scatter shows
    for suffix, prompt_set, colour, style in zip(
        ("_1", "_2"), sets, ("tab:blue", "tab:orange"), ("-", "none"), strict=True
    ):
        lo, hi = ordered[f"{metric}_lo{suffix}"], ordered[f"{metric}_hi{suffix}"]
        ax.fill_between(x, lo, hi, color=colour, alpha=0.2, linewidth=0, step="mid")
        ax.plot(
            x,
            ordered[f"{metric}{suffix}"].to_numpy(),
            linestyle=style,
            marker="o",
            markersize=2,
            linewidth=0.8,
            color=colour,
            label=prompt_set,
            gid=f"set{suffix}",
        )
    for suffix in ("_1", "_2") if is_golden.any() else ():
        ax.plot(
            x[is_golden],
            ordered[f"{metric}{suffix}"].to_numpy()[is_golden],
            linestyle="none",
            marker="*",
            markersize=6,
            color="goldenrod",
            markeredgecolor="k",
            markeredgewidth=0.3,
            label="golden" if suffix == "_1" else "_nolegend_",
            gid=f"golden{suffix}",
            zorder=3,
        )
    ax.set_xlabel(f"seeds in {sets[0]} rank order (1 = best on {sets[0]})", fontsize=font_size)
    ax.set_ylabel(name, fontsize=font_size)
    ax.set_xlim(0.5, len(ordered) + 0.5)
    ax.xaxis.set_major_locator(MaxNLocator(6, integer=True))
    ax.yaxis.set_major_locator(MaxNLocator(5))


def plot_set_vs_set(
    pairs: dict[str, pd.DataFrame],
    correlations: dict[str, pd.DataFrame],
    metric: str,
    sets: tuple[str, str],
    pdf: str,
    png: str,
    golden: dict[str, list[int]] | None = None,
    hps_version: str | None = None,
    dpi: int = 150,
    font_size: float = 8,
) -> plt.Figure:
    """Figs 6 and 7: per-seed ``metric`` on prompt set 1 and set 2, one row of two panels per model.

    (a) the paper's form: seeds in set-1 rank order on x (rank 1 = best on set 1; lower is
    better for FID/KID, higher for HPS), the per-seed value on set 1 and on set 2 as two series
    with their intervals as bands, golden seeds starred; (b) set 1 (x) vs set 2 (y), one point
    per seed with CI bars, Spearman and Kendall in the title.

    ``pairs[model]`` has ``seed``, ``<metric>_1``, ``<metric>_2`` and their ``_lo``/``_hi``
    (and ``<metric>_rank_1``, else the values are ranked); ``correlations[model]`` is
    :func:`seedscope.quality.golden.generalisation`'s table. Raises ``ValueError`` (see
    :func:`check_intervals`) if an interval excludes its value, before drawing anything.
    Returns the (closed) figure.
    """
    for model, both in pairs.items():
        for suffix, prompt_set in zip(("_1", "_2"), sets, strict=True):
            check_intervals(both, metric, suffix, f"{model} on {prompt_set}")
    label = metric_label(metric, hps_version)
    models = list(pairs)
    fig, axes = plt.subplots(
        len(models),
        2,
        figsize=(7.4, 3.3 * len(models)),
        squeeze=False,
        gridspec_kw={"width_ratios": [1.35, 1]},
    )
    for (rank_ax, ax), model in zip(axes, models, strict=True):
        both = pairs[model]
        model_golden = (golden or {}).get(model, [])
        _rank_order_panel(rank_ax, both, metric, sets, model_golden, label, font_size)
        rank_ax.set_title(
            f"(a) {model}: seeds ranked on {sets[0]},\nvalue on both sets", fontsize=font_size
        )
        x, y = both[f"{metric}_1"], both[f"{metric}_2"]
        xerr = [x - both[f"{metric}_lo_1"], both[f"{metric}_hi_1"] - x]
        yerr = [y - both[f"{metric}_lo_2"], both[f"{metric}_hi_2"] - y]
        ax.errorbar(x, y, xerr=xerr, yerr=yerr, fmt="none", ecolor="0.8", elinewidth=0.5, zorder=1)
        is_golden = both["seed"].isin(model_golden)
        ax.scatter(x[~is_golden], y[~is_golden], s=6, color="tab:blue", zorder=2, label="seed")
        ax.scatter(x[is_golden], y[is_golden], s=9, color="goldenrod", zorder=3, label="golden")
        row = correlations[model].set_index("metric").loc[metric]
        ax.set_title(
            f"(b) {model}: set 1 vs set 2\nSpearman {row['spearman']:.2f} "
            f"[{row['spearman_lo']:.2f}, "
            f"{row['spearman_hi']:.2f}], Kendall {row['kendall']:.2f}",
            fontsize=font_size,
        )
        ax.set_xlabel(f"{label}, {sets[0]}", fontsize=font_size)
        ax.set_ylabel(f"{label}, {sets[1]}", fontsize=font_size)
        ax.xaxis.set_major_locator(MaxNLocator(4))
        ax.yaxis.set_major_locator(MaxNLocator(5))
        for panel in (rank_ax, ax):
            panel.tick_params(labelsize=font_size - 1)
            panel.legend(fontsize=font_size - 2, loc="best")
    save_figure(fig, pdf, png, dpi)
    return fig


def plot_quality_per_render(
    table: pd.DataFrame,
    prompt_set: str,
    pdf: str,
    png: str,
    hps_version: str,
    dpi: int = 150,
    font_size: float = 8,
) -> None:
    """Table 1b as a figure: one panel per (model, evaluation score) on ``prompt_set``, the
    score against renders per prompt (log scale) for best-of-N among random and among golden
    seeds by each verifier, from one render (random or golden seeds) to the largest N, with
    the rows' intervals as error bars."""
    rows = table[(table["prompt_set"] == prompt_set) & table["value"].notna()]
    models, metrics = list(dict.fromkeys(rows["model"])), list(dict.fromkeys(rows["metric"]))
    if not models:
        raise ValueError(f"Table 1b has no values on {prompt_set!r} to plot")
    plt.rcParams.update({"font.size": font_size})
    fig, axes = plt.subplots(
        len(models), len(metrics), figsize=(2.6 * len(metrics), 2.3 * len(models)), squeeze=False
    )
    verifiers = [v for v in dict.fromkeys(rows["verifier"]) if v != NO_VERIFIER]
    colours = dict(zip(verifiers, plt.rcParams["axes.prop_cycle"].by_key()["color"], strict=False))
    for i, model in enumerate(models):
        for j, metric in enumerate(metrics):
            ax = axes[i, j]
            cell = rows[(rows["model"] == model) & (rows["metric"] == metric)]
            for (pool, verifier), line in cell[cell["verifier"] != NO_VERIFIER].groupby(
                ["seeds", "verifier"], sort=False
            ):
                start = cell[(cell["verifier"] == NO_VERIFIER) & (cell["seeds"] == pool)]
                line = pd.concat([start, line]).sort_values("renders")
                errors = [line["value"] - line["lo"], line["hi"] - line["value"]]
                ax.errorbar(
                    line["renders"],
                    line["value"],
                    yerr=errors,
                    color=colours[verifier],
                    linestyle="-" if pool == "random" else "--",
                    marker="o" if pool == "random" else "s",
                    markersize=3,
                    capsize=2,
                    label=f"best of N {pool} by {metric_name(verifier, hps_version)}",
                )
            golden = cell[(cell["verifier"] == NO_VERIFIER) & (cell["seeds"] == "golden")]
            ax.errorbar(
                golden["renders"],
                golden["value"],
                yerr=[golden["value"] - golden["lo"], golden["hi"] - golden["value"]],
                color="black",
                marker="*",
                markersize=7,
                linestyle="none",
                capsize=2,
                label="golden seeds (1 render)",
            )
            ax.set_xscale("log", base=2)
            ax.set_title(f"{model}: {metric_name(metric, hps_version)}")
            ax.set_xlabel("renders per prompt")
            if j == 0:
                ax.set_ylabel(f"mean on {prompt_set} (higher is better)")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    for ax in axes.flat:
        more_handles, more_labels = ax.get_legend_handles_labels()
        for handle, label in zip(more_handles, more_labels, strict=True):
            if label not in labels:
                handles.append(handle)
                labels.append(label)
    axes[0, -1].legend(handles, labels, fontsize="x-small")
    save_figure(fig, pdf, png, dpi)
