"""How long ``seedscope status`` takes on the paper run (about 3,100 jobs).

Builds a synthetic results tree for ``config.yaml`` in a temporary folder: each job of the
rules that status follows is done (its outputs, tiny files), partial (a shard job's
``.partial`` and progress log with a few chunk lines; another job's log), failed (a log ending
in a traceback, or an ``Error in rule`` block of a Snakemake log) or not started, drawn with
fixed odds; then times ``run_status`` and ``format_status`` (best and median of ``--repeats``)
and prints the counts it found beside those it built.

    python benchmarks/bench_status.py [--repeats 5] [--config config.yaml] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import time
from pathlib import Path

from seedscope.dag import Dag
from seedscope.status import RULES, SHARD_RULES, format_status, load_run_config, run_status

REPO = Path(__file__).resolve().parents[1]
ODDS = {"done": 0.7, "partial": 0.05, "failed": 0.03, "not started": 0.22}
TRACEBACK = "Traceback (most recent call last):\n  File ...\nRuntimeError: CUDA error\n"


def _write(path: Path, text: str = "") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def _partial_shard(shard: Path, chunk_size: int, chunks: int) -> None:
    """A progress log of ``chunks`` chunks (entries as the writer records them) and a partial
    tar of that length (zeros: status reads only its size)."""
    entry = dict.fromkeys(("key", "prompt_id", "png_sha256", "json_sha256"), "x" * 16)
    entry |= dict.fromkeys(("seed", "png_offset", "png_size", "json_offset", "json_size"), 0)
    lines = [json.dumps({"identity": {"chunk_size": chunk_size}})]
    lines += [
        json.dumps({"chunk": c, "offset": 0, "entries": [entry] * chunk_size})
        for c in range(chunks)
    ]
    _write(Path(f"{shard}.progress.jsonl"), "\n".join(lines) + "\n")
    _write(Path(f"{shard}.partial"))


def build_tree(directory: Path, config: dict, seed: int = 0) -> dict[str, dict[str, int]]:
    """The synthetic results tree under ``directory``; the states drawn, per rule."""
    dag = Dag(config)
    rng = random.Random(seed)
    drawn: dict[str, dict[str, int]] = {}
    errors = []
    for rule, (jobs_of, outputs, log_pattern) in RULES.items():
        drawn[rule] = dict.fromkeys(ODDS, 0)
        for job in getattr(dag, jobs_of)():
            state = rng.choices(list(ODDS), weights=list(ODDS.values()))[0]
            drawn[rule][state] += 1
            paths = [directory / dag.path(name, **job) for name in outputs]
            log = directory / dag.run / log_pattern.format(**job)
            if state == "done":
                for path in paths:
                    _write(path, "x")
            elif state == "partial":
                _write(log, "INFO seedscope.job: started\n")
                if rule in SHARD_RULES:
                    _partial_shard(paths[0], config["generation"]["chunk_size"], 3)
            elif state == "failed" and rng.random() < 0.5:
                _write(log, "INFO seedscope.job: started\n" + TRACEBACK)
            elif state == "failed":  # killed: no traceback; Snakemake logged it
                _write(log, "INFO seedscope.job: started\n")
                errors.append(
                    f"Error in rule {rule}:\n    message: None\n    jobid: 1\n"
                    f"    output: {', '.join(dag.path(n, **job) for n in outputs)}\n"
                    f"    log: {log.relative_to(directory)} (check log file(s) for error details)\n"
                )
    snakemake_log = directory / ".snakemake" / "log" / "2026-01-01T000000.000000.snakemake.log"
    _write(snakemake_log, "Building DAG of jobs...\n" + "\n".join(errors) + "\n")
    return drawn


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=REPO / "config.yaml")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--keep", type=Path, help="build the tree in this folder and keep it")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="seedscope-status-"))
    overlay = work / "overlay.yaml"
    _write(overlay, "results_dir: results\n")
    paths = [args.config, overlay]
    start = time.perf_counter()
    drawn = build_tree(work, load_run_config(paths))
    print(
        f"built {sum(sum(d.values()) for d in drawn.values()):,} jobs in {work} "
        f"({time.perf_counter() - start:.1f} s)"
    )
    seconds = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        status = run_status(paths, work)
        report = format_status(status)
        seconds.append(time.perf_counter() - start)
    table = report.split("\n\n")
    print("\n\n".join([table[1], table[-1]]))
    for rule, found in status["rules"].items():
        counts = {state: found[state] for state in ODDS}
        assert counts == drawn[rule], (rule, counts, drawn[rule])
    print(
        f"\nseedscope status on {sum(r['jobs'] for r in status['rules'].values()):,} jobs: "
        f"best {min(seconds):.2f} s, median {statistics.median(seconds):.2f} s "
        f"of {args.repeats} (every count matches the tree built)"
    )


if __name__ == "__main__":
    main()
