"""Per-seed FID: seedscope's feature-table statistics vs clean-fid run per seed folder.

Two measurements in one run, each as a ratio:

  folders   end to end on real PNG folders (one per seed) and a tiny Inception-shaped extractor
            built from config: clean-fid's ``compute_fid(seed_folder, reference_folder,
            custom_feat_extractor=...)`` once per seed, vs seedscope extracting every image once
            (``extract`` API, clean-fid's resize) and computing every seed's FID from the table.
            The FIDs must agree to 1e-6 relative.
  stats     the statistics alone at the paper's dimension (2,048-d Inception features): per seed
            ``np.cov`` + ``cleanfid.fid.frechet_distance`` (scipy sqrtm) vs
            ``seedscope.quality.frechet`` (shared reference square root, one symmetric
            eigendecomposition per seed, float64, GPU where there is one).

    python benchmarks/bench_fid.py                       # defaults: 8 seeds
    python benchmarks/bench_fid.py --seeds 16 --prompts 2048 --out results/benchmarks/fid

Writes ``<out>/fid.json`` and ``fid.md``.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import yaml
from cleanfid import fid as cleanfid
from PIL import Image

from seedscope.extractors import load_extractor
from seedscope.quality.frechet import frechet_to_reference, reference_stats
from seedscope.tiny.extractors import build_tiny_extractor
from seedscope.validate import validate_config

REPO = Path(__file__).resolve().parent.parent


def _images(rng: np.random.Generator, n: int, size: int, tint: float) -> list[np.ndarray]:
    """Smooth random RGB images (content does not matter for speed)."""
    small = rng.random((n, 8, 8, 3)) * (1 - tint) + tint * np.array([1.0, 0.6, 0.2])
    return [
        np.asarray(Image.fromarray((im * 255).astype(np.uint8)).resize((size, size)))
        for im in small
    ]


def _write_folder(folder: Path, images: list[np.ndarray]) -> None:
    folder.mkdir(parents=True)
    for i, image in enumerate(images):
        Image.fromarray(image).save(folder / f"{i:05d}.png")


def _versus(theirs: list, ours: list, clean_fid_seconds: float, seedscope_seconds: float) -> dict:
    """Both ways' seconds, the speed-up and the largest relative difference of the FIDs."""
    return {
        "clean_fid_s": clean_fid_seconds,
        "seedscope_s": seedscope_seconds,
        "speedup": clean_fid_seconds / seedscope_seconds,
        "max_relative_difference": max(
            abs(a - b) / abs(b) for a, b in zip(ours, theirs, strict=True)
        ),
    }


def inception_settings() -> dict:
    """The ``features.inception`` section the rules get: tiny weights, batches of 64, the
    schema's other defaults (the paper's config.yaml with its own section replaced)."""
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    config["features"]["inception"] = {"weights": "tiny", "batch_size": 64}
    return validate_config(config, check_libraries=False)["features"]["inception"]


def bench_folders(seeds: int, prompts: int, size: int, work: Path) -> dict:
    rng = np.random.default_rng(0)
    weights = build_tiny_extractor("inception", work / "tiny-inception")
    extractor = load_extractor("inception", inception_settings(), "cpu", weights)
    reference = _images(rng, prompts, size, 0.0)
    per_seed = [_images(rng, prompts, size, 0.1 * s / seeds) for s in range(seeds)]
    _write_folder(work / "reference", reference)
    for s, images in enumerate(per_seed):
        _write_folder(work / f"seed{s:04d}", images)

    start = time.perf_counter()
    theirs = [
        cleanfid.compute_fid(
            str(work / f"seed{s:04d}"),
            str(work / "reference"),
            mode="clean",
            custom_feat_extractor=extractor.model,
            batch_size=64,
            num_workers=0,
            device=torch.device("cpu"),
            verbose=False,
        )
        for s in range(seeds)
    ]
    clean_fid_seconds = time.perf_counter() - start

    start = time.perf_counter()
    ref = reference_stats(extractor(reference), "cpu")
    ours = [frechet_to_reference(extractor(images), ref)[0] for images in per_seed]
    seedscope_seconds = time.perf_counter() - start
    return {"seeds": seeds, "images_per_seed": prompts} | _versus(
        theirs, ours, clean_fid_seconds, seedscope_seconds
    )


def bench_stats(seeds: int, prompts: int, dim: int, device: str) -> dict:
    rng = np.random.default_rng(1)
    mix = rng.normal(size=(dim, dim)) / np.sqrt(dim)
    real = rng.normal(size=(prompts, dim)) @ mix
    fakes = [rng.normal(size=(prompts, dim)) @ mix * (1 + 0.01 * s) for s in range(seeds)]

    start = time.perf_counter()
    mu_r, sigma_r = real.mean(0), np.cov(real, rowvar=False)
    theirs = [
        cleanfid.frechet_distance(mu_r, sigma_r, f.mean(0), np.cov(f, rowvar=False)) for f in fakes
    ]
    clean_fid_seconds = time.perf_counter() - start

    start = time.perf_counter()
    ref = reference_stats(real, device)
    ours = [frechet_to_reference(f, ref)[0] for f in fakes]
    seedscope_seconds = time.perf_counter() - start
    return {
        "seeds": seeds,
        "images_per_seed": prompts,
        "dim": dim,
        "device": str(ref.mu.device),
    } | (
        _versus(theirs, ours, clean_fid_seconds, seedscope_seconds)
        | {"seedscope_s_per_seed": seedscope_seconds / seeds}
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=8)
    parser.add_argument("--prompts", type=int, default=200, help="images per seed (folders)")
    parser.add_argument("--size", type=int, default=64, help="image size of the folders part")
    parser.add_argument("--stats-prompts", type=int, default=2500)
    parser.add_argument("--dim", type=int, default=2048)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("results/benchmarks/fid"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as work:
        folders = bench_folders(args.seeds, args.prompts, args.size, Path(work))
    stats = bench_stats(args.seeds, args.stats_prompts, args.dim, args.device)
    result = {"threads": args.threads, "folders": folders, "stats": stats}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "fid.json").write_text(json.dumps(result, indent=2))
    rows = [
        "| measurement | seeds | images/seed | clean-fid s | seedscope s | speed-up "
        "| max rel. diff |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, r in (("folders (tiny Inception)", folders), (f"stats ({args.dim}-d)", stats)):
        rows.append(
            f"| {name} | {r['seeds']} | {r['images_per_seed']} | {r['clean_fid_s']:.2f} | "
            f"{r['seedscope_s']:.2f} | {r['speedup']:.1f}x | {r['max_relative_difference']:.1e} |"
        )
    (args.out / "fid.md").write_text("\n".join(rows) + "\n")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
