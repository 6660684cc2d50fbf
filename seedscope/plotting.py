"""What every figure shares: matplotlib's Agg backend, set here once (figure modules take
``plt`` from this module, so no figure ever reaches for a display); saving a figure as PDF and
PNG; and reading the example images a figure shows from shards, each checked against its
sha256 in the manifest."""

from __future__ import annotations

import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from seedscope.errors import ShardError  # noqa: E402
from seedscope.files import sha256_hex  # noqa: E402
from seedscope.shards import ShardReader, block_seeds, image_key  # noqa: E402

__all__ = ["drawn_images", "plt", "read_checked_images", "save_figure", "shard_of_seed"]


def shard_of_seed(shards: list[str], seed: int) -> str:
    """The shard whose seed block, from its name ``seeds-<first>-<last>.tar``, holds ``seed``."""
    for shard in shards:
        block = block_seeds(shard)
        if block and block[0] <= seed <= block[1]:
            return shard
    raise ValueError(
        f"seed {seed} is in none of the {len(shards)} shards given (their names must be "
        "seeds-<first>-<last>.tar); pass the shards of every seed of the per-seed table"
    )


def read_checked_images(shard: str, keys: list[str]) -> dict[str, np.ndarray]:
    """The images ``keys`` of one shard, each checked against its sha256 in the manifest.

    A function of its own, so that the shard's parsed manifest is freed on return, before the
    next shard's is read.
    """
    images = {}
    with ShardReader(shard) as reader:
        for key in keys:
            png = reader.png(key)
            if sha256_hex(png) != reader.entry(key).png_sha256:
                raise ShardError(
                    f"image {key} in shard {shard} does not match its sha256 in the manifest "
                    "(corrupted on disk?); delete the shard and its manifest and rerun the "
                    "workflow: Snakemake renders that shard again"
                )
            with Image.open(io.BytesIO(png)) as image:
                images[key] = np.asarray(image.convert("RGB"))
    return images


def drawn_images(
    shards: list[str], seeds: list[int], prompt_ids: list[str]
) -> dict[tuple[str, int], np.ndarray]:
    """The images of every (prompt, seed) pair, read from the shards of ``seeds`` only.

    Each seed's shard is found by its name; shards are opened one at a time, and only the
    drawn images are read (and verified), so memory stays that of one manifest.
    """
    by_shard: dict[str, list[int]] = {}
    for seed in dict.fromkeys(seeds):  # a seed drawn twice is read once
        by_shard.setdefault(shard_of_seed(shards, seed), []).append(seed)
    images = {}
    for shard, shard_seeds in by_shard.items():
        keys = {image_key(p, s): (p, s) for p in prompt_ids for s in shard_seeds}
        for key, image in read_checked_images(shard, list(keys)).items():
            images[keys[key]] = image
    return images


def save_figure(fig, pdf: str | Path, png: str | Path, dpi: int) -> None:
    """Lay ``fig`` out, write it as PDF and as PNG at ``dpi``, and close it."""
    fig.tight_layout()
    fig.savefig(pdf)
    fig.savefig(png, dpi=dpi)
    plt.close(fig)
