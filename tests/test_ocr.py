"""OCR of inpainted regions with the real RapidOCR models bundled in its wheel (loaded once per
module, with downloads and the network blocked), the ``ocr`` feature extractor, and the
per-seed text statistics and ``text`` tag."""

from __future__ import annotations

import socket
import sys
import types
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
import pytest
import yaml
from PIL import Image, ImageDraw, ImageFont

from seedscope.errors import ConfigError, FeatureError
from seedscope.files import file_sha256
from seedscope.inpainting.ocr import (
    BUNDLED,
    COLUMNS,
    TextBox,
    load_ocr,
    load_ocr_extractor,
    text_ratio,
)
from seedscope.inpainting.perseed import TASK_COLUMNS, seed_text_stats
from seedscope.inpainting.tables import task_table
from seedscope.stats import gaffke_interval
from seedscope.validate import load_config, validate_config

DEMO = Path(__file__).resolve().parents[1] / "profiles" / "demo" / "demo.yaml"
SIZE = 320
FONT = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"
TRIALS = 600  # simulated data sets per coverage case


def _no_download(*args, **kwargs):
    raise AssertionError(f"rapidocr tried to download a file: {args} {kwargs}")


def _no_network(self, address, *args):
    raise AssertionError(f"the OCR opened a network connection to {address}")


def ocr_settings(**keys: Any) -> dict[str, Any]:
    """The ``features.ocr`` section of the demo config with ``keys`` in place of the demo's
    own, validated: the schema fills in every other key's default."""
    config = yaml.safe_load(DEMO.read_text())
    config["features"]["ocr"] = keys
    return validate_config(config, check_libraries=False)["features"]["ocr"]


@pytest.fixture(scope="module")
def extractor():
    """The default extractor, loaded (and run once) with rapidocr's downloader and every
    socket connection failing: the bundled models are all it uses."""
    from rapidocr.utils.download_file import DownloadFile

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(DownloadFile, "run", _no_download)
        patch.setattr(socket.socket, "connect", _no_network)
        loaded = load_ocr_extractor(ocr_settings(batch_size=4, threads=2))
        loaded.ocr.detect(np.asarray(background()))
    return loaded


def background(seed: int = 0) -> Image.Image:
    """A light, gently shaded and noisy background (not flat, like a photo's wall or sky)."""
    rng = np.random.default_rng(seed)
    y = np.linspace(0, 1, SIZE)[:, None, None]
    base = np.array([225.0, 228.0, 215.0]) - 25 * y + rng.normal(0, 3, (SIZE, SIZE, 3))
    return Image.fromarray(np.clip(base, 0, 255).astype(np.uint8))


def with_text(image: Image.Image, word: str, xy: tuple[int, int], size: int = 56):
    """``image`` with ``word`` drawn dark in DejaVu Sans at ``xy``, and the word's pixel box."""
    image = image.copy()
    draw = ImageDraw.Draw(image)
    font = ImageFont.truetype(str(FONT), size)
    draw.text(xy, word, fill=(20, 20, 30), font=font)
    return np.asarray(image), draw.textbbox(xy, word, font=font)


def box_mask(box: tuple[int, int, int, int], pad: int = 4) -> np.ndarray:
    mask = np.zeros((SIZE, SIZE), dtype=bool)
    left, top, right, bottom = box
    mask[max(top - pad, 0) : bottom + pad, max(left - pad, 0) : right + pad] = True
    return mask


def test_the_extractor_runs_the_bundled_models_and_says_which(extractor):
    import rapidocr

    folder = Path(rapidocr.__file__).parent / "models"
    meta = extractor.meta
    assert (extractor.name, extractor.dim, extractor.batch_size) == ("ocr", 3, 4)
    assert extractor.needs_masks and not extractor.needs_prompts
    assert meta["extractor"] == "ocr" and meta["backend"] == "rapidocr"
    assert meta["rapidocr_version"] == "3.10.0" and meta["onnxruntime_version"]
    assert meta["min_confidence"] == 0.5 and meta["columns"] == list(COLUMNS)
    assert meta["det_limit_side_len"] == 736  # the schema's null: rapidocr's own value
    for task, file in BUNDLED.items():
        assert meta["models"][task] == {"file": file, "sha256": file_sha256(folder / file)}
    engine = extractor.ocr.engine
    for model in (engine.text_det, engine.text_cls, engine.text_rec):
        used = getattr(model.session.session, "_model_path", None)
        assert used is None or Path(used).parent.resolve() == folder.resolve()


def test_text_in_the_mask_covers_most_of_it_and_none_without_text(extractor):
    image, bbox = with_text(background(), "SALE", (90, 130))
    mask = box_mask(bbox)
    plain = np.asarray(background())
    rows = extractor([image, plain], [mask, mask])
    found = extractor.measure([image], [mask])  # the recognised text, for figures
    print("text rows", rows.tolist(), found["text"].tolist())
    assert rows.dtype == np.float32 and rows.shape == (2, 3)
    assert rows[0, 0] > 0.5 and rows[0, 1] == 1 and rows[0, 2] >= 1
    assert rows[1].tolist() == [0.0, 0.0, 0.0]
    assert found["text_ratio"][0] == rows[0, 0] and found["n_boxes"][0] == rows[0, 2]
    assert "SALE" in found["text"][0].upper()


def test_text_outside_the_mask_does_not_count(extractor):
    image, bbox = with_text(background(1), "OPEN", (40, 30))
    inside = box_mask(bbox)
    outside = np.zeros((SIZE, SIZE), dtype=bool)
    outside[180:300, 40:280] = True  # plain background below the word
    found = extractor.measure([image, image], [outside, inside])
    print("text ratio outside / inside", found["text_ratio"], found["text"])
    assert found["text_ratio"][0] == 0.0 and not found["has_text"][0]
    assert found["n_boxes"][0] == 0 and found["text"][0] == ""
    assert found["text_ratio"][1] > 0.5 and found["has_text"][1]
    assert "OPEN" in found["text"][1].upper()


def test_text_ratio_counts_the_union_of_confident_polygons_in_the_mask():
    square = np.array([[0, 0], [9, 0], [9, 9], [0, 9]], dtype=float)
    boxes = [TextBox(square, "a", 0.9), TextBox(square + 5, "b", 0.9), TextBox(square, "c", 0.2)]
    mask = np.zeros((40, 40), dtype=bool)
    mask[:20, :20] = True
    assert text_ratio(boxes, mask, 0.5) == pytest.approx((100 + 100 - 25) / 400)
    assert text_ratio(boxes[2:], mask, 0.5) == 0.0
    assert text_ratio(boxes[2:], mask, 0.1) == pytest.approx(100 / 400)


def test_the_seed_with_planted_text_is_tagged_and_no_other(extractor):
    """Real OCR on a few images, then 20 seeds x 25 pairs x 2 tasks built from them: seed 7
    carries the planted text in 14 of its 25 removal inpaintings, the others rarely."""
    texted = [with_text(background(i), w, (70, 120)) for i, w in enumerate(["SALE", "STOP"])]
    images = [image for image, _ in texted] + [np.asarray(background(5))] * 2
    masks = [box_mask(bbox, pad=30) for _, bbox in texted] * 2
    rows = extractor(images, masks)
    print("planted text rows", rows.tolist())
    assert rows[:, 1].tolist() == [1, 1, 0, 0]
    ratio, flag = rows[:, 0], rows[:, 1].astype(bool)

    rng = np.random.default_rng(3)
    table_rows = []
    for seed in range(20):
        for task in ("removal", "completion"):
            rate = 14 / 25 if (seed, task) == (7, "removal") else 0.04
            planted = rng.permutation(25) < round(rate * 25) if seed == 7 else rng.random(25) < rate
            for pair in range(25):
                which = (pair % 2) if planted[pair] else 2 + pair % 2
                table_rows.append((seed, pair, task, ratio[which], flag[which]))
    seeds, pairs, tasks, ratios, flags = map(np.array, zip(*table_rows, strict=True))
    table = seed_text_stats(ratios, flags, seeds, pairs, tasks, draws=1000)
    assert table.loc[table["text_tag"], "seed"].tolist() == [7]
    assert (table["tags"] == np.where(table["seed"] == 7, "text", "")).all()
    seven = table.set_index("seed").loc[7]
    assert seven["removal_tag"] and not seven["completion_tag"]
    assert seven["removal_ratio_rank"] == 1 and seven["removal_text_rank"] == 1
    assert seven["removal_ratio_lo"] > table["removal_ratio"].drop(7).max()
    assert (table["removal_ratio_lo"] <= table["removal_ratio"]).all()
    assert (table["removal_ratio"] <= table["removal_ratio_hi"]).all()
    again = seed_text_stats(ratios, flags, seeds, pairs, tasks, draws=1000)
    assert again.equals(table)
    per_task = [f"{task}_{c}" for task in ("completion", "removal") for c in TASK_COLUMNS]
    assert list(table.columns) == ["seed", *per_task, "text_tag", "tags"]
    removal = task_table(table, "removal").set_index("seed")
    assert list(removal.columns) == ["task", *TASK_COLUMNS, "text_tag"]
    assert removal.loc[7, "tag"] and removal["text_tag"].equals(table.set_index("seed")["text_tag"])
    assert removal["ratio_lo"].equals(table.set_index("seed")["removal_ratio_lo"])
    assert not task_table(table, "completion")["tag"].any()
    with pytest.raises(
        FeatureError, match=r"no task 'inpaint' \(it has \['completion', 'removal'\]"
    ):
        task_table(table, "inpaint")


def test_ratio_interval_is_the_bayesian_bootstrap_with_a_point_at_the_bound():
    rng = np.random.default_rng(0)
    values = np.where(rng.random(40) < 0.2, rng.random(40), 0.0)
    fast = gaffke_interval(values, 0.9, draws=20000, rng=1)
    weights = rng.dirichlet(np.ones(41), 20000)  # every value's weight and the extra value's
    lower = np.quantile(weights[:, :40] @ values, 0.05)  # extra value at 0
    upper = np.quantile(weights[:, :40] @ values + weights[:, 40], 0.95)  # at 1
    assert fast == pytest.approx((lower, upper), abs=0.005)
    # no text in 500 pairs: [0, Clopper-Pearson's upper bound of the rate], not [0, 0]
    assert gaffke_interval(np.zeros(500), 0.95) == (0.0, 1 - 0.025 ** (1 / 500))
    one = np.zeros(500)
    one[0] = 1e-9  # one tiny value: the Monte Carlo quantile of the same Beta(1, 500) weight
    low, high = gaffke_interval(one, 0.95, draws=20000, rng=2)
    assert low < 1e-9 and high == pytest.approx(1 - 0.025 ** (1 / 500), rel=0.05)


@pytest.mark.parametrize("shape", [(2, 2), (0.5, 3)], ids=["symmetric", "mostly-small"])
@pytest.mark.parametrize(("n", "rate"), [(500, 0.002), (500, 0.01), (500, 0.1), (25, 0.1)])
def test_ratio_interval_coverage_where_text_is_rare(n, rate, shape):
    """Each trial: n pairs, text in a pair with probability ``rate`` covering a Beta(shape)
    fraction of its mask, so the true mean ratio is rate x the Beta mean. At the paper's 500
    pairs a percentile bootstrap covers a rate of 0.002 in about 62 % of trials."""
    truth = rate * shape[0] / sum(shape)
    rng = np.random.default_rng([n, round(rate * 1000), *(round(10 * s) for s in shape)])
    low_missed = high_missed = 0
    for trial in range(TRIALS):
        values = np.where(rng.random(n) < rate, rng.beta(*shape, n), 0.0)
        low, high = gaffke_interval(values, 0.95, draws=1000, rng=trial)
        low_missed += low > truth
        high_missed += high < truth
    side = 0.025 + 3.5 * np.sqrt(0.025 * 0.975 / TRIALS)  # each end misses at most 2.5 %
    assert low_missed / TRIALS <= side and high_missed / TRIALS <= side, (low_missed, high_missed)
    assert (low_missed + high_missed) / TRIALS <= 0.05 + 3.5 * np.sqrt(0.95 * 0.05 / TRIALS)


def test_an_empty_mask_says_to_rebuild_the_pair_set(extractor):
    image = np.asarray(background())
    full = np.ones((SIZE, SIZE), bool)
    empty = np.zeros((SIZE, SIZE), bool)
    with pytest.raises(FeatureError, match="mask of pair 12 is empty.*rebuild the pair set"):
        extractor([image, image], [full, empty], names=["pair 11", "pair 12"])
    with pytest.raises(FeatureError, match="is empty"):
        text_ratio([], np.zeros((8, 8), bool), 0.5)


def test_bad_images_masks_and_settings_are_clear_errors(extractor):
    image = np.asarray(background())
    with pytest.raises(FeatureError, match="same resolution"):
        extractor([image], [np.ones((64, 64), bool)])
    with pytest.raises(FeatureError, match="other than 0/1"):
        extractor([image], [np.full((SIZE, SIZE), 255, np.uint8)])
    with pytest.raises(FeatureError, match="RGB uint8"):
        extractor([image.astype(float)], [np.ones((SIZE, SIZE), bool)])
    with pytest.raises(FeatureError, match="pass extractor\\(images, masks\\)"):
        extractor([image])
    with pytest.raises(FeatureError, match="2 images but 1 masks"):
        extractor([image, image], [np.ones((SIZE, SIZE), bool)])
    assert extractor([], []).shape == (0, 3)


def test_the_schema_checks_the_ocr_settings_and_the_demo_section_loads():
    with pytest.raises(ConfigError, match="features.ocr.backend.*'rapidocr', 'paddleocr'"):
        ocr_settings(backend="tesseract")
    with pytest.raises(ConfigError, match="features.ocr.min_confidence.*maximum of 1"):
        ocr_settings(min_confidence=1.5)
    with pytest.raises(ConfigError, match="features.ocr.batch_size.*minimum of 1"):
        ocr_settings(batch_size=0)
    with pytest.raises(ConfigError, match="features.ocr.det_limit_side_len.*minimum of 32"):
        ocr_settings(det_limit_side_len=16)
    demo = load_ocr_extractor(load_config(DEMO)["features"]["ocr"])
    assert demo.batch_size == 16 and demo.meta["det_limit_side_len"] == 128


def test_missing_paddleocr_names_the_backend_key_and_how_to_fix_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "paddleocr", None)  # import fails, installed or not
    with pytest.raises(FeatureError, match=r"features.ocr.backend is 'paddleocr'.*not installed"):
        load_ocr_extractor(ocr_settings(backend="paddleocr"))
    with pytest.raises(FeatureError, match="backend: rapidocr.*pip install paddleocr"):
        load_ocr(ocr_settings(backend="paddleocr", model_dir="models"))


def _fake_paddleocr(monkeypatch, engine) -> None:
    fake = types.ModuleType("paddleocr")
    fake.__version__ = "3.7.0"
    fake.PaddleOCR = engine
    monkeypatch.setitem(sys.modules, "paddleocr", fake)


def test_missing_paddleocr_models_name_the_model_dir(monkeypatch, tmp_path):
    def offline(**options):
        raise ConnectionError("Max retries exceeded with url: paddle-model-ecology")

    _fake_paddleocr(monkeypatch, offline)
    with pytest.raises(FeatureError, match="features.ocr.model_dir is not set"):
        load_ocr_extractor(ocr_settings(backend="paddleocr"))
    with pytest.raises(FeatureError, match=r"missing: .*nowhere/det, .*nowhere/rec"):
        load_ocr_extractor(ocr_settings(backend="paddleocr", model_dir=str(tmp_path / "nowhere")))
    for task in ("det", "rec"):
        (tmp_path / task).mkdir()
        (tmp_path / task / "inference.pdiparams").write_bytes(b"weights")
    with pytest.raises(FeatureError, match="could not load the models.*ConnectionError"):
        load_ocr_extractor(ocr_settings(backend="paddleocr", model_dir=str(tmp_path)))


def test_paddleocr_results_become_the_same_rows(monkeypatch, tmp_path):
    """The paddleocr 3 adapter on a stand-in engine: its polygons, texts and scores."""
    seen = {}

    class Engine:
        def __init__(self, **options):
            seen.update(options)

        def predict(self, bgr):
            seen["pixel"] = bgr[0, 0].tolist()
            square = np.array([[0, 0], [9, 0], [9, 9], [0, 9]])
            return [{"rec_polys": [square], "rec_texts": ["hi"], "rec_scores": [0.9]}]

    _fake_paddleocr(monkeypatch, Engine)
    for task, name in (("det", "PP-OCRv5_mobile_det"), ("rec", "PP-OCRv5_mobile_rec")):
        (tmp_path / task).mkdir()
        (tmp_path / task / "inference.yml").write_text(f"Global:\n  model_name: {name}\n")
    ocr = load_ocr_extractor(ocr_settings(backend="paddleocr", model_dir=str(tmp_path)))
    image = np.zeros((20, 20, 3), np.uint8)
    image[..., 0] = 7  # red: the engine gets BGR
    mask = np.zeros((20, 20), bool)
    mask[:10] = True
    assert ocr([image], [mask]).tolist() == [[0.5, 1.0, 1.0]]
    assert seen["pixel"] == [0, 0, 7] and seen["use_textline_orientation"] is False
    assert seen["text_detection_model_name"] == "PP-OCRv5_mobile_det"
    assert ocr.meta["backend"] == "paddleocr" and ocr.meta["paddleocr_version"] == "3.7.0"
    assert set(ocr.meta["models"]["det"]) == {"inference.yml"}


def test_bad_per_seed_input_is_a_clear_error():
    ones = np.ones(4)
    with pytest.raises(FeatureError, match="more than once"):
        seed_text_stats(ones / 2, ones, [0, 0, 1, 1], [0, 0, 0, 1], ["removal"] * 4)
    with pytest.raises(FeatureError, match="outside"):
        seed_text_stats(ones * 2, ones, [0, 0, 1, 1], [0, 1, 0, 1], ["removal"] * 4)
    with pytest.raises(FeatureError, match="task 'completion' has no images of seed 1"):
        seed_text_stats(
            ones / 2, ones, [0, 0, 1, 1], [0, 0, 0, 1], ["removal", "completion"] + ["removal"] * 2
        )
    with pytest.raises(ConfigError, match="margin"):
        seed_text_stats(ones / 2, ones, [0, 0, 1, 1], [0, 1, 0, 1], ["removal"] * 4, margin=1.5)
