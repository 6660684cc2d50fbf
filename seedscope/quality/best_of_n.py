"""Table 1b, quality per render: golden seeds against best-of-N at matched compute.

A golden seed costs one render per prompt. The strongest cheap alternative renders N random
seeds per prompt and keeps the image a verifier scores best (search over noises, Ma et al.,
CVPR 2025): N renders. Every image of every studied seed is already rendered and scored, so
best-of-N is drawn from them and costs no generation.

For each prompt and draw, the candidates are the first N of a seeded random ordering of the
pool (all seeds, or the golden seeds). The first candidate alone is "random seeds" (or "golden
seeds"): best-of-1 *is* the one-render method, and best-of-2N sees every candidate of
best-of-N, so by the verifier itself best-of-N is never below random, prompt by prompt.

A method's value on an evaluation score is the mean over prompts of the chosen images' scores
(averaged over draws within a prompt); its interval is Student's t over prompts, which are
independent draws from the prompt distribution (the seed population is fixed), and so is the
difference to random seeds, paired by prompt. ``tests/test_best_of_n.py`` checks their coverage
against a known truth.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from seedscope.errors import FeatureError
from seedscope.features.table import FeatureTable
from seedscope.quality.intervals import t_interval

NO_VERIFIER = "none"  # the verifier column of the one-render methods (random and golden seeds)


def score_matrix(
    tables: Iterable[FeatureTable], prompt_ids: Sequence[str], seeds: Sequence[int]
) -> np.ndarray:
    """The (prompts x seeds) scores of one score's feature tables, ordered like ``prompt_ids``
    and ``seeds``; every pair must be present."""
    row = {p: i for i, p in enumerate(prompt_ids)}
    column = {int(s): j for j, s in enumerate(seeds)}
    out = np.full((len(prompt_ids), len(seeds)), np.nan)
    for table in tables:
        columns = (table.prompt_ids, table.seeds, table.features[:, 0])
        for prompt, seed, value in zip(*columns, strict=True):
            i, j = row.get(str(prompt)), column.get(int(seed))
            if i is not None and j is not None:
                out[i, j] = value
    missing = np.argwhere(np.isnan(out))
    if len(missing):
        i, j = missing[0]
        raise FeatureError(
            f"no score for prompt {prompt_ids[i]!r} and seed {seeds[j]} ({len(missing)} pairs "
            "missing) in the feature tables given; rerun the workflow so extraction catches up"
        )
    return out


def candidates(
    n_prompts: int, pool_size: int, n_max: int, draws: int, seed: int, stream: int
) -> np.ndarray:
    """(draws x prompts x n_max) distinct positions in a pool of ``pool_size`` seeds: for
    each draw and prompt, the first ``n_max`` of a seeded random ordering of the pool.
    ``stream`` separates the pools (all seeds, golden seeds) drawn with the same ``seed``."""
    if n_max > pool_size:
        raise ValueError(f"best-of-{n_max} needs {n_max} distinct seeds, the pool has {pool_size}")
    rng = np.random.default_rng([seed, stream])
    out = np.empty((draws, n_prompts, n_max), dtype=np.int64)
    for d in range(draws):
        keys = rng.random((n_prompts, pool_size))
        first = np.argpartition(keys, n_max - 1, axis=1)[:, :n_max] if n_max < pool_size else None
        if first is None:
            first = np.broadcast_to(np.arange(pool_size), (n_prompts, pool_size))
        order = np.argsort(np.take_along_axis(keys, first, axis=1), axis=1)
        out[d] = np.take_along_axis(first, order, axis=1)
    return out


def choose(verifier: np.ndarray, pool: np.ndarray, picks: np.ndarray, n: int) -> np.ndarray:
    """(draws x prompts) seed columns kept by best-of-``n``: of each prompt's first ``n``
    candidates (positions ``picks`` in ``pool``, columns of the ``verifier`` score matrix),
    the one the verifier scores highest (the earlier candidate on a tie)."""
    columns = pool[picks[..., :n]]  # draws x prompts x n
    rows = np.arange(verifier.shape[0])[None, :, None]
    best = np.argmax(verifier[rows, columns], axis=-1)
    return np.take_along_axis(columns, best[..., None], axis=-1)[..., 0]


def per_prompt(scores: np.ndarray, chosen: np.ndarray) -> np.ndarray:
    """Each prompt's score of the chosen images, averaged over draws (prompts,)."""
    return scores[np.arange(scores.shape[0])[None, :], chosen].mean(axis=0)


def mean_interval(values: np.ndarray, confidence: float) -> tuple[float, float, float]:
    """Mean of per-prompt values and its Student t interval over prompts."""
    n = len(values)
    mean = float(values.mean())
    if n < 2:
        return mean, float("nan"), float("nan")
    lo, hi = t_interval(mean, values.var(ddof=1) / n, n - 1, confidence)
    return mean, float(lo), float(hi)


def methods(n_values: Sequence[int], verifiers: Sequence[str]) -> list[tuple[str, str | None, int]]:
    """Table 1b's methods in order: (pool, verifier, renders per prompt)."""
    rows = [("random", None, 1), ("golden", None, 1)]
    for verifier in verifiers:
        for pool in ("random", "golden"):
            rows += [(pool, verifier, n) for n in sorted(n_values)]
    return rows


def quality_per_render(
    scores: dict[str, np.ndarray],
    golden_columns: Sequence[int],
    settings: dict,
    confidence: float,
) -> list[dict]:
    """Table 1b's rows of one model and prompt set.

    ``scores`` maps each score to its (prompts x seeds) matrix; ``golden_columns`` are the
    golden seeds' columns; ``settings`` is ``quality.best_of_n`` (``n``, ``verifiers``,
    ``draws``, ``seed``). One row per method and evaluation score (every score but the
    method's verifier): value and interval, and the paired difference to random seeds. A
    golden pool smaller than N gives NaN values and a note.
    """
    n_prompts, n_seeds = next(iter(scores.values())).shape
    pools = {"random": np.arange(n_seeds), "golden": np.asarray(golden_columns, dtype=np.int64)}
    n_max = max(settings["n"])
    draws, seed = settings["draws"], settings["seed"]
    picks = {
        name: candidates(n_prompts, len(pool), min(n_max, len(pool)), draws, seed, stream)
        for stream, (name, pool) in enumerate(pools.items())
        if len(pool)
    }
    random_chosen = pools["random"][picks["random"][..., 0]]
    rows = []
    for pool_name, verifier, n in methods(settings["n"], settings["verifiers"]):
        pool = pools[pool_name]
        feasible = len(pool) >= n
        if feasible and verifier is None:
            chosen = pool[picks[pool_name][..., 0]]
        elif feasible:
            chosen = choose(scores[verifier], pool, picks[pool_name], n)
        for metric, matrix in scores.items():
            if metric == verifier:
                continue
            row = {
                "seeds": pool_name,
                "verifier": verifier or NO_VERIFIER,
                "renders": n,
                "metric": metric,
                "prompts": n_prompts,
                "pool": len(pool),
            }
            if not feasible:
                nan = float("nan")
                note = f"the {pool_name} pool has {len(pool)} seeds, fewer than N = {n}"
                rows.append(row | dict.fromkeys(("value", "lo", "hi"), nan) | {"note": note})
                rows[-1] |= dict.fromkeys(("vs_random", "vs_random_lo", "vs_random_hi"), nan)
                continue
            values = per_prompt(matrix, chosen)
            value, lo, hi = mean_interval(values, confidence)
            delta = mean_interval(values - per_prompt(matrix, random_chosen), confidence)
            rows.append(
                row
                | {"value": value, "lo": lo, "hi": hi}
                | dict(zip(("vs_random", "vs_random_lo", "vs_random_hi"), delta, strict=True))
                | {"note": ""}
            )
    return rows
