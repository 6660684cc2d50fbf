"""Figures of per-seed quality: fig. 5 draws the best and worst seeds by FID and by HPS and reads
only their shards; figs 6-7 plot seeds in set-1 rank order beside set 1 vs set 2, and refuse
intervals that exclude their values; labels name the HPS version."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import same_color

from seedscope import plotting
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

    monkeypatch.setattr(plotting, "ShardReader", CountingReader)
    pdf, png = tmp_path / "fig5.pdf", tmp_path / "fig5.png"
    figures.plot_best_worst(seed_table(best=3, worst=6), shards, PROMPTS, "m", pdf, png, n_seeds=1)
    assert opened == [shards[1], shards[3]]  # missing and corrupt shards never touched
    assert png.stat().st_size > 0 and pdf.stat().st_size > 0


def with_hps(table: pd.DataFrame, best: int, worst: int) -> pd.DataFrame:
    """``table`` plus HPS (higher is better) with ``best`` ranked first and ``worst`` last."""
    hps = {seed: 0.25 + 0.001 * seed for seed in table["seed"]}
    hps[best], hps[worst] = 0.4, 0.1
    table = table.assign(hps=table["seed"].map(hps))
    table["hps_rank"] = table["hps"].rank(method="min", ascending=False).astype(int)
    return table


def first_row(fig, columns: int):
    """The axes of the figure's first row (one per drawn column)."""
    return fig.axes[:columns]


def test_fig5_draws_best_and_worst_by_fid_and_by_hps_from_their_shards_only(
    shards, tmp_path, monkeypatch
):
    write_shard(shards[0], range(0, 2))  # the best HPS seed is in block 0-1
    opened = []
    monkeypatch.setattr(plotting, "ShardReader", lambda s: opened.append(s) or ShardReader(s))
    table = with_hps(seed_table(best=3, worst=6), best=0, worst=7)
    pdf, png = tmp_path / "fig5.pdf", tmp_path / "fig5.png"
    fig = figures.plot_best_worst(
        table, shards, PROMPTS, "m", pdf, png, n_seeds=1, hps_version="v2.1"
    )
    assert opened == [shards[1], shards[3], shards[0]]  # corrupt block 4-5 never touched
    columns = first_row(fig, 4)
    titles = [ax.get_title().split("\n")[:2] for ax in columns]
    assert titles == [
        ["best by FID", "seed 3"],
        ["worst by FID", "seed 6"],
        ["best by HPS v2.1", "seed 0"],
        ["worst by HPS v2.1", "seed 7"],
    ]
    assert "HPS v2.1 0.4" in columns[2].get_title() and "FID 99" in columns[1].get_title()
    assert len(fig.axes) == 4 * len(PROMPTS)
    for c, seed in enumerate((3, 6, 0, 7)):  # every row shows its prompt's image of the seed
        for r, prompt in enumerate(PROMPTS):
            image = fig.axes[4 * r + c].get_images()[0].get_array()
            np.testing.assert_array_equal(image, pixels(prompt["id"], seed))
    assert "by FID and by HPS v2.1" in fig._suptitle.get_text()
    assert png.stat().st_size > 0 and pdf.stat().st_size > 0


def test_fig5_draws_only_the_metrics_the_table_has(shards, tmp_path):
    fid_only = figures.plot_best_worst(
        seed_table(best=3, worst=6),
        shards,
        PROMPTS,
        "m",
        tmp_path / "a.pdf",
        tmp_path / "a.png",
        n_seeds=1,
    )  # no HPS column: no HPS version needed either
    assert [ax.get_title().split("\n")[0] for ax in first_row(fid_only, 2)] == [
        "best by FID",
        "worst by FID",
    ]
    assert len(fid_only.axes) == 2 * len(PROMPTS)
    hps_only = with_hps(seed_table(best=3, worst=6), best=2, worst=7).drop(
        columns=["fid", "fid_rank"]
    )
    fig = figures.plot_best_worst(
        hps_only,
        shards,
        PROMPTS,
        "m",
        tmp_path / "b.pdf",
        tmp_path / "b.png",
        n_seeds=1,
        hps_version="v2.0",
    )
    assert [ax.get_title().split("\n")[:2] for ax in first_row(fig, 2)] == [
        ["best by HPS v2.0", "seed 2"],
        ["worst by HPS v2.0", "seed 7"],
    ]
    with pytest.raises(ValueError, match="none of fid, hps"):
        figures.plot_best_worst(
            hps_only.drop(columns=["hps"]),
            shards,
            PROMPTS,
            "m",
            tmp_path / "c.pdf",
            tmp_path / "c.png",
        )


def test_metric_labels_name_the_hps_version():
    assert figures.metric_label("hps", "v2.1") == "HPS v2.1 (higher is better)"
    assert figures.metric_label("hps", "v2.0") == "HPS v2.0 (higher is better)"
    assert figures.metric_label("fid") == "FID (lower is better)"
    with pytest.raises(ValueError, match="features.hps.version"):
        figures.metric_label("hps")


def test_drawn_images_are_the_stored_ones_one_read_per_shard(shards, monkeypatch):
    opened = []
    monkeypatch.setattr(plotting, "ShardReader", lambda s: opened.append(s) or ShardReader(s))
    ids = [p["id"] for p in PROMPTS[:2]]
    images = plotting.drawn_images(shards, [3, 2, 7], ids)
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
        plotting.drawn_images(shards, [7], [PROMPTS[0]["id"]])


def test_a_seed_without_a_shard_is_named(shards):
    with pytest.raises(ValueError, match="seed 9 is in none of the 4 shards"):
        plotting.shard_of_seed(shards, 9)
    assert plotting.shard_of_seed(shards, 5) == shards[2]


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


def band_covers(band, x: float, lo: float, hi: float) -> bool:
    """Whether the filled band spans exactly ``[lo, hi]`` at ``x`` (to 1 % of its width)."""
    (path,) = band.get_paths()
    eps = 0.01 * (hi - lo)
    inside = [path.contains_point((x, lo + eps)), path.contains_point((x, hi - eps))]
    outside = [path.contains_point((x, lo - eps)), path.contains_point((x, hi + eps))]
    return all(inside) and not any(outside)


def test_set_vs_set_plots_intervals_that_contain_their_values(tmp_path):
    both, correlations = pairs_and_correlations()
    rng = np.random.default_rng(1)
    for suffix in ("_1", "_2"):  # uneven intervals: a swapped bound or set would show
        both[f"fid_lo{suffix}"] = both[f"fid{suffix}"] - rng.uniform(0.2, 1.5, len(both))
        both[f"fid_hi{suffix}"] = both[f"fid{suffix}"] + rng.uniform(0.2, 1.5, len(both))
    both.loc[0, "fid_lo_1"] = both.loc[0, "fid_1"]  # a bound equal to the value is fine
    pdf, png = tmp_path / "fig6.pdf", tmp_path / "fig6.png"
    fig = figures.plot_set_vs_set(
        {"m": both}, {"m": correlations}, "fid", ("a", "b"), pdf, png, {"m": [1]}
    )
    assert png.stat().st_size > 0 and pdf.stat().st_size > 0
    rank_ax, scatter_ax = fig.axes

    # panel (b): one horizontal bar per seed on set 1's interval, one vertical on set 2's
    (bars,) = scatter_ax.containers
    x_bars, y_bars = (segments.get_segments() for segments in bars.lines[2])
    for i, row in both.iterrows():
        np.testing.assert_allclose(
            x_bars[i], [[row.fid_lo_1, row.fid_2], [row.fid_hi_1, row.fid_2]]
        )
        np.testing.assert_allclose(
            y_bars[i], [[row.fid_1, row.fid_lo_2], [row.fid_1, row.fid_hi_2]]
        )

    # panel (a): each set's band spans each seed's interval at its set-1 rank
    bands = {
        suffix: [c for c in rank_ax.collections if same_color(c.get_facecolor()[0][:3], colour)]
        for suffix, colour in (("_1", "tab:blue"), ("_2", "tab:orange"))
    }
    order = both.sort_values("fid_1").reset_index(drop=True)  # lower FID is better: rank 1 first
    for suffix, (band,) in bands.items():
        for rank, row in enumerate(order.itertuples(), start=1):
            lo, hi = getattr(row, f"fid_lo{suffix}"), getattr(row, f"fid_hi{suffix}")
            assert band_covers(band, rank, lo, hi), (suffix, row.seed)
        assert not band_covers(
            band, 1, order.loc[1, f"fid_lo{suffix}"], order.loc[1, f"fid_hi{suffix}"]
        )


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


def line(ax, gid: str):
    (found,) = [artist for artist in ax.get_lines() if artist.get_gid() == gid]
    return found


def test_rank_order_panel_puts_seeds_in_set_one_rank_order(tmp_path):
    both, correlations = pairs_and_correlations(8)
    both["fid_rank_1"] = both["fid_1"].rank(method="min").astype(int)  # as the tables carry it
    fig = figures.plot_set_vs_set(
        {"m": both, "n": both},
        {"m": correlations, "n": correlations},
        "fid",
        ("a", "b"),
        tmp_path / "f.pdf",
        tmp_path / "f.png",
        {"m": [5], "n": []},
    )
    assert len(fig.axes) == 4  # one row of two panels per model
    rank_ax, scatter_ax = fig.axes[:2]
    order = both.sort_values("fid_1")  # lower FID is better: rank 1 first
    set1, set2 = line(rank_ax, "set_1"), line(rank_ax, "set_2")
    np.testing.assert_array_equal(set1.get_xdata(), np.arange(1, 9))
    np.testing.assert_allclose(set1.get_ydata(), order["fid_1"])
    np.testing.assert_allclose(set2.get_ydata(), order["fid_2"])  # same seed at each x
    assert np.all(np.diff(set1.get_ydata()) >= 0)
    golden_x = int(both.loc[both.seed == 5, "fid_rank_1"].iloc[0])
    assert list(line(rank_ax, "golden_1").get_xdata()) == [golden_x]
    assert list(line(rank_ax, "golden_2").get_ydata()) == [both.loc[5, "fid_2"]]
    assert [t.get_text() for t in rank_ax.get_legend().get_texts()] == ["a", "b", "golden"]
    assert "rank order" in rank_ax.get_xlabel() and rank_ax.get_ylabel() == "FID (lower is better)"
    assert "Spearman 0.50" in scatter_ax.get_title()  # panel (b): the scatter and its correlations
    (points,) = [c for c in scatter_ax.collections if c.get_label() == "seed"]
    np.testing.assert_allclose(points.get_offsets(), both.loc[both.seed != 5, ["fid_1", "fid_2"]])
    np.testing.assert_allclose(line(fig.axes[2], "set_1").get_ydata(), order["fid_1"])  # n


def test_rank_order_panel_puts_the_highest_hps_first_and_names_its_version(tmp_path):
    both, _ = pairs_and_correlations(6)
    both.columns = [c.replace("fid", "hps") for c in both.columns]  # no rank column: ranked here
    correlations = pd.DataFrame(
        [{"metric": "hps", "spearman": 0.3, "spearman_lo": 0.0, "spearman_hi": 0.6, "kendall": 0.2}]
    )
    fig = figures.plot_set_vs_set(
        {"m": both},
        {"m": correlations},
        "hps",
        ("a", "b"),
        tmp_path / "h.pdf",
        tmp_path / "h.png",
        hps_version="v2.1",
    )
    rank_ax, scatter_ax = fig.axes
    order = both.sort_values("hps_1", ascending=False)  # higher HPS is better: rank 1 first
    np.testing.assert_allclose(line(rank_ax, "set_1").get_ydata(), order["hps_1"])
    np.testing.assert_allclose(line(rank_ax, "set_2").get_ydata(), order["hps_2"])
    labels = [rank_ax.get_ylabel(), scatter_ax.get_xlabel(), scatter_ax.get_ylabel()]
    assert all(label.startswith("HPS v2.1 (higher is better)") for label in labels), labels
