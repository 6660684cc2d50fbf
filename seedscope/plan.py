"""``seedscope plan``: what a config will cost before it runs.

Adds up the jobs of every rule the DAG will schedule (the same counts as ``snakemake -n`` on a
fresh results folder) and the images each job renders, extracts or reads (``Dag.images``: the
counts are the DAG's, never recomputed here), and prices them: bytes on disk, and GPU-hours and
CPU-hours per rule. GPU time per image comes from a calibration file written by
``benchmarks/bench_generation.py`` on a GPU when one matches the model's resolution and steps;
otherwise it is estimated from the architectures' FLOPs at an assumed model-FLOP utilisation,
and the plan says so. CPU time is priced from costs measured on a 2-core Xeon
(``benchmarks/bench_cpu_costs.py``, ``benchmarks/bench_storage.py``): per image (PNG encode and
decode, each extractor's preprocessing, OCR) and per job (per-seed FID and KID, the style
map's t-SNE runs). A rule without a cost model is priced at 0 and marked so.

``compare_with_run`` reads a finished run's Snakemake benchmark files (every rule but ``all``
declares one, at ``BENCHMARKS[rule]``) and sets the measured wall and CPU hours per rule beside
the plan's, so a pilot run calibrates a larger one.
"""

from __future__ import annotations

import csv
import json
import math
import re
from pathlib import Path
from typing import Any

from seedscope.dag import PATHS, Dag
from seedscope.shards import BLOCK
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
    "pickscore": 4 + 80,
    "imagereward": 4 + 80,
    "clipscore": 4 + 80,
    "aesthetic": 4 + 80,
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
# The per-image quality scores, counted with torch.utils.flop_counter.FlopCounterMode on the
# full-size towers (meta device), the text tower once per image at 20 tokens (each distinct
# prompt of a batch is embedded once, so this overestimates): PickScore, CLIP ViT-H/14 at
# 224 px, 0.335 TFLOP image + 0.012 text; CLIPScore, ViT-L/14 at 224 px, 0.162 image + 0.003
# text; aesthetic, the same image tower (its MLP adds about 2 MFLOP); ImageReward, BLIP ViT-L/16
# at 224 px, 0.123, + BERT-base at its 35 tokens with cross-attention to the 197 image tokens,
# 0.015.
# Estimates to size a run, not measurements.
EXTRACTOR_TFLOP = {
    "inception": 0.0114,
    "hps": 0.336,
    "style": 0.204,
    "layout": 1.08,
    "dino": 1.316,
    "pickscore": 0.347,
    "imagereward": 0.138,
    "clipscore": 0.165,
    "aesthetic": 0.162,
}
# OCR (RapidOCR's PP-OCRv6 ONNX models on onnxruntime's CPU build) costs CPU time, not GPU time:
# about 0.7 CPU-seconds per image without text and 1.0 with, at any image size (its detector
# scales every image to 736 px), measured on 2 CPU cores.
OCR_CPU_SECONDS = 1.0
# Every extraction job decodes each PNG it reads, on the CPU: 5.8 ms per 512 x 512 image at
# compress level 6 (benchmarks/bench_storage.py on real photographs, one core of a 2-core Xeon),
# in proportion to the pixels at other sizes.
PNG_DECODE_CPU_SECONDS_512 = 0.0058
EXTRACTION_RULES = ("extract_features", "extract_evaluation_features", "extract_particle_features")
# CPU seconds per image measured by benchmarks/bench_cpu_costs.py (2026-12-06, one core of this
# 2-core Intel Xeon, x86_64, one thread; scikit-image's photographs at 64 and 512 px), each
# fitted as a + b * pixels: PNG encode at zlib 6 (seedscope.shards.encode_png, what a rendering
# job's encoder threads pay per image), and each extractor's CPU preprocessing of a decoded image
# (clean-fid's resize to 299 px; HPS's, the CLIP processors' (PickScore, CLIPScore, aesthetic) and
# ImageReward's to 224 px; the style measures on the full image; the layout extractor's
# Mask2Former and Depth Anything processors (not their post-processing); DINO's host share).
# Decoding is PNG_DECODE_CPU_SECONDS_512 above (this benchmark measured 5.9 ms, the same).
PNG_ENCODE_CPU_SECONDS = (0.0, 1.636e-7)
_CLIP_PREPROCESS = (1.478e-3, 1.117e-8)
PREPROCESS_CPU_SECONDS = {
    "inception": (1.715e-3, 1.390e-8),
    "hps": (6.84e-4, 1.131e-8),
    "style": (0.0, 1.016e-7),
    "layout": (5.356e-3, 1.026e-8),
    "dino": (0.0, 2.4e-10),
    "pickscore": _CLIP_PREPROCESS,
    "imagereward": (9.23e-4, 7.26e-9),
    "clipscore": _CLIP_PREPROCESS,
    "aesthetic": _CLIP_PREPROCESS,
}
# Per-job CPU seconds, measured by the same benchmark at reduced sizes and scaled by their
# complexity (its docstring says how; d = 2,048 Inception features, one thread). One FID replicate
# of n >= d images: c + a n (the weighted scatter 2 n d^2, the d x d products and one d x d
# eigendecomposition; checked at n = 6,144: 1.01x the fit); with n < d images FID takes the n x n
# Gram path, priced a n. A seed's KID, point estimate and R replicates:
# k1 n (n + n_ref) + k2 R n^2. The reference statistics, once per job: r0 + r2 n_ref^2. One t-SNE
# map of N points (seedscope.style.maps.embed, 1,000 iterations): t1 N log2 N (checked at
# N = 2,048: 0.90x the fit); a style map of N seeds and P prompts runs P + 1 of them.
FID_REPLICATE_CPU_SECONDS = (0.826, 1.290e-4)
KID_SEED_CPU_SECONDS = (6.374e-8, 6.636e-10)
REFERENCE_STATS_CPU_SECONDS = (1.767, 7.771e-8)
TSNE_CPU_SECONDS_PER_NLOGN = 4.313e-4
# len(seedscope.quality.intervals.FRACTIONS), the subsample fractions of every per-seed interval
# (not imported: that module imports scipy, a second that `seedscope plan` and `status` need not
# pay; tests/test_plan_against.py keeps them equal)
SUBSAMPLE_FRACTIONS = 2
# The rules whose jobs ask for a GPU on a GPU run (``gpus=GPU``, ``QUALITY_GPU`` or
# ``extractor_gpus`` in rules/*.smk; tests/test_plan_against.py keeps this in step).
GPU_RULES = frozenset(
    {
        "coco_captions",
        "generate",
        "seed_swap",
        "train_classifier",
        "evaluate_classifier",
        "extract_features",
        "reference_features",
        "perseed_block",
        "table1",
        "particle_guidance",
        "extract_particle_features",
        "extract_evaluation_features",
    }
)
# The rules that compute the per-seed statistics on ``quality.device`` (a GPU unless it is cpu).
QUALITY_RULES = ("perseed_block", "table1")
# Each rule's Snakemake benchmark file, relative to the run folder (results/<run>), with the
# rules' wildcard names: the rules' ``benchmark:`` paths (tests/test_plan_against.py checks they
# agree). The two downloads are shared by the runs of a results folder, so theirs sit beside it.
BENCHMARKS = {
    "tiny_model": "benchmarks/tiny_model/{model}.tsv",
    "tiny_captioner": "benchmarks/tiny_captioner.tsv",
    "coco_download": "../benchmarks/coco_download.tsv",
    "coco_demo_images": "benchmarks/coco_demo_images.tsv",
    "coco_captions": "benchmarks/coco_captions.tsv",
    "prompt_set": "benchmarks/prompts/{set}.tsv",
    "generate": PATHS["generate_benchmark"],
    "seed_swap": "benchmarks/seed_swap.tsv",
    "plot_seed_swap": "benchmarks/plot_seed_swap.tsv",
    "run_summary": "benchmarks/run_summary.tsv",
    "train_classifier": "benchmarks/classifier/{model}/train.tsv",
    "evaluate_classifier": "benchmarks/classifier/{model}/evaluate.tsv",
    "gradcam_classifier": "benchmarks/classifier/{model}/gradcam.tsv",
    "tiny_extractor": "benchmarks/tiny_extractor/{extractor}.tsv",
    "extract_features": f"benchmarks/features/{{extractor}}/{{model}}/{{set}}/{BLOCK}.tsv",
    "reference_features": "benchmarks/reference/{extractor}/{set}.tsv",
    "perseed_block": f"benchmarks/quality/{{metric}}/{{model}}/{{set}}/{BLOCK}.tsv",
    "perseed_table": "benchmarks/quality/perseed_{model}_{set}.tsv",
    "golden_seeds": "benchmarks/quality/golden_seeds_{model}.tsv",
    "fig5_best_worst_seeds": "benchmarks/plots/fig5_best_worst_seeds_{model}.tsv",
    "fig_generalisation": "benchmarks/plots/fig{number}_{metric}_generalisation.tsv",
    "table1": "benchmarks/quality/table1.tsv",
    "golden_matrix": "benchmarks/quality/golden_matrix.tsv",
    "table1b": "benchmarks/quality/table1b.tsv",
    "fig_best_of_n": "benchmarks/plots/fig_best_of_n.tsv",
    "seedbank": "benchmarks/seedbank/{model}.tsv",
    "coco_annotations_download": "../benchmarks/coco_annotations_download.tsv",
    "inpaint_pairs": "benchmarks/inpainting/pairs.tsv",
    "text_table": "benchmarks/inpainting/text_table_{model}.tsv",
    "text_task_table": "benchmarks/inpainting/text_task_table_{model}_{set}.tsv",
    "particle_guidance": "benchmarks/particle/{model}/{set}/coeff-{coeff}.tsv",
    "extract_particle_features": (
        "benchmarks/particle/features/{extractor}/{model}/{set}/coeff-{coeff}.tsv"
    ),
    "extract_evaluation_features": (
        f"benchmarks/diverse/features/{{extractor}}/{{model}}/{{set}}/{BLOCK}.tsv"
    ),
    "fig_diversity_quality": "benchmarks/plots/fig_diversity_quality.tsv",
    "diverse_seeds": "benchmarks/diverse/diverse_seeds_{model}.tsv",
    "table2": "benchmarks/diverse/table2.tsv",
    "fig11_diverse_seeds": "benchmarks/plots/fig11_diverse_seeds_{model}.tsv",
    "fig12_inpainting_text": "benchmarks/plots/fig12_inpainting_text_{model}.tsv",
    "style_table": "benchmarks/style/style_table_{model}.tsv",
    "style_map": "benchmarks/style/style_map_{model}.tsv",
    "fig8_style_map": "benchmarks/plots/fig8_style_map_{model}.tsv",
    "fig9_style_seeds": "benchmarks/plots/fig9_style_seeds_{model}.tsv",
    "layout_table": "benchmarks/layout/layout_table_{model}.tsv",
    "fig10_layout": "benchmarks/plots/fig10_layout_{model}.tsv",
}
# ``rule all`` only collects the targets: it runs nothing, so it has no costs and no benchmark.
COLLECTING_RULES = frozenset({"all"})


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


def decode_cpu_hours(dag: Dag, config: dict[str, Any]) -> float:
    """CPU-hours of decoding every PNG that the extraction jobs read (each extractor decodes
    each image it reads once), at each model's resolution."""
    seconds = 0.0
    for rule in EXTRACTION_RULES:
        for job in dag.image_jobs(rule):
            pixels = config["models"][job["model"]]["resolution"] ** 2
            seconds += dag.images(rule, job) * _decode_seconds(pixels)
    return seconds / 3600


def _linear(cost: tuple[float, float], pixels: float) -> float:
    return cost[0] + cost[1] * pixels


def _decode_seconds(pixels: float) -> float:
    return PNG_DECODE_CPU_SECONDS_512 * pixels / 512**2


def extraction_cpu_seconds(extractor: str, pixels: float) -> float:
    """CPU seconds an extraction job spends on one image of ``pixels``: decoding its PNG and
    the extractor's preprocessing (OCR: its whole measured cost)."""
    own = (
        OCR_CPU_SECONDS
        if extractor == "ocr"
        else _linear(PREPROCESS_CPU_SECONDS[extractor], pixels)
    )
    return _decode_seconds(pixels) + own


def fid_replicate_cpu_seconds(n: int) -> float:
    """CPU seconds of one FID replicate of ``n`` 2,048-d images against a reference."""
    c, a = FID_REPLICATE_CPU_SECONDS
    return a * n + (c if n >= 2048 else 0.0)


def reference_cpu_seconds(n_ref: int) -> float:
    """CPU seconds of a reference's statistics (mean, covariance, its root, kernel mean)."""
    r0, r2 = REFERENCE_STATS_CPU_SECONDS
    return r0 + r2 * n_ref**2


def perseed_block_cpu_seconds(n: int, n_ref: int, seeds: int, resamples: int) -> float:
    """CPU seconds of one per-seed FID/KID block (``seedscope.quality.perseed.fid_block``):
    ``seeds`` seeds of ``n`` prompts, each with a point estimate and ``SUBSAMPLE_FRACTIONS x
    resamples`` subsample replicates of FID and of KID, against a reference of ``n_ref``."""
    replicates = SUBSAMPLE_FRACTIONS * resamples
    k1, k2 = KID_SEED_CPU_SECONDS
    kid = k1 * n * (n + n_ref) + k2 * replicates * n * n
    per_seed = (1 + replicates) * fid_replicate_cpu_seconds(n) + kid
    return reference_cpu_seconds(n_ref) + seeds * per_seed


def table1_fid_cpu_seconds(n: int, n_ref: int, draws: int, resamples: int) -> float:
    """CPU seconds of one FID row pair of Table 1 (``seedscope.quality.table1``): random and
    golden seeds, each ``draws`` draws of a point estimate and their subsample replicates."""
    replicates = 1 + SUBSAMPLE_FRACTIONS * max(10, resamples // draws)
    return reference_cpu_seconds(n_ref) + 2 * draws * replicates * fid_replicate_cpu_seconds(n)


def tsne_cpu_seconds(points: int) -> float:
    """CPU seconds of one t-SNE map of ``points`` points (``seedscope.style.maps.embed``)."""
    return TSNE_CPU_SECONDS_PER_NLOGN * points * math.log2(max(points, 2))


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


def quality_on_gpu(config: dict[str, Any]) -> bool:
    """Whether the per-seed statistics (perseed_block, table1) run on a GPU: the run has one and
    ``quality.device`` is not cpu (``QUALITY_GPU`` in rules/common_analysis.smk)."""
    return config["device"] != "cpu" and config["quality"]["device"] != "cpu"


def _entry(jobs: int, gpu: float | None, cpu: float | None, basis: str, note: str = "") -> dict:
    """A rule's costs: hours (None: no cost model, priced 0) and what they rest on."""
    return {
        "jobs": jobs,
        "gpu_hours": gpu or 0.0,
        "cpu_hours": cpu or 0.0,
        "gpu_modelled": gpu is not None,
        "cpu_modelled": cpu is not None,
        "basis": basis,
        "note": note,
    }


def _unmodelled(rule: str, jobs: int) -> dict:
    """A rule without a cost model; a rule that asks for no GPU has no GPU cost to model."""
    entry = _entry(jobs, None, None, "none")
    entry["gpu_modelled"] = rule not in GPU_RULES
    return entry


def _rule_seconds(dag: Dag, rule: str, per_image) -> float:
    """Seconds of ``rule``'s jobs, ``per_image(job, pixels)`` for each image of each job."""
    models = dag.config["models"]
    return sum(
        dag.images(rule, job) * per_image(job, models[job["model"]]["resolution"] ** 2)
        for job in dag.image_jobs(rule)
    )


def extraction_gpu_hours(dag: Dag, rule: str) -> float:
    """GPU-hours of an extraction rule's jobs (FLOPs per image; OCR runs on the CPU)."""
    return sum(
        dag.images(rule, job) * EXTRACTOR_TFLOP[job["extractor"]]
        for job in dag.image_jobs(rule)
        if job["extractor"] in EXTRACTOR_TFLOP
    ) / (PEAK_TFLOPS * ASSUMED_MFU * 3600)


def rule_costs(
    config: dict[str, Any], dag: Dag, jobs: dict[str, int], gpu_hours: dict[str, Any]
) -> dict[str, dict[str, Any]]:
    """GPU-hours and CPU-hours of every rule with jobs (``_entry``), from the per-stage GPU
    estimates ``gpu_hours`` and the measured CPU costs."""
    png = "PNG encode per image"
    extraction = "FLOPs per image; decode + preprocessing (OCR: measured) per image"
    costs = {
        "generate": _entry(
            jobs.get("generate", 0),
            gpu_hours["generation"],
            _rule_seconds(dag, "generate", lambda _, px: _linear(PNG_ENCODE_CPU_SECONDS, px))
            / 3600,
            f"GPU per image (FLOPs or calibration); {png}",
        ),
        "particle_guidance": _entry(
            jobs.get("particle_guidance", 0),
            gpu_hours["particle_guidance"],
            _rule_seconds(
                dag, "particle_guidance", lambda _, px: _linear(PNG_ENCODE_CPU_SECONDS, px)
            )
            / 3600,
            f"GPU as the model's images; {png}",
        ),
        "coco_captions": _entry(
            jobs.get("coco_captions", 0), gpu_hours["captioning"], None, "FLOPs per caption"
        ),
    }
    for rule in EXTRACTION_RULES:
        cpu = _rule_seconds(dag, rule, lambda job, px: extraction_cpu_seconds(job["extractor"], px))
        costs[rule] = _entry(
            jobs.get(rule, 0), extraction_gpu_hours(dag, rule), cpu / 3600, extraction
        )
    resolution = {m: config["models"][m]["resolution"] ** 2 for m in config["models"]}
    read = classifier_cost(config)["images_total"]
    costs["train_classifier"] = _entry(
        jobs.get("train_classifier", 0),
        gpu_hours["classifier"],
        sum(read * _decode_seconds(resolution[m]) for m in classifier_models(config)) / 3600,
        "images read / throughput; PNG decode per image read",
    )
    resamples = config["quality"]["bootstrap"]["resamples"]
    sizes = dag.set_sizes
    block = sum(
        perseed_block_cpu_seconds(
            sizes[j["set"]], sizes[j["set"]], int(j["last"]) - int(j["first"]) + 1, resamples
        )
        for j in dag.perseed_block_jobs()
    )
    table1 = config["quality"]["table1"]
    rows = sum(
        table1_fid_cpu_seconds(
            table1["prompts"] or sizes[j["set"]], sizes[j["set"]], table1["draws"], resamples
        )
        for j in dag.table1_jobs()
        if j["metric"] == "fid"
    )
    for rule, seconds, what in (
        (QUALITY_RULES[0], block, "FID and KID replicates per seed"),
        (QUALITY_RULES[1], rows, "FID replicates per draw"),
    ):
        if quality_on_gpu(config):
            note = f"runs on the GPU; {seconds / 3600:,.1f} CPU-h with quality.device: cpu"
            costs[rule] = _entry(jobs.get(rule, 0), None, None, "on the GPU: none", note)
        else:
            costs[rule] = _entry(jobs.get(rule, 0), None, seconds / 3600, f"CPU: {what}")
    seeds = config["seeds"]["count"]
    style_prompts = sum(
        dag.job_prompts("extract_features", {"extractor": "style", "set": s})
        for s in config["style"]["prompt_sets"]
    )
    costs["style_map"] = _entry(
        jobs.get("style_map", 0),
        None,
        jobs.get("style_map", 0) * (style_prompts + 1) * tsne_cpu_seconds(seeds) / 3600,
        f"{style_prompts} + 1 t-SNE maps of {seeds} seeds",
    )
    quality_cpu = config["quality"]["device"] == "cpu"
    return {
        rule: {
            **(costs.get(rule) or _unmodelled(rule, n)),
            "uses_gpu": rule in GPU_RULES and not (rule in QUALITY_RULES and quality_cpu),
        }
        for rule, n in jobs.items()
        if rule not in COLLECTING_RULES
    }


def _tiny_note(config: dict[str, Any]) -> str:
    """Which parts of a config are tiny stand-ins that the plan prices at full size."""
    models = [m for m, spec in config["models"].items() if spec.get("tiny")]
    extractors = [e for e, s in config["features"].items() if s.get("weights") == "tiny"]
    parts = []
    if models:
        parts.append(f"models {', '.join(models)}")
    if extractors:
        parts.append(f"extractors {', '.join(extractors)}")
    if config["coco"]["captioner"].get("tiny"):
        parts.append("the captioner")
    if not parts:
        return ""
    return (
        "costs assume full-size models: the tiny stand-ins of this config ("
        + "; ".join(parts)
        + ") are priced as the full-size architectures at its resolution and steps"
    )


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
    gpu_hours = {
        "captioning": caption_hours,
        "classifier": classifier_cost(config)["hours_per_model"] * len(classifier_models(config)),
        "generation": sum(m["generation_gpu_hours"] for m in models.values()),
        "particle_guidance": particle_hours,
        "features": sum(features["gpu_hours_by_extractor"].values()),
        "features_by_extractor": features["gpu_hours_by_extractor"],
    }
    jobs = dag.job_counts()
    rules = rule_costs(config, dag, jobs, gpu_hours)
    return {
        "run": config["run"],
        "device": config["device"],
        "jobs": jobs,
        "rules": rules,
        "tiny": _tiny_note(config),
        "prompt_sets": prompt_set_sizes(config),
        "seeds": config["seeds"]["count"],
        "models": models,
        "totals": {
            "all_gpu_hours": sum(r["gpu_hours"] for r in rules.values()),
            "cpu_hours": sum(r["cpu_hours"] for r in rules.values()),
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
            "decode_cpu_hours": decode_cpu_hours(dag, config),
            "particle_images": sum(counted["particle"].values()),
            "gpu_hours": gpu_hours,
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


def _hours(hours: float) -> str:
    if hours == 0:
        return "0"
    return f"{hours:.2g}" if hours < 0.1 else f"{hours:,.1f}"


def format_rules(plan: dict[str, Any]) -> list[str]:
    """The per-rule table: jobs, GPU-hours, CPU-hours and what they rest on, and the totals."""
    width = max(map(len, plan["jobs"]))
    lines = [
        "jobs and hours per rule (? no cost model, counted as 0; - the rule asks for no GPU):",
        f"  {'rule':<{width}} {'jobs':>7} {'GPU-h':>10} {'CPU-h':>10}  cost model",
    ]
    notes = []
    for rule, n in plan["jobs"].items():
        r = plan["rules"].get(rule)
        if r is None:  # rule all
            lines.append(f"  {rule:<{width}} {n:>7,} {'-':>10} {'-':>10}  runs nothing")
            continue
        gpu = _hours(r["gpu_hours"]) if r["gpu_modelled"] else "?"
        if not r["uses_gpu"] and r["gpu_hours"] == 0:
            gpu = "-"
        cpu = _hours(r["cpu_hours"]) if r["cpu_modelled"] else "?"
        lines.append(f"  {rule:<{width}} {n:>7,} {gpu:>10} {cpu:>10}  {r['basis']}")
        if r["note"]:
            notes.append(f"  {rule}: {r['note']}")
    t = plan["totals"]
    lines.append(
        f"  {'total':<{width}} {sum(plan['jobs'].values()):>7,} "
        f"{_hours(t['all_gpu_hours']):>10} {_hours(t['cpu_hours']):>10}"
    )
    return lines + notes


def format_plan(plan: dict[str, Any]) -> str:
    """The plan as a short human-readable report."""
    lines = [f"run {plan['run']}: {plan['seeds']} seeds; prompt sets {plan['prompt_sets']}"]
    if plan["tiny"]:
        lines.append(plan["tiny"])
    if plan["device"] == "cpu":
        lines.append("device cpu: the GPU-hours are the GPU work's; this config runs it on the CPU")
    lines += ["", *format_rules(plan), "", "per model:"]
    for model, m in plan["models"].items():
        lines.append(
            f"  {model:<12} {m['images']:>12,} images  shards {_size(m['shard_bytes']):>9}  "
            f"{m['generation_gpu_hours']:>9,.1f} GPU-h"
            f"  ({m['cost_source']})"
        )
    t = plan["totals"]
    hours = t["gpu_hours"]
    rules = plan["rules"]

    def cpu(*names: str) -> float:
        return sum(rules[n]["cpu_hours"] for n in names if n in rules)

    lines += [
        "",
        f"total: {t['images']:,} images, shards {_size(t['shard_bytes'])}, "
        f"features {_size(t['feature_bytes'])}",
        f"GPU-hours: generation {hours['generation']:,.1f}, captioning {hours['captioning']:,.1f}, "
        f"Particle Guidance {hours['particle_guidance']:,.1f} ({t['particle_images']:,} images), "
        f"features {hours['features']:,.1f}, seed classifier {hours['classifier']:,.1f}",
        f"CPU-hours: PNG encoding {_hours(cpu('generate', 'particle_guidance'))}, feature "
        f"extraction {_hours(cpu(*EXTRACTION_RULES))}, seed classifier's decoding "
        f"{_hours(cpu('train_classifier'))}, per-seed statistics "
        f"{_hours(cpu('perseed_block', 'table1'))}, style maps {_hours(cpu('style_map'))}; "
        f"total {_hours(t['cpu_hours'])} (costs measured on one core of a 2-core Xeon: "
        "benchmarks/bench_cpu_costs.py)",
        "features per extractor: "
        + ", ".join(
            _extractor_images(name, t["feature_images"][name], t["particle_feature_images"][name])
            + f" {h:,.1f} GPU-h"
            for name, h in hours["features_by_extractor"].items()
        ),
        f"OCR of inpaintings: {t['ocr_images']:,} images, about {t['ocr_cpu_hours']:,.0f} "
        "CPU-hours (onnxruntime on CPU)",
        f"PNG decoding for feature extraction: about {t['decode_cpu_hours']:,.0f} CPU-hours "
        f"({PNG_DECODE_CPU_SECONDS_512 * 1000:.1f} ms per 512-px image, measured)",
    ]
    return "\n".join(lines)


def _benchmark_regex(pattern: str) -> re.Pattern:
    """A benchmark path pattern as a regex over paths relative to the run folder."""
    parts = re.split(r"\{(\w+)\}", pattern)
    regex = "".join(
        re.escape(part) if i % 2 == 0 else f"(?P<{part}>[^/]+)" for i, part in enumerate(parts)
    )
    return re.compile(regex + r"\Z")


def _literal_length(pattern: str) -> int:
    return len(re.sub(r"\{\w+\}", "", pattern))


def read_benchmark(path: str | Path) -> dict[str, float]:
    """Wall seconds ``s`` and CPU seconds ``cpu_time`` of one Snakemake benchmark file (the mean
    over its rows, one per ``repeat``); a missing or unreadable value is NaN."""
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    out = {}
    for key in ("s", "cpu_time"):
        values = []
        for row in rows:
            try:
                values.append(float(row.get(key) or "nan"))
            except ValueError:  # Snakemake writes "-" where it could not measure
                values.append(math.nan)
        out[key] = sum(values) / len(values) if values else math.nan
    return out


def run_benchmarks(run: str | Path) -> tuple[dict[str, list[dict]], list[str]]:
    """Every benchmark file of a run folder (``results/<run>``) by rule, and the files under
    its ``benchmarks/`` that no rule's ``BENCHMARKS`` pattern matches. A file that two patterns
    match goes to the one with more fixed text."""
    run = Path(run)
    ordered = sorted(BENCHMARKS.items(), key=lambda item: -_literal_length(item[1]))
    regexes = [(rule, _benchmark_regex(pattern)) for rule, pattern in ordered]
    found: dict[str, list[dict]] = {rule: [] for rule in BENCHMARKS}
    unmatched = []
    # the run's own, and the downloads' beside it (where other files are none of our business)
    for folder, prefix in (
        (run / "benchmarks", "benchmarks"),
        (run.parent / "benchmarks", "../benchmarks"),
    ):
        for file in sorted(folder.rglob("*.tsv")) if folder.is_dir() else []:
            relative = f"{prefix}/{file.relative_to(folder).as_posix()}"
            rule = next((r for r, regex in regexes if regex.match(relative)), None)
            if rule is not None:
                found[rule].append({"path": relative, **read_benchmark(file)})
            elif prefix == "benchmarks":
                unmatched.append(relative)
    return found, unmatched


def compare_with_run(plan: dict[str, Any], run: str | Path) -> dict[str, Any]:
    """Per rule of the plan: jobs planned and benchmark files found, their measured wall and CPU
    hours, the planned GPU and CPU hours, and the ratios measured wall / planned GPU and
    measured CPU / planned CPU where both exist (None where not)."""
    found, unmatched = run_benchmarks(run)
    rules = {}
    for rule, jobs in plan["jobs"].items():
        if rule in COLLECTING_RULES:
            continue
        files = found.get(rule, [])
        planned = plan["rules"][rule]
        wall = sum(f["s"] for f in files if not math.isnan(f["s"])) / 3600
        cpu = sum(f["cpu_time"] for f in files if not math.isnan(f["cpu_time"])) / 3600
        measured = bool(files)
        rules[rule] = {
            "jobs": jobs,
            "found": len(files),
            "wall_hours": wall if measured else None,
            "cpu_hours": cpu if measured else None,
            "planned_gpu_hours": (
                planned["gpu_hours"]
                if planned["gpu_modelled"] and (planned["uses_gpu"] or planned["gpu_hours"])
                else None
            ),
            "planned_cpu_hours": planned["cpu_hours"] if planned["cpu_modelled"] else None,
        }
        r = rules[rule]
        r["wall_per_gpu"] = _ratio(r["wall_hours"], r["planned_gpu_hours"])
        r["cpu_per_cpu"] = _ratio(r["cpu_hours"], r["planned_cpu_hours"])
    return {
        "run": str(run),
        "rules": rules,
        "missing": [rule for rule, r in rules.items() if not r["found"]],
        "unmatched": unmatched,
        "tiny": plan["tiny"],
    }


def _ratio(measured: float | None, planned: float | None) -> float | None:
    if measured is None or not planned:
        return None
    return measured / planned


def format_comparison(comparison: dict[str, Any]) -> str:
    """The plan against a run, one line per rule."""
    rules = comparison["rules"]
    width = max(map(len, rules), default=4)

    def cell(value: float | None, ratio: bool = False) -> str:
        if value is None:
            return "-"
        if not ratio:
            return _hours(value)
        return f"{value:,.0f}x" if value >= 100 else f"{value:.3g}x"

    header = ("jobs", "found", "wall-h", "CPU-h", "plan GPU-h", "plan CPU-h", "wall/GPU", "CPU/CPU")
    lines = [
        f"planned against measured, from the benchmark files of {comparison['run']} "
        "(- where the plan has no cost model or nothing was measured):",
        f"  {'rule':<{width}} " + " ".join(f"{h:>10}" for h in header),
    ]
    for rule, r in rules.items():
        if not r["found"]:
            lines.append(f"  {rule:<{width}} {r['jobs']:>10,} {'missing':>10}")
            continue
        values = [
            f"{r['jobs']:,}",
            f"{r['found']:,}",
            cell(r["wall_hours"]),
            cell(r["cpu_hours"]),
            cell(r["planned_gpu_hours"]),
            cell(r["planned_cpu_hours"]),
            cell(r["wall_per_gpu"], True),
            cell(r["cpu_per_cpu"], True),
        ]
        lines.append(f"  {rule:<{width}} " + " ".join(f"{v:>10}" for v in values))
    done = [r for r in rules.values() if r["found"]]
    total = [
        f"{sum(r['jobs'] for r in rules.values()):,}",
        f"{sum(r['found'] for r in rules.values()):,}",
        _hours(sum(r["wall_hours"] for r in done)),
        _hours(sum(r["cpu_hours"] for r in done)),
    ]
    lines.append(f"  {'total':<{width}} " + " ".join(f"{v:>10}" for v in total))
    if comparison["missing"]:
        lines.append(
            f"no benchmark files for {len(comparison['missing'])} rules: "
            + ", ".join(comparison["missing"])
            + " (not run yet, or run before the rule declared a benchmark)"
        )
    short = [r for r, v in rules.items() if 0 < v["found"] < v["jobs"]]
    if short:
        lines.append("fewer benchmark files than planned jobs: " + ", ".join(short))
    if comparison["unmatched"]:
        extra = comparison["unmatched"]
        lines.append(f"{len(extra)} benchmark files match no rule, e.g. {', '.join(extra[:3])}")
    if comparison["tiny"]:
        lines.append(
            f"{comparison['tiny']}: the ratios say how far this run is from the full-size "
            "estimate, not how good the estimate is"
        )
    return "\n".join(lines)


def load_calibration(path: str | Path | None) -> dict:
    """A calibration file from the benchmark, or nothing."""
    return json.loads(Path(path).read_text()) if path else {}
