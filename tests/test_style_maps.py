"""The seed style map: seeds whose images share a style across prompts land together, seeds
that only share it by chance do not; the map is deterministic; incomplete tables are refused.

t-SNE runs on one OpenMP thread here: on a busy machine its threads wait on each other and a
1 s map can take 30 s (the map is the same on any number of threads: measured at 1,024 seeds,
too slow for a test). Process workers take 10 s to start on a busy machine: the test runs the
workers' code path on joblib's threading backend."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from joblib import parallel_backend
from threadpoolctl import threadpool_limits

from seedscope.errors import FeatureError
from seedscope.style.maps import seed_map


@pytest.fixture(autouse=True)
def one_thread():
    with threadpool_limits(1):
        yield


def styled(shuffle: bool, n: int = 40, prompts: int = 4, dim: int = 32, k: int = 3, seed: int = 0):
    """Gram-like vectors: per prompt, ``k`` style centres and each seed's image near the centre
    of its style; ``shuffle`` draws every prompt's style membership afresh."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % k
    rows, seeds, prompt_ids = [], [], []
    for j in range(prompts):
        centres = rng.normal(0, 4, (k, dim))
        members = rng.permutation(labels) if shuffle else labels
        rows.append(centres[members] + rng.normal(0, 1, (n, dim)))
        seeds += list(range(100, 100 + n))
        prompt_ids += [f"prompt {j}"] * n
    return np.concatenate(rows).astype(np.float32), np.array(seeds), np.array(prompt_ids), labels


def neighbour_agreement(positions: pd.DataFrame, labels: np.ndarray) -> float:
    """Fraction of seeds whose nearest other seed on the map has the same label."""
    xy = positions[["x", "y"]].to_numpy()
    distance = ((xy[:, None] - xy[None]) ** 2).sum(-1)
    np.fill_diagonal(distance, np.inf)
    return float((labels[distance.argmin(1)] == labels).mean())


def test_consistent_styles_cluster_and_chance_ones_do_not():
    gram, seeds, prompts, labels = styled(shuffle=False)
    positions = seed_map(gram, seeds, prompts, max_iter=500)
    assert list(positions.columns) == ["seed", "x", "y"]
    assert list(positions["seed"]) == list(range(100, 140))
    clustered = neighbour_agreement(positions, labels)

    gram, seeds, prompts, labels = styled(shuffle=True)
    control = neighbour_agreement(seed_map(gram, seeds, prompts, max_iter=500), labels)
    assert clustered > 0.9 and control < 0.6  # measured 1.0 and 0.225 (chance: 1/3)


def test_map_is_deterministic_and_ignores_row_order_and_workers():
    gram, seeds, prompts, _ = styled(shuffle=False, n=24, prompts=3, seed=1)
    first = seed_map(gram, seeds, prompts, max_iter=250, seed=3)
    pd.testing.assert_frame_equal(first, seed_map(gram, seeds, prompts, max_iter=250, seed=3))
    order = np.random.default_rng(0).permutation(len(seeds))
    shuffled = seed_map(gram[order], seeds[order], prompts[order], max_iter=250, seed=3)
    pd.testing.assert_frame_equal(first, shuffled)
    with parallel_backend("threading"):  # the workers' code path, without starting processes
        in_workers = seed_map(gram, seeds, prompts, max_iter=250, seed=3, workers=2)
    pd.testing.assert_frame_equal(first, in_workers)
    noisy = gram + 0.5 * np.random.default_rng(1).normal(size=gram.shape)
    moved = seed_map(noisy, seeds, prompts, max_iter=250, seed=3)
    assert not np.allclose(first[["x", "y"]], moved[["x", "y"]])


def test_small_maps_cap_perplexity_and_components():
    gram, seeds, prompts, _ = styled(shuffle=False, n=5, prompts=2, dim=3)
    positions = seed_map(gram, seeds, prompts, max_iter=250)  # perplexity 30 -> 4/3, PCA 3
    assert len(positions) == 5 and np.isfinite(positions[["x", "y"]].to_numpy()).all()
    with pytest.raises(FeatureError, match="at least 4 seeds, got 3"):
        seed_map(gram[:3], seeds[:3], prompts[:3])


def test_incomplete_or_duplicated_tables_are_refused():
    gram, seeds, prompts, _ = styled(shuffle=False, n=6, prompts=3, dim=4)
    keep = ~((seeds == 102) & (prompts == "prompt 1"))
    with pytest.raises(FeatureError, match=r"\(seed 102, prompt 'prompt 1'\) has no style"):
        seed_map(gram[keep], seeds[keep], prompts[keep])
    doubled = np.r_[np.arange(len(seeds)), 7]
    with pytest.raises(FeatureError, match=r"\(seed 101, prompt 'prompt 1'\) appears more"):
        seed_map(gram[doubled], seeds[doubled], prompts[doubled])
    with pytest.raises(FeatureError, match="one seed and prompt per row"):
        seed_map(gram, seeds[:-1], prompts)
