"""The ``seedscope`` command line: check configs, verify shards, render an image again, a run's
status."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from seedscope.errors import DataError, SeedscopeError


def _verify(args) -> int:
    from seedscope.shards import verify

    bad = 0
    for shard in args.shards:
        try:
            print(f"ok  {shard}: {verify(shard)} images")
        except SeedscopeError as err:
            bad += 1
            print(f"BAD {err}", file=sys.stderr)
    return 1 if bad else 0


def _check_config(args) -> int:
    from seedscope.study import model_prompt_sets, seed_blocks
    from seedscope.validate import load_config

    config = load_config(*args.config)
    blocks = seed_blocks(config)
    names = " + ".join(map(str, args.config))
    print(f"{names}: valid; run {config['run']!r}, {len(blocks)} seed blocks")
    for model in config["models"]:
        print(f"  {model}: prompt sets {model_prompt_sets(config, model)}")
    return 0


def _plan(args) -> int:
    import json

    from seedscope.plan import (
        compare_with_run,
        format_comparison,
        format_plan,
        load_calibration,
        make_plan,
    )
    from seedscope.validate import load_config

    plan = make_plan(load_config(*args.config), load_calibration(args.calibration))
    print(format_plan(plan))
    if args.against:
        if not args.against.is_dir():
            raise DataError(f"--against {args.against}: no such folder; give a run's results/<run>")
        plan["against"] = compare_with_run(plan, args.against)
        print()
        print(format_comparison(plan["against"]))
    if args.json:
        args.json.write_text(json.dumps(plan, indent=2))
    return 0


def _status(args) -> int:
    from seedscope.status import format_status, run_status

    status = run_status(args.config, args.directory, results_dir=args.results, tail=args.tail)
    print(format_status(status))
    if args.json:
        args.json.write_text(json.dumps(status, indent=1))
    return 0


def _rerender(args) -> int:
    import numpy as np
    import torch
    from PIL import Image

    from seedscope.diverse.particle_shard import rerender_particle
    from seedscope.generate import check_conditioning, rerender
    from seedscope.inpainting.render import shard_conditioning
    from seedscope.models import load_pipeline
    from seedscope.shards import ShardReader

    reader = ShardReader(args.shard)
    meta = reader.meta(args.key)
    particle = "particle_guidance" in meta  # one of C particles, rendered jointly
    if particle and args.alone:
        raise DataError(
            f"{args.key} is one of {len(meta['particles'])} Particle Guidance particles, "
            "rendered together: it cannot be rendered alone; drop --alone"
        )
    conditioning = None if args.pairs is None else shard_conditioning(reader, args.pairs)
    if not particle:
        check_conditioning(meta, conditioning)
    torch.set_num_threads(args.threads or meta["threads"])
    pipe = load_pipeline(meta["model"], meta["model_spec"], args.device or meta["device"])
    if particle:
        image = rerender_particle(meta, pipe)
    else:
        image = rerender(meta, pipe, exact=not args.alone, conditioning=conditioning)
    stored = np.asarray(reader.image(args.key))
    diff = np.abs(image.astype(int) - stored.astype(int))
    print(
        f"{args.key}: max difference {diff.max()} levels, {(diff > 0).mean():.4%} of values differ"
    )
    if args.out:
        Image.fromarray(image).save(args.out)
    return 0


def _tags(values: list[str]) -> list[str]:
    """Tags given as repeated options and/or comma-separated lists (``--avoid grayscale,text``)."""
    return [tag.strip() for value in values for tag in value.split(",") if tag.strip()]


def _pick(args) -> int:
    from seedscope.seedbank import load_bank, pick

    bank = load_bank(args.bank)
    prefer, avoid = _tags(args.prefer), _tags(args.avoid)
    seeds = pick(
        bank, args.n, prefer, avoid, args.order, args.seed, diverse=args.diverse, rank=args.rank
    )
    if args.json:
        print(json.dumps({"model": bank["model"], "seeds": seeds}))
    else:
        print(" ".join(map(str, seeds)))
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``seedscope`` command."""
    parser = argparse.ArgumentParser(prog="seedscope", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("verify", help="check shards against their manifests")
    p.add_argument("shards", nargs="+", type=Path)
    p.set_defaults(run=_verify)
    layered = "config files, merged in order as snakemake --configfile A B merges them"
    p = sub.add_parser("check-config", help="validate config files and summarise them")
    p.add_argument("config", type=Path, nargs="+", help=layered)
    p.set_defaults(run=_check_config)
    p = sub.add_parser("plan", help="jobs, images, bytes, GPU-hours and CPU-hours of a config")
    p.add_argument("config", type=Path, nargs="+", help=layered)
    p.add_argument(
        "--calibration", type=Path, help="calibration.json from benchmarks/bench_generation.py"
    )
    p.add_argument(
        "--against",
        type=Path,
        metavar="RESULTS_DIR",
        help="a finished run of this config (results/<run>): its Snakemake benchmark files' "
        "wall and CPU hours per rule against the plan's",
    )
    p.add_argument("--json", type=Path, help="also write the plan as JSON here")
    p.set_defaults(run=_plan)
    p = sub.add_parser("rerender", help="render one image of a shard again and compare")
    p.add_argument("shard", type=Path)
    p.add_argument("key", help="image key, e.g. parti-00042_seed000007")
    p.add_argument("--alone", action="store_true", help="batch of 1 instead of the original batch")
    p.add_argument("--device", help="default: the device recorded in the metadata")
    p.add_argument("--threads", type=int, help="default: the thread count recorded in the metadata")
    p.add_argument("--out", type=Path, help="save the re-rendered image here")
    p.add_argument(
        "--pairs", type=Path, help="an inpainted image's pair set: results/<run>/inpainting/pairs"
    )
    p.set_defaults(run=_rerender)
    p = sub.add_parser("pick", help="seeds from a seed bank for inference")
    p.add_argument("--bank", type=Path, required=True, help="results/<run>/seedbank/<model>.json")
    p.add_argument("--n", type=int, default=4, help="how many seeds (default 4)")
    p.add_argument(
        "--prefer",
        action="append",
        default=[],
        help="tags to prefer: comma-separated and/or repeated",
    )
    p.add_argument(
        "--avoid", action="append", default=[], help="tags to avoid, e.g. grayscale,border"
    )
    p.add_argument("--order", choices=["best", "random"], default="best")
    p.add_argument(
        "--diverse",
        choices=["style", "layout"],
        help="a seed set chosen to differ in style or layout (farthest point sampling)",
    )
    p.add_argument(
        "--rank",
        help="order by this metric on the bank's selection set instead of the quality rank, "
        "best first (e.g. fid, hps, pickscore)",
    )
    p.add_argument("--seed", type=int, help="seed of --order random (default: fresh)")
    p.add_argument("--json", action="store_true", help="print the model settings too, as JSON")
    p.set_defaults(run=_pick)
    p = sub.add_parser(
        "status",
        help="progress of a run from its files: jobs done, partial, failed, not started",
    )
    p.add_argument("config", type=Path, nargs="+", help="the run's " + layered)
    p.add_argument(
        "--directory",
        "-d",
        type=Path,
        default=Path("."),
        help="the folder Snakemake runs in (its --directory; holds .snakemake/), default: here",
    )
    p.add_argument(
        "--results", help="the results folder, if not the config's results_dir (e.g. moved)"
    )
    p.add_argument("--json", type=Path, help="also write the status as JSON here")
    p.add_argument("--tail", type=int, default=5, help="log lines shown per failed job")
    p.set_defaults(run=_status)
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except SeedscopeError as err:
        print(f"seedscope: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
