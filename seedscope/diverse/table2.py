"""Paper Table 2: diverse seeds (FPS on seed style or layout features) against random seeds and
Particle Guidance, scored by the paper's diversity score on evaluation prompts.

For one model, every method gives ``C`` images per evaluation prompt; the score of a prompt is
the mean pairwise cosine similarity of its ``C`` images' features
(:func:`seedscope.diverse.score.prompt_scores`; lower is more diverse), and a method's value is
the mean over prompts. Two features, two columns: the (projected) Gram style vector and the
layout vector (x, y, size, depth of the prompt's object).

Methods (:data:`METHODS`):

- ``random seeds``: ``draws`` sets of ``C`` distinct seeds, each used for every prompt
  (:func:`seedscope.diverse.score.random_seed_baseline`, value and interval);
- ``Particle Guidance``: the ``C`` images PG rendered jointly for each prompt;
- ``diverse seeds (style FPS)`` / ``(layout FPS)``: ``R`` FPS sets (``R`` first seeds,
  :func:`seedscope.diverse.fps.fps_sets`) chosen on the *analysis* prompts' features, each
  used for every evaluation prompt.

Every method gives a matrix of per-set, per-prompt scores ``s`` (``sets x P``; NaN: a prompt
excluded in that set for a missing feature, i.e. an undetected object). The value is the mean
of its defined cells, as in ``random_seed_baseline``; without NaN that is the mean over prompts
of each prompt's mean over the sets. Intervals (:func:`set_matrix_estimate`,
:func:`set_matrix_difference`) are percentile bootstraps that resample prompts and,
independently, the sets (the "pigeonhole" bootstrap of ``random_seed_baseline``), so an FPS
method's dependence on its first seeds is counted. The difference to random seeds is
*paired*: a replicate's prompt weights are shared by the two methods, so prompt-to-prompt
variation cancels; it is taken over the prompts both methods score. With one set per method
the two reduce exactly to :func:`~seedscope.diverse.score.mean_interval` and
:func:`~seedscope.diverse.score.paired_difference`.

**Layout vectors for the score** (:func:`layout_score_vectors`). The raw layout components
live in [0, 1] (centroid, area fraction, depth percentile): as vectors they all point into the
positive orthant near (0.5, 0.5, small, 0.5), so their cosine similarity is close to 1 for any
two images and says little about layout. Each component is therefore z-scored (mean 0, unit
variance; a component with no spread only centred) over every detected evaluation image of
the model's seed pool, the same standardisation :func:`~seedscope.diverse.fps.layout_seed_features`
applies to the analysis features; Particle Guidance images get the same transform, so every
method is scored in one space. The cosine is then a centred, scale-balanced comparison: two
objects on opposite sides of the image score negative, and size and depth (small spreads)
weigh as much as position. Style vectors are scored as they are: the cosine of Gram vectors is
the paper's style similarity, and the random projection keeps it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from seedscope.diverse.fps import layout_seed_features
from seedscope.diverse.score import (
    RESAMPLES,
    Estimate,
    _check_interval_args,
    _percentiles,
    _weights,
    prompt_scores,
    random_seed_baseline,
    set_scores,
)
from seedscope.errors import ConfigError, FeatureError
from seedscope.layout.measures import LAYOUT_COLUMNS
from seedscope.layout.tables import LayoutFeatures
from seedscope.quality.table1 import to_markdown
from seedscope.style.tables import StyleFeatures

RANDOM = "random seeds"
PG = "Particle Guidance"
FPS_METHODS = {"style": "diverse seeds (style FPS)", "layout": "diverse seeds (layout FPS)"}
METHODS = (RANDOM, PG, FPS_METHODS["style"], FPS_METHODS["layout"])
FEATURES = ("style", "layout")
STATS = ("similarity", "lo", "hi", "diff", "diff_lo", "diff_hi", "prompts", "excluded")
STATS += ("diff_prompts",)
COLUMNS = (
    "method",
    "sets",
    *(f"{f}_{s}" for f in FEATURES for s in STATS),
    "c",
    "confidence",
    "note",
)


# --- feature arrays from the feature tables ---------------------------------------------------


def _row_grid(seeds, prompt_ids, seeds_order, prompt_order) -> np.ndarray:
    """``(P, N)`` row indices of (prompt, seed) into the aligned per-image arrays; -1 missing.

    Rows of seeds or prompts not in the orders are ignored; a pair given twice is an error.
    """
    seed_index = pd.Index(np.asarray(seeds_order))
    prompt_index = pd.Index(np.asarray(prompt_order).astype(str))
    for name, index in (("seeds_order", seed_index), ("prompt_order", prompt_index)):
        if not index.is_unique:
            raise FeatureError(f"{name} lists an entry twice; list each seed or prompt once")
    si = seed_index.get_indexer(np.asarray(seeds))
    pi = prompt_index.get_indexer(np.asarray(prompt_ids).astype(str))
    keep = (si >= 0) & (pi >= 0)
    flat = pi[keep] * len(seed_index) + si[keep]
    if np.unique(flat).size != flat.size:
        raise FeatureError(
            f"{flat.size - np.unique(flat).size} (seed, prompt) pairs occur more than once: "
            "feature tables overlap; pass each shard's table once"
        )
    grid = np.full(len(prompt_index) * len(seed_index), -1, dtype=np.int64)
    grid[flat] = np.flatnonzero(keep)
    return grid.reshape(len(prompt_index), len(seed_index))


def _require_complete(grid: np.ndarray, seeds_order, prompt_order, what: str) -> None:
    missing = np.argwhere(grid < 0)
    if missing.size:
        p, n = missing[0]
        raise FeatureError(
            f"{what}: {len(missing)} (prompt, seed) images are in no feature table (e.g. prompt "
            f"{np.asarray(prompt_order)[p]}, seed {np.asarray(seeds_order)[n]}); pass the "
            "tables of every seed's shard of these prompts"
        )


def evaluation_cube(
    seeds: Sequence[int],
    prompt_ids: Sequence[str],
    values: np.ndarray,
    seeds_order: Sequence[int],
    prompt_order: Sequence[str],
    complete: bool = False,
) -> np.ndarray:
    """Per-image feature rows ``values`` ``(rows, D)`` (aligned with ``seeds`` and
    ``prompt_ids``) as a ``(P, N, D)`` float64 cube in ``prompt_order`` x ``seeds_order``.

    A (prompt, seed) pair without a row is NaN, or a ``FeatureError`` with ``complete=True``;
    rows of other seeds or prompts are ignored; a pair with two rows is a ``FeatureError``.
    """
    values = np.asarray(values, dtype=float)
    if values.ndim != 2 or len(values) != len(seeds) or len(seeds) != len(prompt_ids):
        raise FeatureError(
            f"need one feature row per (seed, prompt id): got values {values.shape}, "
            f"{len(seeds)} seeds, {len(prompt_ids)} prompt ids"
        )
    grid = _row_grid(seeds, prompt_ids, seeds_order, prompt_order)
    if complete:
        _require_complete(grid, seeds_order, prompt_order, "evaluation features")
    cube = np.full((*grid.shape, values.shape[1]), np.nan)
    cube[grid >= 0] = values[grid[grid >= 0]]
    return cube


def layout_components(values: np.ndarray) -> np.ndarray:
    """Layout rows (:data:`~seedscope.layout.measures.LAYOUT_COLUMNS`) without ``found``:
    ``(rows, 4)`` x, y, size, depth, NaN where the object was not found."""
    values = np.asarray(values, dtype=float)
    if values.ndim != 2 or values.shape[1] != len(LAYOUT_COLUMNS):
        raise FeatureError(f"layout rows must be (rows, {len(LAYOUT_COLUMNS)}): {values.shape}")
    found = values[:, 0]
    if not np.isin(found, (0, 1)).all():
        raise FeatureError("layout column 'found' holds values other than 0 and 1")
    out = values[:, 1:].copy()
    out[found != 1] = np.nan
    if not np.isfinite(out[found == 1]).all():
        raise FeatureError("a found object has a NaN or infinite layout value")
    return out


def style_cube(
    features: StyleFeatures, seeds_order: Sequence[int], prompt_order: Sequence[str]
) -> np.ndarray:
    """The ``(P, N, D)`` projected Gram vectors of every (prompt, seed) image; all required."""
    return evaluation_cube(
        features.seeds, features.prompt_ids, features.gram, seeds_order, prompt_order, True
    )


def layout_cube(
    features: LayoutFeatures, seeds_order: Sequence[int], prompt_order: Sequence[str]
) -> np.ndarray:
    """The ``(P, N, 4)`` layout vectors (x, y, size, depth) of every (prompt, seed) image,
    NaN rows where the object was not found; every image must have a row."""
    return evaluation_cube(
        features.seeds,
        features.prompt_ids,
        layout_components(features.values),
        seeds_order,
        prompt_order,
        True,
    )


def style_fps_features(
    features: StyleFeatures, seeds_order: Sequence[int], prompt_order: Sequence[str]
) -> np.ndarray:
    """Seed style features for FPS: ``(N, r)``, ``r <= N``, from the analysis prompts.

    A seed's style feature is its Gram vectors over the ``A`` analysis prompts, each scaled to
    unit length, concatenated in prompt order: the ``N x (A * D)`` matrix ``X``. Unit length
    makes Euclidean distance match the score: ``|x_i - x_j|^2 = 2 A - 2 sum_p cos_p(i, j)``, so
    FPS's farthest seed is the one with the lowest summed cosine similarity to the chosen
    ones, the quantity Table 2 measures. ``X`` itself is ``A * D`` wide (100 prompts x 1,024 =
    102,400 numbers per seed), so what is returned is an isometric embedding of it: with
    ``K = X X^T = sum_p U_p U_p^T`` (accumulated prompt by prompt) and ``K = V diag(w) V^T``,
    ``V sqrt(w)`` has the same pairwise distances as ``X`` (to rounding), hence FPS picks the
    same seeds (ties aside) at ``N x N`` memory.

    Why not the seed style map's 2-D t-SNE positions (fig. 8): t-SNE keeps neighbourhoods, not
    distances; distances between far-apart clusters, the ones FPS maximises, are arbitrary in
    its output and change with perplexity and its random start. Two dimensions also throw away
    most of what distinguishes seeds. The positions draw the map; the distances come from here.
    """
    grid = _row_grid(features.seeds, features.prompt_ids, seeds_order, prompt_order)
    _require_complete(grid, seeds_order, prompt_order, "style FPS features")
    gram = np.asarray(features.gram)
    k = np.zeros((grid.shape[1], grid.shape[1]))
    for rows in grid:
        u = np.asarray(gram[rows], dtype=float)
        if not np.isfinite(u).all():
            raise FeatureError("style Gram vectors contain NaN or infinite values")
        norms = np.linalg.norm(u, axis=1)
        if (norms == 0).any():
            raise FeatureError("a style Gram vector is all zeros: its direction is undefined")
        u /= norms[:, None]
        k += u @ u.T
    w, v = np.linalg.eigh(k)
    keep = w > w.max() * 1e-12
    return v[:, keep] * np.sqrt(w[keep])


def layout_fps_features(
    features: LayoutFeatures,
    seeds_order: Sequence[int],
    prompt_order: Sequence[str],
    empty: str = "error",
) -> np.ndarray:
    """Seed layout features for FPS: ``(N, A * 4)`` by
    :func:`~seedscope.diverse.fps.layout_seed_features` (standardised, missing detections
    filled with the seed's own mean) of the analysis prompts ``prompt_order``."""
    cube = layout_cube(features, seeds_order, prompt_order)  # (A, N, 4)
    return layout_seed_features(cube.transpose(1, 0, 2), empty=empty)


def layout_score_vectors(cube: np.ndarray, *others: np.ndarray | None) -> tuple[np.ndarray, ...]:
    """``cube`` ``(P, N, K)`` and ``others`` (e.g. PG's ``(P, C, K)``) z-scored per component
    with the mean and spread of ``cube``'s detected rows (see the module docstring); NaN rows
    (undetected) stay NaN, ``None`` stays ``None``."""
    x = np.asarray(cube, dtype=float)
    rows = [x] + [o for o in others if o is not None]
    for r in rows:
        nan = np.isnan(r)
        if (nan.any(axis=-1) & ~nan.all(axis=-1)).any():
            raise FeatureError("layout vectors have rows with some but not all values NaN")
    if np.isnan(x).all():
        raise FeatureError("no evaluation image has a detected object")
    mean = np.nanmean(x, axis=(0, 1))
    std = np.nanstd(x, axis=(0, 1))
    scale = np.where(std > 0, std, 1.0)
    return tuple(
        None if o is None else (np.asarray(o, dtype=float) - mean) / scale for o in (x, *others)
    )


# --- estimates over set x prompt score matrices ------------------------------------------------


def random_sets(n: int, c: int, draws: int, seed: int) -> np.ndarray:
    """The ``(draws, c)`` random seed sets :func:`random_seed_baseline` draws for ``seed``
    (the same generator calls, so the same sets)."""
    rng = np.random.default_rng(seed)
    return np.stack([rng.choice(n, size=c, replace=False) for _ in range(draws)])


def _pooled(s: np.ndarray, wr: np.ndarray | None, wp: np.ndarray) -> np.ndarray:
    """Replicates of the mean of ``s``'s defined cells, rows weighted by ``wr`` (None: all 1)
    and prompts by ``wp``."""
    ok = ~np.isnan(s)
    s0 = np.where(ok, s, 0.0)
    if wr is None:
        num, den = s0.sum(axis=0), ok.sum(axis=0).astype(float)
        with np.errstate(invalid="ignore", divide="ignore"):
            return (wp @ num) / (wp @ den)
    with np.errstate(invalid="ignore", divide="ignore"):
        return ((wr @ s0) * wp).sum(axis=1) / ((wr @ ok) * wp).sum(axis=1)


def _row_weights(r: int, resamples: int, rng) -> np.ndarray | None:
    return None if r == 1 else _weights(r, resamples, rng)


def _matrix(s: np.ndarray) -> np.ndarray:
    s = np.asarray(s, dtype=float)
    s = s[None] if s.ndim == 1 else s
    if s.ndim != 2 or 0 in s.shape:
        raise FeatureError(f"scores must be a non-empty (sets, prompts) matrix, got {s.shape}")
    return s


def set_matrix_estimate(
    scores: np.ndarray, confidence: float = 0.95, resamples: int = RESAMPLES, seed: int = 0
) -> Estimate:
    """Mean of the defined cells of ``scores`` ``(sets, P)`` (or ``(P,)``) with a two-way
    percentile bootstrap interval (prompts, and sets when there are several).

    ``prompts`` is P, ``excluded`` the mean number of NaN prompts per set. With one set this
    is :func:`~seedscope.diverse.score.mean_interval`, replicate for replicate.
    """
    _check_interval_args(confidence, resamples)
    s = _matrix(scores)
    ok = ~np.isnan(s)
    if ok.any(axis=0).sum() < 2:
        raise FeatureError(
            f"an interval needs at least 2 prompts with scores, got {ok.any(axis=0).sum()}"
        )
    rng = np.random.default_rng(seed)
    wp = _weights(s.shape[1], resamples, rng)
    reps = _pooled(s, _row_weights(s.shape[0], resamples, rng), wp)
    low, high = _percentiles(reps, confidence)
    excluded = float((~ok).sum(axis=1).mean())
    return Estimate(float(s[ok].mean()), low, high, s.shape[1], excluded)


def set_matrix_difference(
    a: np.ndarray,
    b: np.ndarray,
    confidence: float = 0.95,
    resamples: int = RESAMPLES,
    seed: int = 0,
) -> Estimate:
    """Paired difference of two methods' score matrices ``(sets_a, P)`` and ``(sets_b, P)`` on
    the same P prompts: ``mean(a) - mean(b)`` over the prompts both score (a prompt with no
    defined cell in either is dropped from both).

    Each replicate reweights prompts once for both (paired) and each method's sets
    independently. ``prompts`` counts the prompts compared, ``excluded`` those dropped. With
    one set each this is :func:`~seedscope.diverse.score.paired_difference`.
    """
    _check_interval_args(confidence, resamples)
    a, b = _matrix(a), _matrix(b)
    if a.shape[1] != b.shape[1]:
        raise FeatureError(
            f"paired scores must cover the same prompts: {a.shape[1]} vs {b.shape[1]}"
        )
    both = ~np.isnan(a).all(axis=0) & ~np.isnan(b).all(axis=0)
    if both.sum() < 2:
        raise FeatureError(
            f"a paired interval needs at least 2 prompts scored by both methods, got {both.sum()}"
        )
    a = np.where(both, a, np.nan)
    b = np.where(both, b, np.nan)
    rng = np.random.default_rng(seed)
    wp = _weights(a.shape[1], resamples, rng)
    reps = _pooled(a, _row_weights(a.shape[0], resamples, rng), wp) - _pooled(
        b, _row_weights(b.shape[0], resamples, rng), wp
    )
    low, high = _percentiles(reps, confidence)
    value = float(np.nanmean(a) - np.nanmean(b))
    return Estimate(value, low, high, int(both.sum()), float((~both).sum()))


# --- the rows of Table 2 -----------------------------------------------------------------------


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


def _check_pg(name: str, pg, p: int, c: int, d: int) -> np.ndarray:
    x = np.asarray(pg, dtype=float)
    if x.shape != (p, c, d):
        raise FeatureError(
            f"Particle Guidance {name} features have shape {x.shape}; expected ({p}, {c}, {d}): "
            "the evaluation prompts, diverse.c images each, the evaluation features' width"
        )
    return x


def diversity_rows(
    style_eval: np.ndarray | None,
    layout_eval: np.ndarray | None,
    fps_sets: Mapping[str, np.ndarray | Sequence[Sequence[int]] | None],
    pg_style: np.ndarray | None = None,
    pg_layout: np.ndarray | None = None,
    *,
    c: int,
    draws: int,
    seed: int = 0,
    confidence: float = 0.95,
    resamples: int = RESAMPLES,
    notes: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """The rows of Table 2 for one model: one per method of :data:`METHODS`, columns
    :data:`COLUMNS`.

    ``style_eval`` ``(P_s, N, D)``: every seed's image's Gram vector per style evaluation
    prompt; ``layout_eval`` ``(P_l, N, 4)``: raw layout vectors (x, y, size, depth; NaN rows
    for undetected objects), z-scored here (:func:`layout_score_vectors`). Both share one seed
    axis, which ``fps_sets`` (``{"style": (R, c), "layout": (R, c)}``, from
    :func:`~seedscope.diverse.fps.fps_sets`) index. ``pg_style`` ``(P_s, c, D)`` and
    ``pg_layout`` ``(P_l, c, 4)`` (raw): Particle Guidance's images of the same prompts.
    Either evaluation cube, FPS set or PG array may be None: its cells are NaN and ``note``
    says why (``notes[method]``, e.g. "one-step model: PG has no trajectory to guide",
    replaces the default).

    Per feature: ``<f>_similarity`` with ``<f>_lo``/``<f>_hi`` (the method's diversity score and
    interval), ``<f>_diff`` with ``<f>_diff_lo``/``<f>_diff_hi`` (method minus random seeds,
    paired over prompts; exactly 0 for random seeds), ``<f>_prompts`` (evaluation prompts),
    ``<f>_excluded`` (mean prompts excluded per set for a missing feature),
    ``<f>_diff_prompts`` (prompts in the paired difference). ``sets``: the number of seed sets
    (``draws``, 1, or R). The random draws are ``random_seed_baseline``'s for ``seed``.
    """
    notes = dict(notes or {})
    cubes = {"style": style_eval, "layout": layout_eval}
    pgs = {"style": pg_style, "layout": pg_layout}
    if layout_eval is not None:
        cubes["layout"], pgs["layout"] = layout_score_vectors(layout_eval, pg_layout)
    for f in FEATURES:
        if cubes[f] is not None:
            cubes[f] = np.asarray(cubes[f], dtype=float)
            if cubes[f].ndim != 3:
                raise FeatureError(f"{f} evaluation features must be (P, N, D): {cubes[f].shape}")
    present = [f for f in FEATURES if cubes[f] is not None]
    if not present:
        raise FeatureError("Table 2 needs style or layout evaluation features; both are None")
    n = {cubes[f].shape[1] for f in present}
    if len(n) > 1:
        raise FeatureError(
            f"style and layout evaluation features have {sorted(n)} seeds: they must share one "
            "seed order (the seeds FPS chose from)"
        )
    n = n.pop()
    if not 2 <= c <= n:
        raise ConfigError(
            f"diverse.c = {c} is out of range: it must be between 2 and the number of seeds ({n})"
        )

    sets = {
        FPS_METHODS[k]: None if fps_sets.get(k) is None else _check_sets(k, fps_sets[k], c, n)
        for k in FPS_METHODS
    }
    rows = {m: {"method": m, "sets": np.nan, "c": c, "confidence": confidence} for m in METHODS}
    rows[RANDOM]["sets"] = draws
    for m, s in sets.items():
        rows[m]["sets"] = np.nan if s is None else len(s)
    if any(pgs[f] is not None for f in present):
        rows[PG]["sets"] = 1
    why = {m: [] for m in METHODS}
    for f in FEATURES:
        cols = {f"{f}_{s}": np.nan for s in STATS}
        for row in rows.values():
            row.update(cols)
        if cubes[f] is None:
            for m in METHODS:
                why[m].append(f"no {f} evaluation features")
            continue
        cube = cubes[f]
        p, _, d = cube.shape
        base = random_seed_baseline(cube, c, draws, seed, confidence, resamples)
        s_random = set_scores(cube, random_sets(n, c, draws, seed))
        _fill(rows[RANDOM], f, base, Estimate(0.0, 0.0, 0.0, p, 0.0))
        scored = {}
        if pgs[f] is not None:
            scored[PG] = prompt_scores(_check_pg(f, pgs[f], p, c, d))[None]
        else:
            why[PG].append(f"no Particle Guidance {f} features")
        for m, s in sets.items():
            if s is None:
                why[m].append("no FPS sets")
            else:
                scored[m] = set_scores(cube, s)
        for m, s in scored.items():
            _fill(
                rows[m],
                f,
                set_matrix_estimate(s, confidence, resamples, seed),
                set_matrix_difference(s, s_random, confidence, resamples, seed),
            )
    for m, row in rows.items():
        row["note"] = notes.get(m) or "; ".join(dict.fromkeys(why[m]))
    return pd.DataFrame([rows[m] for m in METHODS], columns=list(COLUMNS))


def _fill(row: dict, f: str, value: Estimate, diff: Estimate) -> None:
    row |= {
        f"{f}_similarity": value.value,
        f"{f}_lo": value.low,
        f"{f}_hi": value.high,
        f"{f}_prompts": value.prompts,
        f"{f}_excluded": value.excluded,
        f"{f}_diff": diff.value,
        f"{f}_diff_lo": diff.low,
        f"{f}_diff_hi": diff.high,
        f"{f}_diff_prompts": diff.prompts,
    }


# --- writing Table 2 ---------------------------------------------------------------------------


def long_table(rows_by_model: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """One row per (model, method, feature): value, lo, hi, diff, diff_lo, diff_hi, prompts,
    excluded, diff_prompts, sets, c, confidence, note."""
    out = []
    for model, rows in rows_by_model.items():
        missing = set(COLUMNS) - set(rows.columns)
        if missing:
            raise ValueError(f"Table 2 rows of {model} lack columns {sorted(missing)}")
        for _, row in rows.iterrows():
            for f in FEATURES:
                out.append(
                    {"model": model, "method": row["method"], "feature": f}
                    | {("value" if s == "similarity" else s): row[f"{f}_{s}"] for s in STATS}
                    | {k: row[k] for k in ("sets", "c", "confidence", "note")}
                )
    return pd.DataFrame(out)


def _cell(row: pd.Series, f: str, delta: str) -> str:
    value = row[f"{f}_similarity"]
    if not math.isfinite(value):
        return "n/a"
    text = f"{value:.3f} [{row[f'{f}_lo']:.3f}, {row[f'{f}_hi']:.3f}]"
    if row["method"] != RANDOM and math.isfinite(row[f"{f}_diff"]):
        text += (
            f"; {delta} {row[f'{f}_diff']:+.3f} "
            f"[{row[f'{f}_diff_lo']:+.3f}, {row[f'{f}_diff_hi']:+.3f}]"
        )
    return text


def _one(rows_by_model: Mapping[str, pd.DataFrame], column: str):
    values = {v for rows in rows_by_model.values() for v in rows[column]}
    if len(values) != 1:
        raise ValueError(f"Table 2 models differ in {column} ({sorted(values)}); use one setting")
    return values.pop()


def _method_order(rows_by_model: Mapping[str, pd.DataFrame]) -> list[str]:
    seen = [m for rows in rows_by_model.values() for m in rows["method"]]
    return [m for m in METHODS if m in seen] + [m for m in dict.fromkeys(seen) if m not in METHODS]


def _notes(rows_by_model: Mapping[str, pd.DataFrame]) -> list[str]:
    return [
        f"{model}, {row['method']}: {row['note']}"
        for model, rows in rows_by_model.items()
        for _, row in rows.iterrows()
        if isinstance(row["note"], str) and row["note"]
    ]


def _caption(c: int, confidence: float) -> str:
    return (
        f"Diversity of the {c} images of an evaluation prompt: mean pairwise cosine similarity "
        "of their style (Gram) and layout (z-scored x, y, size, depth) features, averaged over "
        f"prompts (lower is more diverse), with {confidence:.0%} bootstrap intervals; "
        "Delta: difference to random seeds, paired over prompts."
    )


def write_table2(
    rows_by_model: Mapping[str, pd.DataFrame], csv: str | Path, md: str | Path, tex: str | Path
) -> pd.DataFrame:
    """Write Table 2: rows = methods, column groups = models x (style, layout).

    ``csv``: the long form (:func:`long_table`); ``md``: a Markdown table of cells
    "value [lo, hi]; Δ diff [lo, hi]" (n/a where not applicable) with the caption above and
    the notes below; ``tex``: the same as a booktabs table with a model header spanning its
    two columns. Every model must share ``c`` and ``confidence``. Returns the long table.
    """
    if not rows_by_model:
        raise ValueError("Table 2 needs the rows of at least one model")
    long = long_table(rows_by_model)
    long.to_csv(csv, index=False)
    c, confidence = int(_one(rows_by_model, "c")), float(_one(rows_by_model, "confidence"))
    methods, models = _method_order(rows_by_model), list(rows_by_model)

    def cells(delta: str) -> list[list[str]]:
        out = []
        for m in methods:
            line = [m]
            for model in models:
                rows = rows_by_model[model]
                hit = rows[rows["method"] == m]
                for f in FEATURES:
                    line.append(_cell(hit.iloc[0], f, delta) if len(hit) else "n/a")
            out.append(line)
        return out

    header = ["method"] + [f"{model} {f}" for model in models for f in FEATURES]
    notes = _notes(rows_by_model)
    markdown = to_markdown(pd.DataFrame(cells("Δ"), columns=header))
    Path(md).write_text(
        f"Table 2. {_caption(c, confidence)}\n\n{markdown}"
        + "".join(f"\n- {note}" for note in notes)
        + ("\n" if notes else "")
    )
    Path(tex).write_text(_latex(cells(r"$\Delta$"), models, notes, _caption(c, confidence)))
    return long


def _tex(text: str) -> str:
    for char in ("\\", "&", "%", "#", "_", "$"):
        text = text.replace(char, "\\" + char if char != "\\" else r"\textbackslash{}")
    return text


def _latex(cells: list[list[str]], models: list[str], notes: list[str], caption: str) -> str:
    spans = " & ".join(f"\\multicolumn{{2}}{{c}}{{{_tex(m)}}}" for m in models)
    rules = " ".join(f"\\cmidrule(lr){{{2 + 2 * i}-{3 + 2 * i}}}" for i in range(len(models)))
    sub = " & ".join("style & layout" for _ in models)
    body = "\n".join(" & ".join([_tex(line[0]), *line[1:]]) + r" \\" for line in cells)
    foot = "".join(f"\\par\\footnotesize {_tex(note)}\n" for note in notes)
    caption = _tex(caption).replace("Delta", r"$\Delta$")
    return (
        "\\begin{table}\n\\centering\n"
        f"\\caption{{{caption}}}\n"
        f"\\begin{{tabular}}{{l{'cc' * len(models)}}}\n\\toprule\n"
        f" & {spans} \\\\\n{rules}\nmethod & {sub} \\\\\n\\midrule\n{body}\n"
        f"\\bottomrule\n\\end{{tabular}}\n{foot}\\end{{table}}\n"
    )
