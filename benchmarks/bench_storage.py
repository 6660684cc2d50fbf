"""Bytes and CPU time per image of lossless formats, on real photographs at 512 x 512.

Shards store each image as PNG (``seedscope.shards.encode_png``: PNG's Up filter on every row,
then zlib at ``generation.png_compress_level``, default 6). This measures, on scikit-image's
bundled photographs (``skimage.data``: astronaut, coffee, chelsea, rocket,
immunohistochemistry; centre-cropped to a square and resized to 512 x 512 with Lanczos, like
a generated image), the bytes per image and the encode and decode CPU time per image of that
encoder at zlib levels 1, 6 and 9, of Pillow's own PNG encoder (adaptive filters) for
reference, and of lossless WebP (Pillow, ``lossless=True``) at several ``method`` /
``quality`` settings (in lossless mode ``quality`` is the effort). Every decoded image is
checked to equal the original pixels. CPU time is ``time.process_time`` (all threads of this
process), the best of ``--repeats`` rounds per image, summed over images and divided by
their number. It prints a Markdown table with the paper run's shard bytes in each format:
the images that ``seedscope plan`` counts for ``config.yaml``, each at the measured bytes per
pixel at its model's resolution plus the plan's tar and metadata bytes per image.

    pip install scikit-image   # the dev extra has it
    python benchmarks/bench_storage.py [--repeats 3] [--json storage.json]
"""

from __future__ import annotations

import argparse
import io
import json
import platform
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image, features

from seedscope.plan import TAR_AND_JSON_BYTES, make_plan
from seedscope.shards import encode_png
from seedscope.validate import load_config

REPO = Path(__file__).resolve().parents[1]
PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "immunohistochemistry")
SIZE = 512


def photographs() -> dict[str, np.ndarray]:
    """The bundled photographs, centre-cropped square and resized to SIZE x SIZE RGB."""
    from skimage import data

    out = {}
    for name in PHOTOS:
        pixels = getattr(data, name)()[..., :3]
        h, w = pixels.shape[:2]
        side = min(h, w)
        top, left = (h - side) // 2, (w - side) // 2
        square = Image.fromarray(pixels[top : top + side, left : left + side])
        out[name] = np.asarray(square.resize((SIZE, SIZE), Image.Resampling.LANCZOS))
    return out


def _pillow(pixels: np.ndarray, **options) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, **options)
    return buffer.getvalue()


def _decode(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image.convert("RGB"))


# name -> (settings, encoder); PNG-6 is the shards' format today
FORMATS: dict[str, tuple[str, Callable[[np.ndarray], bytes]]] = {
    "PNG-1": ("seedscope encode_png, zlib 1", lambda px: encode_png(px, 1)),
    "PNG-6": ("seedscope encode_png, zlib 6 (default)", lambda px: encode_png(px, 6)),
    "PNG-9": ("seedscope encode_png, zlib 9", lambda px: encode_png(px, 9)),
    "PNG-6 Pillow": (
        "Pillow PNG, compress_level 6",
        lambda px: _pillow(px, format="PNG", compress_level=6),
    ),
}
for method, quality in ((0, 0), (2, 50), (4, 80), (6, 100)):
    FORMATS[f"WebP m{method} q{quality}"] = (
        f"lossless WebP, method {method}, quality {quality}",
        lambda px, m=method, q=quality: _pillow(
            px, format="WEBP", lossless=True, method=m, quality=q, exact=True
        ),
    )


def _best(function: Callable[[], object], repeats: int) -> tuple[float, object]:
    """The least CPU time of ``repeats`` calls, and the last result."""
    best, result = float("inf"), None
    for _ in range(repeats):
        start = time.process_time()
        result = function()
        best = min(best, time.process_time() - start)
    return best, result


def measure(images: dict[str, np.ndarray], repeats: int) -> dict[str, dict]:
    """Per format: bytes per image (mean and per photograph), encode and decode CPU seconds
    per image; raises if a decoded image differs from its original."""
    results = {}
    for name, (settings, encode) in FORMATS.items():
        sizes, encode_s, decode_s = {}, 0.0, 0.0
        for photo, pixels in images.items():
            seconds, data = _best(lambda pixels=pixels, encode=encode: encode(pixels), repeats)
            encode_s += seconds
            seconds, decoded = _best(lambda data=data: _decode(data), repeats)
            decode_s += seconds
            if not np.array_equal(decoded, pixels):
                raise AssertionError(f"{name} is not lossless on {photo}")
            sizes[photo] = len(data)
        results[name] = {
            "settings": settings,
            "bytes": sum(sizes.values()) / len(sizes),
            "bytes_by_photo": sizes,
            "encode_ms": 1000 * encode_s / len(images),
            "decode_ms": 1000 * decode_s / len(images),
        }
    return results


def paper_bytes(results: dict[str, dict], config_path: Path) -> dict[str, float]:
    """The paper run's shard bytes in each format: the plan's images per model, each at the
    measured bytes per pixel at the model's resolution, plus the tar and metadata bytes."""
    config = load_config(config_path, check_libraries=False)
    plan = make_plan(config)
    out = {}
    for name, r in results.items():
        per_pixel = r["bytes"] / SIZE**2
        out[name] = sum(
            m["images"]
            * (per_pixel * config["models"][model]["resolution"] ** 2 + TAR_AND_JSON_BYTES)
            for model, m in plan["models"].items()
        )
    return out | {"_images": plan["totals"]["images"]}


def table(results: dict[str, dict], totals: dict[str, float]) -> str:
    """The Markdown table of ``results`` against PNG-6."""
    base = results["PNG-6"]
    rows = [
        "| format | settings | bytes/image | vs PNG-6 (per photo) | bits/pixel | encode ms "
        "| decode ms | decode vs PNG-6 | paper run shards |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, r in results.items():
        each = [r["bytes_by_photo"][p] / base["bytes_by_photo"][p] - 1 for p in r["bytes_by_photo"]]
        rows.append(
            f"| {name} | {r['settings']} | {r['bytes'] / 1e3:,.0f} KB "
            f"| {r['bytes'] / base['bytes'] - 1:+.1%} ({min(each):+.0%} to {max(each):+.0%}) "
            f"| {8 * r['bytes'] / SIZE**2:.1f} "
            f"| {r['encode_ms']:.1f} | {r['decode_ms']:.1f} "
            f"| {r['decode_ms'] / base['decode_ms']:.2f}x | {totals[name] / 1e12:.2f} TB |"
        )
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--config", type=Path, default=REPO / "config.yaml")
    parser.add_argument("--json", type=Path, help="also write every number here")
    args = parser.parse_args()
    if not features.check("webp"):
        raise SystemExit("this Pillow has no WebP support; install a Pillow wheel with libwebp")
    images = photographs()
    results = measure(images, args.repeats)
    totals = paper_bytes(results, args.config)
    print(
        f"{len(images)} photographs at {SIZE} x {SIZE} ({', '.join(images)}); "
        f"{platform.processor() or platform.machine()}, Pillow {Image.__version__}, "
        f"libwebp {features.version('webp')}, zlib {features.version('zlib')}; "
        f"best of {args.repeats}; paper run: {totals['_images']:,} images\n"
    )
    print(table(results, totals))
    if args.json:
        args.json.write_text(json.dumps({"results": results, "paper_bytes": totals}, indent=1))


if __name__ == "__main__":
    main()
