"""The paper's seed style map (figure 8): one 2-D position per seed from its Gram vectors.

**Two stages.** First, per prompt, the ``N`` seeds' Gram vectors (one image each) are reduced
with PCA and then t-SNE to an ``N x 2`` map; the ``P`` prompts' maps side by side form an
``N x 2P`` matrix, each seed's row saying where its images sit among the other seeds' images
of the same prompts. Second, that matrix is reduced again with PCA and t-SNE to ``N x 2``: seeds
that land near each other make images of similar style across the prompts.

**Choices.** A t-SNE map has no meaningful rotation, reflection or scale, so before the second
stage each prompt's map is centred and divided by its root-mean-square distance from its centre
(``standardize=True``, the default): every prompt weighs the same and, the scaling being
isotropic, distances within a prompt's map keep their ratios (a per-column z-score would
stretch one axis against the other). Distances in the ``N x 2P`` matrix are sums over prompts
of squared distances within each map, so the maps' arbitrary rotations do not matter. PCA keeps
``min(pca_components, N - 1, D)`` components; perplexity is capped at ``(N - 1) / 3`` so that
t-SNE's ``3 perplexity`` neighbours exist for small ``N``; at least 4 seeds are needed. PCA
(randomised solver for large inputs) and t-SNE (``init="pca"``) are seeded with ``seed``; with
PCA initialisation t-SNE draws nothing at random, so ``seed`` only matters where PCA uses its
randomised solver (inputs over 500 x 500). PCA runs on one BLAS thread (multithreaded BLAS
rounds differently, and t-SNE turns a 1e-12 difference into another map); t-SNE's result does
not depend on its thread count. So the same inputs give the same map, whatever the rows' order
and the number of threads or ``workers``, on the same machine and library versions.

**Time.** One map of ``N = 1024`` seeds takes ``P + 1`` t-SNE runs; at defaults each takes 8
to 12 s on 2 CPU cores (scikit-learn 1.9; random Gram vectors, ``D = 1024``).
``seed_map`` at ``N = 1024, P = 20`` measured 179 s with the cores to itself, 243 s with
``threads=1``, and 412 s on 2 threads while other jobs used the cores (t-SNE's OpenMP threads
wait on each other: on a shared machine use ``threads=1``). The paper config's ``P = 100`` (our
choice, ``docs/paper-settings.md``: the paper does not give its count) therefore
takes about 15 to 20 minutes on 2 cores. The prompts' maps are independent: ``workers=W``
runs them in ``W`` processes, about ``W`` times faster given ``W`` free cores (estimated, not
measured: ``P = 100`` in 1 to 2 minutes on 16 cores); ``max_iter`` (at least 250) scales the
time too, but below 1000 the per-prompt maps may not have settled.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.decomposition import PCA
from sklearn.manifold import TSNE
from threadpoolctl import threadpool_limits

from seedscope.errors import FeatureError

MIN_SEEDS = 4


def embed(
    points: np.ndarray,
    pca_components: int = 50,
    perplexity: float = 30.0,
    seed: int = 0,
    max_iter: int = 1000,
    n_jobs: int | None = None,
    threads: int | None = None,
) -> np.ndarray:
    """PCA to ``min(pca_components, N - 1, D)`` components, then t-SNE to ``(N, 2)`` float64
    (perplexity capped at ``(N - 1) / 3``; both seeded with ``seed``; t-SNE's gradient on
    ``threads`` OpenMP threads, all by default)."""
    n, d = points.shape
    components = max(1, min(pca_components, n - 1, d))
    with threadpool_limits(1, user_api="blas"):  # the same rounding on any number of threads
        reduced = PCA(components, random_state=seed).fit_transform(points.astype(np.float64))
    tsne = TSNE(
        2,
        perplexity=min(perplexity, (n - 1) / 3),
        init="pca",
        random_state=seed,
        max_iter=max_iter,
        n_jobs=n_jobs,
    )
    with threadpool_limits(threads, user_api="openmp"):  # None: no limit
        return tsne.fit_transform(reduced)


def seed_map(
    gram: np.ndarray,
    seeds: Sequence[int] | np.ndarray,
    prompt_ids: Sequence[str] | np.ndarray,
    pca_components: int = 50,
    perplexity: float = 30.0,
    seed: int = 0,
    standardize: bool = True,
    max_iter: int = 1000,
    n_jobs: int | None = None,
    workers: int = 1,
    threads: int | None = None,
) -> pd.DataFrame:
    """The seed style map: columns ``seed, x, y``, one row per seed, sorted by seed.

    ``gram`` holds one (projected) Gram vector per row, row ``i`` being the image of seed
    ``seeds[i]`` and prompt ``prompt_ids[i]``; every seed must have exactly one row for every
    prompt. ``max_iter`` and ``n_jobs`` are t-SNE's (``n_jobs`` its neighbour search only).
    ``workers`` > 1 maps the prompts in that many processes (joblib; each then runs t-SNE on
    ``cores / workers`` threads unless ``threads`` says otherwise); ``threads`` caps t-SNE's
    OpenMP threads (1 on a busy machine: see the module docstring, which also gives the method
    and the time). The result does not depend on ``workers`` or ``threads``.
    """
    gram = np.asarray(gram)
    cells = _checked_cells(gram, seeds, prompt_ids)
    settings = (pca_components, perplexity, seed, max_iter, n_jobs, threads)
    maps = _prompt_maps(gram, cells, settings, standardize, workers)
    final = embed(maps, *settings)
    return pd.DataFrame({"seed": cells.index.to_numpy(), "x": final[:, 0], "y": final[:, 1]})


def prompt_maps(
    gram: np.ndarray,
    seeds: Sequence[int] | np.ndarray,
    prompt_ids: Sequence[str] | np.ndarray,
    pca_components: int = 50,
    perplexity: float = 30.0,
    seed: int = 0,
    standardize: bool = True,
    max_iter: int = 1000,
    workers: int = 1,
) -> tuple[np.ndarray, np.ndarray]:
    """The first stage of :func:`seed_map`: the sorted seeds and their ``(N, 2P)`` matrix of
    per-prompt 2-D positions (each prompt's map standardised when ``standardize``)."""
    gram = np.asarray(gram)
    cells = _checked_cells(gram, seeds, prompt_ids)
    settings = (pca_components, perplexity, seed, max_iter, None, None)
    return cells.index.to_numpy(), _prompt_maps(gram, cells, settings, standardize, workers)


def _checked_cells(gram: np.ndarray, seeds, prompt_ids) -> pd.DataFrame:
    """The (seed x prompt) grid of row indices, after checking shapes and the seed count."""
    if gram.ndim != 2 or not len(gram) == len(seeds) == len(prompt_ids):
        raise FeatureError(
            f"seed_map takes a 2-D Gram matrix with one seed and prompt per row; got shape "
            f"{gram.shape}, {len(seeds)} seeds and {len(prompt_ids)} prompt ids"
        )
    cells = _grid(np.asarray(seeds), np.asarray(prompt_ids))
    if len(cells.index) < MIN_SEEDS:
        raise FeatureError(
            f"the seed style map needs at least {MIN_SEEDS} seeds, got {len(cells.index)} "
            "(t-SNE's perplexity is capped at (N - 1) / 3); generate images for more seeds"
        )
    return cells


def _prompt_maps(gram, cells, settings, standardize: bool, workers: int) -> np.ndarray:
    rows = [cells[prompt].to_numpy() for prompt in cells.columns]
    if workers > 1:
        from joblib import Parallel, delayed

        maps = Parallel(n_jobs=workers)(delayed(embed)(gram[r], *settings) for r in rows)
    else:
        maps = [embed(gram[r], *settings) for r in rows]
    if standardize:
        maps = [_standardize(points) for points in maps]
    return np.hstack(maps)


def _standardize(points: np.ndarray) -> np.ndarray:
    """Centred and scaled to unit root-mean-square distance from the centre."""
    points = points - points.mean(axis=0)
    return points / max(np.sqrt((points**2).sum(axis=1).mean()), 1e-12)


def _grid(seeds: np.ndarray, prompts: np.ndarray) -> pd.DataFrame:
    """Row numbers as a seeds x prompts table (index sorted seeds, columns sorted prompts);
    a duplicated or missing (seed, prompt) pair raises :class:`FeatureError`."""
    pairs = pd.DataFrame({"seed": seeds, "prompt": prompts, "row": np.arange(len(seeds))})
    duplicated = pairs.duplicated(["seed", "prompt"])
    if duplicated.any():
        first = pairs[duplicated].iloc[0]
        raise FeatureError(
            f"(seed {first['seed']}, prompt {first['prompt']!r}) appears more than once in the "
            "style features; the seed style map takes one image per pair: drop the duplicates "
            "(e.g. features extracted twice) before mapping"
        )
    table = pairs.pivot(index="seed", columns="prompt", values="row").sort_index()
    missing = table.isna().stack()
    if missing.any():
        seed, prompt = missing[missing].index[0]
        raise FeatureError(
            f"(seed {seed}, prompt {prompt!r}) has no style features; the seed style map needs "
            "every seed's image for every prompt: generate and extract the missing images, or "
            "restrict the map to seeds and prompts that are complete"
        )
    return table.astype(np.int64)
