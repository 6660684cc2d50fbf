"""Feature cubes of Table 2: each image's feature row placed at its (prompt, seed), and the
seed features FPS chooses from.

A *cube* is ``(P, N, D)``: for every evaluation prompt (in a given order) and every seed of the
pool (in a given order), one image's feature row; NaN where an image has no feature (an
undetected object). Particle Guidance's images are a ``(P, C, D)`` cube per coefficient
(:func:`particle_cube`): each prompt's own C particles.

**Layout vectors for the score** (:func:`layout_score_vectors`). The raw layout components
live in [0, 1] (centroid, area fraction, depth percentile): as vectors they all point into the
positive orthant near (0.5, 0.5, small, 0.5), so their cosine similarity is close to 1 for any
two images and says little about layout. Each component is therefore z-scored (mean 0, unit
variance; a component with no spread only centred) over every detected evaluation image of
the model's seed pool, the same standardisation :func:`~seedscope.diverse.fps.layout_seed_features`
applies to the analysis features; Particle Guidance images get the same transform, so every
method is scored in one space. The cosine is then a centred, scale-balanced comparison: two
objects on opposite sides of the image score negative, and size and depth (small spreads)
weigh as much as position. Style vectors are scored as they are: the (uncentred) cosine of Gram
vectors is the paper's style similarity, and the random projection keeps it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from seedscope.diverse.fps import layout_seed_features
from seedscope.errors import FeatureError
from seedscope.layout.measures import LAYOUT_COLUMNS
from seedscope.layout.tables import LayoutFeatures
from seedscope.style.tables import StyleFeatures


@dataclass(frozen=True)
class ImageRows:
    """Per-image feature rows aligned with their seeds and prompt ids (any extractor)."""

    seeds: np.ndarray
    prompt_ids: np.ndarray
    values: np.ndarray

    @classmethod
    def of_tables(cls, tables) -> ImageRows:
        """The rows of :class:`~seedscope.features.table.FeatureTable` s, concatenated."""
        return cls(
            np.concatenate([t.seeds for t in tables]),
            np.concatenate([t.prompt_ids for t in tables]),
            np.concatenate([t.features for t in tables]),
        )


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


def rows_cube(
    rows: ImageRows, seeds_order: Sequence[int], prompt_order: Sequence[str]
) -> np.ndarray:
    """The ``(P, N, D)`` cube of any per-image rows; every (prompt, seed) image required."""
    return evaluation_cube(
        rows.seeds, rows.prompt_ids, rows.values, seeds_order, prompt_order, True
    )


def particle_cube(rows: ImageRows, prompt_order: Sequence[str], c: int) -> np.ndarray:
    """Particle Guidance's ``(P, C, D)`` cube: each prompt's own ``c`` images (its particles,
    ordered by seed), so the prompts of one coefficient and of the control line up."""
    values = np.asarray(rows.values, dtype=float)
    prompt_ids = np.asarray(rows.prompt_ids).astype(str)
    order = np.lexsort((np.asarray(rows.seeds), prompt_ids))
    cube = np.full((len(prompt_order), c, values.shape[1]), np.nan)
    where = {p: i for i, p in enumerate(map(str, prompt_order))}
    counts = np.zeros(len(prompt_order), dtype=int)
    for row in order:
        p = where.get(prompt_ids[row])
        if p is None:
            continue
        if counts[p] == c:
            raise FeatureError(
                f"Particle Guidance prompt {prompt_ids[row]} has more than diverse.c = {c} "
                "images; pass each coefficient's table once"
            )
        cube[p, counts[p]] = values[row]
        counts[p] += 1
    short = np.flatnonzero(counts < c)
    if short.size:
        raise FeatureError(
            f"Particle Guidance features miss images of {short.size} evaluation prompt(s) (e.g. "
            f"{np.asarray(prompt_order)[short[0]]}: {counts[short[0]]} of {c}); extract every "
            "particle shard of these prompts"
        )
    return cube
