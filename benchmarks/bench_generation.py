"""Generation throughput: the naive loop, idiomatic batched diffusers, and the seedscope engine.

All three render the same (prompts x seeds) workload in one run and save every image as PNG:

  naive      one ``pipe(prompt, generator=torch.Generator().manual_seed(s))`` call per image,
             PNG saved in line (what a user writes first);
  batched    idiomatic diffusers: per prompt, one call with the prompt repeated and a list of
             generators, one per seed (``--batched-batch`` images per call), PNGs saved in line;
  engine     ``seedscope.generate.render_shard`` as the generation rule runs it: precomputed
             prompt embeddings, batches across prompts and seeds, PNG encoding overlapped on
             background threads, the shard and its manifest written.

CPU (default): tiny models built from config at 64 px. GPU: ``--full`` builds full-size
SD 2.0-base and SDXL-Turbo architectures with random weights at 512 px, and adds the UNet's
achieved TFLOP/s and MFU against a bf16 matmul peak measured on the same device.

    python benchmarks/bench_generation.py                      # CPU, tiny models
    python benchmarks/bench_generation.py --full --device cuda # GPU, full-size architectures

Writes ``<out>/generation.json``, ``generation.csv``, ``generation.md`` and ``calibration.json``
(per-image seconds per model and device, read by ``seedscope plan``).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import platform
import tempfile
import time
from pathlib import Path

import torch

from seedscope.generate import render_shard, seed_generator
from seedscope.models import configure_scheduler

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


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def _png(image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def naive(pipe, prompts, seeds, spec) -> None:
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
            _png(image)


def batched(pipe, prompts, seeds, spec, batch: int) -> None:
    """Idiomatic diffusers: a list of prompts and a list of generators per call."""
    for prompt in prompts:
        for start in range(0, len(seeds), batch):
            chunk = seeds[start : start + batch]
            images = pipe(
                [prompt] * len(chunk),
                num_inference_steps=spec["steps"],
                guidance_scale=spec["guidance"],
                height=spec["resolution"],
                width=spec["resolution"],
                generator=[seed_generator(s) for s in chunk],
            ).images
            for image in images:
                _png(image)


def engine(pipe, prompts, seeds, spec, workdir: Path, encoder_threads: int) -> None:
    """The generation rule's engine, writing a real shard."""
    rows = [{"id": f"bench-{i:05d}", "text": p} for i, p in enumerate(prompts)]
    shard = workdir / f"engine-{time.monotonic_ns()}.tar"
    render_shard(
        pipe,
        "bench",
        spec,
        "bench",
        rows,
        seeds,
        shard,
        chunk_size=len(rows) * len(seeds),
        encoder_threads=encoder_threads,
    )


def timed(fn, device: str, repeats: int) -> float:
    """Best wall time of ``repeats`` runs (after the caller's warm-up)."""
    return min(timed_rounds({"fn": fn}, device, repeats)["fn"])


def timed_rounds(ways: dict, device: str, rounds: int) -> dict[str, list[float]]:
    """Wall times of each way, interleaved round by round so background load hits all alike."""
    times: dict[str, list[float]] = {way: [] for way in ways}
    for _ in range(rounds):
        for way, fn in ways.items():
            _sync(device)
            start = time.perf_counter()
            fn()
            _sync(device)
            times[way].append(time.perf_counter() - start)
    return times


def matmul_peak_tflops(device: str, dtype=torch.bfloat16, n: int = 8192, iters: int = 50) -> float:
    """Dense matmul TFLOP/s measured on ``device`` (the denominator of MFU)."""
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    for _ in range(3):
        a @ b
    _sync(device)
    start = time.perf_counter()
    for _ in range(iters):
        a @ b
    _sync(device)
    return 2 * n**3 * iters / (time.perf_counter() - start) / 1e12


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


def load(name: str, args, workdir: Path):
    tiny_kind, full_kind, pipeline, steps, guidance, scheduler = MODELS[name]
    spec = {
        "pipeline": pipeline,
        "steps": args.steps or steps,
        "guidance": guidance,
        "scheduler": scheduler | {"eta": 0.0},
        "resolution": args.resolution or (512 if args.full else 64),
        "batch_size": args.batch,
        "negative_prompt": "",
    }
    dtype = {"float16": torch.float16, "bfloat16": torch.bfloat16, "float32": torch.float32}[
        args.dtype
    ]
    if args.full:
        from seedscope.architectures import build_full_pipeline

        pipe = build_full_pipeline(full_kind, args.device, dtype)
    else:
        from seedscope.models import load_pipeline
        from seedscope.tiny.diffusion import build_tiny_pipeline

        spec["weights"] = str(build_tiny_pipeline(tiny_kind, workdir / tiny_kind))
        pipe = load_pipeline(name, spec | {"dtype": args.dtype}, args.device)
    configure_scheduler(pipe, spec["scheduler"])
    return pipe, spec


def bench_model(name: str, args, workdir: Path, prompts: list[str], seeds: list[int], peak) -> dict:
    """Time the three ways on one model; returns one result row."""
    pipe, spec = load(name, args, workdir)
    n = len(prompts) * len(seeds)
    ways = {
        "naive": lambda: naive(pipe, prompts, seeds, spec),
        "batched": lambda: batched(pipe, prompts, seeds, spec, args.batched_batch),
        "engine": lambda: engine(pipe, prompts, seeds, spec, workdir, args.encoder_threads),
    }
    engine(pipe, prompts[:1], seeds[: args.batch], spec, workdir, args.encoder_threads)  # warm-up
    rounds = timed_rounds(ways, args.device, args.repeats)
    seconds = {way: min(times) for way, times in rounds.items()}
    cuda = args.device.startswith("cuda")
    row = {
        "model": name,
        "architecture": "full" if args.full else "tiny",
        "device": torch.cuda.get_device_name() if cuda else platform.processor() or "cpu",
        "threads": args.threads,
        "dtype": args.dtype,
        "resolution": spec["resolution"],
        "steps": spec["steps"],
        "images": n,
        "engine_batch": args.batch,
        "batched_batch": args.batched_batch,
    }
    for way, s in seconds.items():
        row[f"{way}_img_per_s"] = n / s
    row["engine_vs_naive"] = seconds["naive"] / seconds["engine"]
    row["engine_vs_batched"] = seconds["batched"] / seconds["engine"]
    row["engine_s_per_image"] = seconds["engine"] / n
    if peak:
        row |= {"matmul_peak_tflops": peak} | unet_mfu(pipe, spec, args.device, args.batch, peak)
    return row


def run(args) -> list[dict]:
    """Benchmark every requested model; prints and returns one row per model."""
    torch.set_num_threads(args.threads)
    objects = ("dog", "red apple", "blue car", "wooden chair")
    prompts = [f"a photo of a {obj}" for obj in objects][: args.prompts]
    prompts += [f"a photo of object number {i}" for i in range(len(prompts), args.prompts)]
    seeds = list(range(args.seeds))
    peak = matmul_peak_tflops(args.device) if args.device.startswith("cuda") else None
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.models:
            results.append(bench_model(name, args, Path(tmp), prompts, seeds, peak))
            print(json.dumps(results[-1]), flush=True)
    return results


def write(results: list[dict], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "generation.json").write_text(json.dumps(results, indent=2))
    with open(out / "generation.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=sorted({k for r in results for k in r}))
        writer.writeheader()
        writer.writerows(results)
    header = ["model", "device", "px", "steps", "naive img/s", "batched img/s", "engine img/s"]
    header += ["engine/naive", "engine/batched", "UNet TFLOP/s", "MFU"]
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    for r in results:
        cells = [f"{r['model']} ({r['architecture']})", r["device"], r["resolution"], r["steps"]]
        cells += [f"{r[f'{way}_img_per_s']:.1f}" for way in ("naive", "batched", "engine")]
        cells += [f"{r['engine_vs_naive']:.2f}x", f"{r['engine_vs_batched']:.2f}x"]
        cells += [f"{r['unet_tflops']:.0f}", f"{r['mfu']:.0%}"] if "mfu" in r else ["-", "-"]
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    (out / "generation.md").write_text("\n".join(lines) + "\n")
    calibration = {
        r["model"]: {
            "device": r["device"],
            "architecture": r["architecture"],
            "resolution": r["resolution"],
            "steps": r["steps"],
            "seconds_per_image": r["engine_s_per_image"],
        }
        for r in results
    }
    (out / "calibration.json").write_text(json.dumps(calibration, indent=2))
    print("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--full", action="store_true", help="full-size architectures (GPU)")
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--prompts", type=int, default=4)
    parser.add_argument("--seeds", type=int, default=16, help="seeds per prompt (one seed block)")
    parser.add_argument(
        "--batch", type=int, default=32, help="engine batch (across prompts and seeds)"
    )
    parser.add_argument(
        "--batched-batch", type=int, default=8, help="images per idiomatic diffusers call"
    )
    parser.add_argument("--steps", type=int, help="default: 20 for sd2, 1 for sdxl-turbo")
    parser.add_argument("--resolution", type=int, help="default: 64 tiny, 512 full")
    parser.add_argument("--dtype", default="float32", choices=["float32", "float16", "bfloat16"])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--encoder-threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3, help="interleaved rounds; best is kept")
    parser.add_argument("--out", type=Path, default=Path("results/benchmarks"))
    args = parser.parse_args()
    write(run(args), args.out)


if __name__ == "__main__":
    main()
