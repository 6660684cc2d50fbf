"""The diverse-seed comparison as the workflow runs it: evaluation prompts, each model's FPS
seed sets from its analysis prompts, and its Table 2 rows from the evaluation prompts.

Analysis and evaluation prompts never overlap: style seeds are chosen on the style stage's
analysis prompts (``style.prompt_sets``) and scored on a seeded sample of another set
(``diverse.style_set``); layout seeds are chosen on one half of the synthetic prompts and
scored on the other half (halved per object, :func:`seedscope.diverse.split.layout_split`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from seedscope.diverse.cubes import (
    ImageRows,
    layout_components,
    layout_cube,
    layout_fps_features,
    particle_cube,
    rows_cube,
    style_cube,
    style_fps_features,
)
from seedscope.diverse.fps import fps_sets
from seedscope.diverse.split import check_disjoint, layout_split, style_evaluation
from seedscope.diverse.table2 import CONTROL, diversity_rows, pg_method
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


def paper_rows(features: StyleFeatures | LayoutFeatures) -> ImageRows:
    """The rows of the paper's feature of a group: Gram vectors, or layout vectors (x, y,
    size, depth; NaN where the object was not found)."""
    if isinstance(features, StyleFeatures):
        return ImageRows(features.seeds, features.prompt_ids, features.gram)
    return ImageRows(features.seeds, features.prompt_ids, layout_components(features.values))


def table2_rows(
    sets: dict[str, Any],
    style: StyleFeatures,
    layout: LayoutFeatures,
    prompts: dict[str, list[str]],
    params: dict[str, Any],
    evaluation: Mapping[str, Mapping[str, ImageRows]] | None = None,
    particles: Mapping[float, Mapping[str, Mapping[str, ImageRows]]] | None = None,
    coeffs: Sequence[float] = (),
    pg_note: str | None = None,
) -> pd.DataFrame:
    """One model's Table 2 rows (:func:`seedscope.diverse.table2.diversity_rows`): FPS sets
    and random seeds scored on every seed's images of the evaluation prompts, Particle
    Guidance and its control on their own images of the same prompts.

    ``evaluation[group]`` holds the ``dino`` and ``hps`` rows of every seed's images of the
    group's evaluation prompts; ``particles[coeff][group]`` the ``paper`` (:func:`paper_rows`),
    ``dino`` and ``hps`` rows of Particle Guidance's images at ``coeff`` (0: the control);
    ``coeffs`` the configured coefficients, each a row even where Particle Guidance cannot
    render the model (``pg_note`` says why)."""
    check_disjoint(sets["style_analysis"], prompts["style"], "style")
    check_disjoint(sets["layout_analysis"], prompts["layout"], "layout")
    seeds = sets["seeds"]
    index = {s: i for i, s in enumerate(seeds)}
    fps = {name: [[index[s] for s in run] for run in runs] for name, runs in sets["sets"].items()}
    pool = {
        "style": {"paper": style_cube(style, seeds, prompts["style"])},
        "layout": {"paper": layout_cube(layout, seeds, prompts["layout"])},
    }
    for group, measured in (evaluation or {}).items():
        for feature, rows in measured.items():
            pool[group][feature] = rows_cube(rows, seeds, prompts[group])
    c = params["c"]
    cubes = {
        float(coeff): {
            group: {f: particle_cube(rows, prompts[group], c) for f, rows in measured.items()}
            for group, measured in groups.items()
        }
        for coeff, groups in (particles or {}).items()
    }
    notes = None
    if pg_note:
        notes = {pg_method(g): pg_note for g in coeffs} | {CONTROL: pg_note}
    return diversity_rows(
        pool, fps, cubes, coeffs=coeffs or None,
        c=c, draws=params["random_draws"], seed=params["seed"],
        confidence=params["confidence"], resamples=params["resamples"], notes=notes,
    )  # fmt: skip
