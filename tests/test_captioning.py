"""Dense captions: the tiny LLaVA through the real loading path, captions files."""

from __future__ import annotations

import json
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pytest

from seedscope.errors import DataError, ModelNotFoundError
from seedscope.prompts.captioning import (
    DEFAULT_CAPTION_PROMPT,
    caption_rows,
    load_captioner,
    read_captions_file,
)
from seedscope.prompts.coco import list_images, make_demo_images, open_image
from seedscope.prompts.rows import read_prompts, write_prompts
from seedscope.tiny.llava import build_tiny_llava


@pytest.fixture(scope="module")
def tiny_llava(tmp_path_factory):
    return build_tiny_llava(tmp_path_factory.mktemp("captioner") / "llava", seed=0)


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    folder = tmp_path_factory.mktemp("images")
    make_demo_images(folder, 5, seed=0, size=64)
    return folder


@pytest.fixture(scope="module")
def captioner(tiny_llava):
    return load_captioner(str(tiny_llava), device="cpu", dtype="float32")


def test_tiny_llava_is_small_and_saved_as_safetensors(tiny_llava):
    files = {p.name for p in tiny_llava.iterdir()}
    assert {"config.json", "model.safetensors", "processor_config.json", "tokenizer.json"} <= files
    assert not any(name.endswith((".bin", ".pt", ".py")) for name in files)
    assert sum(p.stat().st_size for p in tiny_llava.iterdir()) < 5 * 2**20
    config = json.loads((tiny_llava / "config.json").read_text())
    assert config["architectures"] == ["LlavaForConditionalGeneration"]


def test_prompt_is_llava_15_chat_format(captioner):
    assert captioner.prompt == DEFAULT_CAPTION_PROMPT
    assert captioner.prompt.startswith("USER: <image>\n") and captioner.prompt.endswith(
        "ASSISTANT:"
    )
    assert captioner.processor.tokenizer.padding_side == "left"


def test_captions_are_deterministic_non_empty_strings(captioner, tiny_llava, images, tmp_path):
    batch = [open_image(images, name) for name in list_images(images)[:4]]
    first = captioner.caption(batch, max_new_tokens=12)
    assert len(first) == 4
    assert all(isinstance(c, str) and c.strip() for c in first)
    assert not any("ASSISTANT" in c or "<image>" in c for c in first)  # the prompt is stripped
    assert captioner.caption(batch, max_new_tokens=12) == first
    # A fresh load of the same folder gives the same captions.
    assert load_captioner(str(tiny_llava)).caption(batch, max_new_tokens=12) == first
    # A model initialised from another seed captions differently.
    other = build_tiny_llava(tmp_path / "seed1", seed=1)
    assert load_captioner(str(other)).caption(batch, max_new_tokens=12) != first


def test_caption_rows_are_valid_prompt_rows(captioner, images, tmp_path):
    names = list_images(images)

    class Bar:
        n = 0

        def update(self, k):
            self.n += k

    bar = Bar()
    rows = caption_rows(images, names, captioner, "coco", 2, 8, progress=bar)
    assert bar.n == 5
    assert [r["id"] for r in rows] == [f"coco-{i:05d}" for i in range(5)]
    assert [r["meta"]["image"] for r in rows] == names
    assert all(r["meta"]["source"] == "coco-train2017" and r["set"] == "coco" for r in rows)
    assert all(r["text"] == " ".join(r["text"].split()) for r in rows)
    assert read_prompts(write_prompts(rows, tmp_path / "captions.jsonl")) == rows


def test_empty_and_messy_captions_are_normalised(images):
    class Fixed:
        """A captioner that answers with fixed strings (the model path is tested above)."""

        def caption(self, batch, max_new_tokens):
            return ["  a red\n\tsquare  ", ""][: len(batch)]

    rows = caption_rows(images, list_images(images)[:2], Fixed(), "c", 2, 5)
    assert rows[0]["text"] == "a red square" and "empty_caption" not in rows[0]["meta"]
    assert rows[1]["text"] == "an image" and rows[1]["meta"]["empty_caption"] is True


def test_missing_models_raise_model_not_found(tmp_path):
    missing = tmp_path / "no-such-llava"
    with pytest.raises(ModelNotFoundError, match="no-such-llava") as err:
        load_captioner(str(missing))
    assert "no config.json" in str(err.value)
    model_id = "seedscope-test/no-such-llava-1.5"
    with pytest.raises(ModelNotFoundError) as err:
        load_captioner(model_id)
    message = str(err.value)
    assert f"huggingface-cli download {model_id}" in message
    assert "huggingface-cli login" in message and "local folder" in message


def test_read_captions_file_jsonl_and_csv(tmp_path):
    jsonl = tmp_path / "captions.jsonl"
    jsonl.write_text(
        json.dumps({"image": "000000000009.jpg", "caption": "A plate of  food."})
        + "\n\n"
        + json.dumps({"image": "000000000025.jpg", "caption": "Two giraffes, tall."})
        + "\n",
        encoding="utf-8",
    )
    rows = read_captions_file(jsonl, "coco")
    assert [r["text"] for r in rows] == ["A plate of food.", "Two giraffes, tall."]
    assert [r["id"] for r in rows] == ["coco-00000", "coco-00001"]
    assert rows[1]["meta"]["image"] == "000000000025.jpg"
    csv_path = tmp_path / "captions.csv"
    csv_path.write_text(
        "image,caption\n"
        "000000000009.jpg,A plate of food.\n"
        '000000000025.jpg,"Two giraffes, tall."\n',
        encoding="utf-8",
    )
    assert read_captions_file(csv_path, "coco") == rows


def test_bad_captions_files_name_the_problem(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"image": "a.jpg", "caption": "x"}\n{"image": "b.jpg"}\n', encoding="utf-8")
    with pytest.raises(DataError, match=r"bad\.jsonl, line 2: .*'caption'"):
        read_captions_file(bad, "coco")
    no_column = tmp_path / "bad.csv"
    no_column.write_text("file,caption\na.jpg,x\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"lacks column\(s\) \['image'\]"):
        read_captions_file(no_column, "coco")
    with pytest.raises(DataError, match="does not exist"):
        read_captions_file(tmp_path / "none.csv", "coco")
