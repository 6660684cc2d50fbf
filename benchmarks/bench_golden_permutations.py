"""The golden-seed permutation p-value: ``overlap_p_value`` vectorised vs one permutation at a time.

``seedscope.quality.golden.overlap_p_value`` counts how often randomly relabelled top-k lists
share at least the observed number of seeds, vectorised over permutations in chunks. This runs
it beside the plain loop it stands for (one ``rng.permutation`` per shuffled metric and
permutation; it consumes the random stream in the same order, so for two lists it gives the
same p-value to the last digit) at the paper's size (1,024 seeds, the top 256 of FID and of
HPS, 10,000 permutations, ``quality.golden``), in interleaved rounds, and reports the best round
of each, the speed-up, and the p-values against the exact hypergeometric tail (in Monte Carlo
standard deviations). A third way, for reference, draws each permutation's overlap directly
(hypergeometric, chained over the lists): the same null distribution without shuffling, but
another random stream. The target: the vectorised way is at least ``--target`` times as fast
as the loop; the exit status is 1 if it is not, or if a p-value strays more than 4 sd from the
exact tail.

    python benchmarks/bench_golden_permutations.py                  # paper size, about a minute
    python benchmarks/bench_golden_permutations.py --metrics 3 --repeats 5
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np
from scipy import stats

from seedscope.quality.golden import overlap_p_value


def loop_p_value(n: int, ks: list[int], observed: int, permutations: int, seed: int) -> float:
    """The same p-value as ``overlap_p_value``, one permutation at a time."""
    rng = np.random.default_rng(seed)
    first = np.arange(n) < ks[0]
    hits = 0
    for _ in range(permutations):
        in_all = first.copy()
        for k in ks[1:]:
            in_all &= rng.permutation(n) < k
        hits += int(in_all.sum() >= observed)
    return (1 + hits) / (1 + permutations)


def drawn_p_value(n: int, ks: list[int], observed: int, permutations: int, seed: int) -> float:
    """The same null distribution without shuffling: the overlap of a fixed ``m``-set with a
    random ``k``-subset of ``n`` is hypergeometric, so each list's draw narrows ``m``."""
    rng = np.random.default_rng(seed)
    overlap = np.full(permutations, ks[0])
    for k in ks[1:]:
        overlap = rng.hypergeometric(overlap, n - overlap, k)
    return (1 + int((overlap >= observed).sum())) / (1 + permutations)


def exact_tail(n: int, ks: list[int], observed: int) -> float | None:
    """P(overlap >= observed) of two random top-k lists; None for three or more lists."""
    if len(ks) != 2:
        return None
    return float(stats.hypergeom.sf(observed - 1, n, ks[0], ks[1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=1024)
    parser.add_argument("--top-k", type=int, default=256)
    parser.add_argument("--metrics", type=int, default=2, help="top-k lists (FID and HPS: 2)")
    parser.add_argument("--observed", type=int, default=65, help="golden seeds (SD 2.0: 65)")
    parser.add_argument("--permutations", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3, help="interleaved rounds; best counts")
    parser.add_argument("--target", type=float, default=1.0, help="least speed-up expected")
    parser.add_argument("--json", help="write the results here too")
    args = parser.parse_args()

    ks = [args.top_k] * args.metrics
    task = (args.seeds, ks, args.observed, args.permutations)
    ways = {"vectorised": overlap_p_value, "loop": loop_p_value, "hypergeometric": drawn_p_value}
    seconds: dict[str, list[float]] = {name: [] for name in ways}
    p_values: dict[str, float] = {}
    for round_ in range(args.repeats):
        for name, way in ways.items():
            start = time.perf_counter()
            p_values[name] = way(*task, seed=round_)
            seconds[name].append(time.perf_counter() - start)

    best = {name: min(times) for name, times in seconds.items()}
    exact = exact_tail(args.seeds, ks, args.observed)
    result = {
        "seeds": args.seeds,
        "top_k": ks,
        "observed": args.observed,
        "permutations": args.permutations,
        "seconds": seconds,
        "best_s": best,
        "speedup": best["loop"] / best["vectorised"],
        "target": args.target,
        "p_value": p_values,
        "exact_p": exact,
    }
    agree = True
    if exact is not None:
        sd = np.sqrt(exact * (1 - exact) / args.permutations) + 1 / (1 + args.permutations)
        result["p_minus_exact_in_sd"] = {k: (p - exact) / sd for k, p in p_values.items()}
        agree = all(abs(z) < 4 for z in result["p_minus_exact_in_sd"].values())
    result["target_met"] = result["speedup"] >= args.target and agree
    print(json.dumps(result, indent=1))
    print(
        f"{args.permutations} permutations of {args.seeds} seeds, top {ks}: vectorised "
        f"{best['vectorised']:.3f} s, loop {best['loop']:.3f} s, {result['speedup']:.2f}x "
        f"(target {args.target:g}x): {'met' if result['target_met'] else 'MISSED'}; "
        f"hypergeometric draws {best['hypergeometric']:.4f} s"
    )
    if args.json:
        with open(args.json, "w") as out:
            json.dump(result, out, indent=1)
    sys.exit(0 if result["target_met"] else 1)


if __name__ == "__main__":
    main()
