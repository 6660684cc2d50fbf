"""Generation throughput: the naive loop, idiomatic batched diffusers, and the seedscope engine.

All ways render the same workload (``--prompts`` prompts x one block of ``--seeds`` seeds) and
save every image as PNG at the same zlib level (``--png-compress-level``):

  naive                one ``pipe(prompt, generator=torch.Generator().manual_seed(s))`` call per
                       image, PNG saved in line (what a user writes first);
  batched              idiomatic diffusers: a list of prompts and a list of generators per call,
                       ``--batched-batch`` images per call, prompt-major (default: the whole seed
                       block, one prompt repeated: the batch a user picks), PNGs saved in line;
  engine               ``seedscope.generate.render_shard`` as the generation rule runs it, at the
                       engine's configured batch ``--batch`` (across prompts and seeds), writing
                       a real shard and its manifest;
  engine_same_batch    the engine at the idiomatic way's batch size (where its gain comes from
                       when the batch is the same);
  batched_tuned_alloc  idiomatic diffusers in a process whose allocator the engine's
                       ``tune_allocator`` has set (how much of the gain is that setting).

Each way runs in its own worker process (so the engine's process-wide allocator setting cannot
speed up the baselines), warmed up once, then timed in interleaved rounds (way 1, way 2, ...,
way 1, ...) so that background load hits all of them alike; the best round of ``--repeats``
counts. Only one worker runs at a time.

CPU (default): tiny models built from config at 64 px. GPU: ``--full`` builds full-size
SD 2.0-base and SDXL-Turbo architectures with random weights at 512 px, and adds the UNet's
achieved TFLOP/s and MFU against a matmul peak measured on the same device in the same dtype.

    python benchmarks/bench_generation.py                                # CPU, tiny models
    python benchmarks/bench_generation.py --full --device cuda --dtype bfloat16 --batch 16

Writes ``<out>/generation.json`` (with every round's time), ``generation.csv``,
``generation.md`` and ``calibration.json`` (seconds per image per model and device, read by
``seedscope plan --calibration``).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import platform
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import torch

from seedscope.generate import render_shard, seed_generator, tune_allocator
from seedscope.models import apply_speedups, configure_scheduler
from seedscope.shards import manifest_path

MODELS = {
    # name: (tiny kind, full kind, pipeline, steps, guidance, scheduler)
    "sd2": (
        "sd2",
        "sd2-base",
        "StableDiffusionPipeline",
        20,
        7.5,
        {"name": "ddim", "timestep_spacing": "leading"},
    ),
    "sdxl-turbo": (
        "sdxl-turbo",
        "sdxl-turbo",
        "StableDiffusionXLPipeline",
        1,
        0.0,
        {"name": "euler_ancestral", "timestep_spacing": "trailing"},
    ),
}
WAYS = ("naive", "batched", "engine", "engine_same_batch", "batched_tuned_alloc")
# The engine's configured batch on the CPU (tiny models, 64 px, 2 threads): the fastest of
# 16/32/64 measured with this benchmark's sweep (``--batch auto``). SD2 is UNet-bound and gains
# up to the whole 64-image workload; SDXL-Turbo's time is mostly the VAE decode, which is
# fastest at 32. ``--full`` defaults to ``auto``.
CPU_BATCH = {"sd2": 64, "sdxl-turbo": 32}
AUTO_CANDIDATES = (4, 8, 16, 32, 64, 128)
DTYPES = {"float16": torch.float16, "bfloat16": torch.bfloat16, "float32": torch.float32}


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def _png(image, compress_level: int) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=compress_level)
    return buffer.getvalue()


def naive(pipe, prompts, seeds, spec, png_level: int) -> None:
    """One call per image; each PNG saved before the next image starts."""
    for prompt in prompts:
        for seed in seeds:
            image = pipe(
                prompt,
                num_inference_steps=spec["steps"],
                guidance_scale=spec["guidance"],
                height=spec["resolution"],
                width=spec["resolution"],
                generator=torch.Generator().manual_seed(seed),
            ).images[0]
            _png(image, png_level)


def batched(pipe, prompts, seeds, spec, batch: int, png_level: int) -> None:
    """Idiomatic diffusers: a list of prompts and a list of generators per call.

    Prompt-major, ``batch`` images per call: with ``batch`` at most the seed block, each call
    repeats one prompt (``[prompt] * batch``); larger batches span several prompts.
    """
    pairs = [(prompt, seed) for prompt in prompts for seed in seeds]
    for start in range(0, len(pairs), batch):
        chunk = pairs[start : start + batch]
        images = pipe(
            [prompt for prompt, _ in chunk],
            num_inference_steps=spec["steps"],
            guidance_scale=spec["guidance"],
            height=spec["resolution"],
            width=spec["resolution"],
            generator=[seed_generator(seed) for _, seed in chunk],
        ).images
        for image in images:
            _png(image, png_level)


def engine(pipe, prompts, seeds, spec, workdir: Path, encoder_threads: int, png_level: int):
    """The generation rule's engine, writing a real shard (removed afterwards)."""
    rows = [{"id": f"bench-{i:05d}", "text": p} for i, p in enumerate(prompts)]
    shard = workdir / f"engine-{os.getpid()}-{time.monotonic_ns()}.tar"
    render_shard(
        pipe,
        "bench",
        spec,
        "bench",
        rows,
        seeds,
        shard,
        chunk_size=len(rows) * len(seeds),
        png_compress_level=png_level,
        encoder_threads=encoder_threads,
    )
    shard.unlink()
    manifest_path(shard).unlink()


def timed(fn, device: str, repeats: int) -> float:
    """Best wall time of ``repeats`` runs (after the caller's warm-up)."""
    best = float("inf")
    for _ in range(repeats):
        _sync(device)
        start = time.perf_counter()
        fn()
        _sync(device)
        best = min(best, time.perf_counter() - start)
    return best


def matmul_peak_tflops(device: str, dtype=torch.bfloat16) -> float:
    """Dense matmul TFLOP/s measured on ``device`` in ``dtype`` (the denominator of MFU)."""
    n, iters = (8192, 50) if device.startswith("cuda") else (1024, 5)
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    for _ in range(2):
        a @ b
    return 2 * n**3 * iters / timed(lambda: [a @ b for _ in range(iters)], device, 3) / 1e12


def unet_mfu(pipe, spec, device: str, batch: int, peak: float, iters: int = 10) -> dict:
    """Achieved TFLOP/s and MFU of the UNet alone at ``batch`` latents (CFG doubles it)."""
    from seedscope.architectures import unet_flops, unet_inputs

    cfg = 2 if spec["guidance"] > 1 else 1
    flops = unet_flops(pipe, batch * cfg, spec["resolution"])
    unet = pipe.unet
    args, kwargs = unet_inputs(unet, batch * cfg, spec["resolution"] // pipe.vae_scale_factor)
    with torch.inference_mode():
        for _ in range(2):
            unet(*args, **kwargs)
        seconds = timed(lambda: [unet(*args, **kwargs) for _ in range(iters)], device, 2) / iters
    achieved = flops / seconds / 1e12
    return {"unet_tflop_per_forward": flops / 1e12, "unet_tflops": achieved, "mfu": achieved / peak}


def engine_batch(args, name: str) -> int | str:
    """The engine batch ``--batch`` gives ``name``: a number, or ``auto``."""
    chosen: int | str = "auto" if args.full else CPU_BATCH[name]
    for token in args.batch or ():
        model, _, value = token.rpartition("=")
        if model in ("", name):
            chosen = value if value == "auto" else int(value)
    return chosen


def model_spec(name: str, args, workdir: Path) -> dict:
    """The config entry the engine gets; builds the tiny weights (once, in the parent)."""
    tiny_kind, _, pipeline, steps, guidance, scheduler = MODELS[name]
    spec = {
        "pipeline": pipeline,
        "steps": args.steps or steps,
        "guidance": guidance,
        "scheduler": scheduler | {"eta": 0.0},
        "resolution": args.resolution or (512 if args.full else 64),
        "batch_size": engine_batch(args, name),
        "negative_prompt": "",
        "dtype": args.dtype,
    }
    if not args.full:
        from seedscope.tiny.diffusion import build_tiny_pipeline

        spec["weights"] = str(build_tiny_pipeline(tiny_kind, workdir / tiny_kind))
    return spec


def load(name: str, spec: dict, args):
    """The pipeline: full-size architecture with random weights, or the saved tiny model.

    ``compile`` and ``channels_last`` in ``spec`` are applied as the generation rule applies
    them (``seedscope.models.apply_speedups``).
    """
    if args.full:
        from seedscope.architectures import build_full_pipeline

        pipe = build_full_pipeline(MODELS[name][1], args.device, DTYPES[args.dtype])
        apply_speedups(pipe, spec)
    else:
        from seedscope.models import load_pipeline

        pipe = load_pipeline(name, spec, args.device)
    configure_scheduler(pipe, spec["scheduler"])
    return pipe


# --- worker processes: one per way, holding its pipeline between rounds -------------------

_WORKER: dict = {}


def _worker_setup(name: str, way: str, spec: dict, args, workdir, prompts, seeds) -> dict:
    torch.set_num_threads(args.threads)
    if way == "batched_tuned_alloc":
        tune_allocator()
    level, batch = args.png_compress_level, args.batched_batch
    engine_spec = spec | ({"batch_size": batch} if way == "engine_same_batch" else {})
    if way.startswith("engine"):  # the model entry's opt-in speed-ups (change floats ~1e-6)
        engine_spec |= {"compile": args.compile, "channels_last": args.channels_last}
    pipe = load(name, engine_spec, args)

    def way_fn(p, s):
        if way == "naive":
            return naive(pipe, p, s, spec, level)
        if way in ("batched", "batched_tuned_alloc"):
            return batched(pipe, p, s, spec, batch, level)
        return engine(pipe, p, s, engine_spec, Path(workdir), args.encoder_threads, level)

    def at_batch(size: int) -> None:
        engine_spec["batch_size"] = size
        way_fn(prompts, seeds)

    sweep = {}
    if way == "engine" and engine_spec["batch_size"] == "auto":
        sweep = auto_batch(at_batch, args)
        engine_spec["batch_size"] = max(sweep, key=sweep.get)
    # Warm-up at the shapes the rounds use: the whole workload, or one image for the naive loop.
    way_fn(*((prompts[:1], seeds[:1]) if way == "naive" else (prompts, seeds)))
    _WORKER.update(pipe=pipe, spec=engine_spec, args=args, run=lambda: way_fn(prompts, seeds))
    cuda = args.device.startswith("cuda")
    return {
        "device": torch.cuda.get_device_name() if cuda else platform.processor() or "cpu",
        "allocator_tuned": tune_allocator() if way.startswith("engine") else None,
        "batch": engine_spec["batch_size"],
        "sweep": sweep,
    }


def auto_batch(render, args) -> dict[int, float]:
    """Images per second of the whole workload at each candidate engine batch (best of 2).

    Candidates are powers of two up to the workload; a batch that runs out of device memory
    ends the sweep. The benchmark picks the fastest; put it in the model's ``batch_size``.
    """
    images = args.prompts * args.seeds
    sweep = {}
    for candidate in [c for c in AUTO_CANDIDATES if c <= images] or [images]:
        try:
            render(candidate)
            sweep[candidate] = timed(lambda c=candidate: render(c), args.device, 2)
        except torch.OutOfMemoryError:
            break
        finally:
            if args.device.startswith("cuda"):
                torch.cuda.empty_cache()
    if not sweep:
        raise RuntimeError(f"the engine runs out of device memory even at batch {candidate}")
    return {batch: images / seconds for batch, seconds in sweep.items()}


def _worker_round() -> float:
    device = _WORKER["args"].device
    seconds = timed(_WORKER["run"], device, 1)
    if device.startswith("cuda"):
        torch.cuda.empty_cache()  # idle workers hold no activations while another one runs
    return seconds


def _worker_mfu() -> dict:
    pipe, spec, args = _WORKER["pipe"], _WORKER["spec"], _WORKER["args"]
    peak = matmul_peak_tflops(args.device, DTYPES[args.dtype])
    batch = spec["batch_size"]
    return {"matmul_peak_tflops": peak} | unet_mfu(pipe, spec, args.device, batch, peak)


def bench_model(name: str, args, workdir: Path, prompts: list[str], seeds: list[int]) -> dict:
    """Time every requested way on one model; returns one result row."""
    spec = model_spec(name, args, workdir)
    context = get_context("spawn")
    workers = {way: ProcessPoolExecutor(1, mp_context=context) for way in args.ways}
    try:
        setups = {
            way: pool.submit(_worker_setup, name, way, spec, args, str(workdir), prompts, seeds)
            for way, pool in workers.items()
        }
        info = {way: future.result() for way, future in setups.items()}
        rounds: dict[str, list[float]] = {way: [] for way in args.ways}
        for _ in range(args.repeats):
            for way, pool in workers.items():
                rounds[way].append(pool.submit(_worker_round).result())
        mfu_way = next((w for w in ("engine", "engine_same_batch") if w in workers), None)
        measure_mfu = mfu_way and (args.mfu or args.device.startswith("cuda"))
        mfu = workers[mfu_way].submit(_worker_mfu).result() if measure_mfu else {}
    finally:
        for pool in workers.values():
            pool.shutdown(cancel_futures=True)
    n = len(prompts) * len(seeds)
    seconds = {way: min(times) for way, times in rounds.items()}
    first = next(iter(info.values()))
    engine_info = info.get("engine", {})
    row = {
        "model": name,
        "architecture": "full" if args.full else "tiny",
        "device": first["device"],
        "threads": args.threads,
        "dtype": args.dtype,
        "resolution": spec["resolution"],
        "steps": spec["steps"],
        "images": n,
        "engine_batch": engine_info.get("batch", spec["batch_size"]),
        "batched_batch": args.batched_batch,
        "png_compress_level": args.png_compress_level,
        "encoder_threads": args.encoder_threads,
        "engine_compile": args.compile,
        "engine_channels_last": args.channels_last,
        "allocator_tuned": next(
            (i["allocator_tuned"] for w, i in info.items() if w.startswith("engine")), None
        ),
    }
    row |= {f"{way}_img_per_s": n / s for way, s in seconds.items()}
    ratios = {
        "engine_vs_naive": ("naive", "engine"),
        "engine_vs_batched": ("batched", "engine"),
        "engine_same_batch_vs_batched": ("batched", "engine_same_batch"),
        "engine_vs_batched_tuned_alloc": ("batched_tuned_alloc", "engine"),
    }
    for key, (slow, fast) in ratios.items():
        if slow in seconds and fast in seconds:
            row[key] = seconds[slow] / seconds[fast]
    if "engine" in seconds:
        row["engine_s_per_image"] = seconds["engine"] / n
    if engine_info.get("sweep"):
        row["engine_batch_sweep_img_per_s"] = engine_info["sweep"]
    row["rounds_s"] = rounds
    return row | mfu


def run(args) -> list[dict]:
    """Benchmark every requested model; prints and returns one row per model."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    objects = ("dog", "red apple", "blue car", "wooden chair")
    prompts = [f"a photo of a {obj}" for obj in objects][: args.prompts]
    prompts += [f"a photo of object number {i}" for i in range(len(prompts), args.prompts)]
    seeds = list(range(args.seeds))
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.models:
            results.append(bench_model(name, args, Path(tmp), prompts, seeds))
            print(json.dumps(results[-1]), flush=True)
    return results


def _cell(row: dict, key: str, fmt: str, suffix: str = "") -> str:
    return format(row[key], fmt) + suffix if key in row else "-"


def write(results: list[dict], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "generation.json").write_text(json.dumps(results, indent=2))
    flat = [{k: v for k, v in r.items() if not isinstance(v, dict)} for r in results]
    with open(out / "generation.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=sorted({k for r in flat for k in r}))
        writer.writeheader()
        writer.writerows(flat)
    header = ["model", "device", "px", "steps", "batches (engine/idiomatic)", "naive img/s"]
    header += ["batched img/s", "engine img/s", "engine/naive", "engine/batched"]
    header += ["UNet TFLOP/s", "MFU"]
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    for r in results:
        options = [r["architecture"]] + [
            name for name in ("compile", "channels_last") if r.get(f"engine_{name}")
        ]
        cells = [f"{r['model']} ({', '.join(options)})", r["device"], r["resolution"], r["steps"]]
        cells += [f"{r['engine_batch']}/{r['batched_batch']}"]
        cells += [_cell(r, f"{way}_img_per_s", ".1f") for way in ("naive", "batched", "engine")]
        cells += [_cell(r, key, ".2f", "x") for key in ("engine_vs_naive", "engine_vs_batched")]
        cells += [_cell(r, "unet_tflops", ".3g"), _cell(r, "mfu", ".0%")]
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    header = ["model", "engine @ idiomatic batch img/s", "vs batched"]
    header += ["batched + engine allocator img/s", "engine vs that"]
    lines += ["", "| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    for r in results:
        cells = [r["model"], _cell(r, "engine_same_batch_img_per_s", ".1f")]
        cells += [_cell(r, "engine_same_batch_vs_batched", ".2f", "x")]
        cells += [_cell(r, "batched_tuned_alloc_img_per_s", ".1f")]
        cells += [_cell(r, "engine_vs_batched_tuned_alloc", ".2f", "x")]
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    (out / "generation.md").write_text("\n".join(lines) + "\n")
    calibration = {
        r["model"]: {
            "device": r["device"],
            "architecture": r["architecture"],
            "resolution": r["resolution"],
            "steps": r["steps"],
            "dtype": r["dtype"],
            "batch": r["engine_batch"],
            "seconds_per_image": r["engine_s_per_image"],
        }
        for r in results
        if "engine_s_per_image" in r
    }
    (out / "calibration.json").write_text(json.dumps(calibration, indent=2))
    print("\n".join(lines))


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--device", default="cpu")
    p.add_argument("--full", action="store_true", help="full-size architectures (GPU)")
    p.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    p.add_argument("--ways", nargs="+", default=list(WAYS), choices=list(WAYS))
    p.add_argument("--prompts", type=int, default=4)
    p.add_argument("--seeds", type=int, default=16, help="seeds per prompt (one seed block)")
    p.add_argument(
        "--batch",
        nargs="+",
        metavar="[MODEL=]N|auto",
        help="engine batch across prompts and seeds, for every model or one (default: "
        + ", ".join(f"{m}={b}" for m, b in CPU_BATCH.items())
        + "; auto with --full: the fastest of a sweep)",
    )
    p.add_argument("--batched-batch", type=int, help="images per idiomatic call (default: --seeds)")
    p.add_argument("--steps", type=int, help="default: 20 for sd2, 1 for sdxl-turbo")
    p.add_argument("--resolution", type=int, help="default: 64 tiny, 512 full")
    p.add_argument("--dtype", default="float32", choices=list(DTYPES))
    p.add_argument("--threads", type=int, default=2, help="torch threads of every way")
    p.add_argument("--encoder-threads", type=int, default=2)
    p.add_argument("--png-compress-level", type=int, default=6, help="zlib level, every way")
    p.add_argument("--repeats", type=int, default=5, help="interleaved rounds; best is kept")
    p.add_argument("--compile", action="store_true", help="engine: torch.compile the UNet")
    p.add_argument("--channels-last", action="store_true", help="engine: channels-last UNet/VAE")
    p.add_argument("--mfu", action="store_true", help="UNet MFU on CPU too (always on GPU)")
    p.add_argument("--out", type=Path, default=Path("results/benchmarks"))
    return p


def main(argv: list[str] | None = None) -> list[dict]:
    args = parser().parse_args(argv)
    args.batched_batch = args.batched_batch or args.seeds
    results = run(args)
    write(results, args.out)
    return results


if __name__ == "__main__":
    main()
