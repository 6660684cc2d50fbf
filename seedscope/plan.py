"""``seedscope plan``: what a config will cost before it runs.

Counts the jobs of every rule the DAG will schedule (the same counts as ``snakemake -n`` on a
fresh results folder), the images, the bytes on disk, and GPU-hours per stage. GPU time per
image comes from a calibration file written by ``benchmarks/bench_generation.py`` on a GPU
when one matches the model's resolution and steps; otherwise it is estimated from the
architectures' FLOPs at an assumed model-FLOP utilisation, and the plan says so.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from seedscope.appearance import inpaint_sets, inpainting_models, layout_models, style_models
from seedscope.config import (
    classifier_models,
    model_prompt_sets,
    prompt_set_sizes,
    quality_models,
    quality_sets,
)
from seedscope.dag import Dag
from seedscope.diverse.settings import diverse_models, pg_coeffs, pg_models
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
# scales every image to 736 px), measured on this project's 2-core development machine.
OCR_CPU_SECONDS = 1.0


def job_counts(config: dict[str, Any]) -> dict[str, int]:
    """Jobs per rule for a fresh run of ``config`` (what ``snakemake -n`` lists): the job
    lists of ``seedscope.dag``, which the rules take their inputs from."""
    return Dag(config).job_counts()


def evaluation_sizes(config: dict[str, Any]) -> dict[str, int]:
    """Table 2's evaluation prompts per group: the style sample, and the synthetic set's
    evaluation half (halved per object, an odd count favouring analysis)."""
    sizes = prompt_set_sizes(config)
    style_set, layout_set = config["diverse"]["style_set"], config["layout"]["prompt_set"]
    spec = config["prompt_sets"].get(layout_set, {})
    if spec.get("kind") == "synthetic":
        layout = len(spec["objects"]) * (len(spec["modifiers"]) // 2)
    else:
        layout = sizes.get(layout_set, 0) // 2
    style = min(
        config["diverse"]["style_prompts"] or sizes.get(style_set, 0), sizes.get(style_set, 0)
    )
    return {"style": style, "layout": layout}


def diverse_images(config: dict[str, Any]) -> dict[str, int]:
    """Images the diverse-seed stage renders and reads: Particle Guidance images (C per
    evaluation prompt, per coefficient and the control, per model it renders) and, per
    extractor, the evaluation images of every seed plus the Particle Guidance images."""
    if not diverse_models(config):
        return {"particle": 0, "style": 0, "layout": 0, "hps": 0, "dino": 0}
    seeds, sizes = config["seeds"]["count"], evaluation_sizes(config)
    compared, rendered = len(diverse_models(config)), len(pg_models(config))
    per_prompt = config["diverse"]["c"] * len(pg_coeffs(config)) * rendered
    both = sizes["style"] + sizes["layout"]
    return {
        "particle": per_prompt * both,
        "style": compared * seeds * sizes["style"] + per_prompt * sizes["style"],
        "layout": per_prompt * sizes["layout"],  # the pool's layout tables are the stage's
        "hps": (compared * seeds + per_prompt) * both,
        "dino": (compared * seeds + per_prompt) * both,
    }


def feature_cost(config: dict[str, Any]) -> dict[str, float]:
    """Images read, feature-table bytes and extraction GPU-hours (FLOP estimate) per extractor:
    the quality stage's Inception and HPS, the style and the layout stage's, and the diverse
    stage's evaluation and Particle Guidance images."""
    sizes = prompt_set_sizes(config)
    seeds = config["seeds"]["count"]
    models = quality_models(config)
    images = {
        name: len(models) * seeds * sum(sizes[s] for s in names)
        for name, names in quality_sets(config).items()
    }
    style = config["style"]
    images["style"] = (
        len(style_models(config)) * seeds * style["prompts"] * len(style["prompt_sets"])
    )
    ocr_images = sum(
        seeds * sizes[s] for m in inpainting_models(config) for s in inpaint_sets(config, m)
    )
    layout = layout_models(config)
    images["layout"] = len(layout) * seeds * sizes[config["layout"]["prompt_set"]] if layout else 0
    diverse = diverse_images(config)
    for name in ("style", "layout", "hps", "dino"):
        images[name] = images.get(name, 0) + diverse[name]
    row_bytes = FEATURE_BYTES | {
        "style": (len(MEASURES) + config["features"]["style"]["dim"]) * 4 + 80
    }
    return {
        "images": images,
        "bytes": sum(images[n] * row_bytes[n] for n in images) + ocr_images * (3 * 4 + 80),
        "ocr_images": ocr_images,
        "ocr_cpu_hours": ocr_images * OCR_CPU_SECONDS / 3600,
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


def particle_cost(config: dict[str, Any], models: dict[str, Any]) -> dict[str, float]:
    """Images and GPU-hours of the Particle Guidance shards: C particles per evaluation prompt
    (style sample and the synthetic set's evaluation half), per coefficient and the control,
    per model it renders, at the model's cost per image (the kernel on latents adds no network
    pass)."""
    sizes = evaluation_sizes(config)
    per_model = config["diverse"]["c"] * len(pg_coeffs(config)) * (sizes["style"] + sizes["layout"])
    chosen = pg_models(config)
    return {
        "images": per_model * len(chosen),
        "gpu_hours": sum(
            per_model * models[m]["seconds_per_image"] / 3600 for m in chosen if m in models
        ),
    }


def make_plan(config: dict[str, Any], calibration: dict | None = None) -> dict[str, Any]:
    """Jobs, images, bytes and GPU-hours of a validated config."""
    calibration = calibration or {}
    sizes = prompt_set_sizes(config)
    seeds = config["seeds"]["count"]
    models = {}
    for model, spec in config["models"].items():
        images = sum(sizes[s] for s in model_prompt_sets(config, model)) * seeds
        seconds, source = seconds_per_image(model, spec, calibration)
        pixels = spec["resolution"] ** 2
        models[model] = {
            "images": images,
            "shard_bytes": images * (pixels * PNG_BYTES_PER_PIXEL + TAR_AND_JSON_BYTES),
            "generation_gpu_hours": images * seconds / 3600,
            "seconds_per_image": seconds,
            "cost_source": source,
        }
    features = feature_cost(config)
    particle = particle_cost(config, models)
    jobs = job_counts(config)
    captions = config["coco"]["n_images"] if jobs.get("coco_captions") else 0
    caption_hours = captions * CAPTION_TFLOP / (PEAK_TFLOPS * ASSUMED_MFU) / 3600
    return {
        "run": config["run"],
        "jobs": jobs,
        "prompt_sets": sizes,
        "seeds": seeds,
        "models": models,
        "totals": {
            "images": sum(m["images"] for m in models.values()),
            "shard_bytes": sum(m["shard_bytes"] for m in models.values()),
            "feature_bytes": features["bytes"],
            "feature_images": features["images"],
            "ocr_images": features["ocr_images"],
            "ocr_cpu_hours": features["ocr_cpu_hours"],
            "particle_images": particle["images"],
            "gpu_hours": {
                "captioning": caption_hours,
                "classifier": classifier_cost(config)["hours_per_model"]
                * len(classifier_models(config)),
                "generation": sum(m["generation_gpu_hours"] for m in models.values()),
                "particle_guidance": particle["gpu_hours"],
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
            f"{name} {t['feature_images'][name]:,} images {h:,.1f} GPU-h"
            for name, h in hours["features_by_extractor"].items()
        ),
        f"OCR of inpaintings: {t['ocr_images']:,} images, about {t['ocr_cpu_hours']:,.0f} "
        "CPU-hours (onnxruntime on CPU)",
    ]
    return "\n".join(lines)


def load_calibration(path: str | Path | None) -> dict:
    """A calibration file from the benchmark, or nothing."""
    return json.loads(Path(path).read_text()) if path else {}
