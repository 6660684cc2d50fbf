"""Figures of per-seed quality: fig. 5 reads only the drawn seeds' shards; figs 6-7 refuse
intervals that exclude their values."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from seedscope.errors import ShardError
from seedscope.quality import figures
from seedscope.shards import ShardReader, ShardWriter, encode_png, image_key, manifest_path

PROMPTS = [{"id": f"set-{i:05d}", "text": f"prompt number {i}"} for i in range(3)]
BLOCKS = [(0, 1), (2, 3), (4, 5), (6, 7)]


def pixels(prompt_id: str, seed: int) -> np.ndarray:
    """A distinct 8x8 image per (prompt, seed)."""
    rng = np.random.default_rng([seed, int(prompt_id[-5:])])
    return rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)


def write_shard(path, seeds) -> str:
    writer = ShardWriter(path, {"seeds": list(seeds)})
    writer.open()
    writer.write_chunk(
        [
            (
                image_key(p["id"], s),
                encode_png(pixels(p["id"], s)),
                {"prompt_id": p["id"], "seed": s},
            )
            for p in PROMPTS
            for s in seeds
        ]
    )
    writer.finish()
    return str(path)


@pytest.fixture
def shards(tmp_path) -> list[str]:
    """Four seed blocks; only blocks 2-3 and 6-7 are real, 0-1 is missing, 4-5 is corrupt."""
    paths = [str(tmp_path / f"seeds-{a:04d}-{b:04d}.tar") for a, b in BLOCKS]
    write_shard(paths[1], range(2, 4))
    write_shard(paths[3], range(6, 8))
    (tmp_path / "seeds-0004-0005.tar").write_bytes(b"not a tar")
    manifest_path(paths[2]).write_text("{not json")
    return paths


def seed_table(best: int, worst: int) -> pd.DataFrame:
    """FID per seed 0-7 with ``best`` ranked first and ``worst`` last."""
    fid = {seed: 10.0 + seed for seed in range(8)}
    fid[best], fid[worst] = 1.0, 99.0
    table = pd.DataFrame({"seed": list(fid), "fid": list(fid.values())})
    table["fid_rank"] = table["fid"].rank(method="min").astype(int)
    return table


def test_fig5_opens_only_the_shards_of_the_drawn_seeds(shards, tmp_path, monkeypatch):
    opened = []

    class CountingReader(ShardReader):
        def __init__(self, shard):
            opened.append(str(shard))
            super().__init__(shard)

    monkeypatch.setattr(figures, "ShardReader", CountingReader)
    pdf, png = tmp_path / "fig5.pdf", tmp_path / "fig5.png"
    figures.plot_best_worst(seed_table(best=3, worst=6), shards, PROMPTS, "m", pdf, png, n_seeds=1)
    assert opened == [shards[1], shards[3]]  # missing and corrupt shards never touched
    assert png.stat().st_size > 0 and pdf.stat().st_size > 0


def test_drawn_images_are_the_stored_ones_one_read_per_shard(shards, monkeypatch):
    opened = []
    monkeypatch.setattr(figures, "ShardReader", lambda s: opened.append(s) or ShardReader(s))
    ids = [p["id"] for p in PROMPTS[:2]]
    images = figures.drawn_images(shards, [3, 2, 7], ids)
    assert opened == [shards[1], shards[3]]  # seeds 2 and 3 share one shard, opened once
    assert set(images) == {(p, s) for p in ids for s in (2, 3, 7)}
    for (prompt_id, seed), image in images.items():
        np.testing.assert_array_equal(image, pixels(prompt_id, seed))


def test_drawn_image_that_fails_its_sha256_is_refused(shards):
    reader = ShardReader(shards[3])
    entry = reader.entry(image_key(PROMPTS[0]["id"], 7))
    with open(shards[3], "r+b") as tar:  # flip one byte inside the PNG's compressed data
        tar.seek(entry.png_offset + entry.png_size - 20)
        byte = tar.read(1)
        tar.seek(-1, 1)
        tar.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(ShardError, match="sha256"):
        figures.drawn_images(shards, [7], [PROMPTS[0]["id"]])


def test_a_seed_without_a_shard_is_named(shards):
    with pytest.raises(ValueError, match="seed 9 is in none of the 4 shards"):
        figures.shard_of_seed(shards, 9)
    assert figures.shard_of_seed(shards, 5) == shards[2]


def pairs_and_correlations(n: int = 6):
    rng = np.random.default_rng(0)
    both = pd.DataFrame({"seed": range(n)})
    for suffix in ("_1", "_2"):
        value = rng.normal(20, 2, n)
        both[f"fid{suffix}"] = value
        both[f"fid_lo{suffix}"] = value - 1
        both[f"fid_hi{suffix}"] = value + 1
    correlations = pd.DataFrame(
        [{"metric": "fid", "spearman": 0.5, "spearman_lo": 0.1, "spearman_hi": 0.8, "kendall": 0.4}]
    )
    return both, correlations


def test_set_vs_set_plots_intervals_that_contain_their_values(tmp_path):
    both, correlations = pairs_and_correlations()
    both.loc[0, "fid_lo_1"] = both.loc[0, "fid_1"]  # a bound equal to the value is fine
    pdf, png = tmp_path / "fig6.pdf", tmp_path / "fig6.png"
    figures.plot_set_vs_set(
        {"m": both}, {"m": correlations}, "fid", ("a", "b"), pdf, png, {"m": [1]}
    )
    assert png.stat().st_size > 0 and pdf.stat().st_size > 0


@pytest.mark.parametrize(
    "column, shift, where",
    [("fid_lo_2", +3.0, "m on b"), ("fid_hi_1", -3.0, "m on a"), ("fid_hi_2", np.nan, "m on b")],
)
def test_set_vs_set_refuses_an_interval_that_excludes_its_value(tmp_path, column, shift, where):
    both, correlations = pairs_and_correlations()
    both.loc[[2, 4], column] = (
        both.loc[[2, 4], column.replace("_lo", "").replace("_hi", "")] + shift
    )
    with pytest.raises(ValueError, match=rf"{where}: the fid intervals of 2 seeds .*seeds 2, 4;"):
        figures.plot_set_vs_set(
            {"m": both},
            {"m": correlations},
            "fid",
            ("a", "b"),
            tmp_path / "x.pdf",
            tmp_path / "x.png",
        )
    assert not (tmp_path / "x.png").exists() and not figures.plt.get_fignums()  # checked first
