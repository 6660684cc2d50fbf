"""Style measures, per-seed style rates and tags, and Gram vectors with their projection.

Planted phenomena (a desaturated seed, a framed seed, a seed with a white sky) must be found by
the measures and the tag rule and nothing else may be tagged; each measure gives its known value
on constructed images; the per-seed rate interval's coverage is simulated at 30 and 500 prompts;
the Gram projection's effect on pairwise geometry is measured on feature maps of a random-weight
VGG-shaped network.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from seedscope.errors import ConfigError, FeatureError
from seedscope.stats import clopper_pearson
from seedscope.style.gram import GramProjection, gram_layers
from seedscope.style.measures import FLAGS, MEASURES, Thresholds, measure_batch
from seedscope.style.perseed import seed_rates

SIZE = 64


def colourful(rng: np.random.Generator, n: int, size: int = SIZE, cells: int = 4) -> np.ndarray:
    """Smooth random colour fields (a ``cells x cells`` grid of colours, bilinearly enlarged)
    with pixel noise: colourful, busy at the edges, rarely bright and flat."""
    grid = torch.from_numpy(rng.uniform(0, 255, (n, 3, cells, cells)).astype(np.float32))
    smooth = torch.nn.functional.interpolate(grid, size=(size, size), mode="bilinear")
    noisy = smooth.permute(0, 2, 3, 1).numpy() + rng.normal(0, 10, (n, size, size, 3))
    return np.clip(noisy, 0, 255).astype(np.uint8)


def desaturate(images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    gray = images.astype(np.float32) @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    return np.repeat(gray[..., None], 3, axis=-1).round().astype(np.uint8)


def paint_frame(images: np.ndarray, rng: np.random.Generator, width: int = 4) -> np.ndarray:
    out = images.copy()
    for image in out:
        colour = rng.integers(0, 256, 3)
        image[:width], image[-width:], image[:, :width], image[:, -width:] = (colour,) * 4
    return out


def paint_sky(images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    out = images.copy()
    for image in out:
        image[: int(rng.uniform(0.3, 0.45) * SIZE)] = rng.integers(235, 256)
    return out


PLANT = {"grayscale": (3, desaturate), "border": (7, paint_frame), "sky": (12, paint_sky)}


def test_planted_seeds_are_tagged_and_no_other_seed_is():
    """20 seeds x 30 prompts. Every phenomenon also appears by chance in 3 % of all images;
    the planted seed shows it in each prompt with probability 0.8."""
    rng = np.random.default_rng(15)
    seeds, prompts = np.arange(100, 120), np.array([f"p{i:02d}" for i in range(30)])
    images, seed_ids, prompt_ids = [], [], []
    for seed in seeds:
        batch = colourful(rng, len(prompts))
        for planted, paint in PLANT.values():
            rate = 0.8 if seed - 100 == planted else 0.03
            chosen = rng.random(len(prompts)) < rate
            batch[chosen] = paint(batch[chosen], rng)
        images.append(batch)
        seed_ids += [seed] * len(prompts)
        prompt_ids += list(prompts)
    columns = measure_batch(np.concatenate(images))
    assert set(columns) == set(MEASURES) | set(FLAGS)

    table = seed_rates({f: columns[f] for f in FLAGS}, seed_ids, prompt_ids)

    assert list(table["seed"]) == list(seeds) and (table["n"] == 30).all()
    expected = {100 + planted: name for name, (planted, _) in PLANT.items()}
    assert dict(zip(table["seed"], table["tags"], strict=True)) == {
        seed: expected.get(seed, "") for seed in seeds
    }
    for name, (planted, _) in PLANT.items():
        rates = table.set_index("seed")[f"{name}_rate"]
        others = rates.drop(100 + planted)
        assert rates[100 + planted] >= 0.6, name  # the measure finds the planted images
        assert others.max() <= 0.2, name  # and rarely anything else
        assert 0 < table[f"{name}_population"].iloc[0] < 0.2, name


def test_untouched_population_gets_no_tags():
    rng = np.random.default_rng(3)
    columns = measure_batch(colourful(rng, 20 * 30))
    table = seed_rates(
        {f: columns[f] for f in FLAGS}, np.repeat(np.arange(20), 30), np.tile(np.arange(30), 20)
    )
    assert (table["tags"] == "").all()


def _noise(rng: np.random.Generator, low: int = 0, high: int = 256) -> np.ndarray:
    return rng.integers(low, high, (SIZE, SIZE, 3), dtype=np.uint8)


def measure_one(image: np.ndarray, thresholds: Thresholds | None = None) -> dict[str, object]:
    """One image's measures and flags, measured as the extractor measures them: a batch of one."""
    batch = measure_batch(np.asarray(image)[None], thresholds)
    return {name: value[0].item() for name, value in batch.items()}


def test_grayscale_measures_known_values():
    gray = np.broadcast_to(np.arange(SIZE, dtype=np.uint8)[None, :, None] * 4, (SIZE, SIZE, 3))
    values = measure_one(np.ascontiguousarray(gray))
    assert values["chroma"] == 0 and values["colourfulness"] == 0 and values["grayscale"]

    red = np.zeros((SIZE, SIZE, 3), np.uint8)
    red[..., 0] = 255
    assert measure_one(red)["chroma"] == pytest.approx(1)
    red_green = red.copy()
    red_green[:, SIZE // 2 :] = (0, 255, 0)
    values = measure_one(red_green)
    # rg = +-255 (mean 0, std 255), yb = 127.5 everywhere: 255 + 0.3 * 127.5
    assert values["colourfulness"] == pytest.approx(255 + 0.3 * 127.5, rel=1e-5)
    assert not values["grayscale"]

    tinted = np.ascontiguousarray(gray).astype(np.int16)
    tinted[..., 0] += 10  # a faint warm cast: chroma 10 / 255 on every pixel
    values = measure_one(np.clip(tinted, 0, 255).astype(np.uint8))
    assert values["chroma"] == pytest.approx(10 / 255, abs=0.002)
    assert values["grayscale"] == (values["chroma"] <= Thresholds().grayscale_max_chroma)
    assert not measure_one(np.clip(tinted, 0, 255).astype(np.uint8), Thresholds(0.01))["grayscale"]


def test_sky_fraction_known_values():
    rng = np.random.default_rng(0)
    image = _noise(rng, 0, 120)
    image[: SIZE // 2] = 250  # white well below the band's 16 rows
    values = measure_one(image)
    assert values["sky_fraction"] == 1 and values["sky"]

    half = _noise(rng, 0, 120)
    half[: SIZE // 2, : SIZE // 2] = 250
    # column 31's right neighbour is dark noise: 31 of every 64 band pixels are sky
    assert measure_one(half)["sky_fraction"] == pytest.approx(31 / 64)
    assert not measure_one(half)["sky"]

    dim = _noise(rng)
    dim[: SIZE // 2] = 100  # flat but not bright
    assert measure_one(dim)["sky_fraction"] == 0
    assert measure_one(_noise(rng))["sky_fraction"] < 0.05  # bright pixels, never flat


def test_border_measures_known_values():
    framed = np.full((SIZE, SIZE, 3), 55, np.uint8)
    framed[:4], framed[-4:], framed[:, :4], framed[:, -4:] = 255, 255, 255, 255
    values = measure_one(framed)
    assert values["border_std"] == pytest.approx(0, abs=1e-6)
    assert values["border_step"] == pytest.approx(200 / 255)
    assert values["border"]

    plain = np.full((SIZE, SIZE, 3), 240, np.uint8)  # a studio background: uniform, no step
    values = measure_one(plain)
    assert values["border_std"] == pytest.approx(0, abs=1e-6)
    assert values["border_step"] == pytest.approx(0, abs=1e-6) and not values["border"]

    rng = np.random.default_rng(1)
    gray_frame = _noise(rng)
    gray_frame[:4], gray_frame[-4:], gray_frame[:, :4], gray_frame[:, -4:] = 128, 128, 128, 128
    values = measure_one(gray_frame)  # the frame is the content's average colour
    assert values["border_std"] == pytest.approx(0, abs=1e-6)
    assert values["border_step"] > 0.2 and values["border"]

    values = measure_one(_noise(rng))
    assert values["border_std"] > 0.25 and not values["border"]


def test_batch_equals_single_images_and_bad_input_is_refused():
    rng = np.random.default_rng(2)
    batch = colourful(rng, 5)
    columns = measure_batch(batch)
    for i, image in enumerate(batch):
        single = measure_one(image)
        for name in (*MEASURES, *FLAGS):
            assert single[name] == pytest.approx(columns[name][i], abs=1e-6)
    with pytest.raises(FeatureError, match=r"uint8"):
        measure_batch(batch.astype(np.float32))
    with pytest.raises(FeatureError, match=r"\(N, H, W, 3\)"):
        measure_batch(batch[..., 0])
    with pytest.raises(FeatureError, match=r"border_outer and border_inset"):
        measure_batch(batch, Thresholds(border_inset=0.5))
    with pytest.raises(ConfigError, match=r"sky_band"):
        Thresholds(sky_band=1.5)


def test_tag_rule_and_input_checks():
    # seed 0: 12 of 20 flagged, lower bound 0.36; seeds 1-9: 1 of 20 each; population 21/200
    flags = np.zeros((10, 20), bool)
    flags[0, :12] = True
    flags[1:, 0] = True
    seeds, prompts = np.repeat(np.arange(10), 20), np.tile(np.arange(20), 10)
    lower = clopper_pearson(12, 20)[0]
    assert lower == pytest.approx(0.3605, abs=1e-3)
    tagged = seed_rates({"sky": flags.ravel()}, seeds, prompts, margin=lower - 21 / 200 - 0.01)
    untagged = seed_rates({"sky": flags.ravel()}, seeds, prompts, margin=lower - 21 / 200 + 0.01)
    assert list(tagged["tags"]) == ["sky"] + [""] * 9
    assert (untagged["tags"] == "").all()
    assert tagged["sky_population"].iloc[0] == pytest.approx(21 / 200)

    with pytest.raises(FeatureError, match=r"more than once"):
        seed_rates({"sky": [True, False]}, [1, 1], ["a", "a"])
    with pytest.raises(FeatureError, match=r"not the measures"):
        seed_rates({"sky": [0.3, 0.9]}, [1, 1], ["a", "b"])
    with pytest.raises(ConfigError, match=r"margin"):
        seed_rates({"sky": [True, False]}, [1, 1], ["a", "b"], margin=-0.1)


TRIALS = 2000


@pytest.mark.parametrize(
    ("n", "rates", "most"),
    [
        (30, (0.01, 0.5), 0.99),  # few prompts: exact intervals are cautious
        (30, (0.005, 0.005), 1.0),  # a rare flag: Wilson's lower bound misses 14 % here
        (500, (0.01, 0.5), 0.975),
    ],
)
def test_rate_interval_coverage(n, rates, most):
    """Every trial is a seed with its own true rate; the interval comes from ``seed_rates``.
    Clopper-Pearson promises coverage >= 95 % and a lower bound that misses <= 2.5 %; both are
    asserted within 3.5 binomial standard deviations of TRIALS trials."""
    rng = np.random.default_rng(n)
    true = rng.uniform(*rates, TRIALS)
    flags = rng.random((TRIALS, n)) < true[:, None]
    table = seed_rates(
        {"f": flags.ravel()}, np.repeat(np.arange(TRIALS), n), np.tile(np.arange(n), TRIALS)
    )
    covered = ((table["f_lo"] <= true) & (true <= table["f_hi"])).mean()
    lower_missed = (table["f_lo"] > true).mean()
    tolerance = 3.5 * math.sqrt(0.95 * 0.05 / TRIALS)
    assert 0.95 - tolerance <= covered <= most, covered
    assert lower_missed <= 0.025 + 3.5 * math.sqrt(0.025 * 0.975 / TRIALS), lower_missed


def concatenated_gram(features: list[torch.Tensor]) -> torch.Tensor:
    """The paper's Gram style vector: every layer's part of :func:`gram_layers`, concatenated."""
    return torch.cat(gram_layers(features), dim=1)


def test_gram_vector_known_values():
    v = torch.tensor([[1.0, 2.0], [0.0, 3.0]])
    w = torch.tensor([[2.0, -1.0], [5.0, 0.0]])  # <v, w> = 2 - 2 + 0 + 0 = 0
    assert float((v * w).sum()) == 0
    feature = torch.stack([v, 2 * v, w, torch.zeros(2, 2)])[None]  # (1, 4, 2, 2)
    # pairs (0,1) (0,2) (0,3) (1,2) (1,3) (2,3): same direction, orthogonal, dead channel
    expected = torch.tensor([[1.0, 0, 0, 0, 0, 0]])
    assert torch.allclose(concatenated_gram([feature]), expected, atol=1e-6)

    rng = torch.Generator().manual_seed(0)
    maps = [torch.randn(2, c, 5, 5, generator=rng).relu() for c in (3, 8)]
    scaled = [m * torch.rand(1, m.shape[1], 1, 1, generator=rng).add(0.5) for m in maps]
    assert torch.allclose(concatenated_gram(maps), concatenated_gram(scaled), atol=1e-6)
    assert [part.shape for part in gram_layers(maps)] == [(2, 3), (2, 28)]  # C (C - 1) / 2
    with pytest.raises(FeatureError, match=r"\(B, C, H, W\)"):
        gram_layers([torch.zeros(2, 3, 4)])


def test_projection_is_a_seeded_sparse_sign_matrix():
    channels, dim, nonzeros = [4, 6], 16, 4
    size = 6 + 15  # the Gram parts of 4 and 6 channels
    projection = GramProjection(channels, dim=dim, seed=5, nonzeros=nonzeros)
    basis = torch.eye(size)
    matrix = projection([basis[:, :6], basis[:, 6:]]).T  # column i: the image of e_i
    assert matrix.shape == (dim, size)
    nonzero = matrix != 0
    assert (nonzero.sum(0) == nonzeros).all()
    assert torch.allclose(matrix[nonzero].abs(), torch.tensor(nonzeros**-0.5))
    # one nonzero in each block of dim / nonzeros output coordinates
    assert (nonzero.reshape(nonzeros, dim // nonzeros, size).sum(1) == 1).all()
    x = torch.randn(3, size, generator=torch.Generator().manual_seed(1))
    assert torch.allclose(projection([x[:, :6], x[:, 6:]]), x @ matrix.T, atol=1e-5)

    with pytest.raises(ConfigError, match=r"multiple"):
        GramProjection(channels, dim=10, nonzeros=4)
    with pytest.raises(FeatureError, match=r"do not match"):
        projection([x[:, :5], x[:, 5:]])


VGG = (64, 128, 256, 512, 512)
# stated tolerances at dim 1024 (the numbers in seedscope.style.gram's docstring)
TOLERANCE = {"cosine": 0.04, "centred": 0.15, "centred_mean": 0.04, "distance": 0.1}


@pytest.fixture(scope="module")
def gram_parts():
    """Gram parts of 24 varied 96 x 96 images (smooth colour fields at three scales, gray ones,
    stripes of four periods) through a random-weight VGG-shaped network (relu1_1 ... relu5_1
    widths, a 3 x 3 convolution and ReLU per stage, max-pooling between stages)."""
    rng = np.random.default_rng(0)
    size = 96
    stripes = np.sin(np.arange(size)[None, :, None] * 2 / np.array([3, 7, 13, 29])[:, None, None])
    images = np.concatenate(
        [
            colourful(rng, 6, size, 4),
            colourful(rng, 6, size, 16),
            colourful(rng, 4, size, 2),
            desaturate(colourful(rng, 4, size, 8), rng),
            np.broadcast_to((stripes * 127 + 128)[:, None, :, :], (4, size, size, 3)),
        ]
    ).astype(np.float32)
    h = (torch.from_numpy(images).permute(0, 3, 1, 2) / 255 - 0.45) / 0.25
    generator, features, inputs = torch.Generator().manual_seed(0), [], 3
    for i, width in enumerate(VGG):
        weight = torch.randn(width, inputs, 3, 3, generator=generator) * (2 / (inputs * 9)) ** 0.5
        h = torch.relu(
            torch.nn.functional.conv2d(
                h if i == 0 else torch.nn.functional.max_pool2d(h, 2), weight, padding=1
            )
        )
        features.append(h)
        inputs = width
    return gram_layers(features)


def _pairs(vectors: torch.Tensor) -> dict[str, torch.Tensor]:
    """Pairwise cosines, cosines after removing the mean (what PCA sees) and distances."""
    upper = torch.triu_indices(len(vectors), len(vectors), 1)

    def cosines(x: torch.Tensor) -> torch.Tensor:
        unit = x / x.norm(dim=1, keepdim=True)
        return (unit @ unit.T)[upper[0], upper[1]]

    vectors = vectors.double()
    return {
        "cosine": cosines(vectors),
        "centred": cosines(vectors - vectors.mean(0)),
        "distance": torch.cdist(vectors, vectors)[upper[0], upper[1]],
    }


def test_projection_keeps_gram_geometry(gram_parts):
    original = _pairs(torch.cat(gram_parts, 1))
    assert original["cosine"].max() - original["cosine"].min() > 0.1  # images do differ
    errors = {}
    for seed in (0, 1, 2):
        projected = _pairs(GramProjection(VGG, dim=1024, seed=seed)(gram_parts))
        for key in ("cosine", "centred"):
            errors.setdefault(key, []).append((projected[key] - original[key]).abs())
        errors.setdefault("distance", []).append(
            (projected["distance"] / original["distance"] - 1).abs()
        )
        spread = np.corrcoef(projected["centred"].numpy(), original["centred"].numpy())[0, 1]
        assert spread > 0.95, seed  # who resembles whom survives
    errors = {key: torch.cat(value) for key, value in errors.items()}
    print({key: (round(float(v.max()), 4), round(float(v.mean()), 4)) for key, v in errors.items()})
    assert errors["cosine"].max() <= TOLERANCE["cosine"]
    assert errors["centred"].max() <= TOLERANCE["centred"]
    assert errors["centred"].mean() <= TOLERANCE["centred_mean"]
    assert errors["distance"].max() <= TOLERANCE["distance"]

    # the error is real and shrinks like 1 / sqrt(dim): 16 times fewer dimensions, ~4 times more
    small = _pairs(GramProjection(VGG, dim=64, seed=0)(gram_parts))
    ratio = (small["centred"] - original["centred"]).abs().mean() / errors["centred"].mean()
    assert 2.5 < ratio < 6.5, ratio


def test_projection_is_regenerated_from_its_seed(gram_parts):
    first = GramProjection(VGG, dim=1024, seed=7)
    again = GramProjection(VGG, dim=1024, seed=7)
    other = GramProjection(VGG, dim=1024, seed=8)
    assert torch.equal(first(gram_parts), again(gram_parts))
    assert first.meta == again.meta
    assert other.meta["fingerprint"] != first.meta["fingerprint"]
    assert not torch.allclose(first(gram_parts), other(gram_parts), atol=1e-3)
