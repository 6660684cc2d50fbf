"""Offline, missing pretrained weights fail fast: time to the error vs building the bare network.

Two loaders fetch weights at first use: the seed classifier's ``pretrained=True`` (timm, from
the Hugging Face hub) and the style extractor's ``weights: torchvision`` (VGG-19, into the torch
hub cache). Offline, each must raise its clear error at once rather than retry for a minute.
This runs each with empty caches and no network (``HF_HUB_OFFLINE=1``, as the classifier's
docstring advises for machines without network, and an HTTPS proxy that refuses at once), and
times the failure against building the same network without weights, which every load does
anyway. The best of ``--repeats`` rounds counts. The target: a failure costs at most
``--target`` times the bare build; the exit status is 1 if either misses it, or does not raise
the error the tests expect (``tests/test_classifier.py``, ``tests/test_style_extractor.py``).

    python benchmarks/bench_offline_failures.py          # seconds
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable


def offline(cache: str) -> None:
    """No network and empty caches for this process: set before the hubs are imported."""
    os.environ.update(
        HF_HUB_OFFLINE="1",
        HF_HOME=os.path.join(cache, "hf"),
        TORCH_HOME=os.path.join(cache, "torch"),
        https_proxy="http://127.0.0.1:9",
        HTTPS_PROXY="http://127.0.0.1:9",
    )
    for name in ("no_proxy", "NO_PROXY", "all_proxy", "ALL_PROXY"):
        os.environ.pop(name, None)


def cases() -> dict[str, tuple[Callable[[], object], Callable[[], object], type]]:
    """Per loader: the failing load, the bare build it is measured against, the error expected."""
    from torchvision.models.vgg import cfgs, make_layers

    from seedscope.classifier import build_classifier
    from seedscope.errors import FeatureError, ModelNotFoundError
    from seedscope.style.extractor import load_style
    from seedscope.validate import load_config

    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    style = load_config(os.path.join(repo, "config.yaml"))["features"]["style"]  # torchvision

    return {
        "classifier pretrained=True (timm resnet10t)": (
            lambda: build_classifier("resnet10t", 8, pretrained=True),
            lambda: build_classifier("resnet10t", 8),
            ModelNotFoundError,
        ),
        "style weights: torchvision (VGG-19)": (
            lambda: load_style(style),
            lambda: make_layers(cfgs["E"]),
            FeatureError,
        ),
    }


def seconds_to_fail(load: Callable[[], object], error: type) -> float | None:
    """Seconds until ``load`` raises ``error``; None if it raises nothing."""
    start = time.perf_counter()
    try:
        load()
    except error:
        return time.perf_counter() - start
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="rounds; best counts")
    parser.add_argument("--target", type=float, default=3.0, help="most failure / bare build")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", help="write the results here too")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="seedscope-offline-") as cache:
        offline(cache)
        results = run(args.repeats, args.target, args.threads)
    summary = {"target": args.target, "threads": args.threads, "cases": results}
    print(json.dumps(summary, indent=1))
    if args.json:
        with open(args.json, "w") as out:
            json.dump(summary, out, indent=1)
    sys.exit(0 if all(r["target_met"] for r in results.values()) else 1)


def run(repeats: int, target: float, threads: int) -> dict[str, dict]:
    """Every case's failure and bare-build times, ratio and verdict (printed as it goes)."""
    import torch

    torch.set_num_threads(threads)
    results = {}
    for name, (load, build, error) in cases().items():
        failures, builds = [], []
        for _ in range(repeats):
            failures.append(seconds_to_fail(load, error))
            start = time.perf_counter()
            build()
            builds.append(time.perf_counter() - start)
        raised = all(s is not None for s in failures)
        ratio = min(failures) / min(builds) if raised else None
        results[name] = {
            "failure_s": failures,
            "bare_build_s": builds,
            "ratio": ratio,
            "target_met": raised and ratio <= target,
        }
        verdict = "met" if results[name]["target_met"] else "MISSED"
        shown = f"{ratio:.2f}x" if raised else f"no {error.__name__} raised"
        print(
            f"{name}: fails in {min(f or 0 for f in failures):.3f} s, bare build "
            f"{min(builds):.3f} s: {shown} (target at most {target:g}x): {verdict}"
        )
    return results


if __name__ == "__main__":
    main()
