"""``seedscope plan``'s per-rule GPU and CPU hours, and ``--against``: a run's Snakemake benchmark
files per rule beside the plan (every rule but ``all`` declares one)."""

import re
from types import SimpleNamespace

import pytest

from seedscope.cli import main
from seedscope.dag import PATHS, Dag
from seedscope.plan import (
    BENCHMARKS,
    COLLECTING_RULES,
    EXTRACTION_RULES,
    GPU_RULES,
    SUBSAMPLE_FRACTIONS,
    compare_with_run,
    format_comparison,
    format_plan,
    make_plan,
    run_benchmarks,
)
from seedscope.shards import BLOCK
from seedscope.validate import load_config

from conftest import DEMO, REPO

HEADER = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"


def rule_blocks() -> dict[str, str]:
    """Each rule of rules/*.smk and the Snakefile: its text up to the next top-level line."""
    blocks = {}
    for path in [REPO / "Snakefile", *sorted((REPO / "rules").glob("*.smk"))]:
        name = None
        for line in path.read_text().splitlines():
            match = re.match(r"rule (\w+):", line)
            if match:
                name = match.group(1)
                blocks[name] = ""
            elif line and not line[0].isspace():
                name = None
            elif name:
                blocks[name] += line + "\n"
    return blocks


def benchmark_expression(block: str) -> str | None:
    """The Python expression under a rule's ``benchmark:`` directive, or None."""
    match = re.search(r"^    benchmark:\n((?:        .*\n)+)", block, re.M)
    return match.group(1).strip() if match else None


def test_every_rule_but_all_declares_a_benchmark_where_the_plan_looks():
    blocks = rule_blocks()
    assert "generate" in blocks and "all" in blocks
    without = {rule for rule, block in blocks.items() if benchmark_expression(block) is None}
    assert without == set(COLLECTING_RULES) == {"all"}  # rule all runs nothing
    assert set(BENCHMARKS) == set(blocks) - COLLECTING_RULES
    # each rule's path, evaluated as Snakemake would (the run folder results/<run> = RUN), is
    # the plan's; the downloads' sit in the results folder, beside the runs
    names = {
        "RUN": "RESULTS/RUN",
        "BLOCK": BLOCK,
        "config": {"results_dir": "RESULTS"},
        "JOBS": SimpleNamespace(pattern=lambda name: f"RESULTS/RUN/{PATHS[name]}"),
    }
    for rule, pattern in BENCHMARKS.items():
        declared = eval(benchmark_expression(blocks[rule]), dict(names))  # noqa: S307
        assert declared == f"RESULTS/RUN/{pattern}".replace("RUN/../", ""), rule


def test_the_plans_gpu_rules_are_the_rules_that_ask_for_a_gpu():
    asking = {rule for rule, block in rule_blocks().items() if re.search(r"gpus=\w", block)}
    assert asking == GPU_RULES


def test_the_plan_prices_as_many_replicates_as_the_intervals_draw():
    from seedscope.quality.intervals import FRACTIONS

    assert len(FRACTIONS) == SUBSAMPLE_FRACTIONS


def printed_rows(text: str) -> dict[str, list[str]]:
    """The per-rule table of ``format_plan``: rule -> its jobs, GPU-h and CPU-h cells."""
    lines = text.split("jobs and hours per rule", 1)[1].splitlines()[2:]
    rows = {}
    for line in lines:
        cells = line.split()
        if not line.startswith("  ") or len(cells) < 4 or cells[0].endswith(":"):
            break
        rows[cells[0]] = cells[1:4]
    return rows


def hours(cell: str) -> float:
    return 0.0 if cell in ("-", "?") else float(cell.replace(",", ""))


def test_the_per_rule_table_adds_up_to_the_totals_for_the_paper():
    config = load_config(REPO / "config.yaml")
    plan = make_plan(config)
    rules, totals = plan["rules"], plan["totals"]
    assert set(rules) == set(plan["jobs"]) - {"all"}
    assert all(r["jobs"] == plan["jobs"][rule] for rule, r in rules.items())
    gpu = sum(r["gpu_hours"] for r in rules.values())
    cpu = sum(r["cpu_hours"] for r in rules.values())
    assert gpu == pytest.approx(totals["all_gpu_hours"]) and cpu == pytest.approx(
        totals["cpu_hours"]
    )
    # the per-stage GPU-hours the plan always printed are the rules' GPU-hours, regrouped
    stages = totals["gpu_hours"]
    by_stage = sum(stages[k] for k in stages if k != "features_by_extractor")
    assert gpu == pytest.approx(by_stage)
    assert sum(rules[r]["gpu_hours"] for r in EXTRACTION_RULES) == pytest.approx(stages["features"])
    # extraction CPU: the decoding and OCR the plan prices separately, and the preprocessing
    extraction = sum(rules[r]["cpu_hours"] for r in EXTRACTION_RULES)
    assert extraction > totals["decode_cpu_hours"] + totals["ocr_cpu_hours"]
    assert rules["generate"]["cpu_hours"] > 0 and rules["style_map"]["cpu_hours"] > 0
    # the paper's per-seed statistics run on the GPU, which has no cost model: marked, not hidden
    assert not rules["perseed_block"]["gpu_modelled"] and "CPU-h" in rules["perseed_block"]["note"]
    text = format_plan(plan)
    rows = printed_rows(text)
    assert set(rows) == set(plan["jobs"]) | {"total"}
    assert rows["perseed_block"][1:] == ["?", "?"] and rows["golden_seeds"][1] == "-"
    for column in (1, 2):  # GPU-h, CPU-h: the printed rows add up to the printed total
        printed = sum(hours(cells[column]) for rule, cells in rows.items() if rule != "total")
        total = hours(rows["total"][column])
        assert printed == pytest.approx(total, rel=1e-3, abs=0.1 * len(rows)), column
    assert hours(rows["total"][0]) == sum(plan["jobs"].values())
    assert "costs assume full-size models" not in text
    assert "CPU-hours:" in text and "benchmarks/bench_cpu_costs.py" in text


def test_the_demo_plan_says_its_costs_are_the_full_size_models():
    plan = make_plan(load_config(DEMO))
    assert "costs assume full-size models" in plan["tiny"] and "sd2" in plan["tiny"]
    assert "costs assume full-size models" in format_plan(plan)
    # the demo runs its per-seed statistics on the CPU: priced from the measured costs
    assert plan["rules"]["perseed_block"]["cpu_modelled"]
    assert plan["rules"]["perseed_block"]["cpu_hours"] > 0


def write_benchmark(path, seconds: float, cpu: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(HEADER + f"{seconds}\t0:00:0{int(seconds)}\t1\t2\t3\t4\t0\t0\t50\t{cpu}\n")


def fake_run(root, counts: dict[str, int]):
    """A results folder with ``counts[rule]`` benchmark files of each rule (wildcards made up,
    one set per job); the run folder is ``root/results/demo``."""
    run = root / "results" / "demo"
    for rule, n in counts.items():
        if rule in COLLECTING_RULES:
            continue
        names = re.findall(r"\{(\w+)\}", BENCHMARKS[rule])
        for i in range(n):
            path = BENCHMARKS[rule].format(**{name: f"{name}{i}" for name in names})
            write_benchmark(run / path, 2.0, "1.5")
    return run


def test_against_matches_every_rule_of_the_demo_and_prints_ratios(tmp_path, capsys):
    config = load_config(DEMO)
    counts = Dag(config).job_counts()
    run = fake_run(tmp_path, counts)
    plan = make_plan(config)
    comparison = compare_with_run(plan, run)
    assert comparison["missing"] == [] and comparison["unmatched"] == []
    rules = comparison["rules"]
    assert set(rules) == set(counts) - {"all"}
    for rule, r in rules.items():
        assert r["found"] == counts[rule], rule
        assert r["wall_hours"] == pytest.approx(counts[rule] * 2.0 / 3600)
        assert r["cpu_hours"] == pytest.approx(counts[rule] * 1.5 / 3600)
        if plan["rules"][rule]["cpu_hours"] > 0:
            expected = r["cpu_hours"] / plan["rules"][rule]["cpu_hours"]
            assert r["cpu_per_cpu"] == pytest.approx(expected), rule
        if plan["rules"][rule]["gpu_hours"] > 0:
            assert r["wall_per_gpu"] is not None, rule
    assert main(["plan", str(DEMO), "--against", str(run)]) == 0
    out = capsys.readouterr().out
    table = out.split("planned against measured", 1)[1]
    for rule in rules:
        line = re.search(rf"^  {rule} +(.*)$", table, re.M).group(1).split()
        assert line[:2] == [str(counts[rule]), str(counts[rule])], rule
        priced = plan["rules"][rule]["cpu_hours"] > 0 or plan["rules"][rule]["gpu_hours"] > 0
        assert any(cell.endswith("x") for cell in line[-2:]) == priced, (rule, line)
    assert "missing" not in table and "the ratios say how far this run is" in table


def test_a_rule_without_benchmarks_is_reported_missing(tmp_path, capsys):
    config = load_config(DEMO)
    counts = Dag(config).job_counts()
    run = fake_run(tmp_path, counts)
    for path in (run / "benchmarks" / "style").glob("style_map_*.tsv"):
        path.unlink()
    write_benchmark(run / "benchmarks" / "seed_swap.tsv", 3.0, "-")  # a value not measured
    (run / "benchmarks" / "old_rule.tsv").write_text(HEADER)
    comparison = compare_with_run(make_plan(config), run)
    assert comparison["missing"] == ["style_map"]
    assert comparison["unmatched"] == ["benchmarks/old_rule.tsv"]
    assert comparison["rules"]["seed_swap"]["cpu_hours"] == 0.0  # "-" is not counted
    text = format_comparison(comparison)
    assert re.search(r"^  style_map +\d+ +missing$", text, re.M)
    assert "no benchmark files for 1 rules: style_map" in text
    assert "1 benchmark files match no rule" in text


def test_the_downloads_benchmarks_sit_beside_the_run(tmp_path):
    run = tmp_path / "results" / "paper"
    write_benchmark(tmp_path / "results" / "benchmarks" / "coco_download.tsv", 60.0, "5")
    write_benchmark(tmp_path / "results" / "benchmarks" / "h100" / "other.tsv", 1.0, "1")
    found, unmatched = run_benchmarks(run)
    assert [f["path"] for f in found["coco_download"]] == ["../benchmarks/coco_download.tsv"]
    assert unmatched == []  # other files beside the run are not this run's


def test_against_a_folder_that_is_not_there_fails_cleanly(tmp_path, capsys):
    assert main(["plan", str(DEMO), "--against", str(tmp_path / "nothing")]) == 2
    assert "no such folder" in capsys.readouterr().err
