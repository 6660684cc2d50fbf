"""Seed features for diverse-seed selection and farthest point sampling (FPS) over them.

FPS picks ``c`` seeds whose features are spread out: the first is given, each next one is the
seed whose smallest Euclidean distance to the seeds already chosen is largest.
"""

from __future__ import annotations

import numpy as np

from seedscope.diverse.settings import check_set_size
from seedscope.errors import ConfigError, FeatureError
from seedscope.sampling import check_features, farthest_point_sampling

EMPTY_POLICIES = ("error", "zero")


def layout_seed_features(layout: np.ndarray, empty: str = "error") -> np.ndarray:
    """A seed's layout feature: its layout vectors across the analysis prompts, flattened.

    ``layout`` is ``(N seeds, A analysis prompts, K components)``; a row that is all NaN is a
    missing detection (the object was not found in that image). Steps:

    1. each component is standardised (zero mean, unit variance) over every detected
       ``(seed, prompt)``; a component with zero spread is only centred;
    2. a seed's missing rows are filled with that seed's own mean over the prompts where it was
       detected, so a missing detection moves the seed towards its typical layout, not towards
       the population's;
    3. the ``(A, K)`` block of each seed is flattened to ``A * K`` values.

    A seed with no detection at all has no mean of its own. ``empty="error"`` (default) raises
    :class:`FeatureError` naming those seeds; ``empty="zero"`` fills them with 0, the population
    mean after standardisation (such a seed sits in the middle of the cloud, so FPS picks it
    late, if ever). Rows with some but not all values NaN are an error: a detection either
    gives the whole vector or none of it.
    """
    if empty not in EMPTY_POLICIES:
        raise ValueError(f"empty={empty!r}: must be one of {EMPTY_POLICIES}")
    x = np.asarray(layout, dtype=float)
    if x.ndim != 3:
        raise FeatureError(f"layout features must be (seeds, prompts, components), got {x.shape}")
    nan = np.isnan(x)
    missing = nan.all(axis=2)
    if (nan.any(axis=2) & ~missing).any():
        raise FeatureError("layout features have rows with some but not all values NaN")
    if np.isinf(x).any():
        raise FeatureError("layout features contain infinite values")
    if missing.all():
        raise FeatureError("layout features have no detection at all")

    mean = np.nanmean(x, axis=(0, 1))
    std = np.nanstd(x, axis=(0, 1))
    x = (x - mean) / np.where(std > 0, std, 1.0)

    empty_seeds = np.flatnonzero(missing.all(axis=1))
    if empty_seeds.size and empty == "error":
        shown = ", ".join(str(i) for i in empty_seeds[:10])
        more = f" (and {empty_seeds.size - 10} more)" if empty_seeds.size > 10 else ""
        raise FeatureError(
            f"{empty_seeds.size} seed(s) have no detection in any analysis prompt "
            f"(seed indices {shown}{more}); pass empty='zero' to place them at the "
            "population mean instead"
        )
    detected = ~missing
    counts = detected.sum(axis=1, keepdims=True)
    sums = np.where(detected[..., None], x, 0.0).sum(axis=1)
    own_mean = np.divide(sums, counts, out=np.zeros_like(sums), where=counts > 0)
    x = np.where(missing[..., None], own_mean[:, None, :], x)
    return x.reshape(x.shape[0], -1)


def fps_sets(features: np.ndarray, c: int, repeats: int, seed: int) -> list[list[int]]:
    """``repeats`` FPS runs of ``c`` seeds each, from distinct first seeds.

    The first seeds are drawn without replacement by ``numpy.random.default_rng(seed)``, so the
    result is reproducible per ``seed`` and the runs show how much the choice depends on where
    FPS starts.
    """
    f = check_features(features)
    n = f.shape[0]
    check_set_size(c, n)
    if not 1 <= repeats <= n:
        raise ConfigError(
            f"diverse.repeats = {repeats} is out of range: it must be between 1 and the number "
            f"of seeds with features ({n}), since every run starts from a different seed"
        )
    firsts = np.random.default_rng(seed).choice(n, size=repeats, replace=False)
    return [farthest_point_sampling(f, c, int(i)) for i in firsts]
