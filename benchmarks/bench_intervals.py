"""Per-seed FID intervals at the paper's size: 10,000 images of 2,048-d features.

The coverage tests (``tests/test_intervals.py``) run at the paper's ratio d / n = 0.2 but at
d = 60, so they can afford hundreds of trials. This checks the same estimator at the real size,
where one FID takes seconds on a CPU: it draws ``--samples`` independent image sets from a
Gaussian population unlike the reference, takes their FIDs' mean and standard deviation as the
truth, and compares them with what one set's subsample replicates say (the sd at n, and
whether the interval covers the mean), and with where the old bootstrap percentile interval
lies. Run it with ``--device cuda`` on a GPU node for more trials.

    python benchmarks/bench_intervals.py                    # paper size, a few trials (CPU: ~1 h)
    python benchmarks/bench_intervals.py --n 2500 --d 512   # the same ratio, quicker
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from seedscope.quality.frechet import frechet_to_reference, reference_stats
from seedscope.quality.intervals import FRACTIONS, subsample_weights, t_interval, variance_at_n


def population(rng: np.random.Generator, d: int) -> tuple[np.ndarray, np.ndarray]:
    """A linear map and a mean: features unlike the reference's standard normal."""
    transform = 0.8 * np.eye(d) + 0.4 * rng.normal(size=(d, d)) / np.sqrt(d)
    return transform, rng.normal(size=d) * 1.5 / np.sqrt(d)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000, help="images per seed")
    parser.add_argument("--d", type=int, default=2048, help="feature dimensions")
    parser.add_argument("--samples", type=int, default=24, help="independent sets for the truth")
    parser.add_argument("--trials", type=int, default=4, help="sets whose intervals are checked")
    parser.add_argument("--resamples", type=int, default=100, help="subsets per fraction")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--json", help="write the results here too")
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    reference = reference_stats(rng.normal(size=(args.n, args.d)), args.device)
    transform, mean = population(rng, args.d)

    def draw() -> np.ndarray:
        return rng.normal(size=(args.n, args.d)) @ transform.T + mean

    start = time.perf_counter()
    truth = np.array([frechet_to_reference(draw(), reference)[0] for _ in range(args.samples)])
    per_fid = (time.perf_counter() - start) / args.samples
    print(
        f"n={args.n} d={args.d}: E[FID_n] ~ {truth.mean():.4f}, sd {truth.std(ddof=1):.4f} "
        f"({args.samples} sets, {per_fid:.1f} s per FID)"
    )
    weights = subsample_weights(args.n, args.resamples, 0).reshape(-1, args.n)
    counts = rng.multinomial(args.n, np.full(args.n, 1 / args.n), size=args.resamples)
    rows = []
    for trial in range(args.trials):
        x = draw()
        value = frechet_to_reference(x, reference)[0]
        replicates = frechet_to_reference(x, reference, weights)
        variance, df = variance_at_n(replicates.reshape(len(FRACTIONS), -1), args.n)
        lo, hi = t_interval(value, variance, df, 0.95)
        boot = frechet_to_reference(x, reference, counts)
        row = {
            "trial": trial,
            "value": float(value),
            "sd_estimate": float(np.sqrt(variance)),
            "sd_ratio": float(np.sqrt(variance) / truth.std(ddof=1)),
            "interval": [float(lo), float(hi)],
            "covers_mean": bool(lo <= truth.mean() <= hi),
            "bootstrap_percentile": [float(q) for q in np.quantile(boot, [0.025, 0.975])],
            "bootstrap_covers_mean": bool(
                np.quantile(boot, 0.025) <= truth.mean() <= np.quantile(boot, 0.975)
            ),
        }
        rows.append(row)
        print(json.dumps(row))
    summary = {
        "n": args.n,
        "d": args.d,
        "expected_fid": float(truth.mean()),
        "true_sd": float(truth.std(ddof=1)),
        "median_sd_ratio": float(np.median([r["sd_ratio"] for r in rows])),
        "covered": sum(r["covers_mean"] for r in rows),
        "bootstrap_covered": sum(r["bootstrap_covers_mean"] for r in rows),
        "trials": args.trials,
    }
    print(json.dumps(summary))
    if args.json:
        with open(args.json, "w") as out:
            json.dump({"summary": summary, "trials": rows}, out, indent=1)


if __name__ == "__main__":
    main()
