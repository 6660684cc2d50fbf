"""Per-seed FID from real pipeline images through the tiny extractor: a degraded seed ranks worst.

Renders prompts x seeds with the tiny SD2 pipeline, greys out one seed's images in the shard,
extracts Inception-shaped features through clean-fid's preprocessing, and computes per-seed FID
with bootstrap CIs against the same model's images of other seeds (standing in for real images).
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from seedscope.extractors import load_extractor
from seedscope.features.extract import extract_shard
from seedscope.generate import render_shard
from seedscope.models import load_pipeline
from seedscope.quality.frechet import reference_stats
from seedscope.quality.perseed import fid_block, summarise
from seedscope.shards import ShardReader, ShardWriter, encode_png
from seedscope.tiny.extractors import build_tiny_extractor

from conftest import model_spec

PROMPTS = [{"id": f"p{i:02d}", "text": f"a photo of thing {i}"} for i in range(24)]
SEEDS = [0, 1, 2, 3, 4]
DEGRADED = 2


def _degrade(source, target, seed):
    """Copy ``source`` to ``target`` with ``seed``'s images replaced by flat grey."""
    reader = ShardReader(source)
    writer = ShardWriter(target, {"degraded": seed})
    writer.open()
    rows = []
    for entry in reader.entries:
        png = reader.png(entry.key)
        if entry.seed == seed:
            size = Image.open(io.BytesIO(png)).size
            png = encode_png(np.full((size[1], size[0], 3), 128, dtype=np.uint8))
        rows.append((entry.key, png, reader.meta(entry.key)))
    writer.write_chunk(rows)
    writer.finish()
    return target


def test_grey_seed_is_ranked_worst_with_a_ci_that_excludes_the_others(tiny_models, tmp_path):
    spec = model_spec("sd2", tiny_models["sd2"], batch_size=8)
    pipe = load_pipeline("sd2", spec, "cpu")
    rendered = tmp_path / "rendered.tar"
    render_shard(pipe, "sd2", spec, "t", PROMPTS, SEEDS, rendered, chunk_size=40)
    real = tmp_path / "real.tar"
    render_shard(pipe, "sd2", spec, "t", PROMPTS, [100, 101, 102, 103], real, chunk_size=48)
    shard = _degrade(rendered, tmp_path / "degraded.tar", DEGRADED)

    extractor = load_extractor(
        "inception",
        {"weights": "tiny", "weights_dir": None, "batch_size": 32},
        "cpu",
        build_tiny_extractor("inception", tmp_path / "inception"),
    )
    texts = {p["id"]: p["text"] for p in PROMPTS}
    table = extract_shard(shard, extractor, texts)
    reference = reference_stats(extract_shard(real, extractor, texts).features, "cpu")
    block = fid_block(table, [p["id"] for p in PROMPTS], reference, {"resamples": 100, "seed": 0})
    summary = summarise(block, 0.95).set_index("seed")

    worst = summary.loc[DEGRADED]
    others = summary.drop(index=DEGRADED)
    assert worst.fid_rank == len(SEEDS)
    assert worst.fid_lo > others.fid_hi.max(), summary[["fid", "fid_lo", "fid_hi"]]
    assert worst.fid_rank_lo == len(SEEDS)  # worst in every subsample replicate
    assert worst.fid > 10 * others.fid.max()  # grey images are far from what the model makes
