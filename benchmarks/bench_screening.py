"""Adaptive seed screening at the paper's sizes: does it keep its guarantee, and what does it save?

Simulates screening studies (:mod:`seedscope.screening.simulate`): 1,024 seeds, a budget of
10,000 prompts (the exhaustive study renders 1,024 x 10,000 images), rounds at 100, 200, 400,
1,000, 2,000, 4,000 and 7,000 prompts and the budget (FID used from 2,000 prompts on), golden
seeds (top 256 by FID and by HPS) or inferior ones, ``delta`` 0.05, ``epsilon`` 0.05 of each
metric's range. For each setting it prints and writes: the share of studies that eliminate a
seed of the exhaustive target set (must be at most delta) with its 95 % Clopper-Pearson
interval, the share of target seeds eliminated, the share of returned seeds outside the epsilon
band, the seeds returned against the target's size, and the images rendered as a fraction of
the exhaustive study's (mean and largest), at the paper's spread of per-seed values and at 0.5,
0.25 and 0.1 of it, then variations at the paper's spread (rendering policy, epsilon, the HPS
spread, the schedule, FID at fewer prompts with seeds whose FID bias differs, delta, each
metric alone).

    python benchmarks/bench_screening.py                   # the table, a few minutes on 2 cores
    python benchmarks/bench_screening.py --studies 200     # quicker
    python benchmarks/bench_screening.py --calibrate       # re-measure the FID model (~15 min)

``--calibrate`` computes real Frechet distances of 2,048-d Gaussian features
(:mod:`seedscope.screening.fidmodel`) at 256 to 2,048 prompts, fits the constants of the
simulation's FID model (own noise ``L / n + Q / n**2``, bias ``b(n)``), and checks the fitted
model against FIDs at 4,096 and 10,000 prompts (``--halves 6`` also measures what the jackknife
leaves of the bias).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

from seedscope.screening.settings import Plan, Target
from seedscope.screening.simulate import FidModel, HpsModel, Setting, simulate
from seedscope.stats import clopper_pearson

SCHEDULE = (100, 200, 400, 1000, 2000, 4000, 7000)  # FID is used from 2,000 prompts
SPREADS = (1.0, 0.5, 0.25, 0.1)


def base(kind: str, spread: float) -> Setting:
    target = Target(kind, 256, ("fid", "hps"), 0.05)
    plan = Plan(1024, SCHEDULE, 10_000, 0.05, {"fid": 2000})
    return Setting(target, plan, spread=spread)


def variations() -> dict[str, Setting]:
    """Changes from the default at the paper's spread, golden seeds."""
    golden = base("golden", 1.0)

    def change(setting: Setting, **kw) -> Setting:
        return dataclasses.replace(setting, **kw)

    def target(**kw) -> Target:
        return dataclasses.replace(golden.target, **kw)

    def plan(**kw) -> Plan:
        return dataclasses.replace(golden.plan, **kw)

    return {
        "policy thresholds, pin 1": change(golden, policy="thresholds", pin=1.0),
        "policy undecided": change(golden, policy="undecided"),
        "epsilon=0.02": change(golden, target=target(epsilon=0.02)),
        "epsilon=0.1": change(golden, target=target(epsilon=0.1)),
        "hps seed sd 0.005": change(golden, hps=HpsModel(seed_sd=0.005)),
        "hps seed sd 0.01": change(golden, hps=HpsModel(seed_sd=0.01)),
        "hps seed sd 0.005, fid from 1000": change(
            golden, hps=HpsModel(seed_sd=0.005), plan=plan(min_prompts={"fid": 1000})
        ),
        "hps seed sd 0.01, fid from 1000": change(
            golden, hps=HpsModel(seed_sd=0.01), plan=plan(min_prompts={"fid": 1000})
        ),
        "schedule 100, 200, ..., 6400": change(
            golden, plan=plan(schedule=tuple(100 * 2**i for i in range(7)))
        ),
        "fid from 100 prompts, eta 0": change(
            golden, plan=plan(min_prompts={"fid": 100}), fid=FidModel(eta_sd=0.0)
        ),
        "fid from 100 prompts, eta 0.01": change(golden, plan=plan(min_prompts={"fid": 100})),
        "fid from 1000 prompts, eta 0.01": change(golden, plan=plan(min_prompts={"fid": 1000})),
        "fid from 1000 prompts, eta 0.05": change(
            golden, plan=plan(min_prompts={"fid": 1000}), fid=FidModel(eta_sd=0.05)
        ),
        "fid from 100 prompts, eta 0.05": change(
            golden, plan=plan(min_prompts={"fid": 100}), fid=FidModel(eta_sd=0.05)
        ),
        "eta 0.05": change(golden, fid=FidModel(eta_sd=0.05)),
        "eta 0.1": change(golden, fid=FidModel(eta_sd=0.1)),
        "delta=0.2": change(golden, plan=plan(delta=0.2)),
        "hps alone (top 256)": change(
            golden, target=target(metrics=("hps",)), plan=plan(min_prompts={})
        ),
        "fid alone (top 256)": change(golden, target=target(metrics=("fid",))),
    }


def row(label: str, setting: Setting, studies: int, seed: int) -> dict:
    start = time.perf_counter()
    result = simulate(setting, studies, seed)
    lo, hi = clopper_pearson(result.studies_with_miss, result.studies)
    rendered = np.array(result.rendered)
    return {
        "target": setting.target.kind,
        "spread": setting.spread,
        "setting": label,
        "studies": result.studies,
        "delta": setting.plan.delta,
        "miss_prob": result.studies_with_miss / result.studies,
        "miss_lo": float(lo),
        "miss_hi": float(hi),
        "targets_missed": result.targets_missed / max(result.targets, 1),
        "outside_band": result.returned_outside_band / max(result.returned, 1),
        "returned": result.returned / result.studies,
        "target_size": result.targets / result.studies,
        "rendered": float(rendered.mean()),
        "rendered_max": float(rendered.max()),
        "rounds": float(np.mean(result.rounds)),
        "seconds": time.perf_counter() - start,
    }


def table(studies: int, seed: int) -> pd.DataFrame:
    rows = []
    for kind in ("golden", "inferior"):
        for spread in SPREADS:
            rows.append(row("default", base(kind, spread), studies, seed))
            print(_line(rows[-1]), flush=True)
    for label, setting in variations().items():
        rows.append(row(label, setting, studies, seed))
        print(_line(rows[-1]), flush=True)
    return pd.DataFrame(rows)


def _line(r: dict) -> str:
    return (
        f"{r['target']:8} {r['spread']:5.2f} {r['setting']:32} miss {r['miss_prob']:.4f} "
        f"[{r['miss_lo']:.4f}, {r['miss_hi']:.4f}] (delta {r['delta']}) seeds missed "
        f"{r['targets_missed']:.5f}  outside band {r['outside_band']:.3f}  returned "
        f"{r['returned']:6.1f} / {r['target_size']:5.1f}  rendered {r['rendered']:.3f} "
        f"(max {r['rendered_max']:.3f})  {r['seconds']:.0f}s"
    )


def calibrate(seed: int, halves: int) -> dict:
    """Fit L, Q and b(n) on real FIDs of 2,048-d Gaussian features at 256 to 2,048 prompts;
    check the fitted model's bias and own noise at 4,096 and 10,000 prompts."""
    import torch

    from seedscope.screening.fidmodel import GaussianFeatures, fit_noise, measure

    torch.set_num_threads(2)
    population = GaussianFeatures()
    sizes = {256: 30, 512: 30, 1024: 24, 2048: 16}
    rows = measure(population, sizes, halves=halves, seed=seed)
    for r in rows:
        print(json.dumps({k: round(v, 5) if isinstance(v, float) else v for k, v in r.items()}))
    linear, quadratic = fit_noise(rows)
    bias = tuple((r["n"], r["bias"]) for r in rows)
    print(f"fit on {list(sizes)} prompts: L = {linear:.2f}, Q = {quadratic:.0f}", flush=True)
    checks = measure(population, {4096: 12, 10_000: 8}, halves=0, seed=seed + 1)
    model = FidModel(linear=linear, quadratic=quadratic, bias_points=bias)
    for r in checks:
        predicted_sd = float(np.sqrt(linear / r["n"] + quadratic / r["n"] ** 2))
        r |= {"predicted_own_sd": predicted_sd, "predicted_bias": float(model.bias(r["n"]))}
        r["own_sd"] = float(np.sqrt(r["own_var"]))
        print(json.dumps({k: round(v, 5) if isinstance(v, float) else v for k, v in r.items()}))
    return {"rows": rows, "checks": checks, "linear": linear, "quadratic": quadratic}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--studies", type=int, default=4000, help="simulated studies per row")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--csv", type=Path, default=Path("results/benchmarks/screening.csv"))
    parser.add_argument("--calibrate", action="store_true", help="re-measure the FID model")
    parser.add_argument("--halves", type=int, default=0, help="--calibrate: jackknife halves")
    args = parser.parse_args()
    if args.calibrate:
        result = calibrate(args.seed, args.halves)
        path = args.csv.with_name("screening_calibration.json")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(result, indent=1))
        return
    start = time.perf_counter()
    frame = table(args.studies, args.seed)
    args.csv.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(args.csv, index=False)
    print(f"wrote {args.csv} ({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
