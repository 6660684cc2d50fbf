"""Figures of the diverse-seed study: paper fig. 11 (the images of random seeds, Particle
Guidance and diverse FPS seeds side by side, on style and on layout evaluation prompts) and the
diversity-quality figure (every Table 2 method's diversity against its HPS, with Particle
Guidance's coefficient sweep as a trade-off curve)."""

from __future__ import annotations

import math
import textwrap
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.colors import to_rgba
from matplotlib.lines import Line2D

from seedscope.diverse.score import random_sets
from seedscope.diverse.split import evaluation_ids
from seedscope.diverse.table2 import (
    CONTROL,
    FPS_METHODS,
    GROUPS,
    PG,
    RANDOM,
    pg_method,
)
from seedscope.plotting import drawn_images, plt, read_checked_images, save_figure
from seedscope.shards import ShardReader

# fig. 11's blocks: the prompts of a group and the FPS feature its diverse seeds were chosen on
BLOCKS = {
    "style": "Style evaluation prompts (COCO captions)\ndiverse seeds: FPS on style features",
    "layout": "Layout evaluation prompts (synthetic)\ndiverse seeds: FPS on layout features",
}


# --- fig. 11 -----------------------------------------------------------------------------------


def shown_prompts(prompt_ids: Sequence[str], count: int) -> list[str]:
    """``count`` of ``prompt_ids`` spread evenly over the list (first and last included), in
    list order; all of them when there are no more than ``count``. Evaluation prompts come in
    file order, where a synthetic set's neighbours share their object: spreading them shows
    different objects."""
    ids = list(prompt_ids)
    if count < 1:
        raise ValueError(f"fig. 11 shows at least one prompt per group, not {count}")
    if len(ids) <= count:
        return ids
    picks = np.round(np.linspace(0, len(ids) - 1, count)).astype(int)
    return [ids[i] for i in dict.fromkeys(picks.tolist())]


def particle_images(
    shard: str, prompt_ids: Sequence[str]
) -> dict[str, list[tuple[int, np.ndarray]]]:
    """Particle Guidance's images of ``prompt_ids`` in a particle shard: per prompt, its own
    particle seeds (from the shard's manifest entries of that prompt) with their images, in
    seed order (as Table 2's cubes order them), each checked against its sha256. A prompt the
    shard does not hold is left out."""
    with ShardReader(shard) as reader:
        entries = {pid: sorted(reader.by_prompt(pid), key=lambda e: e.seed) for pid in prompt_ids}
    keys = [e.key for mine in entries.values() for e in mine]
    images = read_checked_images(shard, keys) if keys else {}
    return {pid: [(e.seed, images[e.key]) for e in mine] for pid, mine in entries.items() if mine}


def fig11_examples(
    group: str,
    prompts: Sequence[dict[str, Any]],
    images: Mapping[tuple[str, int], np.ndarray],
    random_seeds: Sequence[int],
    fps_seeds: Sequence[int],
    particles: Mapping[str, Sequence[tuple[int, np.ndarray]]] | None = None,
    coeff: float | None = None,
) -> list[dict[str, Any]]:
    """The examples of one block of :func:`plot_fig11`, one per prompt row (``id``, ``text``).

    ``group`` is ``"style"`` or ``"layout"`` (:data:`~seedscope.diverse.table2.GROUPS`);
    ``images`` holds every (prompt id, seed) image of the random and FPS seeds (e.g.
    :func:`seedscope.plotting.drawn_images`); ``random_seeds`` and ``fps_seeds`` are
    real seed numbers, used for every prompt; ``particles[prompt id]`` are Particle
    Guidance's ``(particle seed, image)`` at coefficient ``coeff`` (each prompt has its own
    particle seeds; :func:`particle_images`). A prompt's rows: random seeds, Particle Guidance
    (where it has particles), the FPS seeds of ``group``'s feature; each image labelled by its
    seed ("seed S", "particle seed S").

    Returns ``[{"group", "id", "text", "images": {method: [(label, HxWx3 array), ...]}}]``,
    methods in row order.
    """
    if group not in GROUPS:
        raise ValueError(f"fig. 11 group {group!r} is none of {', '.join(GROUPS)}")
    if particles and coeff is None:
        raise ValueError("fig. 11: Particle Guidance images need their coefficient (coeff)")
    examples = []
    for prompt in prompts:
        pid = prompt["id"]
        shown = {RANDOM: [(f"seed {s}", images[pid, int(s)]) for s in random_seeds]}
        if particles and particles.get(pid):
            shown[pg_method(coeff)] = [(f"particle seed {s}", im) for s, im in particles[pid]]
        shown[FPS_METHODS[group]] = [(f"seed {s}", images[pid, int(s)]) for s in fps_seeds]
        examples.append({"group": group, "id": pid, "text": prompt["text"], "images": shown})
    return examples


def read_fig11_examples(
    sets: Mapping[str, Any],
    rows: Mapping[str, Sequence[dict[str, Any]]],
    shards: Mapping[str, Sequence[str]],
    diverse: Mapping[str, Any],
    count: int,
    particles: Mapping[str, str] | None = None,
    coeff: float | None = None,
) -> list[dict[str, Any]]:
    """Both blocks of fig. 11 for one model, read from its files.

    ``sets``: the model's diverse seed sets (JSON of ``diverse_seeds``: ``c``, ``seeds``,
    ``sets{style, layout}``); ``rows[group]``: the prompt rows of the group's set
    (``diverse.style_set``, ``diverse.layout_set``); ``shards[group]``: every seed's shards of
    that set; ``diverse``: the diverse settings (``c``, ``seed``, ``random_draws``,
    ``style_prompts``, ``split_seed``, ``style_set``, ``layout_set``); ``count``: prompts per
    group, spread over its evaluation prompts (:func:`shown_prompts`); ``particles[group]``:
    the group's Particle Guidance shard at ``coeff`` (None: no Particle Guidance rows).

    Random seeds are Table 2's first random draw, FPS seeds its first FPS run of the group's
    feature. Only the drawn images are read.
    """
    seeds = list(sets["seeds"])
    draw = random_sets(len(seeds), diverse["c"], diverse["random_draws"], diverse["seed"])[0]
    random_seeds = [int(seeds[i]) for i in draw]
    evaluation = {k: diverse[k] for k in ("style_prompts", "seed", "layout_set", "split_seed")}
    prompt_sets = {"style": diverse["style_set"], "layout": diverse["layout_set"]}
    examples = []
    for group in GROUPS:
        by_id = {str(r["id"]): r for r in rows[group]}
        shown = shown_prompts(evaluation_ids(rows[group], prompt_sets[group], evaluation), count)
        fps_seeds = [int(s) for s in sets["sets"][group][0]]
        images = drawn_images(list(shards[group]), [*random_seeds, *fps_seeds], shown)
        pg = None
        if particles and particles.get(group):
            pg = particle_images(particles[group], shown)
        examples += fig11_examples(
            group, [by_id[i] for i in shown], images, random_seeds, fps_seeds, pg, coeff
        )
    return examples


def _row_name(method: str, text: str | None) -> str:
    """A row's name: its method (a parenthesis on a line of its own), after the prompt's
    quoted text on a prompt's first row."""
    head, paren, tail = method.partition(" (")
    name = "\n".join([textwrap.fill(head, 20), *([f"({tail}"] if paren else [])])
    if text is None:
        return name
    quoted = textwrap.fill(f"\u201c{textwrap.shorten(text, 90, placeholder='...')}\u201d", 24)
    return f"{quoted}\n\n{name}"


def plot_fig11(
    examples: Sequence[dict[str, Any]],
    model: str,
    pdf: str,
    png: str,
    coeff: float | None = None,
    dpi: int = 150,
    font_size: float = 8,
) -> plt.Figure:
    """Fig. 11: a block per prompt group (style, then layout; :func:`fig11_examples`), headed
    by its prompts and FPS feature; in it one row per (prompt, method), the method's images in
    its columns, each titled by its seed. Rows are named (to their left) by their method, a
    prompt's first row also by the prompt's text. The title names the model and the Particle
    Guidance coefficient ``coeff`` (or says there are no Particle Guidance images). Returns
    the (closed) figure.
    """
    if not examples:
        raise ValueError("fig. 11 needs at least one example prompt")
    groups = [g for g in GROUPS if any(e["group"] == g for e in examples)]
    groups += list(dict.fromkeys(e["group"] for e in examples if e["group"] not in groups))
    lines: list[tuple[str, Any]] = []  # ("block", group) or ("row", (text, method, shown))
    for group in groups:
        lines.append(("block", group))
        for example in (e for e in examples if e["group"] == group):
            for i, (method, shown) in enumerate(example["images"].items()):
                lines.append(("row", (example["text"] if i == 0 else None, method, list(shown))))
    rows = [line for kind, line in lines if kind == "row"]
    if not any(shown for _, _, shown in rows):
        raise ValueError("fig. 11: the examples hold no images")
    columns = max(len(shown) for _, _, shown in rows)
    heights = [0.3 if kind == "block" else 1.0 for kind, _ in lines]
    fig = plt.figure(figsize=(0.95 * columns + 1.9, 1.12 * sum(heights) + 0.5))
    grid = fig.add_gridspec(len(lines), columns, height_ratios=heights)
    for r, (kind, line) in enumerate(lines):
        if kind == "block":
            ax = fig.add_subplot(grid[r, :])
            ax.set_axis_off()
            ax.text(
                0.0, 0.0, BLOCKS.get(line, line), transform=ax.transAxes, ha="left",
                va="bottom", fontsize=font_size, fontweight="bold",
            )  # fmt: skip
            continue
        text, method, shown = line
        for c in range(columns):
            ax = fig.add_subplot(grid[r, c])
            ax.set_xticks([])
            ax.set_yticks([])
            if c < len(shown):
                label, image = shown[c]
                ax.imshow(np.asarray(image))
                ax.set_title(textwrap.fill(label, 14), fontsize=font_size - 2, pad=2)
            else:
                ax.set_frame_on(False)
            if c == 0:
                ax.set_ylabel(
                    _row_name(method, text), fontsize=font_size - 2, rotation=0, ha="right",
                    va="center", labelpad=6,
                )  # fmt: skip
    if any(m.startswith(PG) for _, m, _ in rows):
        shown = f"{PG} (coeff {coeff:g})" if coeff is not None else PG
        title = f"{model}: random seeds, {shown} and diverse (FPS) seeds"
    else:
        title = f"{model}: random vs diverse (FPS) seeds; no Particle Guidance images"
    width = fig.get_size_inches()[0]
    fig.suptitle(textwrap.fill(title, max(40, int(width * 11))), fontsize=font_size + 1)
    save_figure(fig, pdf, png, dpi)
    return fig


# --- diversity against quality -----------------------------------------------------------------

# (prompt group, measure, axis label): the panels of a model's row
PANELS = (
    ("style", "cosine", "style cosine (paper)"),
    ("layout", "cosine", "layout cosine (paper)"),
    ("style", "dino", "DINO cosine"),
)
PG_COLOUR = "tab:blue"
PG_LABEL = f"{PG}, labelled by coeff\n(0, hollow: {CONTROL})"
# method -> (marker, colour) of the methods that are not Particle Guidance
MARKERS = {
    RANDOM: ("o", "0.35"),
    FPS_METHODS["style"]: ("^", "tab:red"),
    FPS_METHODS["layout"]: ("v", "tab:green"),
}


def _errors(value: float, lo: float, hi: float) -> list[list[float]] | None:
    """An error bar ``[[below], [above]]``; None without a (finite) interval."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return None
    return [[max(value - lo, 0.0)], [max(hi - value, 0.0)]]


def diversity_quality_points(long_table: pd.DataFrame, model: str, group: str, measure: str):
    """The points of one panel: a row per method (table order) with ``x`` (mean HPS), its
    ``x_lo``/``x_hi``, ``y`` (``measure``), ``y_lo``/``y_hi`` and ``coeff`` (NaN but for
    Particle Guidance and its control); methods without a finite x and y are left out."""
    mine = long_table[(long_table["model"] == model) & (long_table["group"] == group)]
    cols = ["method", "value", "lo", "hi", "coeff"]
    x = mine[mine["measure"] == "hps"][cols[:4]]
    y = mine[mine["measure"] == measure][cols]
    both = y.merge(x, on="method", how="inner", suffixes=("_y", "_x"))
    points = pd.DataFrame(
        {
            "method": both["method"].to_numpy(),
            "x": both["value_x"].to_numpy(float),
            "x_lo": both["lo_x"].to_numpy(float),
            "x_hi": both["hi_x"].to_numpy(float),
            "y": both["value_y"].to_numpy(float),
            "y_lo": both["lo_y"].to_numpy(float),
            "y_hi": both["hi_y"].to_numpy(float),
            "coeff": pd.to_numeric(both["coeff"], errors="coerce").to_numpy(float),
        }
    )
    keep = np.isfinite(points["x"]) & np.isfinite(points["y"])
    return points[keep].reset_index(drop=True)


def _panel(ax, points: pd.DataFrame, font_size: float) -> None:
    """One panel's points (:func:`diversity_quality_points`), Particle Guidance's joined in
    coefficient order (``gid`` of the curve: ``Particle Guidance``; of each point's marker
    line: its method) and labelled with their coefficient."""
    pg = points[np.isfinite(points["coeff"])].sort_values("coeff")
    if len(pg) > 1:
        ax.plot(
            pg["x"], pg["y"], "-", color=PG_COLOUR, linewidth=1, alpha=0.7, gid=PG, zorder=1,
            label=PG_LABEL,
        )  # fmt: skip
    for p in points.itertuples():
        is_pg = math.isfinite(p.coeff)
        if is_pg:
            marker, colour = ("s" if p.coeff == 0 else "D"), PG_COLOUR
            label = PG_LABEL if len(pg) == 1 else "_nolegend_"  # else the curve's label
        else:
            (marker, colour), label = MARKERS.get(p.method, ("P", "tab:purple")), p.method
        bars = ax.errorbar(
            p.x, p.y, xerr=_errors(p.x, p.x_lo, p.x_hi), yerr=_errors(p.y, p.y_lo, p.y_hi),
            fmt=marker, color=colour, ecolor=to_rgba(colour, 0.45), markersize=5,
            markerfacecolor="white" if is_pg and p.coeff == 0 else colour,
            elinewidth=0.7, capsize=1.5, zorder=2, label=label,
        )  # fmt: skip
        bars.lines[0].set_gid(p.method)
        if is_pg:
            ax.annotate(
                f"{p.coeff:g}", (p.x, p.y), xytext=(4, 3), textcoords="offset points",
                fontsize=font_size - 2, color=PG_COLOUR, gid=f"coeff {p.coeff:g}",
            )  # fmt: skip


def plot_diversity_quality(
    long_table: pd.DataFrame,
    pdf: str,
    png: str,
    dpi: int = 150,
    font_size: float = 8,
    hps_version: str | None = None,
) -> plt.Figure:
    """Diversity against quality: one row of panels per model of Table 2's long form
    (:data:`~seedscope.diverse.table2.COLUMNS`), panels :data:`PANELS` (style cosine on the
    style evaluation prompts, layout cosine on the layout ones, DINO cosine on the style ones)
    against mean HPS on the same prompts.

    Every method is a point at (HPS, diversity) with both intervals as error bars (none where
    the interval is missing); Particle Guidance's coefficients and its control (coefficient 0,
    a hollow square) are joined in coefficient order and labelled with their coefficient.
    Cells without a finite value are skipped (a panel with none says so). Axis labels say
    which way is better; ``hps_version`` names the HPS version. Returns the (closed) figure.
    """
    if long_table.empty:
        raise ValueError("the diversity-quality figure needs Table 2 rows")
    models = list(dict.fromkeys(long_table["model"]))
    hps = f"mean HPS {hps_version}" if hps_version else "mean HPS"
    fig, axes = plt.subplots(
        len(models), len(PANELS), figsize=(3.3 * len(PANELS) + 1.8, 2.9 * len(models) + 0.5),
        squeeze=False,
    )  # fmt: skip
    for row, model in zip(axes, models, strict=True):
        for ax, (group, measure, name) in zip(row, PANELS, strict=True):
            points = diversity_quality_points(long_table, model, group, measure)
            _panel(ax, points, font_size)
            if points.empty:
                ax.text(
                    0.5, 0.5, "no values", transform=ax.transAxes, ha="center", va="center",
                    fontsize=font_size, color="0.4",
                )  # fmt: skip
            ax.set_title(f"{model}, {GROUPS[group]}", fontsize=font_size)
            ax.set_xlabel(f"{hps} (higher is better \u2192)", fontsize=font_size)
            ax.set_ylabel(f"{name}\n(lower is more diverse \u2193)", fontsize=font_size)
            ax.tick_params(labelsize=font_size - 1)
            ax.grid(alpha=0.3, linewidth=0.5)
        handles = {}
        for ax in row:
            for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
                if label.startswith(PG):  # the curve's points: filled, the control hollow
                    handle = Line2D([], [], color=PG_COLOUR, marker="D", markersize=4)
                handles.setdefault(label, handle)
        if handles:
            row[-1].legend(
                handles.values(), handles.keys(), loc="upper left", bbox_to_anchor=(1.02, 1.0),
                fontsize=font_size - 1, frameon=False,
            )  # fmt: skip
    fig.suptitle(
        "Diversity against quality: Particle Guidance's coefficient sweep vs random and "
        "diverse (FPS) seeds",
        fontsize=font_size + 1,
    )
    save_figure(fig, pdf, png, dpi)
    return fig
