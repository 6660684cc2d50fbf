"""``seedscope status``: how far a run has got, read from its files alone.

For the main rules (those with a job per shard or seed block: generation, Particle Guidance,
feature extraction, per-seed blocks) every expected job comes from ``seedscope.dag.Dag`` and
is classed by what lies on disk:

- **done**: every output exists.
- **failed**: an output is missing and either the job's own log ends in a Python traceback
  (nothing logged after it; a job opens its log afresh when it starts, so the traceback is
  the latest attempt's), or a Snakemake log (``<directory>/.snakemake/log/*.snakemake.log``)
  has an ``Error in rule`` block naming the job's log or output (a job killed by the
  scheduler or the OOM killer writes no traceback) and the job's log has not been written
  since that Snakemake log was (else a later run restarted it). The report gives the reason
  and the job log's last lines.
- **partial**: an output is missing but the job has started: a shard job's
  ``<shard>.tar.partial`` and ``.progress.jsonl`` (its chunks and images so far, against
  those it should make), or any job's log. A running job and an interrupted one look alike
  here; Snakemake resumes both.
- **not started**: none of those files.

Jobs of other rules that a Snakemake log reports failed, with an output still missing, are
listed too. It reads files only: no Snakemake, no lock taken; locks, ``.partial`` files and
progress logs are a running (or killed) run's normal state. The config is required (the
results folder does not record it): the files the run was started with, merged in order as
``snakemake --configfile`` merges them.
"""

from __future__ import annotations

import json
import math
import os
import re
import time
from pathlib import Path
from typing import Any

from seedscope.dag import IMAGE_RULES, Dag
from seedscope.errors import ConfigError
from seedscope.plan import make_plan
from seedscope.shards import BLOCK
from seedscope.validate import merge_config, read_configs, validate_config

# rule -> (its jobs: a Dag method, its outputs: PATHS names, its log under the run folder).
# The log paths repeat the rules' ``log:`` (tests/test_status.py checks that they agree).
RULES = {
    "generate": (
        "generation_jobs",
        ("shard", "manifest"),
        f"logs/generate/{{model}}/{{set}}/{BLOCK}.log",
    ),
    "particle_guidance": (
        "particle_jobs",
        ("particle_shard", "particle_manifest"),
        "logs/particle/{model}/{set}/coeff-{coeff}.log",
    ),
    "extract_features": (
        "feature_jobs",
        ("features",),
        f"logs/features/{{extractor}}/{{model}}/{{set}}/{BLOCK}.log",
    ),
    "extract_evaluation_features": (
        "evaluation_feature_jobs",
        ("evaluation_features",),
        f"logs/diverse/features/{{extractor}}/{{model}}/{{set}}/{BLOCK}.log",
    ),
    "extract_particle_features": (
        "particle_feature_jobs",
        ("particle_features",),
        "logs/particle/features/{extractor}/{model}/{set}/coeff-{coeff}.log",
    ),
    "perseed_block": (
        "perseed_block_jobs",
        ("perseed_block",),
        f"logs/quality/{{metric}}/{{model}}/{{set}}/{BLOCK}.log",
    ),
}
SHARD_RULES = ("generate", "particle_guidance")
STATES = ("done", "partial", "failed", "not started")
TRACEBACK = "Traceback (most recent call last)"
# a record of the jobs' log format (seedscope.jobs.start_job): "2026-01-01 12:00:00,000 INFO"
LOG_RECORD = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} [A-Z]+ ", re.M)
LOG_TAIL_BYTES = 64 * 1024  # a torch traceback fits


class _Files:
    """Existence by directory listing (one ``scandir`` per folder, cheaper than a stat per
    file on a cluster file system), sizes and mtimes by stat."""

    def __init__(self) -> None:
        self._names: dict[str, set[str]] = {}

    def exists(self, path: str) -> bool:
        folder, name = os.path.split(path)
        if folder not in self._names:
            try:
                self._names[folder] = {entry.name for entry in os.scandir(folder or ".")}
            except (FileNotFoundError, NotADirectoryError):
                self._names[folder] = set()
        return name in self._names[folder]

    def _stat(self, path: str) -> os.stat_result | None:
        try:  # a running job may rename or remove a file listed a moment ago
            return os.stat(path) if self.exists(path) else None
        except FileNotFoundError:
            return None

    def size(self, path: str) -> int:
        stat = self._stat(path)
        return stat.st_size if stat else 0

    def mtime(self, path: str) -> float | None:
        stat = self._stat(path)
        return stat.st_mtime if stat else None

    def read(self, path: str) -> bytes:
        """The file's bytes; none if it is gone (a finished shard removes its progress log)."""
        try:
            return Path(path).read_bytes() if self.exists(path) else b""
        except FileNotFoundError:
            return b""


def load_run_config(paths: list[str | Path], results_dir: str | None = None) -> dict[str, Any]:
    """The run's config from its files (merged like ``--configfile``), with ``results_dir``
    replaced when given (a results folder moved or mounted elsewhere); validated without the
    checks that import torch."""
    folders = [str(p) for p in paths if Path(p).is_dir()]
    if folders:
        raise ConfigError(
            f"{', '.join(folders)} is a folder; status reads the config files the run was "
            "started with (the results folder does not record them): "
            "seedscope status config.yaml [overlay.yaml ...] [--results FOLDER]"
        )
    config = read_configs(*paths)
    if results_dir is not None:
        merge_config(config, {"results_dir": str(results_dir)})
    return validate_config(config, check_libraries=False)


def _shard_progress(shard: str, files: _Files) -> dict[str, Any] | None:
    """What a shard job has written so far: ``<shard>.partial`` and its progress log's chunk
    lines (those a resume would accept: numbered 0, 1, ... and inside the partial), or None
    when neither file exists."""
    partial, progress = f"{shard}.partial", f"{shard}.progress.jsonl"
    if not (files.exists(partial) or files.exists(progress)):
        return None
    size = files.size(partial)
    lines = files.read(progress).splitlines()
    header = _json(lines[0]) if lines else None
    identity = header.get("identity", {}) if isinstance(header, dict) else {}
    chunks = images = 0
    for line in lines[1:]:
        record = _json(line)
        ok = isinstance(record, dict) and record.get("chunk") == chunks
        ok = ok and isinstance(record.get("offset"), int) and record["offset"] <= size
        if not (ok and isinstance(record.get("entries"), list)):
            break  # a torn line, or chunks the partial lost: a resume redoes them
        chunks, images = chunks + 1, images + len(record["entries"])
    return {"chunks": chunks, "images": images, "bytes": size, "identity": identity}


def _json(line: bytes) -> Any:
    try:
        return json.loads(line)
    except ValueError:
        return None


def _chunk_items(rule: str, identity: dict[str, Any], config: dict[str, Any]) -> int:
    """Images per durable chunk of a shard job: its identity's, else the config's."""
    size = config["generation"]["chunk_size"]
    if rule == "generate":
        return int(identity.get("chunk_size") or size)
    c = config["diverse"]["c"]
    return int(identity.get("chunk_prompts") or max(1, size // c)) * c


def _log_tail(path: str, lines: int) -> tuple[list[str], bool]:
    """The last ``lines`` non-empty lines of a log (progress bars' carriage returns split
    lines), and whether it ends in a Python traceback (one after which the job logged
    nothing more: a traceback that a job logged and survived is not a failure)."""
    try:
        with open(path, "rb") as log:
            log.seek(max(0, os.fstat(log.fileno()).st_size - LOG_TAIL_BYTES))
            text = log.read().decode("utf-8", "replace")
    except FileNotFoundError:
        return [], False
    rows = [row.rstrip() for row in re.split(r"[\r\n]+", text) if row.strip()]
    after = text.rpartition(TRACEBACK)[2] if TRACEBACK in text else None
    ended = after is not None and not LOG_RECORD.search(after)  # nothing logged after it
    return rows[-lines:] if lines > 0 else [], ended


def snakemake_errors(directory: str | Path) -> list[dict[str, Any]]:
    """Every ``Error in rule`` report of the Snakemake logs in ``directory/.snakemake/log``,
    oldest first: the rule, message, outputs and logs (absolute paths), the Snakemake log and
    its mtime (when it was last written)."""
    folder = Path(directory) / ".snakemake" / "log"
    reports = []
    for log in sorted(folder.glob("*.snakemake.log")) if folder.is_dir() else []:
        text = log.read_text(errors="replace")  # logs are named by start time: oldest first
        if "Error in rule" not in text:
            continue
        mtime = log.stat().st_mtime
        for block in re.finditer(r"^Error in rule (\S+):\n((?:[ \t]+.*\n?)*)", text, re.M):
            fields = dict(re.findall(r"^\s+(\w[\w-]*): (.*)$", block[2], re.M))
            logs = re.sub(r" \(check log file\(s\).*$", "", fields.get("log", ""))
            reports.append(
                {
                    "rule": block[1],
                    "message": fields.get("message"),
                    "outputs": _paths(directory, fields.get("output", "")),
                    "logs": _paths(directory, logs),
                    "snakemake_log": str(log),
                    "mtime": mtime,
                }
            )
    return reports


def _paths(directory: str | Path, listed: str) -> list[str]:
    return [_absolute(directory, p) for p in listed.split(", ") if p.strip()]


def _absolute(directory: str | Path, path: str) -> str:
    return os.path.normpath(os.path.join(os.path.abspath(directory), path.strip()))


def _job_state(
    rule: str,
    outputs: list[str],
    log: str,
    files: _Files,
    errors: dict[str, dict[str, Any]],
    tail: int,
) -> dict[str, Any]:
    """The state of one job (see the module docstring) and what supports it: a partial
    shard's progress, a failure's reason and log tail. ``errors`` maps paths to the newest
    Snakemake error report naming them."""
    if all(files.exists(o) for o in outputs):
        return {"state": "done"}
    progress = _shard_progress(outputs[0], files) if rule in SHARD_RULES else None
    out: dict[str, Any] = {"log": log}
    if progress is not None:
        out["progress"] = progress
    log_time = files.mtime(log)
    lines, traceback = _log_tail(log, tail) if log_time is not None else ([], False)
    report = next(
        (errors[k] for k in [os.path.abspath(p) for p in (log, *outputs)] if k in errors),
        None,
    )
    if traceback:
        return out | {"state": "failed", "reason": "its log ends in a traceback", "tail": lines}
    if report is not None and (log_time is None or log_time <= report["mtime"]):
        message = report["message"] if report["message"] not in (None, "None") else "no message"
        reason = f"Snakemake reported it failed ({message}) in {report['snakemake_log']}"
        return out | {"state": "failed", "reason": reason, "tail": lines}
    if progress is not None or log_time is not None:
        return out | {"state": "partial"}
    return {"state": "not started"}


def run_status(
    config_paths: list[str | Path],
    directory: str | Path = ".",
    results_dir: str | None = None,
    tail: int = 5,
) -> dict[str, Any]:
    """The status of the run of ``config_paths`` (merged in order) whose Snakemake works in
    ``directory``: per main rule its jobs by state and its images done (a partial shard's
    so far) against the planned, the partial and failed jobs, failures of other rules that
    Snakemake logged, bytes written against the plan's, and rule ``all``'s targets present.
    The config's ``results_dir``, when relative, is taken from ``directory``."""
    start = time.perf_counter()
    config = load_run_config(config_paths, results_dir)
    dag = Dag(config)
    plan = make_plan(config)
    files = _Files()
    reports = snakemake_errors(directory)
    errors = {path: r for r in reports for path in r["outputs"] + r["logs"]}  # newest wins
    rules: dict[str, Any] = {}
    partial, failed = [], []
    cache: dict[tuple, int] = {}
    for rule, (jobs_of, output_names, log_pattern) in RULES.items():
        jobs = getattr(dag, jobs_of)()
        counts = dict.fromkeys(STATES, 0)
        images = {"planned": 0, "done": 0}
        written = 0
        for job in jobs:
            wildcards = dict(job)
            outputs = [_at(directory, dag.path(name, **wildcards)) for name in output_names]
            log = _at(directory, f"{dag.run}/{log_pattern.format(**wildcards)}")
            state = _job_state(rule, outputs, log, files, errors, tail)
            counts[state["state"]] += 1
            planned = _planned_images(dag, rule, job, cache) if rule in IMAGE_RULES else 0
            images["planned"] += planned
            progress = state.get("progress")
            if state["state"] == "done":
                images["done"] += planned
                written += files.size(outputs[0])
            elif progress is not None:
                images["done"] += progress["images"]
                written += progress["bytes"]
            entry = {"rule": rule, "job": wildcards, "output": outputs[0]}
            if progress is not None:
                items = _chunk_items(rule, progress["identity"], config)
                entry |= {
                    "chunks": progress["chunks"],
                    "chunks_planned": math.ceil(planned / items) if planned else None,
                    "images": progress["images"],
                    "images_planned": planned,
                }
            if state["state"] == "partial":
                partial.append(entry)
            elif state["state"] == "failed":
                failed.append(entry | {k: state[k] for k in ("log", "reason", "tail")})
        rules[rule] = {"jobs": len(jobs), **counts, "images": images, "bytes": written}
    targets = dag.targets()
    return {
        "run": config["run"],
        "results": _at(directory, dag.run),
        "directory": str(directory),
        "rules": rules,
        "partial": partial,
        "failed": failed,
        "other_failed": _other_failures(reports, errors, files, tail),
        "written": {
            "shard_bytes": rules["generate"]["bytes"],
            "particle_shard_bytes": rules["particle_guidance"]["bytes"],
            "feature_bytes": sum(rules[r]["bytes"] for r in RULES if r.startswith("extract")),
        },
        "planned": {
            "images": plan["totals"]["images"],
            "particle_images": plan["totals"]["particle_images"],
            "shard_bytes": plan["totals"]["shard_bytes"],
            "feature_bytes": plan["totals"]["feature_bytes"],
        },
        "targets": {
            "present": sum(files.exists(_at(directory, t)) for t in targets),
            "total": len(targets),
        },
        "locked": (Path(directory) / ".snakemake" / "locks").is_dir()
        and any((Path(directory) / ".snakemake" / "locks").iterdir()),
        "seconds": round(time.perf_counter() - start, 3),
    }


def _planned_images(dag: Dag, rule: str, job: dict[str, str], cache: dict[tuple, int]) -> int:
    """``dag.images(rule, job)``, asked once per rule, wildcards other than the seed block,
    and block length (a block's images depend on its seeds only through their count)."""
    block = int(job["last"]) - int(job["first"]) if "first" in job else None
    key = (rule, block, *sorted((k, v) for k, v in job.items() if k not in ("first", "last")))
    if key not in cache:
        cache[key] = dag.images(rule, job)
    return cache[key]


def _at(directory: str | Path, path: str) -> str:
    """``path`` as seen from here when Snakemake runs in ``directory``."""
    return os.path.normpath(os.path.join(directory, path))


def _other_failures(
    reports: list[dict[str, Any]], errors: dict[str, dict[str, Any]], files: _Files, tail: int
) -> list[dict[str, Any]]:
    """Failed jobs of rules that ``RULES`` does not follow, by their newest report, whose
    outputs are still missing."""
    out = []
    for r in reports:
        if r["rule"] in RULES or not r["outputs"] or errors.get(r["outputs"][0]) is not r:
            continue
        if all(files.exists(o) for o in r["outputs"]):
            continue
        log = r["logs"][0] if r["logs"] else None
        out.append(
            {
                "rule": r["rule"],
                "output": r["outputs"][0],
                "log": log,
                "reason": f"Snakemake reported it failed in {r['snakemake_log']}",
                "tail": _log_tail(log, tail)[0] if log and files.exists(log) else [],
            }
        )
    return out


def _size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1000:
            return f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} PB"


def _so_far(job: dict[str, Any]) -> str:
    """A shard job's chunks and images so far, or ''."""
    if "chunks" not in job:
        return ""
    return (
        f"{job['chunks']} of {job['chunks_planned']} chunks, "
        f"{job['images']:,} of {job['images_planned']:,} images"
    )


def _at_most(jobs: list[dict[str, Any]], limit: int) -> tuple[list[dict[str, Any]], list[str]]:
    """The first ``limit`` jobs, and a line saying how many more there are."""
    more = len(jobs) - limit
    return jobs[:limit], [f"  ... and {more:,} more (--json lists them all)"] if more > 0 else []


def format_status(status: dict[str, Any], limit: int = 20) -> str:
    """The status as a short report: a table of jobs per rule, then the partial and failed
    jobs (at most ``limit`` of each), then images and bytes against the plan."""
    width = max(map(len, status["rules"]))
    lines = [
        f"run {status['run']} ({status['results']}), read in {status['seconds']:.2f} s"
        + ("; a Snakemake lock is held (a run is going, or one died)" if status["locked"] else ""),
        "",
        f"  {'rule':<{width}} {'jobs':>6} {'done':>6} {'partial':>7} {'failed':>6} "
        f"{'not started':>11}  images done / planned",
    ]
    for rule, r in status["rules"].items():
        lines.append(
            f"  {rule:<{width}} {r['jobs']:>6,} {r['done']:>6,} {r['partial']:>7,} "
            f"{r['failed']:>6,} {r['not started']:>11,}  "
            + (
                f"{r['images']['done']:,} / {r['images']['planned']:,}"
                if rule in IMAGE_RULES
                else "-"
            )
        )
    if status["partial"]:
        lines += ["", "partial (running, or interrupted: Snakemake resumes them):"]
        shown, more = _at_most(status["partial"], limit)
        lines += [f"  {p['rule']} {p['output']}: {_so_far(p) or 'log only'}" for p in shown]
        lines += more
    failures = status["failed"] + status["other_failed"]
    if failures:
        lines += ["", "failed:"]
        shown, more = _at_most(failures, limit)
        for f in shown:
            kept = f"; kept {_so_far(f)}" if _so_far(f) else ""
            lines.append(f"  {f['rule']} {f['output']}: {f['reason']}{kept}; log {f['log']}")
            lines += [f"    | {row}" for row in f["tail"]]
        lines += more
    w, p = status["written"], status["planned"]
    lines += [
        "",
        f"images rendered: {status['rules']['generate']['images']['done']:,} of "
        f"{p['images']:,} planned; shards {_size(w['shard_bytes'])} of about "
        f"{_size(p['shard_bytes'])} planned",
        f"feature tables {_size(w['feature_bytes'])} of about {_size(p['feature_bytes'])} "
        f"planned; Particle Guidance shards {_size(w['particle_shard_bytes'])}",
        f"end products (rule all's targets): {status['targets']['present']:,} of "
        f"{status['targets']['total']:,} present",
    ]
    return "\n".join(lines)
