"""CPU seconds per image and per job of the work ``seedscope plan`` prices in CPU-hours.

Per image, on scikit-image's bundled photographs (those of ``bench_storage.py``) at 512 and at
64 px (the demo's size), with the project's own functions:

- ``png_encode``: ``seedscope.shards.encode_png`` at zlib level 6
  (``generation.png_compress_level``), what a generation job pays per image on its encoder
  threads;
- ``png_decode``: ``seedscope.features.extract.decode_png``, what every extraction job pays
  per image it reads (the plan's ``PNG_DECODE_CPU_SECONDS_512`` comes from ``bench_storage.py``;
  this is the cross-check);
- each extractor's CPU preprocessing of one decoded image: ``inception`` clean-fid's resize to
  299 px (``CleanFIDExtractor.preprocess``), ``hps`` ``seedscope.features.hps.preprocess`` to
  224 px, ``clip`` the CLIPProcessor's PIL backend to 224 px as ``ClipScorer.pixels`` calls it
  (PickScore, CLIPScore, aesthetic), ``imagereward`` ``seedscope.features.imagereward.preprocess``
  to 224 px, ``style`` ``seedscope.style.measures.measure_batch`` (the style measures; the
  Gram network runs on the device), ``layout`` the Mask2Former (384 px square) and Depth
  Anything (518 px, multiple of 14) image processors as the layout extractor calls them (their
  post-processing, which needs the networks' outputs, is not measured), ``dino`` the host's
  share (stacking the batch; normalisation runs on the device). OCR is not measured here: the
  plan's ``OCR_CPU_SECONDS`` is its whole CPU cost, preprocessing included.

Each per-image cost is fitted as ``a + b * pixels`` through its 64 and 512 px measurements.

Per job, at reduced sizes, scaled by the known complexity:

- ``perseed_block``: one FID replicate (``seedscope.quality.frechet.frechet_to_reference``,
  2,048-d Gaussian features, n >= d, the batched path the paper's 10,000 prompts take) costs a
  weighted scatter ``2 n d^2``, two ``d x d`` products and one ``d x d`` eigendecomposition: at
  fixed d = 2,048 it is ``c + a n``, fitted (non-negative least squares) at three ``n`` from 2,560
  to 4,608. A seed's KID (``kid_to_reference``, point estimate and R replicates) costs
  ``k1 n (n + n_ref) + k2 R n^2`` (the two kernel matrices and the replicates' products with
  them), fitted at n = n_ref = 1,024 and 2,048 with R = 0 and 200. The reference statistics
  (``reference_stats``, once per job) cost ``r0 + r1 n_ref + r2 n_ref^2``, fitted at three sizes.
  A block of S seeds at n prompts, R = 2 x resamples replicates, then costs
  ``ref(n_ref) + S ((1 + R)(c + a n) + kid(n, n_ref, R))``.
- ``style_map``: one t-SNE map (``seedscope.style.maps.embed``: PCA to 50, t-SNE perplexity 30,
  1,000 iterations, one OpenMP thread) of N points: Barnes-Hut gradients, ``N log N`` per
  iteration; ``t0 + t1 N log2 N`` is fitted at N = 128 to 1,024 (the paper's seeds) on random
  1,024-d Gram vectors. A style map of N seeds
  and P prompts runs P + 1 of them (P per-prompt maps, then the map of maps).

Unless ``--quick``, each fit is checked against a direct measurement outside the fitted range
(FID at n = 6,144, t-SNE at N = 2,048) and the ratio printed. CPU time is ``time.process_time``
(all threads of this process), best of ``--repeats``; ``--threads`` (default 1) caps torch's and
BLAS's threads, so the numbers are CPU seconds of one core's work.

    python benchmarks/bench_cpu_costs.py [--repeats 3] [--quick] [--json cpu_costs.json]
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import time
from collections.abc import Callable, Sequence

import numpy as np
import torch
from PIL import Image
from scipy.optimize import nnls
from threadpoolctl import threadpool_limits

SIZES = (64, 512)
D = 2048


def cpu_seconds(fn: Callable[[], object], repeats: int) -> float:
    """Best of ``repeats`` CPU times of ``fn()`` (``time.process_time``)."""
    best = math.inf
    for _ in range(repeats):
        start = time.process_time()
        fn()
        best = min(best, time.process_time() - start)
    return best


def images_at(size: int, copies: int) -> list[np.ndarray]:
    """The photographs of ``bench_storage.py`` at ``size`` px, repeated to ``copies`` images."""
    from bench_storage import photographs

    base = [
        np.array(Image.fromarray(p).resize((size, size), Image.Resampling.LANCZOS))
        for p in photographs().values()
    ]
    return [base[i % len(base)] for i in range(copies)]


def per_image_ways() -> dict[str, Callable[[list[np.ndarray]], object]]:
    """Each per-image cost as a function of a batch of images (called once per batch)."""
    from open_clip.constants import OPENAI_DATASET_MEAN, OPENAI_DATASET_STD
    from transformers import DPTImageProcessor, Mask2FormerImageProcessor
    from transformers.models.clip import CLIPImageProcessorPil

    from seedscope.features import hps, imagereward
    from seedscope.features.extract import decode_png
    from seedscope.features.inception import CleanFIDExtractor
    from seedscope.shards import encode_png
    from seedscope.style.measures import measure_batch

    inception = CleanFIDExtractor(None, {"dim": D}, "cpu", batch_size=1, workers=1)
    clip = CLIPImageProcessorPil()  # OpenAI CLIP's: shortest edge 224, crop 224, bicubic
    imagenet = {"image_mean": [0.485, 0.456, 0.406], "image_std": [0.229, 0.224, 0.225]}
    segmenter = Mask2FormerImageProcessor(
        size={"height": 384, "width": 384}, size_divisor=32, ignore_index=255, **imagenet
    )
    depth = DPTImageProcessor(
        size={"height": 518, "width": 518},
        keep_aspect_ratio=True,
        ensure_multiple_of=14,
        resample=3,
        **imagenet,
    )
    encoded: dict[int, list[bytes]] = {}

    def decode(images):
        key = id(images)
        if key not in encoded:  # encoded once, outside the timed calls
            encoded[key] = [encode_png(image, 6) for image in images]
        return [decode_png(data) for data in encoded[key]]

    return {
        "png_encode": lambda images: [encode_png(image, 6) for image in images],
        "png_decode": decode,
        "inception": lambda images: [inception.preprocess(image) for image in images],
        "hps": lambda images: [
            hps.preprocess(image, 224, OPENAI_DATASET_MEAN, OPENAI_DATASET_STD) for image in images
        ],
        "clip": lambda images: clip(
            images=[Image.fromarray(image) for image in images], return_tensors="pt"
        ),
        "imagereward": lambda images: [imagereward.preprocess(image, 224) for image in images],
        "style": lambda images: measure_batch(np.stack(images)),
        "layout": lambda images: (
            segmenter(images=list(images), size={"height": 384, "width": 384}, return_tensors="pt"),
            depth(images=list(images), return_tensors="pt"),
        ),
        "dino": lambda images: torch.from_numpy(np.stack(images)),
    }


def fit(terms: Sequence[Sequence[float]], seconds: Sequence[float]) -> list[float]:
    """Non-negative coefficients of ``terms`` (one row per measurement) for ``seconds``."""
    return [float(c) for c in nnls(np.asarray(terms, float), np.asarray(seconds, float))[0]]


def per_image(repeats: int, batch: int) -> dict[str, dict[str, float]]:
    """CPU seconds per image at each of SIZES, and the fit ``a + b * pixels``."""
    ways = per_image_ways()
    batches = {size: images_at(size, batch) for size in SIZES}
    out = {}
    for name, way in ways.items():
        for size in SIZES:  # warm-up: imports, caches, the decoder's PNGs
            way(batches[size])
        seconds = {
            size: cpu_seconds(lambda w=way, b=batches[size]: w(b), repeats) / batch
            for size in SIZES
        }
        a, b = fit([[1.0, size * size] for size in SIZES], [seconds[s] for s in SIZES])
        out[name] = {**{f"s_{s}": seconds[s] for s in SIZES}, "a": a, "b_per_pixel": b}
        print(f"  {name:<12} " + "  ".join(f"{s} px {seconds[s] * 1e3:8.3f} ms" for s in SIZES))
    return out


def gaussian(n: int, seed: int) -> np.ndarray:
    """``n`` 2,048-d Gaussian feature rows with a non-trivial covariance."""
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, D)) * np.linspace(0.2, 2.0, D) + rng.standard_normal(D)


def fid_costs(repeats: int, check: bool) -> dict[str, object]:
    """The fitted FID replicate, seed KID and reference-statistics costs (module docstring)."""
    from seedscope.quality.frechet import (
        frechet_to_reference,
        kid_to_reference,
        reference_stats,
    )

    reference = reference_stats(gaussian(2048, 0), device="cpu")
    replicates, rows, times = 3, [], []
    for n in (2560, 3584, 4608):
        x, w = gaussian(n, 1), np.ones((replicates, n))
        t = cpu_seconds(lambda x=x, w=w: frechet_to_reference(x, reference, w), repeats)
        rows.append([1.0, n])
        times.append(t / replicates)
        print(f"  FID replicate at n = {n}: {t / replicates:.3f} s")
    c, a = fit(rows, times)
    kid_rows, kid_times = [], []
    for n in (1024, 2048):
        ref = reference_stats(gaussian(n, 2), device="cpu")
        x = gaussian(n, 3)
        for r in (0, 200):
            w = np.random.default_rng(4).uniform(0, 2, (max(r, 1), n))

            def seed_kid(x=x, ref=ref, w=w, r=r):
                kid_to_reference(x, ref)
                if r:
                    kid_to_reference(x, ref, w)

            kid_times.append(cpu_seconds(seed_kid, repeats))
            kid_rows.append([n * (n + n), r * n * n])
            print(f"  KID of a seed at n = n_ref = {n}, R = {r}: {kid_times[-1]:.3f} s")
    k1, k2 = fit(kid_rows, kid_times)
    ref_rows, ref_times = [], []
    for n in (2048, 3072, 4096):
        features = gaussian(n, 5)
        ref_times.append(cpu_seconds(lambda f=features: reference_stats(f, device="cpu"), repeats))
        ref_rows.append([1.0, n, n * n])
        print(f"  reference statistics at n_ref = {n}: {ref_times[-1]:.3f} s")
    r0, r1, r2 = fit(ref_rows, ref_times)
    out: dict[str, object] = {
        "fid_replicate": {"c": c, "a_per_image": a},
        "kid_seed": {"k1": k1, "k2": k2},
        "reference": {"r0": r0, "r1": r1, "r2": r2},
    }
    if check:
        n = 6144
        x, w = gaussian(n, 6), np.ones((2, n))
        measured = cpu_seconds(lambda: frechet_to_reference(x, reference, w), 1) / 2
        predicted = c + a * n
        out["fid_check"] = {"n": n, "measured": measured, "predicted": predicted}
        print(f"  check: FID replicate at n = {n}: {measured:.3f} s, fit {predicted:.3f} s")
    return out


def tsne_costs(repeats: int, check: bool) -> dict[str, object]:
    """The fitted cost of one t-SNE map of N points (module docstring)."""
    from seedscope.style.maps import embed

    rows, times = [], []
    for n in (128, 256, 512, 1024):
        points = np.random.default_rng(n).standard_normal((n, 1024))
        times.append(cpu_seconds(lambda p=points: embed(p, threads=1), repeats))
        rows.append([1.0, n * math.log2(n)])
        print(f"  t-SNE map of N = {n}: {times[-1]:.2f} s")
    t0, t1 = fit(rows, times)
    out: dict[str, object] = {"tsne": {"t0": t0, "t1_per_nlogn": t1}}
    if check:
        n = 2048
        points = np.random.default_rng(n).standard_normal((n, 1024))
        measured = cpu_seconds(lambda: embed(points, threads=1), 1)
        predicted = t0 + t1 * n * math.log2(n)
        out["tsne_check"] = {"n": n, "measured": measured, "predicted": predicted}
        print(f"  check: t-SNE map of N = {n}: {measured:.2f} s, fit {predicted:.2f} s")
    return out


def table(result: dict) -> str:
    """The per-image and per-job costs as a Markdown table."""
    lines = [
        "| cost | 64 px (ms) | 512 px (ms) | fit |",
        "| --- | ---: | ---: | --- |",
    ]
    for name, r in result["per_image"].items():
        lines.append(
            f"| {name} | {r['s_64'] * 1e3:.3f} | {r['s_512'] * 1e3:.3f} | "
            f"{r['a'] * 1e3:.4f} ms + {r['b_per_pixel'] * 1e9:.2f} ns/pixel |"
        )
    f = result["fid"]
    fid, kid, ref = f["fid_replicate"], f["kid_seed"], f["reference"]
    tsne = result["tsne"]["tsne"]
    lines += [
        "",
        "| per-job primitive | fit (CPU seconds) |",
        "| --- | --- |",
        f"| FID replicate, d = 2,048 | {fid['c']:.3f} + {fid['a_per_image'] * 1e6:.1f}e-6 n |",
        f"| KID of one seed | {kid['k1'] * 1e9:.3f}e-9 n (n + n_ref) + "
        f"{kid['k2'] * 1e12:.3f}e-12 R n^2 |",
        f"| reference statistics | {ref['r0']:.3f} + {ref['r1'] * 1e6:.1f}e-6 n_ref + "
        f"{ref['r2'] * 1e9:.3f}e-9 n_ref^2 |",
        f"| t-SNE map of N points | {tsne['t0']:.3f} + {tsne['t1_per_nlogn'] * 1e6:.2f}e-6 "
        "N log2 N |",
    ]
    for key, what in (("fid_check", "FID replicate"), ("tsne_check", "t-SNE map")):
        check = result["fid" if key == "fid_check" else "tsne"].get(key)
        if check:
            lines.append(
                f"| check: {what} at {check['n']:,} | measured {check['measured']:.2f} s, "
                f"fit {check['predicted']:.2f} s ({check['measured'] / check['predicted']:.2f}x) |"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch", type=int, default=16, help="images per timed call")
    parser.add_argument("--threads", type=int, default=1, help="torch and BLAS threads")
    parser.add_argument("--quick", action="store_true", help="skip the checks of the fits")
    parser.add_argument("--only", nargs="+", choices=["images", "fid", "tsne"])
    parser.add_argument("--json", help="write the measurements here")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    only = set(args.only or ["images", "fid", "tsne"])
    result: dict[str, object] = {
        "machine": f"{platform.processor() or platform.machine()}, {platform.platform()}",
        "threads": args.threads,
        "torch": torch.__version__,
    }
    with threadpool_limits(args.threads):
        if "images" in only:
            print("per image (CPU seconds per image):")
            result["per_image"] = per_image(args.repeats, args.batch)
        if "fid" in only:
            print("perseed_block primitives:")
            result["fid"] = fid_costs(args.repeats, not args.quick)
        if "tsne" in only:
            print("style map:")
            result["tsne"] = tsne_costs(args.repeats, not args.quick)
    if {"images", "fid", "tsne"} <= only:
        print()
        print(table(result))
    if args.json:
        with open(args.json, "w") as out:
            json.dump(result, out, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
