"""Paper Table 2, extended: diverse seeds (FPS on seed style or layout features) against random
seeds and Particle Guidance at a sweep of coefficients with its same-seeds control, each
scored for diversity and for quality on evaluation prompts.

For one model, every method gives ``C`` images per evaluation prompt. Two groups of prompts
(:data:`GROUPS`): the style evaluation prompts (COCO captions) and the layout evaluation
prompts (the synthetic set's evaluation half). In each group, four measures
(:data:`MEASURES`), each a value per prompt (:mod:`seedscope.diverse.score`) averaged over
prompts:

- ``cosine``: the paper's score, the mean pairwise cosine similarity of the images' features
  (style: projected Gram vectors; layout: z-scored x, y, size, depth,
  :func:`~seedscope.diverse.cubes.layout_score_vectors`) over the pairs of images that have
  them (an image whose object was not found is dropped, not its prompt); lower is more diverse;
- ``vendi``: the Vendi score of the same features (held out from the pairwise cosine FPS is
  closest to; 1 to C, higher is more diverse);
- ``dino``: the mean pairwise cosine of DINO ViT-B/8 embeddings, an image embedding no seed
  selection uses (the Particle Guidance paper's in-batch similarity); lower is more diverse;
- ``hps``: the mean HPS of the images, the quality column (higher is better).

Methods (rows, :func:`method_order`): ``random seeds`` (``draws`` sets of C distinct seeds, each
used for every prompt), ``same seeds, no guidance`` (each prompt's Particle Guidance seeds
rendered at coefficient 0: the control), ``Particle Guidance (coeff g)`` for every configured
coefficient, and ``diverse seeds (style FPS)`` / ``(layout FPS)`` (``R`` FPS runs chosen on the
analysis prompts, each set used for every evaluation prompt).

Every method gives a ``(sets, P)`` matrix of per-prompt values; its value is the mean of the
defined cells with a two-way bootstrap interval
(:func:`~seedscope.diverse.score.set_matrix_estimate`). ``diff_random`` is the paired
difference to random seeds, ``diff_control`` (Particle Guidance rows) the paired difference to
the control, which has the same seeds per prompt
(:func:`~seedscope.diverse.score.set_matrix_difference`). ``prompts_excluded`` counts the
prompts a measure left out (mean per set), ``images_excluded`` the images without the feature
among the method's images (mean per set).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from seedscope.diverse.cubes import layout_score_vectors
from seedscope.diverse.score import (
    RESAMPLES,
    Estimate,
    mean_scores,
    missing_images,
    prompt_scores,
    random_sets,
    set_matrix_difference,
    set_matrix_estimate,
    set_scores,
    vendi_scores,
)
from seedscope.diverse.settings import check_set_size
from seedscope.errors import ConfigError, FeatureError
from seedscope.tables import to_markdown

RANDOM = "random seeds"
CONTROL = "same seeds, no guidance"
PG = "Particle Guidance"
FPS_METHODS = {"style": "diverse seeds (style FPS)", "layout": "diverse seeds (layout FPS)"}
GROUPS = {"style": "style evaluation prompts", "layout": "layout evaluation prompts"}
# measure -> (the cube it reads, the per-prompt function, its label)
MEASURES = {
    "cosine": ("paper", prompt_scores, "cosine (paper)"),
    "vendi": ("paper", vendi_scores, "Vendi"),
    "dino": ("dino", prompt_scores, "DINO cosine"),
    "hps": ("hps", mean_scores, "HPS"),
}
FEATURES = ("paper", "dino", "hps")
COLUMNS = (
    "model",
    "method",
    "coeff",
    "group",
    "measure",
    "value",
    "lo",
    "hi",
    "diff_random",
    "diff_random_lo",
    "diff_random_hi",
    "diff_control",
    "diff_control_lo",
    "diff_control_hi",
    "prompts",
    "prompts_excluded",
    "images_excluded",
    "sets",
    "c",
    "confidence",
    "note",
)


def pg_method(coeff: float) -> str:
    """The row name of Particle Guidance at ``coeff`` (0: the control)."""
    return CONTROL if coeff == 0 else f"{PG} (coeff {coeff:g})"


def method_order(coeffs: Sequence[float]) -> list[str]:
    """The rows in table order for the Particle Guidance coefficients ``coeffs``."""
    pg = [pg_method(g) for g in sorted(set(coeffs) - {0.0})]
    return [RANDOM, CONTROL, *pg, *FPS_METHODS.values()]


def _check_sets(name: str, sets, c: int, n: int) -> np.ndarray:
    s = np.asarray(sets)
    if s.ndim != 2 or s.shape[0] == 0 or not np.issubdtype(s.dtype, np.integer):
        raise FeatureError(f"FPS sets of {name} must be a (repeats, c) integer array: {s.shape}")
    if s.shape[1] != c:
        raise ConfigError(
            f"FPS sets of {name} hold {s.shape[1]} seeds each but diverse.c = {c}; choose them "
            "with the same diverse.c"
        )
    if s.min() < 0 or s.max() >= n:
        raise FeatureError(
            f"FPS sets of {name} index seeds outside 0..{n - 1}: they must index the seed axis "
            "of the evaluation features (one seed order for FPS features and evaluation cubes)"
        )
    return s


def _pool_size(pool: Mapping[str, Mapping[str, np.ndarray | None]]) -> int:
    sizes = {
        np.shape(cube)[1] for cubes in pool.values() for cube in cubes.values() if cube is not None
    }
    if not sizes:
        raise FeatureError("Table 2 needs evaluation features of at least one prompt group")
    if len(sizes) > 1:
        raise FeatureError(
            f"evaluation features have {sorted(sizes)} seeds: they must share one seed order "
            "(the seeds FPS chose from)"
        )
    return sizes.pop()


def _layout_scored(pool, particles):
    """The layout cubes of the pool and of every coefficient, z-scored together."""
    layout = pool.get("layout", {}).get("paper")
    if layout is None or np.isnan(layout).all():  # nothing detected: the cells say so
        return pool, particles
    coeffs = list(particles)
    others = [particles[g].get("layout", {}).get("paper") for g in coeffs]
    scored, *pg = layout_score_vectors(layout, *others)
    pool = {**pool, "layout": {**pool["layout"], "paper": scored}}
    particles = {
        g: {**particles[g], "layout": {**particles[g].get("layout", {}), "paper": cube}}
        for g, cube in zip(coeffs, pg, strict=True)
    }
    return pool, particles


def diversity_rows(
    pool: Mapping[str, Mapping[str, np.ndarray | None]],
    fps_sets: Mapping[str, np.ndarray | Sequence[Sequence[int]] | None],
    particles: Mapping[float, Mapping[str, Mapping[str, np.ndarray | None]]] | None = None,
    *,
    coeffs: Sequence[float] | None = None,
    c: int,
    draws: int,
    seed: int = 0,
    confidence: float = 0.95,
    resamples: int = RESAMPLES,
    notes: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """The rows of Table 2 for one model: one per (method, group, measure), columns
    :data:`COLUMNS` (``model`` left empty).

    ``pool[group][feature]`` (groups :data:`GROUPS`, features :data:`FEATURES`) is the
    ``(P_group, N, D)`` cube of every seed's image per evaluation prompt: ``paper`` the style
    Gram vectors or the raw layout vectors (x, y, size, depth; NaN rows for undetected
    objects, z-scored here), ``dino`` the DINO embeddings, ``hps`` the HPS scores
    (``D = 1``); None where not measured. ``fps_sets`` (``{"style": (R, c), "layout": (R,
    c)}``) index the seed axis. ``particles[coeff][group][feature]`` is Particle Guidance's
    ``(P_group, c, D)`` cube at ``coeff`` (0: the control); ``coeffs`` the configured ones
    (default: those of ``particles``), each a row even without images. ``notes[method]``
    replaces a row's note (e.g. why Particle Guidance cannot render this model).
    """
    notes, particles = dict(notes or {}), dict(particles or {})
    n = _pool_size(pool)
    check_set_size(c, n)
    pool, particles = _layout_scored(pool, particles)
    seed_methods = {RANDOM: random_sets(n, c, draws, seed)}
    for key, method in FPS_METHODS.items():
        if fps_sets.get(key) is not None:
            seed_methods[method] = _check_sets(key, fps_sets[key], c, n)
    coeffs = sorted({0.0, *(float(g) for g in (particles if coeffs is None else coeffs))})
    coeff_of = {pg_method(g): g for g in coeffs}
    kw = {"confidence": confidence, "resamples": resamples, "seed": seed}
    rows = {}
    for group in GROUPS:
        for measure, (feature, function, _) in MEASURES.items():
            cube = pool.get(group, {}).get(feature)
            random = None if cube is None else set_scores(cube, seed_methods[RANDOM], function)
            for method in method_order(coeffs):
                row = dict.fromkeys(COLUMNS, np.nan) | {
                    "model": "", "method": method, "coeff": coeff_of.get(method, np.nan),
                    "group": group, "measure": measure, "c": c, "confidence": confidence,
                    "note": "",
                }  # fmt: skip
                if cube is None:
                    row["note"] = f"no {feature} features of the {GROUPS[group]}"
                elif method in seed_methods:
                    sets = seed_methods[method]
                    scores = random if method == RANDOM else set_scores(cube, sets, function)
                    row["sets"] = len(sets)
                    _estimate(row, scores, random, missing_images(cube, sets), **kw)
                elif method in coeff_of:
                    _particle_row(row, cube, random, particles, feature, function, c, **kw)
                else:
                    row["note"] = "no FPS sets"
                if notes.get(method):
                    row["note"] = notes[method]
                rows[method, group, measure] = row
    order = [
        rows[method, group, measure]
        for method in method_order(coeffs)
        for group in GROUPS
        for measure in MEASURES
    ]
    return pd.DataFrame(order, columns=list(COLUMNS))


def _estimate(row: dict, scores, random, images: float, **kw) -> None:
    """Fill ``row`` with the estimate of ``scores`` ``(sets, P)`` and its difference to
    random seeds; a measure no prompt can be scored by gets a note instead."""
    try:
        estimate = set_matrix_estimate(scores, kw["confidence"], kw["resamples"], kw["seed"])
    except FeatureError as error:
        row["note"] = f"not estimated: {error}"
        return
    row |= {"value": estimate.value, "lo": estimate.low, "hi": estimate.high}
    row |= {"prompts": estimate.prompts, "prompts_excluded": estimate.excluded}
    row["images_excluded"] = images
    if scores is random:  # the reference row: its difference to itself is 0
        row |= {"diff_random": 0.0, "diff_random_lo": 0.0, "diff_random_hi": 0.0}
    else:
        _fill(row, "diff_random", _difference(scores, random, **kw))


def _particle_row(row, cube, random, particles, feature, function, c, **kw) -> None:
    """Fill a Particle Guidance (or control) row from its coefficient's images."""
    group, coeff = row["group"], row["coeff"]
    mine = particles.get(coeff, {}).get(group, {}).get(feature)
    if mine is None:
        row["note"] = f"no Particle Guidance {feature} features of the {GROUPS[group]}"
        return
    _check_pg(mine, cube, c, f"{feature} ({group})")
    scores = function(mine)[None]
    row["sets"] = 1
    _estimate(row, scores, random, missing_images(mine, [list(range(c))]), **kw)
    control = particles.get(0.0, {}).get(group, {}).get(feature)
    if control is not None and math.isfinite(row["value"]):
        _fill(row, "diff_control", _difference(scores, function(control)[None], **kw))


def _difference(a, b, **kw) -> Estimate | None:
    try:
        return set_matrix_difference(a, b, kw["confidence"], kw["resamples"], kw["seed"])
    except FeatureError:
        return None


def _fill(row: dict, name: str, estimate: Estimate | None) -> None:
    if estimate is not None:
        row |= {name: estimate.value, f"{name}_lo": estimate.low, f"{name}_hi": estimate.high}


def _check_pg(cube: np.ndarray, pool_cube: np.ndarray, c: int, what: str) -> None:
    expected = (pool_cube.shape[0], c, pool_cube.shape[2])
    if np.shape(cube) != expected:
        raise FeatureError(
            f"Particle Guidance {what} features have shape {np.shape(cube)}; expected "
            f"{expected}: the evaluation prompts, diverse.c images each, the features' width"
        )


# --- writing Table 2 ---------------------------------------------------------------------------


def _one(long: pd.DataFrame, column: str):
    values = set(long[column].dropna())
    if len(values) != 1:
        raise ValueError(f"Table 2 models differ in {column} ({sorted(values)}); use one setting")
    return values.pop()


def _interval(value, lo, hi, signed: bool = False) -> str:
    if not math.isfinite(value):
        return "n/a"
    form = "+.3f" if signed else ".3f"
    text = f"{value:{form}}"
    return text + (f" [{lo:{form}}, {hi:{form}}]" if math.isfinite(lo) else "")


def _cell(row: pd.Series, delta: str) -> str:
    text = _interval(row["value"], row["lo"], row["hi"])
    if text == "n/a":
        return text
    if row["method"] != RANDOM and math.isfinite(row["diff_random"]):
        diff = _interval(row["diff_random"], row["diff_random_lo"], row["diff_random_hi"], True)
        text += f"; {delta}rand {diff}"
    if row["method"].startswith(PG) and math.isfinite(row["diff_control"]):
        diff = _interval(row["diff_control"], row["diff_control_lo"], row["diff_control_hi"], True)
        text += f"; {delta}ctrl {diff}"
    return text


def _left_out(rows: pd.DataFrame) -> str:
    paper = rows[rows["measure"] == "cosine"]
    if paper.empty or not math.isfinite(paper["prompts"].iloc[0]):
        return "n/a"
    r = paper.iloc[0]
    return f"{r['prompts_excluded']:g} / {r['images_excluded']:g}"


def _blocks(long: pd.DataFrame, delta: str) -> list[tuple[str, list[str], list[list[str]]]]:
    """(title, header, lines) of one block per (model, group)."""
    header = ["method"] + [MEASURES[m][2] for m in MEASURES] + ["left out (prompts / images)"]
    blocks = []
    for model in dict.fromkeys(long["model"]):
        mine = long[long["model"] == model]
        methods = list(dict.fromkeys(mine["method"]))
        for group, title in GROUPS.items():
            lines = []
            for method in methods:
                rows = mine[(mine["method"] == method) & (mine["group"] == group)]
                cells = [
                    _cell(rows[rows["measure"] == m].iloc[0], delta) if (rows["measure"] == m).any()
                    else "n/a"
                    for m in MEASURES
                ]  # fmt: skip
                lines.append([method, *cells, _left_out(rows)])
            blocks.append((f"{model}, {title}", header, lines))
    return blocks


def _notes(long: pd.DataFrame) -> list[str]:
    notes = long[long["note"].fillna("") != ""]
    return list(dict.fromkeys(f"{r.model}, {r.method}: {r.note}" for r in notes.itertuples()))


def _caption(c: int, confidence: float) -> str:
    return (
        f"Diversity and quality of the {c} images of an evaluation prompt, averaged over "
        "prompts, with {confidence:.0%} bootstrap intervals: cosine, the paper's mean pairwise "
        "cosine similarity of style (Gram) or layout (z-scored x, y, size, depth) features "
        "(lower is more diverse); Vendi, the Vendi score of the same features (1 to C, higher "
        "is more diverse); DINO cosine, the mean pairwise cosine of DINO ViT-B/8 embeddings "
        "(lower is more diverse); HPS, mean human preference score (higher is better). "
        "Delta-rand: difference to random seeds; Delta-ctrl: difference to the same seeds "
        "without guidance; both paired over prompts."
    ).replace("{confidence:.0%}", f"{confidence:.0%}")


def write_table2(
    rows_by_model: Mapping[str, pd.DataFrame], csv: str | Path, md: str | Path, tex: str | Path
) -> pd.DataFrame:
    """Write Table 2 from each model's :func:`diversity_rows`.

    ``csv``: the long form (:data:`COLUMNS`, one row per model, method, group and measure);
    ``md``: per model and prompt group a Markdown table, methods by measures, cells
    "value [lo, hi]; Δrand diff [lo, hi]; Δctrl diff [lo, hi]" (n/a where not applicable),
    the caption above and the notes below; ``tex``: the same as booktabs tables. Every model
    must share ``c`` and ``confidence``. Returns the long table.
    """
    if not rows_by_model:
        raise ValueError("Table 2 needs the rows of at least one model")
    long = pd.concat(
        [rows.assign(model=model) for model, rows in rows_by_model.items()], ignore_index=True
    )[list(COLUMNS)]
    long.to_csv(csv, index=False)
    c, confidence = int(_one(long, "c")), float(_one(long, "confidence"))
    notes = _notes(long)
    parts = [f"Table 2. {_caption(c, confidence)}\n"]
    for title, header, lines in _blocks(long, "Δ"):
        parts.append(f"\n**{title}**\n\n{to_markdown(pd.DataFrame(lines, columns=header))}")
    parts.append("".join(f"\n- {note}" for note in notes) + ("\n" if notes else ""))
    Path(md).write_text("".join(parts))
    Path(tex).write_text(_latex(_blocks(long, r"$\Delta$"), notes, _caption(c, confidence)))
    return long


def _tex(text: str) -> str:
    for char in ("\\", "&", "%", "#", "_", "$"):
        text = text.replace(char, "\\" + char if char != "\\" else r"\textbackslash{}")
    return text


def _latex(blocks, notes: list[str], caption: str) -> str:
    body = []
    for title, header, lines in blocks:
        columns = "l" + "c" * (len(header) - 1)
        rows = "\n".join(" & ".join([_tex(line[0]), *line[1:]]) + r" \\" for line in lines)
        body.append(
            f"\\par\\smallskip {_tex(title)}\\par\n\\begin{{tabular}}{{{columns}}}\n\\toprule\n"
            + " & ".join(_tex(h) for h in header)
            + " \\\\\n\\midrule\n"
            + rows
            + "\n\\bottomrule\n\\end{tabular}\n"
        )
    foot = "".join(f"\\par\\footnotesize {_tex(note)}\n" for note in notes)
    caption = _tex(caption).replace("Delta-", r"$\Delta$")
    return (
        "\\begin{table}\n\\centering\n\\scriptsize\n"
        f"\\caption{{{caption}}}\n" + "".join(body) + f"{foot}\\end{{table}}\n"
    )
