"""Figures of the diverse-seed study: fig. 11 (random seeds, Particle Guidance and FPS seeds on
style and layout evaluation prompts, read from shards) and the diversity-quality figure (every
Table 2 method at its HPS and diversity, Particle Guidance joined in coefficient order)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from seedscope.diverse.figures import (
    BLOCKS,
    PANELS,
    diversity_quality_points,
    fig11_examples,
    particle_images,
    plot_diversity_quality,
    plot_fig11,
    read_fig11_examples,
    shown_prompts,
)
from seedscope.diverse.score import random_sets
from seedscope.diverse.split import evaluation_ids
from seedscope.diverse.table2 import (
    CONTROL,
    FPS_METHODS,
    RANDOM,
    diversity_rows,
    pg_method,
)
from seedscope.prompts.synthetic import make_synthetic_prompts
from seedscope.shards import ShardWriter, encode_png, image_key

C, N = 4, 10
SEEDS = list(range(100, 100 + N))  # real seed numbers, not indices
DIVERSE = {
    "c": C, "seed": 0, "random_draws": 5, "style_prompts": 6, "split_seed": 0,
    "style_set": "coco2", "layout_set": "syn",
}  # fmt: skip


def pixels(prompt_id: str, seed: int) -> np.ndarray:
    """A distinct 8x8 image per (prompt, seed)."""
    rng = np.random.default_rng([seed, sum(map(ord, prompt_id))])
    return rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)


def write_shard(path, pairs) -> str:
    """A shard of the images of (prompt id, seed) ``pairs``, in the given order."""
    writer = ShardWriter(path, {"pairs": [list(p) for p in pairs]})
    writer.open()
    writer.write_chunk(
        [(image_key(p, s), encode_png(pixels(p, s)), {"prompt_id": p, "seed": s}) for p, s in pairs]
    )
    writer.finish()
    return str(path)


def particle_seeds(j: int) -> list[int]:
    """Prompt ``j``'s own C particle seeds, distinct and (mostly) out of seed order."""
    return [SEEDS[(j + 3 * k + 7) % N] for k in range(C)]


def _images(prompts, seeds):
    return {(p["id"], s): pixels(p["id"], s) for p in prompts for s in seeds}


# --- fig. 11 -----------------------------------------------------------------------------------


def test_shown_prompts_spread_over_the_list():
    ids = [f"p{i}" for i in range(10)]
    assert shown_prompts(ids, 3) == ["p0", "p4", "p9"]
    assert shown_prompts(ids, 1) == ["p0"]
    assert shown_prompts(ids[:2], 5) == ids[:2]
    with pytest.raises(ValueError, match="at least one"):
        shown_prompts(ids, 0)


def test_fig11_examples_rows_labels_and_particles():
    prompts = [{"id": f"p{i}", "text": f"a photo of thing {i}"} for i in range(2)]
    images = _images(prompts, range(10))
    pg = {"p0": [(s, pixels("p0", s)) for s in (41, 7, 19, 3)]}
    examples = fig11_examples("style", prompts, images, [0, 1, 2, 3], [4, 5, 6, 7], pg, 30.0)
    assert [e["group"] for e in examples] == ["style", "style"]
    assert list(examples[0]["images"]) == [RANDOM, pg_method(30), FPS_METHODS["style"]]
    assert list(examples[1]["images"]) == [RANDOM, FPS_METHODS["style"]]  # no particles
    labels = [label for label, _ in examples[0]["images"][pg_method(30)]]
    assert labels == ["particle seed 41", "particle seed 7", "particle seed 19", "particle seed 3"]
    assert [lab for lab, _ in examples[0]["images"][FPS_METHODS["style"]]] == [
        f"seed {s}" for s in (4, 5, 6, 7)
    ]
    np.testing.assert_array_equal(examples[1]["images"][RANDOM][2][1], pixels("p1", 2))
    layout = fig11_examples("layout", prompts, images, [0, 1, 2, 3], [9, 8, 7, 6])
    assert list(layout[0]["images"]) == [RANDOM, FPS_METHODS["layout"]]
    with pytest.raises(ValueError, match="coefficient"):
        fig11_examples("style", prompts, images, [0, 1], [2, 3], pg)
    with pytest.raises(ValueError, match="group"):
        fig11_examples("colour", prompts, images, [0, 1], [2, 3])


@pytest.fixture
def fig11_files(tmp_path):
    style_rows = [
        {"id": f"coco2-{i:05d}", "text": f"a caption number {i} of a busy street", "set": "coco2"}
        for i in range(12)
    ]
    layout_rows = make_synthetic_prompts("syn", ["dog", "cat", "apple"], ["", "red", "big", "old"])
    rows = {"style": style_rows, "layout": layout_rows}
    shards, particles = {}, {}
    for group, mine in rows.items():
        ids = [r["id"] for r in mine]
        blocks = [SEEDS[:5], SEEDS[5:]]
        folder = tmp_path / group
        folder.mkdir()
        shards[group] = [
            write_shard(
                folder / f"seeds-{b[0]:04d}-{b[-1]:04d}.tar", [(p, s) for p in ids for s in b]
            )
            for b in blocks
        ]
        # each prompt its own particle seeds, written out of seed order
        pairs = [(p, s) for j, p in enumerate(ids) for s in particle_seeds(j)]
        particles[group] = write_shard(folder / "particle.tar", pairs)
    sets = {
        "c": C,
        "seeds": SEEDS,
        "sets": {
            "style": [[109, 100, 104, 106], [101, 102, 103, 105]],
            "layout": [[107, 108, 101, 100]],
        },
    }
    return sets, rows, shards, particles


def test_particle_images_read_each_prompts_own_seeds_in_seed_order(fig11_files):
    _, rows, _, particles = fig11_files
    ids = [r["id"] for r in rows["style"]][:3]
    got = particle_images(particles["style"], [*ids, "coco2-99999"])
    assert list(got) == ids  # a prompt the shard lacks is left out
    for j, pid in enumerate(ids):
        seeds = [s for s, _ in got[pid]]
        assert seeds == sorted(particle_seeds(j))
        for s, image in got[pid]:
            np.testing.assert_array_equal(image, pixels(pid, s))


def test_read_fig11_examples_both_blocks_from_shards(fig11_files, tmp_path):
    sets, rows, shards, particles = fig11_files
    examples = read_fig11_examples(sets, rows, shards, DIVERSE, 2, particles, 30.0)
    assert [e["group"] for e in examples] == ["style", "style", "layout", "layout"]
    evaluation = {k: DIVERSE[k] for k in ("style_prompts", "seed", "layout_set", "split_seed")}
    style_ids = evaluation_ids(rows["style"], "coco2", evaluation)
    layout_ids = evaluation_ids(rows["layout"], "syn", evaluation)
    assert [e["id"] for e in examples[:2]] == shown_prompts(style_ids, 2)
    assert [e["id"] for e in examples[2:]] == shown_prompts(layout_ids, 2)
    random = [SEEDS[i] for i in random_sets(N, C, DIVERSE["random_draws"], DIVERSE["seed"])[0]]
    for e in examples:
        shown = e["images"]
        fps = FPS_METHODS[e["group"]]
        assert list(shown) == [RANDOM, pg_method(30), fps]
        assert [lab for lab, _ in shown[RANDOM]] == [f"seed {s}" for s in random]
        assert [lab for lab, _ in shown[fps]] == [f"seed {s}" for s in sets["sets"][e["group"]][0]]
        for label, image in shown[fps] + shown[RANDOM]:
            np.testing.assert_array_equal(image, pixels(e["id"], int(label.split()[-1])))
        assert all(lab.startswith("particle seed ") for lab, _ in shown[pg_method(30)])
        assert len(shown[pg_method(30)]) == C
    no_pg = read_fig11_examples(sets, rows, shards, DIVERSE, 2)
    assert all(list(e["images"]) == [RANDOM, FPS_METHODS[e["group"]]] for e in no_pg)

    pdf, png = tmp_path / "fig11.pdf", tmp_path / "fig11.png"
    fig = plot_fig11(examples, "sd2", str(pdf), str(png), coeff=30.0, dpi=50)
    assert pdf.stat().st_size > 0 and png.stat().st_size > 0
    images = [ax for ax in fig.axes if ax.images]
    assert len(images) == 4 * 3 * C  # 4 prompts x 3 methods x C images
    titles = [ax.get_title() for ax in images]
    assert titles.count(f"seed {random[0]}") == 4
    assert sum(t.startswith("particle seed") for t in titles) == 4 * C
    labels = [ax.get_ylabel() for ax in fig.axes if ax.get_ylabel()]
    assert len(labels) == 4 * 3
    for i, e in enumerate(examples):  # a prompt's first row is also named by its text
        assert e["text"] in " ".join(labels[3 * i].split()) and RANDOM in labels[3 * i]
        assert not any("\u201c" in label for label in labels[3 * i + 1 : 3 * i + 3])
    flat = [" ".join(label.split()) for label in labels]  # row names are wrapped
    assert flat[1] == pg_method(30) and flat[2] == FPS_METHODS["style"]
    assert flat[-1] == FPS_METHODS["layout"]
    blocks = [t.get_text() for ax in fig.axes for t in ax.texts]
    assert blocks == [BLOCKS["style"], BLOCKS["layout"]]
    assert "sd2" in fig._suptitle.get_text() and "coeff 30" in fig._suptitle.get_text()

    fig = plot_fig11(no_pg, "sdxl", str(pdf), str(png), dpi=50)
    assert len([ax for ax in fig.axes if ax.images]) == 4 * 2 * C
    assert not any("particle" in ax.get_title() for ax in fig.axes)
    assert "no Particle Guidance" in fig._suptitle.get_text()
    with pytest.raises(ValueError, match="at least one"):
        plot_fig11([], "sd2", str(pdf), str(png))


# --- diversity against quality -----------------------------------------------------------------


def _long_table() -> pd.DataFrame:
    """Two models' Table 2 rows (diversity_rows): sd2 with Particle Guidance at 0 (the control),
    30 and 300; sdxl without it (NaN rows)."""
    rng = np.random.default_rng(5)
    pool = {
        g: {
            "paper": rng.normal(size=(p, N, 6)),
            "dino": rng.normal(size=(p, N, 8)) + 1.0,
            "hps": 0.25 + 0.01 * rng.normal(size=(p, N, 1)),
        }
        for g, p in (("style", 12), ("layout", 10))
    }
    fps = {"style": np.array([[0, 3, 5, 9], [1, 2, 4, 8]]), "layout": np.array([[6, 7, 8, 9]])}
    particles = {}
    for coeff, shift in ((0.0, 0.0), (30.0, -0.01), (300.0, -0.03)):
        particles[coeff] = {
            g: {
                "paper": rng.normal(size=(pool[g]["paper"].shape[0], C, 6)),
                "dino": rng.normal(size=(pool[g]["dino"].shape[0], C, 8)) + 1.0 - 10 * shift,
                "hps": pool[g]["hps"][:, :C] + shift,
            }
            for g in pool
        }
    kw = {"c": C, "draws": 10, "seed": 0, "resamples": 200}
    with_pg = diversity_rows(pool, fps, particles, **kw).assign(model="sd2")
    without = diversity_rows(pool, fps, None, coeffs=[30, 300], **kw).assign(model="sdxl")
    return pd.concat([with_pg, without], ignore_index=True)


def _cell(table, model, method, group, measure):
    hit = table[
        (table["model"] == model)
        & (table["method"] == method)
        & (table["group"] == group)
        & (table["measure"] == measure)
    ]
    assert len(hit) == 1
    return hit.iloc[0]


def test_diversity_quality_points_match_the_table_and_skip_nan_rows(tmp_path):
    table = _long_table()
    csv = tmp_path / "table2.csv"
    table.to_csv(csv, index=False)
    table = pd.read_csv(csv)  # as the script reads it
    pdf, png = tmp_path / "dq.pdf", tmp_path / "dq.png"
    fig = plot_diversity_quality(table, str(pdf), str(png), dpi=50, hps_version="v2.1")
    assert pdf.stat().st_size > 0 and png.stat().st_size > 0
    axes = np.asarray(fig.axes).reshape(-1)[: 2 * len(PANELS)].reshape(2, len(PANELS))
    pg = [CONTROL, pg_method(30), pg_method(300)]
    for row, model in zip(axes, ("sd2", "sdxl"), strict=True):
        for ax, (group, measure, _) in zip(row, PANELS, strict=True):
            assert "higher is better" in ax.get_xlabel() and "v2.1" in ax.get_xlabel()
            assert "lower is more diverse" in ax.get_ylabel()
            assert model in ax.get_title()
            points = {line.get_gid(): line for line in ax.lines if line.get_gid()}
            expected = [RANDOM, FPS_METHODS["style"], FPS_METHODS["layout"]]
            expected += pg if model == "sd2" else []
            assert set(points) - {"Particle Guidance"} == set(expected)
            for method in expected:
                x = _cell(table, model, method, group, "hps")["value"]
                y = _cell(table, model, method, group, measure)["value"]
                assert points[method].get_xdata()[0] == pytest.approx(x)
                assert points[method].get_ydata()[0] == pytest.approx(y)
            if model == "sdxl":  # no Particle Guidance: its NaN rows are skipped
                assert "Particle Guidance" not in points and not ax.texts
                continue
            curve = points["Particle Guidance"]
            xs = [_cell(table, model, m, group, "hps")["value"] for m in pg]
            ys = [_cell(table, model, m, group, measure)["value"] for m in pg]
            np.testing.assert_allclose(curve.get_xdata(), xs)
            np.testing.assert_allclose(curve.get_ydata(), ys)
            assert [t.get_text() for t in ax.texts] == ["0", "30", "300"]
            for text, method in zip(ax.texts, pg, strict=True):
                assert text.xy == pytest.approx(
                    (points[method].get_xdata()[0], points[method].get_ydata()[0])
                )
    legend = fig.axes[len(PANELS) - 1].get_legend()
    names = [t.get_text() for t in legend.get_texts()]
    assert RANDOM in names and FPS_METHODS["style"] in names
    assert any(CONTROL in n for n in names)


def test_diversity_quality_error_bars_are_the_intervals_and_missing_cells_are_skipped(tmp_path):
    table = _long_table()
    style = diversity_quality_points(table, "sd2", "style", "cosine")
    r = style.set_index("method").loc[FPS_METHODS["style"]]
    row = _cell(table, "sd2", FPS_METHODS["style"], "style", "cosine")
    hps = _cell(table, "sd2", FPS_METHODS["style"], "style", "hps")
    assert (r["y"], r["y_lo"], r["y_hi"]) == (row["value"], row["lo"], row["hi"])
    assert (r["x"], r["x_lo"], r["x_hi"]) == (hps["value"], hps["lo"], hps["hi"])
    assert math.isnan(r["coeff"]) and style.set_index("method").loc[CONTROL, "coeff"] == 0
    # a measure missing for one method (NaN value) drops only that point
    gone = table.copy()
    hit = (gone["model"] == "sd2") & (gone["method"] == RANDOM) & (gone["measure"] == "hps")
    gone.loc[hit, ["value", "lo", "hi"]] = np.nan
    assert RANDOM not in set(diversity_quality_points(gone, "sd2", "style", "cosine")["method"])
    fig = plot_diversity_quality(gone, str(tmp_path / "a.pdf"), str(tmp_path / "a.png"), dpi=50)
    assert not any(line.get_gid() == RANDOM for line in fig.axes[0].lines)
    # a point without an interval is drawn without error bars
    gone.loc[(gone["method"] == CONTROL), ["lo", "hi"]] = np.nan
    fig = plot_diversity_quality(gone, str(tmp_path / "b.pdf"), str(tmp_path / "b.png"), dpi=50)
    assert any(line.get_gid() == CONTROL for line in fig.axes[0].lines)
    with pytest.raises(ValueError, match="needs Table 2 rows"):
        plot_diversity_quality(table.iloc[:0], str(tmp_path / "c.pdf"), str(tmp_path / "c.png"))
