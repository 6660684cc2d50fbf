"""``seedscope plan``: what a config will cost before it runs.

Adds up the jobs of every rule the DAG will schedule (the same counts as ``snakemake -n`` on a
fresh results folder) and the images each job renders, extracts or reads (``Dag.images``: the
counts are the DAG's, never recomputed here), and prices them: bytes on disk and GPU-hours
per stage. GPU time per image comes from a calibration file written by
``benchmarks/bench_generation.py`` on a GPU when one matches the model's resolution and steps;
otherwise it is estimated from the architectures' FLOPs at an assumed model-FLOP utilisation,
and the plan says so.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from seedscope.dag import Dag
from seedscope.study import classifier_models, prompt_set_sizes
from seedscope.style.measures import MEASURES

# FLOPs per UNet forward at 512 px, batch 1, and of one SD-VAE decode at 512 px, counted with
# torch's FlopCounterMode on the architectures of seedscope.architectures. They scale with pixels.
UNET_TFLOP_512 = {"StableDiffusionPipeline": 0.678, "StableDiffusionXLPipeline": 1.534}
VAE_DECODE_TFLOP_512 = 2.515
# FLOPs per transformer forward, batch 1, at 512 and 1024 px, counted the same way on the
# published architectures (seedscope.architectures.TRANSFORMERS, with their text lengths: SD 3
# 77 + 256 tokens, FLUX 512, PixArt-Sigma 300). Linear layers grow with the image tokens and
# self-attention with their square, so the two resolutions fix both terms. The 16-channel VAE
# of SD 3 and FLUX decodes at the same cost as the SD VAE (counted: 2.515 TFLOP at 512 px).
TRANSFORMER_TFLOP = {
    "sd3.5-large": (7.978, 31.121),
    "sd3-medium": (2.107, 8.904),
    "flux-dev": (21.503, 74.385),
    "pixart-sigma": (1.289, 6.634),
}
# Pipelines whose guidance is an input of the network: one forward per step, not two.
NO_CFG_PIPELINES = frozenset({"FluxPipeline"})
# An H100's dense bf16 matmul peak, measured with a large bf16 matmul on one H100 (as
# benchmarks/bench_generation.py --full measures it), and the utilisation assumed without a
# calibration.
PEAK_TFLOPS = 798.0
ASSUMED_MFU = 0.4
# LLaVA-1.5-7B: prefill of 576 image + ~40 text tokens and 77 decoded tokens, about 9.7 TFLOP.
CAPTION_TFLOP = 9.7
# Lossless PNG of generated images: about 1.5 bytes per pixel; per image the tar adds three
# 512-byte headers/paddings and the JSON metadata (~2 KB).
PNG_BYTES_PER_PIXEL = 1.5
TAR_AND_JSON_BYTES = 3584
# Feature-table bytes per image: Inception pool3 (2048 float32), an HPS score (1 float32), and
# per row its key, prompt id and seed (about 80 bytes, uncompressed npz); DINO: 768 float32.
FEATURE_BYTES = {
    "inception": 2048 * 4 + 80,
    "hps": 4 + 80,
    "layout": 5 * 4 + 80,
    "dino": 768 * 4 + 80,
}
# FLOPs per image of the extractors: Inception-v3 at 299 px (5.7 GMAC), and HPS's ViT-H-14 image
# tower at 224 px (about 162 GMAC) plus its text tower (about 6 GMAC per prompt). Style: VGG-19
# up to relu5_1 at 512 px (about 100 GMAC; the Gram matrices add about 2). Layout: Mask2Former
# Swin-L at its processor's 384 px (about 120 GMAC) and Depth Anything V2 Large (ViT-L/14 at
# 518 px with its DPT head, about 420 GMAC). DINO ViT-B/8 (width d = 768, MLP 3072, 12 layers),
# counted as 2 FLOP per multiply-add of its matmuls for T tokens: per layer q, k, v and output
# projections 2 * 4 * T * d^2, MLP 2 * 2 * T * d * 3072, attention scores and values
# 2 * 2 * T^2 * d, plus the 8 px patch embedding 2 * (T - 1) * 192 * d once. At 224 px (T = 785)
# that is 0.133 + 0.023 + 0.0002 = 0.156 TFLOP; the extractor keeps an image's own size, as
# Particle Guidance's evaluation does (seedscope/features/dino.py), so at the paper's 512 px
# (T = 4097) it is 0.696 + 0.619 + 0.001 = 1.316 TFLOP, the figure used here.
# Estimates to size a run, not measurements.
EXTRACTOR_TFLOP = {
    "inception": 0.0114,
    "hps": 0.336,
    "style": 0.204,
    "layout": 1.08,
    "dino": 1.316,
}
# OCR (RapidOCR's PP-OCRv6 ONNX models on onnxruntime's CPU build) costs CPU time, not GPU time:
# about 0.7 CPU-seconds per image without text and 1.0 with, at any image size (its detector
# scales every image to 736 px), measured on 2 CPU cores.
OCR_CPU_SECONDS = 1.0


def images_by(dag: Dag, rule: str, key: str) -> dict[str, int]:
    """The images of ``rule``'s jobs (``Dag.images``) added up by their wildcard ``key``."""
    totals: dict[str, int] = {}
    for job in dag.image_jobs(rule):
        totals[job[key]] = totals.get(job[key], 0) + dag.images(rule, job)
    return totals


def counted_images(dag: Dag) -> dict[str, Any]:
    """The images of the DAG's jobs added up: rendered per model, rendered by Particle
    Guidance per model, extracted per extractor from the seeds' shards (``features``) and from
    the Particle Guidance shards (``particle_features``), read by OCR, and captioned."""
    extracted = images_by(dag, "extract_features", "extractor")
    for name, n in images_by(dag, "extract_evaluation_features", "extractor").items():
        extracted[name] = extracted.get(name, 0) + n
    ocr = extracted.pop("ocr", 0)
    features = dict.fromkeys(EXTRACTOR_TFLOP, 0) | extracted
    particle = images_by(dag, "extract_particle_features", "extractor")
    return {
        "rendered": images_by(dag, "generate", "model"),
        "particle": images_by(dag, "particle_guidance", "model"),
        "features": features,
        "particle_features": dict.fromkeys(features, 0) | particle,
        "ocr": ocr,
        "captioned": sum(dag.images("coco_captions", j) for j in dag.image_jobs("coco_captions")),
    }


def feature_cost(config: dict[str, Any], counted: dict[str, Any]) -> dict[str, Any]:
    """Feature-table bytes and extraction GPU-hours (FLOP estimate) per extractor of the
    ``counted_images``, and OCR's CPU-hours."""
    images = {
        n: counted["features"][n] + counted["particle_features"][n] for n in counted["features"]
    }
    row_bytes = FEATURE_BYTES | {
        "style": (len(MEASURES) + config["features"]["style"]["dim"]) * 4 + 80
    }
    return {
        "bytes": sum(images[n] * row_bytes[n] for n in images) + counted["ocr"] * (3 * 4 + 80),
        "ocr_cpu_hours": counted["ocr"] * OCR_CPU_SECONDS / 3600,
        "gpu_hours_by_extractor": {
            n: images[n] * EXTRACTOR_TFLOP[n] / (PEAK_TFLOPS * ASSUMED_MFU) / 3600 for n in images
        },
    }


def _calibrated_seconds(calibration: dict, model: str, spec: dict) -> float | None:
    entry = calibration.get(model)
    if not entry or entry.get("architecture") != "full":
        return None
    if entry["resolution"] != spec["resolution"] or entry["steps"] != spec["steps"]:
        return None
    return entry["seconds_per_image"]


def transformer_kind(spec: dict) -> str | None:
    """Which counted transformer a model entry's pipeline uses, or None for a UNet."""
    pipeline = spec["pipeline"]
    if pipeline.startswith("StableDiffusion3"):
        return "sd3-medium" if "medium" in str(spec.get("weights")).lower() else "sd3.5-large"
    if pipeline.startswith("Flux"):
        return "flux-dev"
    if pipeline.startswith("PixArt"):
        return "pixart-sigma"
    return None


def denoiser_tflop(spec: dict) -> float:
    """TFLOP of one denoiser forward (batch 1) at the model's resolution.

    A UNet's count at 512 px scales with the pixels; a transformer's is ``a p + b p^2`` in
    the pixels ``p`` relative to 512 px, through its counts at 512 and 1024 px.
    """
    p = (spec["resolution"] / 512) ** 2
    kind = transformer_kind(spec)
    if kind is None:
        unet = UNET_TFLOP_512.get(spec["pipeline"], UNET_TFLOP_512["StableDiffusionXLPipeline"])
        return unet * p
    at_512, at_1024 = TRANSFORMER_TFLOP[kind]
    quadratic = (at_1024 - 4 * at_512) / 12
    return (at_512 - quadratic) * p + quadratic * p**2


def seconds_per_image(model: str, spec: dict, calibration: dict) -> tuple[float, str]:
    """GPU seconds per image and where the number comes from."""
    measured = _calibrated_seconds(calibration, model, spec)
    if measured is not None:
        return measured, f"measured on {calibration[model]['device']}"
    scale = (spec["resolution"] / 512) ** 2
    cfg = 2 if spec["guidance"] > 1 and spec["pipeline"] not in NO_CFG_PIPELINES else 1
    tflop = spec["steps"] * cfg * denoiser_tflop(spec) + VAE_DECODE_TFLOP_512 * scale
    return tflop / (
        PEAK_TFLOPS * ASSUMED_MFU
    ), f"estimated: FLOPs at {ASSUMED_MFU:.0%} MFU of {PEAK_TFLOPS:.0f} TFLOP/s"


# Training reads PNGs at about this rate on one GPU when no measurement is configured: a
# ResNet-50 at 224 px with AMP trains at 2-3k images/s on an A100/H100, but decoding 512 px PNGs
# costs ~5 ms per image per CPU core, so ~8 loader workers hold the rate near 1,000 images/s.
# Set classifier.images_per_second to a measured rate for a real estimate.
CLASSIFIER_IMAGES_PER_SECOND = 1000.0


def classifier_cost(config: dict[str, Any]) -> dict[str, Any]:
    """Images the seed classifier reads per epoch and in all, and the GPU-hours per model."""
    settings = config["classifier"]
    seeds = config["seeds"]["count"]
    split = settings["split"]
    per_epoch = seeds * (split["train"] + split["val"])
    rate = settings["images_per_second"] or CLASSIFIER_IMAGES_PER_SECOND
    total = per_epoch * settings["epochs"]
    return {
        "images_per_epoch": per_epoch,
        "images_total": total,
        "images_per_second": rate,
        "throughput_assumed": settings["images_per_second"] is None,
        "hours_per_model": total / rate / 3600,
    }


def make_plan(config: dict[str, Any], calibration: dict | None = None) -> dict[str, Any]:
    """Jobs, images, bytes and GPU-hours of a validated config: the jobs and their images
    are the DAG's (``seedscope.dag``), priced here per image."""
    calibration = calibration or {}
    dag = Dag(config)
    counted = counted_images(dag)
    models = {}
    for model, spec in config["models"].items():
        images = counted["rendered"].get(model, 0)
        seconds, source = seconds_per_image(model, spec, calibration)
        pixels = spec["resolution"] ** 2
        models[model] = {
            "images": images,
            "shard_bytes": images * (pixels * PNG_BYTES_PER_PIXEL + TAR_AND_JSON_BYTES),
            "generation_gpu_hours": images * seconds / 3600,
            "seconds_per_image": seconds,
            "cost_source": source,
        }
    features = feature_cost(config, counted)
    # the Particle Guidance kernel acts on latents: an image costs what the model's does
    particle_hours = sum(
        n * models[m]["seconds_per_image"] / 3600 for m, n in counted["particle"].items()
    )
    caption_hours = counted["captioned"] * CAPTION_TFLOP / (PEAK_TFLOPS * ASSUMED_MFU) / 3600
    return {
        "run": config["run"],
        "jobs": dag.job_counts(),
        "prompt_sets": prompt_set_sizes(config),
        "seeds": config["seeds"]["count"],
        "models": models,
        "totals": {
            "images": sum(m["images"] for m in models.values()),
            "shard_bytes": sum(m["shard_bytes"] for m in models.values()),
            "feature_bytes": features["bytes"],
            "feature_images": {
                n: shards + counted["particle_features"][n]
                for n, shards in counted["features"].items()
            },
            "particle_feature_images": counted["particle_features"],
            "ocr_images": counted["ocr"],
            "ocr_cpu_hours": features["ocr_cpu_hours"],
            "particle_images": sum(counted["particle"].values()),
            "gpu_hours": {
                "captioning": caption_hours,
                "classifier": classifier_cost(config)["hours_per_model"]
                * len(classifier_models(config)),
                "generation": sum(m["generation_gpu_hours"] for m in models.values()),
                "particle_guidance": particle_hours,
                "features": sum(features["gpu_hours_by_extractor"].values()),
                "features_by_extractor": features["gpu_hours_by_extractor"],
            },
        },
    }


def _size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB", "PB"):
        if n < 1000:
            return f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} EB"


def _extractor_images(name: str, images: int, particle: int) -> str:
    pg = f" + {particle:,} Particle Guidance images" if particle else ""
    return f"{name} {images - particle:,} images{pg}"


def format_plan(plan: dict[str, Any]) -> str:
    """The plan as a short human-readable report."""
    lines = [
        f"run {plan['run']}: {plan['seeds']} seeds; prompt sets {plan['prompt_sets']}",
        "",
        "jobs per rule:",
    ]
    width = max(map(len, plan["jobs"]))
    lines += [f"  {rule:<{width}} {n:>7,}" for rule, n in plan["jobs"].items()]
    lines += [f"  {'total':<{width}} {sum(plan['jobs'].values()):>7,}", "", "per model:"]
    for model, m in plan["models"].items():
        lines.append(
            f"  {model:<12} {m['images']:>12,} images  shards {_size(m['shard_bytes']):>9}  "
            f"{m['generation_gpu_hours']:>9,.1f} GPU-h"
            f"  ({m['cost_source']})"
        )
    t = plan["totals"]
    hours = t["gpu_hours"]
    lines += [
        "",
        f"total: {t['images']:,} images, shards {_size(t['shard_bytes'])}, "
        f"features {_size(t['feature_bytes'])}",
        f"GPU-hours: generation {hours['generation']:,.1f}, captioning {hours['captioning']:,.1f}, "
        f"Particle Guidance {hours['particle_guidance']:,.1f} ({t['particle_images']:,} images), "
        f"features {hours['features']:,.1f}, seed classifier {hours['classifier']:,.1f}",
        "features per extractor: "
        + ", ".join(
            _extractor_images(name, t["feature_images"][name], t["particle_feature_images"][name])
            + f" {h:,.1f} GPU-h"
            for name, h in hours["features_by_extractor"].items()
        ),
        f"OCR of inpaintings: {t['ocr_images']:,} images, about {t['ocr_cpu_hours']:,.0f} "
        "CPU-hours (onnxruntime on CPU)",
    ]
    return "\n".join(lines)


def load_calibration(path: str | Path | None) -> dict:
    """A calibration file from the benchmark, or nothing."""
    return json.loads(Path(path).read_text()) if path else {}
