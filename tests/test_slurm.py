"""The SLURM profile: every job's resources, the sbatch flags they become, and the demo DAG
through a real SLURM cluster with the same results as a local run.

tests/slurm/start_cluster.sh brings up a one-node cluster on the local machine (installing Debian's
slurm-wlm and munge with apt when they are missing), or the test reuses a cluster that already
answers. The demo then runs with ``--profile profiles/slurm --workflow-profile
tests/slurm/profile``: every job is submitted with sbatch by the executor plugin. The test counts
the sbatch jobs three ways (Snakemake's submissions, the plugin's log files, slurmctld's job
completion log) and the job steps inside them (one srun per job of the DAG), checks that none
asked for a GPU (device cpu: gpu=0), and compares every result with the session's local demo
run: byte for byte, or value for value where a file records how long something took. Daemons the
test started are stopped at the end.
"""

from __future__ import annotations

import csv
import json
import math
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import yaml
from safetensors import safe_open
from snakemake_executor_plugin_slurm.submit_string import get_submit_command
from snakemake_executor_plugin_slurm.utils import set_gres_string

from conftest import DEMO, REPO, env_without_scontrol, planned_jobs, snakemake, snakemake_command

SLURM = REPO / "tests" / "slurm"
MEM_MB = 1000  # per job; some rules ask for more memory than a test machine has
# Measured durations differ from run to run, and so do values derived from them: manifests hold
# a timing, so their hashes (recorded in feature tables) and sizes (added up by the run summary) do.
TIMING = {"seconds", "job_hours", "gpu_hours", "manifest_sha256"}
DERIVED = {"tables/run_summary.csv": {"bytes"}}
RUN_TIMEOUT = 2700  # seconds; the whole demo takes about 10 min through SLURM on 2 cores
# The whole demo DAG goes through SLURM. SEEDSCOPE_SLURM_CROSS_SECTION=1 sends only a
# cross-section, for a quicker check while working on the profile: a GPU rule's shard, its
# features, the seed-swap study and a CPU plotting rule, with their inputs (about 2 minutes).
FULL_DEMO = os.environ.get("SEEDSCOPE_SLURM_CROSS_SECTION") != "1"
CROSS_SECTION = [
    "results/demo/images/sd2/parti/seeds-0000-0031.tar",
    "results/demo/features/hps/sd2/parti/seeds-0000-0031.npz",
    "results/demo/figures/fig2_seed_swap.png",
]


def _cluster_answers() -> bool:
    if not shutil.which("scontrol"):
        return False
    ping = subprocess.run(["scontrol", "ping"], capture_output=True, text=True)
    return "is UP" in ping.stdout


def _slurm_config() -> dict[str, str]:
    shown = subprocess.run(["scontrol", "show", "config"], capture_output=True, text=True).stdout
    return dict(
        (key.strip(), value.strip())
        for key, sep, value in (line.partition("=") for line in shown.splitlines())
        if sep
    )


@pytest.fixture(scope="module")
def cluster():
    """A SLURM cluster that answers: {partition, cpus (per node), jobcomp (log file or None)}."""
    running = _cluster_answers()
    if not running and os.geteuid() != 0:
        pytest.skip("no SLURM cluster answers, and starting one needs root (apt, daemons)")
    if not running and not (shutil.which("sbatch") or shutil.which("apt-get")):
        pytest.skip("no SLURM cluster answers, slurm is not installed and there is no apt-get")
    try:
        start = subprocess.run(
            [str(SLURM / "start_cluster.sh")], capture_output=True, text=True, timeout=900
        )
        if start.returncode == 10:
            pytest.skip(f"slurm-wlm could not be installed with apt: {start.stderr[-1500:]}")
        assert start.returncode == 0, f"start_cluster.sh failed:\n{start.stderr[-3000:]}"
        partition = start.stdout.split()[-1]
        cpus = subprocess.run(
            ["sinfo", "-h", "-p", partition, "-o", "%c"], capture_output=True, text=True
        ).stdout.split()
        config = _slurm_config()
        jobcomp = (
            config.get("JobCompLoc") if config.get("JobCompType") == "jobcomp/filetxt" else None
        )
        yield {"partition": partition, "cpus": min(map(int, cpus)), "jobcomp": jobcomp}
    finally:
        if not running:  # stop what start_cluster.sh started, also after a failed start
            subprocess.run([str(SLURM / "stop_cluster.sh")], capture_output=True, timeout=120)


def jobcomp_records(path: str, name: str) -> dict[str, dict[str, str]]:
    """slurmctld's completion records (jobcomp/filetxt) of the jobs named ``name``, by job id."""
    records = {}
    for line in Path(path).read_text().splitlines():
        fields = dict(re.findall(r"(\w+)=(\S*)", line))
        if fields.get("Name") == name:
            records[fields["JobId"]] = fields
    return records


def _normalised(value, drop=frozenset(TIMING)):
    """Loaded file contents without the keys in ``drop``, tensors as numpy arrays."""
    if isinstance(value, dict):
        return {k: _normalised(v, drop) for k, v in value.items() if k not in drop}
    if isinstance(value, list | tuple):
        return [_normalised(v, drop) for v in value]
    if isinstance(value, torch.Tensor):
        return value.numpy()
    return value


def _equal(a, b) -> bool:
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(map(_equal, a, b))
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return np.array_equal(a, b) and np.asarray(a).dtype == np.asarray(b).dtype
    return a == b


def _json_or_array(array: np.ndarray):
    if array.ndim == 0 and array.dtype.kind == "U":
        try:
            return json.loads(str(array))
        except ValueError:
            pass
    return array


def _load(path: Path):
    """A result file's values, for files that also record timings or non-canonical bytes."""
    if path.suffix == ".json":
        return json.loads(path.read_text())
    if path.suffix == ".csv":
        return list(csv.DictReader(path.read_text().splitlines()))
    if path.suffix == ".npz":  # a JSON text in it is compared as values too
        with np.load(path, allow_pickle=False) as data:
            return {key: _json_or_array(data[key]) for key in data.files}
    if path.suffix == ".safetensors":  # its header's metadata order varies between writes
        with safe_open(path, "np") as f:
            return {"metadata": f.metadata(), **{k: f.get_tensor(k) for k in f.keys()}}  # noqa: SIM118
    if path.suffix == ".pt":
        return torch.load(path, weights_only=True)
    raise AssertionError(f"no loader for {path}")


def compare_results(local: Path, slurm: Path) -> dict[str, list[str]]:
    """Every file of the SLURM run's results against the local run's, as 'bytes' (identical),
    'values' (identical after dropping measured durations) or 'skipped' (logs, benchmarks, PDFs
    that embed their creation time); raises on the first difference."""
    files = {p.relative_to(slurm) for p in slurm.rglob("*") if p.is_file()}
    local_files = {p.relative_to(local) for p in local.rglob("*") if p.is_file()}
    assert files <= local_files, f"only SLURM: {sorted(files - local_files)}"
    if FULL_DEMO:
        assert files == local_files, f"only local: {sorted(local_files - files)}"
    kinds = {"bytes": [], "values": [], "skipped": []}
    for relative in sorted(files):
        a, b = local / relative, slurm / relative
        if relative.parts[1] in ("logs", "benchmarks") or relative.suffix == ".pdf":
            kinds["skipped"].append(str(relative))
        elif a.read_bytes() == b.read_bytes():
            kinds["bytes"].append(str(relative))
        elif relative.suffix in (".json", ".csv", ".npz", ".safetensors", ".pt"):
            drop = TIMING | DERIVED.get(str(Path(*relative.parts[1:])), set())
            assert _equal(_normalised(_load(a), drop), _normalised(_load(b), drop)), (
                f"{relative} differs"
            )
            kinds["values"].append(str(relative))
        else:
            raise AssertionError(f"{relative} differs between the local and the SLURM run")
    return kinds


@pytest.mark.slow
def test_demo_through_slurm_matches_the_local_run(cluster, request, tmp_path):
    work = tmp_path / "slurm-run"
    work.mkdir()
    base = snakemake_command(work)
    targets = [] if FULL_DEMO else CROSS_SECTION
    dry = subprocess.run(
        [*base, *targets, "-n", "--configfile", str(DEMO)],  # options with nargs come last
        capture_output=True,
        text=True,
        cwd=work,
    )
    planned = planned_jobs(dry.stdout)
    assert dry.returncode == 0 and planned, dry.stderr[-3000:]
    rules = sorted(set(planned) - {"all"})  # `all` is a local rule
    assert FULL_DEMO or {"generate", "extract_features", "seed_swap", "plot_seed_swap"} <= set(
        rules
    )
    # At demo scale every job takes seconds: each rule's jobs go into as many sbatch jobs as the
    # node has CPUs, to start Snakemake fewer times. The plugin runs a group's jobs one after the
    # other, so --cores 1 makes each group ask for one CPU (the demo's threads are 1 anyway).
    size = {rule: math.ceil(planned[rule] / cluster["cpus"]) for rule in rules}
    expected = {rule: math.ceil(planned[rule] / size[rule]) for rule in rules}  # sbatch jobs
    command = [
        *base,
        *targets,
        "--profile", str(REPO / "profiles" / "slurm"),
        "--workflow-profile", str(SLURM / "profile"),
        "--configfile", str(DEMO),
        "--cores", "1",
        "--verbose",  # logs each sbatch call
        "--default-resources", f"slurm_partition={cluster['partition']}",
        "--set-resources", *(f"{rule}:mem_mb={MEM_MB}" for rule in rules),
        "--groups", *(f"{rule}={rule}" for rule in rules),
        "--group-components", *(f"{rule}={size[rule]}" for rule in rules),
    ]  # fmt: skip
    log_path = tmp_path / "snakemake-slurm.log"
    start = time.perf_counter()
    with log_path.open("w") as log:
        run = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=work,
                               start_new_session=True)  # fmt: skip
        # The local run to compare with (the session's demo fixture) goes meanwhile: the SLURM
        # run spends much of its time waiting on submissions and status checks. Every rule fixes
        # its thread count, so the results do not depend on what else runs.
        demo = request.getfixturevalue("demo")
        try:
            run.wait(timeout=max(RUN_TIMEOUT - (time.perf_counter() - start), 1))
        except subprocess.TimeoutExpired:
            os.killpg(run.pid, signal.SIGKILL)
            run.wait()
    seconds = time.perf_counter() - start
    output = log_path.read_text()
    name = re.search(r"SLURM run ID: (\S+)", output)
    if run.returncode != 0 and name:
        subprocess.run(["scancel", f"--name={name[1]}"], capture_output=True)
    assert run.returncode == 0, f"SLURM run failed after {seconds:.0f} s:\n{output[-6000:]}"
    print(f"SLURM run (local demo alongside): {seconds:.0f} s, {len(expected)} rules")

    # every job went through sbatch: Snakemake's submissions, the plugin's logs, slurmctld's records
    assert re.search(r"\b(\d+) of \1 steps \(100%\) done", output)
    finished = re.findall(r"Finished jobid: \d+ \(Rule: (\w+)\)", output)
    assert {rule: finished.count(rule) for rule in planned} == planned
    calls = re.findall(r"^sbatch call: (.*)$", output, flags=re.MULTILINE)
    submitted = dict(re.findall(r"submitted with SLURM jobid (\d+) \(log: (\S+)\)\.", output))
    assert len(calls) == len(submitted) == sum(expected.values()), (len(calls), expected)
    for call in calls:
        assert f"-p {cluster['partition']}" in call and "--cpus-per-task=" in call
        assert "--gpus" not in call and "--gres" not in call  # device cpu: gpu=0, no gpu_model
    for rule, count in expected.items():
        assert sum(f"--comment rule_{rule}_{rule} " in call for call in calls) == count, rule
    logs = sorted((work / ".snakemake" / "slurm_logs").rglob("*.log"))
    assert sorted(map(Path, submitted.values())) == logs
    # inside them, each of the DAG's jobs ran as a job step (srun) of one of these sbatch jobs
    steps = re.findall(
        r"The call for this job is: srun .*--target-jobs '(\w+):",
        "".join(map(Path.read_text, logs)),
    )
    assert {rule: steps.count(rule) for rule in set(steps) | set(rules)} == {
        rule: planned[rule] for rule in rules
    }
    if cluster["jobcomp"]:
        records = jobcomp_records(cluster["jobcomp"], name[1])
        assert records.keys() == submitted.keys()
        for record in records.values():
            assert record["JobState"] == "COMPLETED" and record["ExitCode"] == "0:0"
            assert record["Partition"] == cluster["partition"]
            assert "gres/gpu" not in record["Tres"]
            assert re.search(r"\bcpu=1,", record["Tres"])  # a group asks for one job's CPUs

    # the same results as the local demo run (same thread count: deterministic)
    kinds = compare_results(demo / "results", work / "results")
    shards = [p for p in kinds["bytes"] if p.endswith(".tar")]
    images = [p for p in shards if "/images/" in p]
    particles = [p for p in shards if "/particle/" in p]
    assert len(images) == planned["generate"] and len(shards) == len(images) + len(particles)
    assert len(particles) == planned.get("particle_guidance", 0)
    assert any(p.endswith(".png") for p in kinds["bytes"])  # figures, pixel for pixel
    if FULL_DEMO:
        assert any(p.endswith("test_report.json") for p in kinds["bytes"])
    else:
        compared = kinds["bytes"] + kinds["values"]  # a feature table records its manifest's hash
        assert all(
            any(p.endswith(t.removeprefix("results/")) for p in compared) for t in CROSS_SECTION
        )


# -- Every job's resources, and what the plugin makes of them (fast: dry runs, no cluster) ------


RULE = re.compile(r"^rule (\w+):\n((?:[ \t]+.*\n|[ \t]*\n)*)", re.MULTILINE)


def rule_blocks() -> dict[str, str]:
    """Rule name -> its body, over rules/*.smk."""
    return {
        match[1]: match[2]
        for smk in sorted((REPO / "rules").glob("*.smk"))
        for match in RULE.finditer(smk.read_text())
    }


def job_resources(output: str) -> list[tuple[str, dict[str, str]]]:
    """(rule, resources) of every job in a dry run's output that shows them (not with message:)."""
    jobs, rule = [], None
    for line in map(str.strip, output.splitlines()):  # jobs of a group job are indented
        if line.startswith(("rule ", "localrule ")):
            rule = line.split()[1].rstrip(":")
        elif line.startswith("resources:") and rule:
            pairs = line.split("resources:", 1)[1].strip().split(", ")
            jobs.append((rule, dict(pair.split("=", 1) for pair in pairs)))
            rule = None
    return jobs


def test_every_rule_follows_the_resource_convention():
    """Every rule's resources come from cluster_resources (rules/common.smk): mem_mb, a runtime
    that grows with the attempt, cpus_per_task; GPU rules: gpu and gpu_model too."""
    convention = re.compile(
        r"^    resources:\n        \*\*cluster_resources\(mem_mb=\d+, minutes=[^,()]+"
        r"(, gpus=(GPU|QUALITY_GPU|extractor_gpus|\d+))?\),\n(?!        )",
        re.MULTILINE,
    )
    for rule, body in rule_blocks().items():
        if rule != "all":
            assert convention.search(body), (
                f"rule {rule}: resources are not **cluster_resources(mem_mb=<MB>, "
                "minutes=<minutes>[, gpus=GPU]) alone (see rules/common.smk)"
            )


@pytest.mark.parametrize("device", ["cpu", "cuda"])
def test_every_job_asks_for_a_gpu_model_exactly_when_it_asks_for_a_gpu(tmp_path, device):
    extra = tmp_path / "cluster.yaml"
    extra.write_text(yaml.safe_dump({"device": device, "cluster": {"gpu_model": "a100"}}))
    profile = REPO / "profiles" / "slurm"  # its options must all be ones Snakemake knows
    result = snakemake(
        "-n", "--profile", str(profile), "--configfile", str(DEMO), str(extra), cwd=tmp_path
    )
    jobs = job_resources(result.stdout)
    with_message = {rule for rule, body in rule_blocks().items() if "    message:" in body}
    assert {rule for rule, _ in jobs} == set(planned_jobs(result.stdout)) - with_message
    for rule, res in jobs:
        if rule == "all":
            continue
        assert {"mem_mb", "runtime", "cpus_per_task"} <= res.keys(), rule
        gpus = int(res.get("gpu", 0))
        assert res.get("gpu_model") == ("a100" if gpus else None), (rule, res)  # never <model>:0
    gpu_rules = {rule for rule, res in jobs if int(res.get("gpu", 0))}
    assert ("generate" in gpu_rules) == (device == "cuda")
    # OCR runs on onnxruntime's CPU build: its extraction jobs never hold a GPU
    extractions = re.findall(
        r"^rule extract_features:\n(?:    .*\n)*?    wildcards: extractor=(\w+),.*\n"
        r"    resources: .*\bgpu=(\d+)",
        result.stdout,
        flags=re.MULTILINE,
    )
    assert {"ocr", "style"} <= {extractor for extractor, _ in extractions}
    for extractor, gpus in extractions:
        assert int(gpus) == (device == "cuda" and extractor != "ocr"), extractor


class _Resources(dict):
    __getattr__ = dict.get


def _sbatch(**resources) -> str:
    """The plugin's sbatch flags for a job with ``resources`` (threads 4)."""
    job = SimpleNamespace(resources=_Resources(resources), threads=4)
    params = dict(run_uuid="run", slurm_logfile="log", comment_str="rule_x", account="",
                  partition=" -p gpu", workdir="/work")  # fmt: skip
    return get_submit_command(job, params) + set_gres_string(job)


def test_the_resource_convention_becomes_the_right_sbatch_flags():
    gpu_job = _sbatch(gpu=1, gpu_model="a100", mem_mb=16000, runtime=720, cpus_per_task=4)
    assert "--gpus=a100:1" in gpu_job and "--cpus-per-task=4" in gpu_job
    assert "--mem 16000" in gpu_job and "-t 720" in gpu_job and "-p gpu" in gpu_job
    assert "--gpus=1" in _sbatch(gpu=1, mem_mb=1000, runtime=10, cpus_per_task=4)
    cpu_job = _sbatch(gpu=0, mem_mb=1000, runtime=10, cpus_per_task=1)  # device cpu: no model
    assert "--gpu" not in cpu_job and "--gres" not in cpu_job and "--cpus-per-task=1" in cpu_job
    assert "--gpus=a100:0" in _sbatch(gpu=0, gpu_model="a100")  # why gpu_model() gives None


def test_cluster_jobs_parse_the_workflow_without_torch(tmp_path):
    """Each SLURM job starts Snakemake twice (the batch script and its srun step), and each
    parses the workflow: there it must not import torch or timm, which took 4-5 s of every start.
    The main process still looks the classifier backbone up in timm's registry."""
    job = subprocess.run(
        snakemake_command(tmp_path, "-n", "--mode", "remote", "--configfile", str(DEMO),
                          python=("-X", "importtime")),
        capture_output=True, text=True, cwd=tmp_path, env=env_without_scontrol(),
    )  # fmt: skip
    assert job.returncode == 0, job.stderr[-3000:]
    imported = {
        line.rsplit("|", 1)[1].strip()
        for line in job.stderr.splitlines()
        if line.startswith("import time:")
    }
    assert "snakemake.workflow" in imported and "seedscope.config" in imported  # the log works
    assert not {"torch", "timm"} & imported
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"classifier": {"backbone": "resnet5O"}}))
    main = snakemake("-n", "--configfile", str(DEMO), str(bad), cwd=tmp_path, check=False)
    assert main.returncode != 0 and "classifier.backbone: 'resnet5O'" in main.stdout + main.stderr
