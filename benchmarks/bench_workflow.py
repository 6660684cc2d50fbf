"""How long the demo and a dry run of the paper take, against their targets.

The demo (README's first command) should finish in 12 minutes on 2 CPU cores, and a dry run of
the paper config (about 3,100 jobs) in a minute. This runs both in a fresh folder and prints the
wall times and each stage's job count and summed job time (from Snakemake's benchmark files, by
their top folder): the demo's jobs each take seconds, mostly start-up, so their number matters
as much as their work.

    python benchmarks/bench_workflow.py [--cores 2] [--keep DIR]
"""

from __future__ import annotations

import argparse
import csv
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TARGETS = {"demo": 12 * 60, "paper dry run": 60}


def snakemake(workdir: Path, *args: str) -> float:
    """Run Snakemake on this checkout in ``workdir``; its wall time in seconds."""
    command = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "-d", str(workdir)]
    start = time.perf_counter()
    subprocess.run([*command, *args], check=True, capture_output=True, cwd=workdir)
    return time.perf_counter() - start


def stage_seconds(results: Path) -> dict[str, list[float]]:
    """Job times (seconds) from the benchmark files under ``results``, by their top folder."""
    times: dict[str, list[float]] = defaultdict(list)
    for path in results.glob("*/benchmarks/**/*.tsv"):
        rows = list(csv.DictReader(path.open(), delimiter="\t"))
        stage = path.relative_to(results).parts[2].removesuffix(".tsv")
        times[stage] += [float(row["s"]) for row in rows[:1]]
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cores", default="2")
    parser.add_argument("--keep", type=Path, help="run in this folder and keep it")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="seedscope-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    demo = REPO / "profiles" / "demo" / "demo.yaml"
    seconds = {"demo": snakemake(work, "--configfile", str(demo), "--cores", args.cores)}
    dry = work / "dry"
    dry.mkdir(exist_ok=True)
    seconds["paper dry run"] = snakemake(dry, "-n", "--configfile", str(REPO / "config.yaml"))
    for name, value in seconds.items():
        ratio = value / TARGETS[name]
        print(f"{name}: {value:.0f} s, {ratio:.2f} of the {TARGETS[name]} s target")
    times = stage_seconds(work / "results")
    total = sum(map(sum, times.values()))
    print(f"\n{'stage':<28}{'jobs':>5}{'seconds':>9}{'share':>7}")
    for stage, values in sorted(times.items(), key=lambda item: -sum(item[1])):
        print(f"{stage:<28}{len(values):>5}{sum(values):>9.1f}{sum(values) / total:>7.1%}")
    jobs = sum(map(len, times.values()))
    print(f"{'all jobs':<28}{jobs:>5}{total:>9.1f}  (wall {seconds['demo']:.0f} s)")


if __name__ == "__main__":
    main()
