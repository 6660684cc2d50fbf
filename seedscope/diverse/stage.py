"""The diverse-seed comparison as the workflow runs it: evaluation prompts, each model's FPS
seed sets from its analysis prompts, and its Table 2 rows from the evaluation prompts.

Analysis and evaluation prompts never overlap: style seeds are chosen on the style stage's
analysis prompts (``style.prompt_sets``) and scored on a seeded sample of another set
(``diverse.style_set``); layout seeds are chosen on one half of the synthetic prompts and
scored on the other half (halved per object, :func:`seedscope.diverse.split.layout_split`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from seedscope.diverse.fps import fps_sets
from seedscope.diverse.split import check_disjoint, layout_split, style_evaluation
from seedscope.diverse.table2 import (
    PG,
    diversity_rows,
    layout_cube,
    layout_fps_features,
    style_cube,
    style_fps_features,
)
from seedscope.layout.tables import LayoutFeatures
from seedscope.style.tables import StyleFeatures


def evaluation_prompts(
    style_rows: Sequence[dict], layout_rows: Sequence[dict], params: dict[str, Any]
) -> dict[str, list[str]]:
    """``style`` evaluation ids (a sample of the style set), and the layout ``analysis`` and
    ``layout`` evaluation halves of the synthetic set."""
    style = style_evaluation([r["id"] for r in style_rows], params["style_prompts"], params["seed"])
    analysis, evaluation = layout_split(layout_rows, params["split_seed"])
    check_disjoint(analysis, evaluation, "layout")
    return {"style": style, "layout_analysis": analysis, "layout": evaluation}


def seed_sets(
    style: StyleFeatures,
    layout: LayoutFeatures,
    layout_analysis: Sequence[str],
    params: dict[str, Any],
) -> dict[str, Any]:
    """The FPS seed sets (``diverse.repeats`` runs of ``diverse.c`` seeds) on style features
    (every analysis prompt of the style tables) and layout features (the analysis half), as
    seed numbers. Style features are the concatenated unit Gram vectors
    (:func:`~seedscope.diverse.table2.style_fps_features`, which says why), or with
    ``params["style_features"] == "map"`` the style map's ``N x 2P`` per-prompt t-SNE
    positions (:func:`seedscope.style.maps.prompt_maps` with ``params["map"]``). A seed never
    detected on the analysis half sits at the layout features' mean
    (``empty="zero"``); a segmenter that finds nothing at all still gives sets, which are then
    as good as random, and Table 2 says so."""
    seeds = sorted(set(style.seeds.tolist()))
    analysis = sorted(set(style.prompt_ids.tolist()))
    found = np.isin(layout.prompt_ids, list(layout_analysis)) & (layout.values[:, 0] > 0.5)
    if params.get("style_features", "gram") == "map":  # the style map's N x 2P positions
        from seedscope.style.maps import prompt_maps

        order, style_features = prompt_maps(
            style.gram, style.seeds, style.prompt_ids, **params["map"]
        )
        assert list(order) == seeds
    else:
        style_features = style_fps_features(style, seeds, analysis)
    features = {
        "style": style_features,
        # no detection at all: every seed alike, so FPS's sets are its seeded first picks
        "layout": layout_fps_features(layout, seeds, list(layout_analysis), empty="zero")
        if found.any()
        else np.zeros((len(seeds), 1)),
    }
    c, repeats, seed = params["c"], params["repeats"], params["seed"]
    return {
        "c": c,
        "seeds": seeds,
        "style_analysis": analysis,
        "layout_analysis": list(layout_analysis),
        "sets": {
            name: [[seeds[i] for i in run] for run in fps_sets(f, c, repeats, seed)]
            for name, f in features.items()
        },
    }


def table2_rows(
    sets: dict[str, Any],
    style: StyleFeatures,
    layout: LayoutFeatures,
    prompts: dict[str, list[str]],
    params: dict[str, Any],
    pg_style: StyleFeatures | None = None,
    pg_layout: LayoutFeatures | None = None,
    pg_note: str | None = None,
) -> pd.DataFrame:
    """One model's Table 2 rows (:func:`seedscope.diverse.table2.diversity_rows`): FPS sets
    and random seeds scored on every seed's images of the evaluation prompts, Particle
    Guidance on its own rendered images of the same prompts."""
    check_disjoint(sets["style_analysis"], prompts["style"], "style")
    check_disjoint(sets["layout_analysis"], prompts["layout"], "layout")
    seeds = sets["seeds"]
    index = {s: i for i, s in enumerate(seeds)}
    fps = {name: [[index[s] for s in run] for run in runs] for name, runs in sets["sets"].items()}
    style_eval = style_cube(style, seeds, prompts["style"])
    layout_eval = layout_cube(layout, seeds, prompts["layout"])
    undetected = bool(np.isnan(layout_eval).all())
    if undetected:  # nothing to score: the layout cells are NaN, and the note says why
        layout_eval = None
    pg = {"style": None, "layout": None}
    if pg_style is not None and pg_layout is not None:
        particles = sorted(set(pg_style.seeds.tolist()))
        pg["style"] = style_cube(pg_style, particles, prompts["style"])
        pg["layout"] = None if undetected else layout_cube(pg_layout, particles, prompts["layout"])
    rows = diversity_rows(
        style_eval, layout_eval, fps, pg["style"], pg["layout"],
        c=params["c"], draws=params["random_draws"], seed=params["seed"],
        confidence=params["confidence"], resamples=params["resamples"],
        notes={PG: pg_note} if pg_note else None,
    )  # fmt: skip
    if undetected:
        suffix = "no object was detected in any layout evaluation image"
        rows["note"] = [
            f"{n}; {suffix}" if isinstance(n, str) and n else suffix for n in rows["note"]
        ]
    return rows
