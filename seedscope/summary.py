"""The run summary shown at the top of the report: what was rendered and what it cost."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from seedscope.shards import manifest_path


def benchmark_seconds(path: str | Path) -> float:
    """Wall seconds recorded in a Snakemake ``benchmark:`` file (0 if it is missing)."""
    path = Path(path)
    if not path.exists():
        return 0.0
    with open(path) as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    return sum(float(row["s"]) for row in rows)


def run_summary(shards: list[str], benchmarks: list[str], gpu: bool) -> list[dict[str, Any]]:
    """One row per (model, prompt set): shards, prompts, seeds, images, bytes and job hours.

    ``benchmarks`` are the generation jobs' benchmark files, in the order of ``shards``.
    GPU-hours equal job hours when the jobs ran with a GPU, else 0.
    """
    groups: dict[tuple[str, str], dict[str, Any]] = {}
    for shard, benchmark in zip(shards, benchmarks, strict=True):
        manifest = json.loads(manifest_path(shard).read_text())
        identity = manifest["identity"]
        key = (identity["model"], identity["prompt_set"])
        row = groups.setdefault(
            key,
            {
                "model": key[0],
                "prompt_set": key[1],
                "shards": 0,
                "prompts": set(),
                "seeds": set(),
                "images": 0,
                "bytes": 0,
                "job_hours": 0.0,
            },
        )
        columns = manifest["columns"]
        entries = [dict(zip(columns, e, strict=True)) for e in manifest["entries"]]
        row["shards"] += 1
        row["prompts"] |= {e["prompt_id"] for e in entries}
        row["seeds"] |= {e["seed"] for e in entries}
        row["images"] += len(entries)
        row["bytes"] += manifest["tar_bytes"] + manifest_path(shard).stat().st_size
        row["job_hours"] += benchmark_seconds(benchmark) / 3600
    rows = []
    for row in groups.values():
        row["prompts"], row["seeds"] = len(row["prompts"]), len(row["seeds"])
        row["gpu_hours"] = row["job_hours"] if gpu else 0.0
        rows.append(row)
    return rows


def write_summary(rows: list[dict[str, Any]], path: str | Path) -> None:
    """The summary as CSV, with a total row."""
    total = {"model": "total", "prompt_set": ""}
    for column in ("shards", "images", "bytes", "job_hours", "gpu_hours"):
        total[column] = sum(r[column] for r in rows)
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows + [total])
