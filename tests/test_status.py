"""``seedscope status``: jobs done, partial, failed and not started, read from a results tree."""

from __future__ import annotations

import math
import os
import re

import numpy as np
import pytest
import yaml

from seedscope.cli import main
from seedscope.dag import Dag
from seedscope.errors import ConfigError
from seedscope.shards import BLOCK, ShardWriter, encode_png, image_key
from seedscope.status import RULES, load_run_config, run_status

from conftest import DEMO, REPO


@pytest.fixture
def run(tmp_path):
    """The demo config with its results in tmp_path/results (a layered config, as a run
    started with ``--configfile demo.yaml overlay.yaml``), Snakemake's folder tmp_path."""
    overlay = tmp_path / "overlay.yaml"
    overlay.write_text(yaml.safe_dump({"results_dir": "results"}))
    paths = [DEMO, overlay]
    config = load_run_config(paths)
    return {"paths": paths, "dir": tmp_path, "dag": Dag(config), "config": config}


def _status(run, **kwargs):
    return run_status(run["paths"], run["dir"], **kwargs)


def _at(run, path):
    return run["dir"] / path


def _outputs(run, rule, job):
    return [_at(run, run["dag"].path(name, **job)) for name in RULES[rule][1]]


def _log(run, rule, job):
    return _at(run, f"{run['dag'].run}/{RULES[rule][2].format(**job)}")


def _touch(path, text=""):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def _jobs(run, rule):
    return getattr(run["dag"], RULES[rule][0])()


def test_log_paths_are_the_rules_log_paths():
    logs = {}
    for smk in (REPO / "rules").glob("*.smk"):
        text = smk.read_text()
        for rule, log in re.findall(
            r'^rule (\w+):\n(?:    .*\n)*?    log:\n\s+f"(.*)",', text, re.M
        ):
            logs[rule] = (
                log.replace("{RUN}/", "")
                .replace("{BLOCK}", BLOCK)
                .replace("{{", "{")
                .replace("}}", "}")
            )
    for rule, (_, _, log) in RULES.items():
        assert logs[rule] == log, rule


def test_nothing_started(run):
    status = _status(run)
    for rule, counts in status["rules"].items():
        assert counts["not started"] == counts["jobs"] == len(_jobs(run, rule)) > 0
        assert counts["done"] == counts["partial"] == counts["failed"] == 0
    assert status["failed"] == status["partial"] == status["other_failed"] == []
    assert status["planned"]["images"] == status["rules"]["generate"]["images"]["planned"] > 0


def test_all_done(run):
    for rule in RULES:
        for job in _jobs(run, rule):
            for path in _outputs(run, rule, job):
                _touch(path, "x" * 10)
    status = _status(run)
    for counts in status["rules"].values():
        assert (
            counts["done"] == counts["jobs"]
            and counts["images"]["done"] == counts["images"]["planned"]
        )
    assert status["written"]["shard_bytes"] == 10 * len(_jobs(run, "generate"))
    assert status["failed"] == status["partial"] == []


def _partial_shard(shard, chunk_size, chunks, torn=False):
    """A true partial shard: ``chunks`` chunks of ``chunk_size`` images written, not finished."""
    writer = ShardWriter(shard, {"chunk_size": chunk_size})
    writer.open()
    pixels = np.zeros((8, 8, 3), np.uint8)
    for c in range(chunks):
        images = []
        for i in range(chunk_size):
            meta = {"key": image_key(f"p-{c:03d}", i), "prompt_id": f"p-{c:03d}", "seed": i}
            images.append((meta["key"], encode_png(pixels), meta))
        writer.write_chunk(images)
    writer._file.close()  # killed here: the partial and its progress log stay
    if torn:
        with open(f"{shard}.progress.jsonl", "a") as log:
            log.write(f'{{"chunk": {chunks}, "offset": 12')  # killed mid-line


@pytest.mark.parametrize("torn", [False, True])
def test_a_partial_shard_reports_its_chunks_and_images(run, torn):
    job = _jobs(run, "generate")[0]
    shard = _outputs(run, "generate", job)[0]
    planned = run["dag"].images("generate", job)
    chunk_size = 5
    _partial_shard(shard, chunk_size, 3, torn=torn)
    _touch(_log(run, "generate", job), "INFO seedscope.job: shard ...\n")
    status = _status(run)
    assert status["rules"]["generate"]["partial"] == 1
    (partial,) = status["partial"]
    assert partial["job"] == job and partial["chunks"] == 3 and partial["images"] == 15
    assert partial["images_planned"] == planned
    assert partial["chunks_planned"] == math.ceil(planned / chunk_size)
    assert status["rules"]["generate"]["images"]["done"] == 15
    assert status["written"]["shard_bytes"] == os.path.getsize(f"{shard}.partial")


TRACEBACK = """2026-01-01 00:00:00,000 INFO seedscope.job: features ...
Traceback (most recent call last):
  File "scripts/extract_features.py", line 30, in <module>
    table = extract_shard(...)
torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB
"""


def test_a_job_whose_log_ends_in_a_traceback_failed(run):
    job = _jobs(run, "extract_features")[0]
    _touch(_log(run, "extract_features", job), TRACEBACK)
    status = _status(run, tail=2)
    assert status["rules"]["extract_features"]["failed"] == 1
    (failed,) = status["failed"]
    assert failed["job"] == job and "traceback" in failed["reason"]
    assert failed["tail"] == TRACEBACK.strip().splitlines()[-2:]
    assert failed["log"] == str(_log(run, "extract_features", job))


def test_a_traceback_the_job_survived_is_not_a_failure(run):
    job = _jobs(run, "extract_features")[0]
    _touch(
        _log(run, "extract_features", job),
        TRACEBACK + "2026-01-01 00:01:00,000 INFO seedscope.job: retrying on a smaller batch\n",
    )
    status = _status(run)
    assert status["failed"] == [] and status["partial"][0]["job"] == job


def _snakemake_log(run, name, rule, output, log):
    """A Snakemake log with an ``Error in rule`` block as Snakemake 9 writes it."""
    path = run["dir"] / ".snakemake" / "log" / f"{name}.snakemake.log"
    _touch(
        path,
        f"Select jobs to execute...\nError in rule {rule}:\n    message: SLURM-job '42' failed, "
        f"SLURM status is: 'TIMEOUT'\n    jobid: 7\n    input: a, b\n    output: {output}\n"
        f"    log: {log} (check log file(s) for error details)\n"
        "Logfile x:\n====\n\nShutting down, this might take some time.\n",
    )
    return path


def test_a_job_snakemake_reports_failed_until_it_starts_again(run):
    job = _jobs(run, "generate")[1]
    shard, manifest = _outputs(run, "generate", job)
    log = _log(run, "generate", job)
    _touch(log, "INFO seedscope.job: shard ... (killed: no traceback)\n")
    _partial_shard(shard, 4, 2)
    relative = os.path.relpath(log, run["dir"])  # Snakemake names paths as it was given them
    smk = _snakemake_log(
        run, "2026-01-02T000000.000000", "generate", f"{shard}, {manifest}", relative
    )
    os.utime(log, (1000, 1000))
    os.utime(smk, (2000, 2000))
    status = _status(run)
    (failed,) = status["failed"]
    assert failed["job"] == job and "TIMEOUT" in failed["reason"] and failed["chunks"] == 2
    assert failed["tail"] == ["INFO seedscope.job: shard ... (killed: no traceback)"]
    os.utime(log, (3000, 3000))  # a later run restarted it
    status = _status(run)
    assert status["failed"] == [] and status["partial"][0]["job"] == job


def test_failures_of_other_rules_are_listed(run):
    output = run["dag"].path("golden", model="sd2")
    _snakemake_log(run, "2026-01-03T000000.000000", "golden_seeds", output, "x.log")
    (failed,) = _status(run)["other_failed"]
    assert failed["rule"] == "golden_seeds" and failed["output"] == str(_at(run, output))
    _touch(_at(run, output))
    assert _status(run)["other_failed"] == []


def test_the_command_prints_the_status_and_needs_the_config(run, capsys, tmp_path):
    job = _jobs(run, "extract_features")[0]
    _touch(_log(run, "extract_features", job), TRACEBACK)
    args = ["status", *map(str, run["paths"]), "-d", str(run["dir"])]
    assert main([*args, "--json", str(tmp_path / "status.json")]) == 0
    out = capsys.readouterr().out
    assert "generate" in out and "CUDA out of memory" in out
    assert (tmp_path / "status.json").exists()
    assert main(["status", str(tmp_path)]) == 2
    assert "config files the run was started with" in capsys.readouterr().err
    with pytest.raises(ConfigError, match="'run' is a required property"):
        load_run_config([run["paths"][1]])
