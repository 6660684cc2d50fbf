"""Farthest point sampling (FPS): ``c`` points whose features are spread out. The first is
given; each next one is the point whose smallest Euclidean distance to the points already chosen
is largest."""

from __future__ import annotations

import numpy as np

from seedscope.errors import FeatureError


def check_features(features: np.ndarray) -> np.ndarray:
    """``features`` as a float (points, dims) array, refused when empty or not finite."""
    f = np.asarray(features, dtype=float)
    if f.ndim != 2 or f.shape[0] == 0:
        raise FeatureError(f"seed features must be a non-empty (seeds, dims) array, got {f.shape}")
    if not np.isfinite(f).all():
        raise FeatureError("seed features contain NaN or infinite values; fill them first")
    return f


def farthest_point_sampling(features: np.ndarray, c: int, first: int) -> list[int]:
    """Indices of ``c`` seeds chosen by FPS from ``features`` ``(N, D)``, starting at ``first``.

    Each next seed maximises the minimum Euclidean distance to the seeds already chosen; a tie
    goes to the lowest index. Seeds already chosen are never chosen again, even when duplicates
    make every remaining distance 0.
    """
    f = check_features(features)
    n = f.shape[0]
    if not 1 <= c <= n:
        raise ValueError(f"c = {c} is not between 1 and the number of points ({n})")
    if not 0 <= first < n:
        raise ValueError(f"first = {first} is not a seed index in 0..{n - 1}")
    chosen = [int(first)]
    nearest = np.linalg.norm(f - f[first], axis=1)
    nearest[first] = -np.inf
    for _ in range(c - 1):
        nxt = int(np.argmax(nearest))  # argmax returns the first maximum: lowest index wins
        chosen.append(nxt)
        nearest = np.minimum(nearest, np.linalg.norm(f - f[nxt], axis=1))
        nearest[chosen] = -np.inf
    return chosen
