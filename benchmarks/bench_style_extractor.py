"""Style extractor throughput: its rows vs the bare network's forward pass, and batching's gain.

``seedscope.style.extractor.StyleExtractor`` turns images into rows of style measures and a
projected VGG Gram vector, ``features.style.batch_size`` images per network call. This runs, in
interleaved rounds on one set of images, three ways: the extractor at its batch size; the same
extractor at batch size 1 (one network call per image); and the network's forward pass alone
to the deepest Gram layer, batched (a floor: no measures, no Gram matrices, no projection).
The best round of each counts. Reported: milliseconds per image, the gain from batching
(one-at-a-time / batched) and the extractor's cost over the bare network (batched / network).
The rows of both extractor ways must agree (float32 round-off across batch sizes). The target:
the extractor costs at most ``--target`` times the bare network (the measures, Gram matrices and
projection add at most that much); the exit status is 1 if not, or if the rows differ.

By default VGG-19's convolutional part, as the paper run uses it, with random weights (no
download; speed does not depend on the values), target 1.5x. ``--tiny`` runs the demo's tiny
style network (``seedscope.tiny.style``) instead, target 5x: its convolutions are so small
that the measures, which read every pixel, take about half of its time.

    python benchmarks/bench_style_extractor.py                     # VGG-19, 128 px, ~30 s
    python benchmarks/bench_style_extractor.py --size 512 --images 16 --repeats 2
    python benchmarks/bench_style_extractor.py --tiny --size 64 --images 256
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import yaml

from seedscope.style.extractor import MEAN, STD, StyleExtractor, load_style, vgg_features
from seedscope.validate import validate_config

REPO = Path(__file__).resolve().parent.parent


def style_settings(**keys) -> dict:
    """The ``features.style`` section the rules get: ``keys`` over the schema's defaults (the
    paper's config.yaml with its own section replaced, validated)."""
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    config["features"]["style"] = keys
    return validate_config(config, check_libraries=False)["features"]["style"]


def extractors(tiny: bool, batch: int, work: Path) -> tuple[StyleExtractor, StyleExtractor]:
    """The extractor at ``batch`` images per call and at one, on the same network."""
    if not tiny:
        from torchvision.models.vgg import cfgs, make_layers

        torch.manual_seed(0)
        state = make_layers(cfgs["E"]).state_dict()
        meta = {"weights": "random"}

        def build(size: int) -> StyleExtractor:
            settings = style_settings(batch_size=size)
            features = vgg_features(cfgs["E"], state)
            return StyleExtractor(features, settings["layers"], settings, "cpu", meta)

        return build(batch), build(1)
    from seedscope.tiny.style import build_tiny_style

    weights = build_tiny_style(work / "tiny-style", seed=0)
    return (
        load_style(style_settings(weights="tiny", batch_size=batch), weights=weights),
        load_style(style_settings(weights="tiny", batch_size=1), weights=weights),
    )


def network_only(extractor: StyleExtractor, images: list[np.ndarray]) -> None:
    """The forward pass to the deepest Gram layer, ``batch_size`` images at a time."""
    mean, std = torch.tensor(MEAN).view(1, 3, 1, 1), torch.tensor(STD).view(1, 3, 1, 1)
    with torch.inference_mode():
        for start in range(0, len(images), extractor.batch_size):
            batch = np.stack(images[start : start + extractor.batch_size])
            x = torch.from_numpy(batch).permute(0, 3, 1, 2).float() / 255
            extractor.features((x - mean) / std)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=32)
    parser.add_argument("--size", type=int, default=128, help="image side in px")
    parser.add_argument("--batch", type=int, help="images per call (features.style's default)")
    parser.add_argument("--tiny", action="store_true", help="the tiny network instead of VGG-19")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved rounds; best counts")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--target", type=float, help="most extractor / network (1.5; tiny: 5)")
    parser.add_argument("--json", help="write the results here too")
    args = parser.parse_args()
    if args.target is None:
        args.target = 5.0 if args.tiny else 1.5
    if args.batch is None:
        args.batch = style_settings()["batch_size"]
    torch.set_num_threads(args.threads)

    rng = np.random.default_rng(0)
    images = list(rng.integers(0, 256, (args.images, args.size, args.size, 3), dtype=np.uint8))
    with tempfile.TemporaryDirectory() as work:
        batched, single = extractors(args.tiny, args.batch, Path(work))
    ways = {
        "batched": lambda: batched(images),
        "one_at_a_time": lambda: single(images),
        "network": lambda: network_only(batched, images),
    }
    rows = {name: ways[name]() for name in ("batched", "one_at_a_time")}  # also the warm-up
    ways["network"]()
    seconds: dict[str, list[float]] = {name: [] for name in ways}
    for _ in range(args.repeats):
        for name, way in ways.items():
            start = time.perf_counter()
            way()
            seconds[name].append(time.perf_counter() - start)

    best = {name: min(times) for name, times in seconds.items()}
    difference = float(np.abs(rows["batched"] - rows["one_at_a_time"]).max())
    result = {
        "network": "tiny" if args.tiny else "vgg19 (random weights)",
        "images": args.images,
        "size": args.size,
        "batch": args.batch,
        "threads": args.threads,
        "seconds": seconds,
        "ms_per_image": {name: 1000 * s / args.images for name, s in best.items()},
        "batching_gain": best["one_at_a_time"] / best["batched"],
        "over_network": best["batched"] / best["network"],
        "max_row_difference": difference,
        "target": args.target,
    }
    result["target_met"] = result["over_network"] <= args.target and difference < 1e-4
    print(json.dumps(result, indent=1))
    ms = result["ms_per_image"]
    print(
        f"{result['network']}, {args.size} px, {args.images} images: batched ({args.batch}) "
        f"{ms['batched']:.2f} ms/image, one at a time {ms['one_at_a_time']:.2f}, network alone "
        f"{ms['network']:.2f}; the extractor costs {result['over_network']:.2f}x the bare "
        f"network (target at most {args.target:g}x): "
        f"{'met' if result['target_met'] else 'MISSED'}; batching gains "
        f"{result['batching_gain']:.2f}x"
    )
    if args.json:
        with open(args.json, "w") as out:
            json.dump(result, out, indent=1)
    sys.exit(0 if result["target_met"] else 1)


if __name__ == "__main__":
    main()
