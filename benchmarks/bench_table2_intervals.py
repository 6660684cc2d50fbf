"""Coverage of Table 2's random-seed interval at the paper's size: P = 500 evaluation prompts,
a pool of N = 1,024 seeds, C = 4, 1,000 random draws, 2,000 resamples.

``random_seed_baseline`` claims to cover the expected score of a random C-seed set from the
pool on the population of prompts. Here image features are a seed effect (fixed: the pool),
a prompt effect and noise (fresh with every data set of prompts), so the truth is the mean
cosine of two distinct pool seeds' images of a fresh prompt, estimated from ``--truth``
million pairs. Each of ``--datasets`` data sets draws P new prompts and checks whether the
interval covers it. ``tests/test_diverse.py`` runs the same check at a smaller size.

    python benchmarks/bench_table2_intervals.py          # paper size, 300 data sets (~3 min)
    python benchmarks/bench_table2_intervals.py --prompts 100 --seeds 128 --draws 200
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from seedscope.diverse.score import random_seed_baseline


def pooled_features(seed_effects: np.ndarray, prompts: int, rng) -> np.ndarray:
    """``(prompts, N, D)`` features: offset + the pool's seed effects + a prompt effect + noise."""
    n, d = seed_effects.shape
    prompt_effects = rng.normal(0, 0.7, (prompts, 1, d))
    return 1.0 + 0.8 * seed_effects[None] + prompt_effects + rng.normal(0, 1.0, (prompts, n, d))


def expected_score(seed_effects: np.ndarray, pairs: int, rng) -> float:
    """The mean cosine of two distinct pool seeds' images of a fresh prompt (Monte Carlo)."""
    n, d = seed_effects.shape
    total, chunk = 0.0, 100_000
    for start in range(0, pairs, chunk):
        m = min(chunk, pairs - start)
        i = rng.integers(0, n, m)
        j = (i + rng.integers(1, n, m)) % n  # a different seed
        prompt = rng.normal(0, 0.7, (m, d))
        a = 1.0 + 0.8 * seed_effects[i] + prompt + rng.normal(0, 1.0, (m, d))
        b = 1.0 + 0.8 * seed_effects[j] + prompt + rng.normal(0, 1.0, (m, d))
        total += ((a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)).sum()
    return total / pairs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=500)
    parser.add_argument("--seeds", type=int, default=1024)
    parser.add_argument("--c", type=int, default=4)
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--resamples", type=int, default=2000)
    parser.add_argument("--dims", type=int, default=8)
    parser.add_argument("--datasets", type=int, default=300)
    parser.add_argument("--truth", type=float, default=2.0, help="million pairs for the truth")
    parser.add_argument("--seed", type=int, default=0, help="seeds the pool and the data sets")
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    seed_effects = rng.normal(0, 1.0, (args.seeds, args.dims))
    truth = expected_score(seed_effects, int(args.truth * 1e6), rng)
    start = time.perf_counter()
    low_above = high_below = 0
    widths = []
    for k in range(args.datasets):
        features = pooled_features(seed_effects, args.prompts, rng)
        est = random_seed_baseline(
            features, args.c, args.draws, args.seed * args.datasets + k, resamples=args.resamples
        )
        low_above += est.low > truth
        high_below += est.high < truth
        widths.append(est.high - est.low)
    n = args.datasets
    result = {
        "size": vars(args),
        "truth": round(truth, 5),
        "coverage": round(1 - (low_above + high_below) / n, 3),
        "low_above_truth": round(low_above / n, 3),
        "high_below_truth": round(high_below / n, 3),
        "mean_width": round(float(np.mean(widths)), 5),
        "binomial_sd_of_coverage": round(float(np.sqrt(0.95 * 0.05 / n)), 3),
        "seconds": round(time.perf_counter() - start, 1),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
