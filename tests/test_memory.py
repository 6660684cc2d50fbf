"""benchmarks/bench_memory.py at a small scale: every rule's script runs on its synthetic inputs,
so the benchmark cannot drift from the scripts it measures."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys

import pytest

from conftest import REPO

_spec = importlib.util.spec_from_file_location("bench_memory", REPO / "benchmarks/bench_memory.py")
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)

MEASURED = {
    "extract_features",
    "perseed_block",
    "perseed_table",
    "golden_seeds",
    "table1",
    "fig5_best_worst_seeds",
    "fig_generalisation",
    "seedbank",
    "plot_seed_swap",
    "run_summary",
}


@pytest.mark.slow
def test_every_rule_runs_at_small_scale_and_reports_its_peak(tmp_path):
    """Every job in its own process, as the benchmark runs it: under a minute on 2 quiet cores,
    most of it the processes importing torch (the jobs that compute with it)."""
    subprocess.run([sys.executable, bench.__file__, "_build", str(tmp_path), "small"], check=True)
    config = bench.settings("small")
    rows = bench.measure(tmp_path, bench.sizes("small", config), config)
    failed = {row["job"]: row["error"] for row in rows if "error" in row}
    assert not failed, failed
    assert {row["rule"] for row in rows} == MEASURED
    assert all(20 < row["peak_mb"] < 5000 for row in rows), rows  # python + numpy: > 20 MB
    assert (tmp_path / "out" / "figures" / "fig5.png").stat().st_size > 0
    assert (tmp_path / "out" / "tables" / "table1.csv").read_text().count("\n") == 1 + 3 * 2


def test_measured_rules_exist_with_a_mem_mb():
    """The rules measured are rules of the workflow, each with a literal mem_mb."""
    rules = "".join(path.read_text() for path in sorted((REPO / "rules").glob("*.smk")))
    declared = dict(re.findall(r"^rule (\w+):\n(?:    .*\n|\n)*?.*\bmem_mb=(\d+)", rules, re.M))
    missing = MEASURED - declared.keys()
    assert not missing, f"no rule with a literal mem_mb: {missing}"


DRY_RUN = """
[Tue Dec  1 18:55:32 2026]
rule fig5_best_worst_seeds:
    input: results/paper/tables/perseed_sd2_coco1.csv
    output: results/paper/figures/fig5_best_worst_seeds_sd2.pdf
    jobid: 7
    wildcards: model=sd2
    resources: tmpdir=/tmp, runtime=10, cpus_per_task=1, mem_mb=2000, mem=2 GB, mem_mib=1908

[Tue Dec  1 18:55:32 2026]
localrule all:
    input: results/paper/tables/run_summary.csv
    jobid: 0
    resources: tmpdir=/tmp
"""


def test_mem_mb_is_read_from_the_dry_run_and_a_rule_over_it_fails():
    declared = bench.parse_mem_mb(DRY_RUN)
    assert declared == {"fig5_best_worst_seeds": 2000}
    row = {"rule": "fig5_best_worst_seeds", "job": "fig5", "seconds": 1.0}
    text, fits = bench.report([row | {"peak_mb": 900.0}], declared)
    assert fits and "| fig5 | 900 | 2000 | 0.45 | 1 |" in text
    text, fits = bench.report([row | {"peak_mb": 2100.0}], declared)
    assert not fits and "**over**" in text
    assert not bench.report([row | {"error": "exit 1"}], declared)[1]
    assert not bench.report([row | {"rule": "unknown", "peak_mb": 1.0}], declared)[1]
