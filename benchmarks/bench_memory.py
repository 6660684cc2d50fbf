"""Peak memory (max RSS) of the quality and figure rules at the paper's scale, against mem_mb.

Builds synthetic inputs of the paper's size (``config.yaml``: 1,024 seeds in 64 blocks of 16,
COCO sets of 10,000 prompts, Inception features of 2,048 dimensions), then runs each rule's own
script in a fresh process with a stand-in for the ``snakemake`` object that Snakemake gives a
script, and records the process's peak resident memory (``VmHWM``). The peaks are compared with
the ``mem_mb`` each rule declares, read from a dry run of the paper's workflow; the exit status
is 1 if a rule needs more than it asks for (or fails).

    python benchmarks/bench_memory.py                        # paper scale: hours on 2 cores
    python benchmarks/bench_memory.py --dir /scratch/mem     # keep the inputs; a rerun reuses them
    python benchmarks/bench_memory.py --only fig5_best_worst_seeds run_summary
    python benchmarks/bench_memory.py --scale small          # a minute (tests/test_memory.py)

What is synthetic, and why the peaks are still those of the paper run:

- One image shard is written by ``ShardWriter`` (160,000 images: the first prompts' images at
  the model's resolution, the others 8 px, since a figure decodes only the first prompts'); the
  other 63 seed blocks get their own full-size manifests (their seeds and keys) over a hard link
  of that tar, whose offsets and sha256 they share.
- Inception feature tables are zeros, written with holes (no disk): reading one still
  materialises 160,000 x 2,048 float32. Memory depends on array shapes, not on values.
- The per-seed FID block files that ``perseed_table`` merges are made by ``fid_block`` with the
  config's resamples, from 16 prompts of 4-d features: their arrays have the paper's shapes
  (seeds x fractions x resamples), which do not depend on prompts. ``perseed_table`` computes
  the scores' per-seed means itself, from the HPS feature tables (paper-sized).
- ``perseed_block`` (FID) runs with ``COMPUTE_RESAMPLES`` (2) subsets per fraction instead of the
  config's 100 (each is a 10,000 x 2,048 FID, about 10 s here). At the paper's size
  ``frechet_to_reference`` computes one replicate at a time (its batches hold one), so resamples
  only add the subset weights and KID's products with them: a few arrays of 2 x resamples x
  prompts float64, 16 MB each at 100 x 10,000, under 100 MB in all. ``table1`` runs at the
  config's settings (each draw takes at least 10 subsets per fraction anyway).
- ``extract_features`` runs with a stub in place of the Inception network: its non-model part
  (verifying, reading and decoding the shard, collecting and writing 160,000 x 2,048 features).
- ``table1`` runs the jobs of one model (FID on coco2, HPS on coco2 and parti): the second
  model's jobs repeat the same arrays after the first's are freed. ``run_summary`` reads the 64
  manifests of one (model, prompt set): it holds one manifest at a time, so the 512 of the paper
  reach the same peak.
- Scripts run with ``--threads`` threads (default 2) and the quality device ``cpu``: the most
  host memory, since with a GPU the feature matrices live on the device.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
MODEL = "sd2"


# The small scale: sizes, and the settings that override config.yaml's (tests/test_memory.py).
SMALL = {
    "prompts": 12,
    "parti": 8,
    "seeds": 48,
    "block": 16,
    "dim": 8,
    "reference": 20,
    "image": 16,
    "swap": {"prompts": 1, "steps": [2]},
}
SMALL_SETTINGS = {
    "bootstrap": {"resamples": 10},
    "score_prompts": 6,
    "golden": {"top_k": 16, "permutations": 100},
    "table1": {"draws": 2},
    "fig5": {"prompts": 2, "seed_count": 2},
}
COMPUTE_RESAMPLES = 2  # perseed_block's FID subsets per fraction (module docstring)


def settings(scale: str) -> dict:
    """The validated config whose settings the rules get: ``config.yaml``'s, with
    ``SMALL_SETTINGS`` in its ``quality`` section at the small scale."""
    import yaml

    from seedscope.validate import validate_config

    config = yaml.safe_load((REPO / "config.yaml").read_text())
    if scale == "small":
        for key, value in SMALL_SETTINGS.items():
            old = config["quality"].get(key)
            config["quality"][key] = old | value if isinstance(value, dict) else value
    return validate_config(config, check_libraries=False)


def sizes(scale: str, config: dict) -> dict:
    """The synthetic inputs' sizes: ``SMALL``, or the paper's from ``config`` (Inception's 2,048
    dimensions, PartiPrompts' 1,632 prompts, the seed-swap study's 3 default prompts)."""
    if scale == "small":
        return SMALL
    swap = config["seed_swap"]
    steps = swap["steps"]
    return {
        "prompts": config["coco"]["parts"][0],  # per COCO set
        "parti": 1_632,
        "seeds": config["seeds"]["count"],
        "block": config["seeds"]["block_size"],
        "dim": 2_048,
        "reference": config["coco"]["parts"][1],  # the real images of coco2's captions
        "image": config["models"][MODEL]["resolution"],
        "swap": {  # as seedscope.seedswap.swap_steps
            "prompts": 3,
            "steps": sorted(
                {min(max(1, round(f * steps)), steps - 1) for f in swap["swap_fractions"]}
            ),
        },
    }


# ------------------------------------------------------------------------------------------------
# Paths and the jobs: each rule's script with its inputs, outputs and params, in the DAG's order
# ------------------------------------------------------------------------------------------------
def blocks(scale: dict) -> list[str]:
    """The seed blocks' names (``seedscope.shards.block_name``)."""
    from seedscope.shards import block_name

    size = scale["block"]
    return [block_name(first, first + size - 1) for first in range(0, scale["seeds"], size)]


def shard(root: Path, block: str) -> str:
    return str(root / "images" / MODEL / "coco1" / f"{block}.tar")


def table(root: Path, extractor: str, prompt_set: str, block: str) -> str:
    return str(root / "features" / extractor / MODEL / prompt_set / f"{block}.npz")


def perseed(root: Path, metric: str, prompt_set: str, block: str) -> str:
    return str(root / "quality" / metric / MODEL / prompt_set / f"{block}.npz")


def prompts(root: Path, prompt_set: str) -> str:
    return str(root / "prompts" / f"{prompt_set}.jsonl")


def jobs(root: Path, scale: dict, config: dict) -> list[dict]:
    """Every measured job: rule, name, script and the ``snakemake`` object's parts, with the
    settings of ``config`` (the prompt sets are the paper's: FID on coco1 and coco2, Table 1's
    FID on coco2, its HPS on coco2 and parti)."""
    out, names = root / "out", blocks(scale)
    first = names[0]
    a, b = first.split("-")[1:]
    quality, plots = config["quality"], config["plots"]
    bootstrap, golden = quality["bootstrap"], quality["golden"]
    cut = bootstrap | {"resamples": COMPUTE_RESAMPLES}
    tables = {s: f"{out}/tables/perseed_{MODEL}_{s}.csv" for s in ("coco1", "coco2", "parti")}
    golden_csv = f"{out}/tables/golden_{MODEL}.csv"
    general_csv = f"{out}/tables/generalisation_{MODEL}.csv"
    models = [MODEL, "sdxl-turbo"]  # figs 6-7 draw both models' panels (here from the same files)
    hps_version = config["features"]["hps"]["version"]

    def perseed_table(prompt_set: str) -> dict:
        fid = {"fid": [perseed(root, "fid", prompt_set, n) for n in names]}
        return {
            "rule": "perseed_table",
            "name": f"perseed_table {prompt_set}",
            "script": "perseed_table.py",
            "input": (fid if prompt_set != "parti" else {})
            | {"hps": [table(root, "hps", prompt_set, n) for n in names]}
            | {"prompts": prompts(root, prompt_set)},
            "output": {
                "table": tables[prompt_set],
                "replicates": f"{out}/quality/perseed_{MODEL}_{prompt_set}.npz",
            },
            "params": {"bootstrap": bootstrap, "score_prompts": quality["score_prompts"]},
            "wildcards": {"model": MODEL, "set": prompt_set},
        }

    def generalisation(metric: str, figure: str) -> dict:
        return {
            "rule": "fig_generalisation",
            "name": figure,
            "script": "plot_generalisation.py",
            "input": {
                "first": [tables["coco1"]] * 2,
                "second": [tables["coco2"]] * 2,
                "generalisation": [general_csv] * 2,
                "golden": [golden_csv] * 2,
            },
            "output": {"pdf": f"{out}/figures/{figure}.pdf", "png": f"{out}/figures/{figure}.png"},
            "params": {"models": models, "sets": ["coco1", "coco2"], "plots": plots}
            | {"hps_version": hps_version},
            "wildcards": {"number": figure[3], "metric": metric},
        }

    def table1_job(metric: str, prompt_set: str) -> dict:
        extractor = "inception" if metric == "fid" else "hps"
        return {
            "model": MODEL,
            "set": prompt_set,
            "metric": metric,
            "tables": [table(root, extractor, prompt_set, n) for n in names],
            "prompts": prompts(root, prompt_set),
            "golden": golden_csv,
            "reference": str(root / "reference" / "coco2.npz") if metric == "fid" else None,
        }

    return [
        {
            "rule": "extract_features",
            "name": "extract_features inception (stub network)",
            "script": "extract_features.py",
            "input": {
                "shard": shard(root, first),
                "manifest": shard(root, first)[: -len(".tar")] + ".json",
                "prompts": prompts(root, "coco1"),
            },
            "output": {"table": f"{out}/features/inception/{first}.npz"},
            "params": {
                "extractor": "inception",
                "settings": {"weights": "clean-fid", "batch_size": 64},
                "device": "cpu",
                "sample": None,
            },
            "wildcards": {"extractor": "inception", "model": MODEL, "set": "coco1"},
            "stub_extractor": scale["dim"],
        },
        {
            "rule": "perseed_block",
            "name": f"perseed_block fid ({COMPUTE_RESAMPLES} resamples)",
            "script": "perseed_block.py",
            "input": {
                "features": table(root, "inception", "coco2", first),
                "prompts": prompts(root, "coco2"),
                "reference": str(root / "reference" / "coco2.npz"),
            },
            "output": [f"{out}/quality/fid/{first}.npz"],
            "params": {"bootstrap": cut, "device": "cpu"},
            "wildcards": {"metric": "fid", "model": MODEL, "set": "coco2", "first": a, "last": b},
        },
        perseed_table("coco1"),
        perseed_table("coco2"),
        perseed_table("parti"),
        {
            "rule": "golden_seeds",
            "name": "golden_seeds",
            "script": "golden_seeds.py",
            "input": {"main": tables["coco1"], "second": tables["coco2"]},
            "output": {"seeds": golden_csv, "generalisation": general_csv},
            "params": {"golden": golden, "bootstrap": bootstrap},
            "wildcards": {"model": MODEL},
        },
        {
            "rule": "fig5_best_worst_seeds",
            "name": "fig5_best_worst_seeds",
            "script": "plot_best_worst.py",
            "input": {
                "table": tables["coco1"],
                "shards": [shard(root, n) for n in names],
                "prompts": prompts(root, "coco1"),
            },
            "output": {"pdf": f"{out}/figures/fig5.pdf", "png": f"{out}/figures/fig5.png"},
            "params": {"fig5": quality["fig5"], "plots": plots, "hps_version": hps_version},
            "wildcards": {"model": MODEL},
        },
        generalisation("fid", "fig6_fid_generalisation"),
        generalisation("hps", "fig7_hps_generalisation"),
        {
            "rule": "seedbank",
            "name": "seedbank",
            "script": "seedbank.py",
            "input": {"tables": list(tables.values()), "golden": golden_csv},
            "output": {"bank": f"{out}/seedbank/{MODEL}.json"},
            "params": {"spec": config["models"][MODEL], "sets": list(tables), "fid_set": "coco1"}
            | {"golden": golden},
            "wildcards": {"model": MODEL},
        },
        {
            "rule": "table1",
            "name": "table1, one model",
            "script": "table1.py",
            "input": [],
            "output": {
                "csv": f"{out}/tables/table1.csv",
                "md": f"{out}/tables/table1.md",
                "tex": f"{out}/tables/table1.tex",
            },
            "params": {
                "jobs": [table1_job("fid", "coco2"), table1_job("hps", "coco2")]
                + [table1_job("hps", "parti")],
                "seeds": list(range(scale["seeds"])),
                "table1": quality["table1"]
                | {"fid_sets": ["coco2"], "hps_sets": ["coco2", "parti"]},
                "bootstrap": bootstrap,
                "score_prompts": quality["score_prompts"],
                "hps_version": hps_version,
                "device": "cpu",
            },
            "wildcards": {},
        },
        {
            "rule": "plot_seed_swap",
            "name": "plot_seed_swap",
            "script": "plot_seed_swap.py",
            "input": {"study": str(root / "seed_swap" / "study.npz")},
            "output": {"pdf": f"{out}/figures/fig2.pdf", "png": f"{out}/figures/fig2.png"},
            "params": {"plots": plots},
            "wildcards": {},
        },
        {
            "rule": "run_summary",
            "name": f"run_summary ({len(names)} manifests)",
            "script": "run_summary.py",
            "input": {"shards": [shard(root, n) for n in names]},
            "output": [f"{out}/tables/run_summary.csv"],
            "params": {"benchmarks": [f"{out}/none/{n}.tsv" for n in names], "gpu": False},
            "wildcards": {},
        },
    ]


# ------------------------------------------------------------------------------------------------
# Running one job in its own process, as Snakemake's script directive would
# ------------------------------------------------------------------------------------------------
class StubExtractor:
    """Zeros of the Inception features' shape, in place of the network (extract_features)."""

    needs_prompts = False

    def __init__(self, dim: int, batch_size: int):
        self.name, self.dim, self.batch_size = "inception", dim, batch_size
        self.meta = {"extractor": "inception", "stub": True}

    def __call__(self, images, prompts=None):
        import numpy as np

        return np.zeros((len(images), self.dim), np.float32)


def run_job(spec_path: str) -> None:
    """Run one job's script (in this fresh process) and record its peak memory."""
    from seedscope.jobs import run_script, stand_in

    spec = json.loads(Path(spec_path).read_text())
    for part in (spec["output"], spec["log"]):
        for path in part.values() if isinstance(part, dict) else part:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
    if spec.get("stub_extractor"):
        import seedscope.extractors as extractors

        dim = spec["stub_extractor"]
        extractors.load_extractor = lambda name, settings, device, weights=None: StubExtractor(
            dim, settings["batch_size"]
        )
    scratch = Path(spec["log"][0]).parent / "extra-outputs"
    scratch.mkdir(parents=True, exist_ok=True)
    snakemake = stand_in(
        input=spec["input"],
        output=spec["output"],
        params=spec["params"],
        wildcards=spec["wildcards"],
        log=spec["log"],
        threads=spec["threads"],
        rule=spec["rule"],
        config=spec["config"],
        scratch=scratch,  # an output added to the rule since still has somewhere to go
    )
    try:
        run_script(REPO / "scripts" / spec["script"], snakemake)
    finally:
        status = Path("/proc/self/status").read_text()
        peak_kb = int(re.search(r"VmHWM:\s+(\d+) kB", status)[1])
        Path(spec["result"]).write_text(json.dumps({"peak_kb": peak_kb}))


def measure(
    root: Path, scale: dict, config: dict, only: list[str] | None = None, threads: int = 2
) -> list[dict]:
    """Run each job (or those of the rules in ``only``) in its own process; its peak and time.

    A job that fails is reported with ``error`` (its log's tail) and the others still run.
    """
    rows = []
    for job in jobs(root, scale, config):
        if only and job["rule"] not in only:
            continue
        tag = re.sub(r"\W+", "_", job["name"]).strip("_")
        spec = job | {
            "config": config,
            "threads": threads,
            "log": [str(root / "out" / "logs" / f"{tag}.log")],
            "result": str(root / "out" / "peaks" / f"{tag}.json"),
        }
        Path(spec["result"]).parent.mkdir(parents=True, exist_ok=True)
        Path(spec["result"]).unlink(missing_ok=True)
        spec_path = root / "out" / "peaks" / f"{tag}.spec.json"
        spec_path.write_text(json.dumps(spec))
        start = time.perf_counter()
        done = subprocess.run(
            [sys.executable, __file__, "_job", str(spec_path)],
            capture_output=True,
            text=True,
            cwd=root,
        )
        row = {"rule": job["rule"], "job": job["name"], "seconds": time.perf_counter() - start}
        result = Path(spec["result"])
        if done.returncode == 0 and result.exists():
            row["peak_mb"] = json.loads(result.read_text())["peak_kb"] * 1024 / 1e6
        else:
            log = Path(spec["log"][0])
            tail = log.read_text()[-2000:] if log.exists() else ""
            row["error"] = f"exit {done.returncode}\n{done.stderr[-2000:]}\n{tail}"
        rows.append(row)
        print(f"  {job['name']}: {row.get('peak_mb', float('nan')):,.0f} MB", file=sys.stderr)
    return rows


# ------------------------------------------------------------------------------------------------
# What each rule asks for, and the report
# ------------------------------------------------------------------------------------------------
def parse_mem_mb(dry_run: str) -> dict[str, int]:
    """Rule -> its jobs' largest ``mem_mb``, from the job list a dry run prints."""
    declared, rule = {}, None
    for line in map(str.strip, dry_run.splitlines()):
        if line.startswith(("rule ", "localrule ")):
            rule = line.split()[1].rstrip(":")
        elif line.startswith("resources:") and rule:
            mem = re.search(r"\bmem_mb=(\d+)", line)
            if mem:
                declared[rule] = max(declared.get(rule, 0), int(mem[1]))
            rule = None
    return declared


def declared_mem_mb(configfile: Path = REPO / "config.yaml") -> dict[str, int]:
    """Every rule's ``mem_mb`` in the paper's workflow (a dry run of every job, about a minute)."""
    with tempfile.TemporaryDirectory() as workdir:
        command = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile")]
        command += ["-d", workdir, "-n", "--forceall", "--configfile", str(configfile)]
        done = subprocess.run(command, capture_output=True, text=True, check=True, cwd=workdir)
    return parse_mem_mb(done.stdout)


def report(rows: list[dict], declared: dict[str, int]) -> tuple[str, bool]:
    """A Markdown table (job, peak MB, mem_mb, ratio, seconds) and whether every job fits."""
    lines = [
        "| job | peak MB | mem_mb | peak / mem_mb | seconds |",
        "| --- | --- | --- | --- | --- |",
    ]
    fits = True
    for row in rows:
        limit = declared.get(row["rule"])
        if "peak_mb" not in row:
            fits = False
            lines.append(f"| {row['job']} | failed | {limit} | | {row['seconds']:.0f} |")
            continue
        ratio = row["peak_mb"] / limit if limit else float("nan")
        fits &= bool(limit) and ratio <= 1
        flag = " **over**" if ratio > 1 else ""
        lines.append(
            f"| {row['job']} | {row['peak_mb']:,.0f} | {limit or '?'} | {ratio:.2f}{flag} "
            f"| {row['seconds']:.0f} |"
        )
    return "\n".join(lines), fits


# ------------------------------------------------------------------------------------------------
# The synthetic inputs
# ------------------------------------------------------------------------------------------------
def build(root: Path, scale: dict, config: dict) -> None:
    """Write every input of :func:`jobs` under ``root`` at ``scale`` (see the module docstring)."""
    from seedscope.prompts.rows import prompt_id

    sets = {"coco1": scale["prompts"], "coco2": scale["prompts"], "parti": scale["parti"]}
    ids = {s: [prompt_id(s, i) for i in range(n)] for s, n in sets.items()}
    caption = "A dense caption of a photograph, as LLaVA 1.5 writes them, " * 4
    for prompt_set, set_ids in ids.items():
        path = Path(prompts(root, prompt_set))
        path.parent.mkdir(parents=True, exist_ok=True)
        rows = (
            {"id": i, "text": f"{caption}({i})", "set": prompt_set, "meta": {}} for i in set_ids
        )
        path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    build_tables(root, scale, ids)
    build_blocks(root, scale, config["quality"]["bootstrap"])
    write_shards(root, scale, ids["coco1"], config["quality"]["fig5"]["prompts"])
    build_study(root, scale)


def build_tables(root: Path, scale: dict, ids: dict[str, list[str]]) -> None:
    """The reference features, and every seed block's feature tables: Inception (zeros, as
    holes) on coco2 for Table 1 and the FID block, HPS on every set."""
    import numpy as np

    rng = np.random.default_rng(0)
    reference = rng.standard_normal((scale["reference"], scale["dim"]), dtype=np.float32)
    ref_ids = [f"ref-{i}" for i in range(len(reference))]
    write_features(
        root / "reference" / "coco2.npz", ref_ids, [-1] * len(ref_ids), ref_ids, reference
    )
    size = scale["block"]
    zeros = np.zeros((scale["prompts"] * size, scale["dim"]), np.float32)
    for number, block in enumerate(blocks(scale)):
        seeds = np.arange(number * size, (number + 1) * size)
        for prompt_set, set_ids in ids.items():
            keys = [f"{p}_seed{s:06d}" for p in set_ids for s in seeds]
            rows = (np.repeat(set_ids, size), np.tile(seeds, len(set_ids)))
            if prompt_set == "coco2":
                path = table(root, "inception", prompt_set, block)
                write_features(path, keys, rows[1], rows[0], zeros)
            hps = rng.normal(0.27, 0.02, (len(keys), 1)).astype(np.float32)
            write_features(table(root, "hps", prompt_set, block), keys, rows[1], rows[0], hps)


def build_blocks(root: Path, scale: dict, bootstrap: dict) -> None:
    """Every seed block's per-seed FID file, made by ``fid_block`` (so in the format
    ``perseed_table`` reads) with the paper's resamples, from 16 prompts of 4-d features: the
    arrays have the paper's shapes (seeds x fractions x resamples), whatever the prompts."""
    import numpy as np

    from seedscope.features.table import FeatureTable
    from seedscope.quality.frechet import reference_stats
    from seedscope.quality.perseed import fid_block, save_block

    rng = np.random.default_rng(2)
    size, n, dim = scale["block"], 16, 4
    prompt_ids = [f"p{i}" for i in range(n)]
    reference = reference_stats(rng.standard_normal((4 * n, dim)), "cpu")
    for number, block in enumerate(blocks(scale)):
        seeds = np.repeat(np.arange(number * size, (number + 1) * size), n)
        for prompt_set in ("coco1", "coco2", "parti"):
            shift = rng.normal(0, 0.3, (size, 1, dim)).repeat(n, 1).reshape(-1, dim)
            features = rng.standard_normal((len(seeds), dim)) + shift
            ids = prompt_ids * size  # seed-major, like seeds
            keys = [f"{p}_{s}" for s, p in zip(seeds, ids, strict=True)]
            fid = FeatureTable(keys, seeds, ids, features)
            if prompt_set != "parti":
                block_fid = fid_block(fid, prompt_ids, reference, bootstrap)
                save_block(perseed(root, "fid", prompt_set, block), block_fid)


def build_study(root: Path, scale: dict) -> None:
    """The seed-swap study's file (random images of the model's resolution)."""
    import numpy as np

    from seedscope.seedswap import save_study

    rng = np.random.default_rng(3)
    image = lambda: rng.integers(0, 256, (scale["image"], scale["image"], 3), dtype=np.uint8)  # noqa: E731
    steps = scale["swap"]["steps"]
    rows = [
        {"prompt": f"prompt {i}", "start": image(), "end": image()}
        | {"swapped": {s: image() for s in steps}}
        for i in range(scale["swap"]["prompts"])
    ]
    distances = [
        {"prompt": r["prompt"], "swap_step": s}
        | {"distance_to_start_seed": 1.0, "distance_to_end_seed": 2.0}
        for r in rows
        for s in steps
    ]
    (root / "seed_swap").mkdir(parents=True, exist_ok=True)
    study = {"seeds": [0, 1], "steps": steps, "rows": rows, "distances": distances}
    save_study(study, root / "seed_swap" / "study.npz")


class HoleyFile:
    """A binary file that seeks over all-zero writes, leaving holes: a paper-size table of zeros
    takes no disk and little time to write, and reads back like any other."""

    def __init__(self, path: Path):
        self.file = open(path, "wb")  # noqa: SIM115 - closed by __exit__

    def write(self, data) -> int:
        import numpy as np

        size = memoryview(data).nbytes
        if np.frombuffer(data, np.uint8).any():
            return self.file.write(data)
        self.file.seek(size, os.SEEK_CUR)
        return size

    def __getattr__(self, name):  # seek, tell, flush, ...
        return getattr(self.file, name)

    def __enter__(self) -> HoleyFile:
        return self

    def __exit__(self, *exc) -> None:
        self.file.truncate(self.file.tell())  # a trailing hole still counts as file size
        self.file.close()


def write_features(path, keys, seeds, prompt_ids, features) -> None:
    """A feature table in the format of ``seedscope.features.table.write_table`` (see its
    ``read_table``), with zero runs stored as holes."""
    import numpy as np

    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with HoleyFile(Path(path)) as out:
        np.savez(
            out,
            keys=np.asarray(keys, dtype=str),
            seeds=np.asarray(seeds, dtype=np.int64),
            prompt_ids=np.asarray(prompt_ids, dtype=str),
            features=features,
            meta=np.array(json.dumps({"extractor": "synthetic", "shard": str(path)})),
        )


def write_shards(root: Path, scale: dict, set_ids: list[str], drawn: int) -> None:
    """One real shard (``ShardWriter``), and a manifest per other seed block over its tar; the
    first ``drawn`` prompts' images (those fig. 5 decodes) at the model's resolution."""
    import numpy as np

    from seedscope.shards import ShardWriter, encode_png, image_key, manifest_path

    rng = np.random.default_rng(1)
    names, size = blocks(scale), scale["block"]
    drawn = set(set_ids[:drawn])
    small = encode_png(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8))
    spec = {"pipeline": "StableDiffusionPipeline", "weights": "stabilityai/stable-diffusion-2-base"}
    spec |= {"resolution": 512, "steps": 50, "guidance": 7.5, "scheduler": {"name": "ddim"}}
    identity = {"model": MODEL, "prompt_set": "coco1", "model_spec": spec, "seeds": [0, size - 1]}
    writer = ShardWriter(shard(root, names[0]), identity)
    writer.open()
    chunk = []
    for prompt in set_ids:
        for seed in range(size):
            shape = (scale["image"], scale["image"], 3)
            png = encode_png(rng.integers(0, 256, shape, np.uint8)) if prompt in drawn else small
            meta = {"key": image_key(prompt, seed), "model": MODEL, "model_spec": spec}
            meta |= {"prompt_set": "coco1", "prompt_id": prompt, "prompt": f"text of {prompt}"}
            chunk.append((meta["key"], png, meta | {"seed": seed}))
            if len(chunk) == 512:
                writer.write_chunk(chunk)
                chunk = []
    writer.write_chunk(chunk)
    writer.finish({"images": len(set_ids) * size})
    base = json.loads(manifest_path(shard(root, names[0])).read_text())
    column = {name: i for i, name in enumerate(base["columns"])}
    key, prompt, seed = column["key"], column["prompt_id"], column["seed"]
    for number, block in enumerate(names[1:], start=1):
        offset = number * size
        manifest = base | {"shard": f"{block}.tar"}
        manifest["identity"] = identity | {"seeds": [offset, offset + size - 1]}
        manifest["entries"] = [list(e) for e in base["entries"]]
        for e in manifest["entries"]:
            e[seed] += offset
            e[key] = image_key(e[prompt], e[seed])
        manifest_path(shard(root, block)).write_text(json.dumps(manifest, sort_keys=True))
        Path(shard(root, block)).unlink(missing_ok=True)
        os.link(shard(root, names[0]), shard(root, block))


# ------------------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    """Build (or reuse) the inputs, measure every job, print the table; 1 if any exceeds."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", choices=["paper", "small"], default="paper")
    parser.add_argument(
        "--dir", type=Path, help="inputs and outputs here (kept); default: a temp dir"
    )
    parser.add_argument("--only", nargs="+", metavar="RULE", help="measure only these rules")
    parser.add_argument("--threads", type=int, default=2, help="each script's threads (default 2)")
    parser.add_argument("--out", type=Path, help="also write the rows as JSON here")
    args = parser.parse_args(argv)
    config = settings(args.scale)
    scale = sizes(args.scale, config)
    inputs = {"sizes": scale, "bootstrap": config["quality"]["bootstrap"]}
    inputs["fig5"] = config["quality"]["fig5"]
    print("mem_mb per rule: dry run of config.yaml ...", file=sys.stderr)
    declared = declared_mem_mb()
    root = args.dir or Path(tempfile.mkdtemp(prefix="bench-memory-"))
    marker = root / "inputs.json"
    if not marker.exists() or json.loads(marker.read_text()) != inputs:
        print(f"building {args.scale}-scale inputs in {root} ...", file=sys.stderr)
        root.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, __file__, "_build", str(root), args.scale], check=True)
        marker.write_text(json.dumps(inputs))
    rows = measure(root, scale, config, args.only, args.threads)
    text, fits = report(rows, declared)
    print(text)
    for row in rows:
        if "error" in row:
            print(f"\n{row['job']} failed:\n{row['error']}", file=sys.stderr)
    if args.out:
        args.out.write_text(json.dumps(rows, indent=1))
    if not args.dir:
        shutil.rmtree(root)
    return 0 if fits else 1


if __name__ == "__main__":
    if sys.argv[1:2] == ["_job"]:
        run_job(sys.argv[2])
    elif sys.argv[1:2] == ["_build"]:
        chosen = settings(sys.argv[3])
        build(Path(sys.argv[2]), sizes(sys.argv[3], chosen), chosen)
    else:
        sys.exit(main())
