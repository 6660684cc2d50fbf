"""Prompt rows, synthetic prompts and PartiPrompts."""

from __future__ import annotations

import json
import os
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pytest
import yaml

from seedscope.errors import ConfigError, DataError
from seedscope.prompts.parti import PARTI_SHA256, load_parti
from seedscope.prompts.rows import prompt_id, read_prompts, write_prompts
from seedscope.prompts.synthetic import PAPER_MODIFIERS, PAPER_OBJECTS, make_synthetic_prompts

ROOT = Path(__file__).resolve().parents[1]


def row(i: int, text: str = "a photo of a dog", **extra) -> dict:
    return {"id": prompt_id("s", i), "text": text, "set": "s", "meta": {"i": i}} | extra


# --- rows -------------------------------------------------------------------------------------


def test_prompt_id_format_and_bad_set_name():
    assert prompt_id("parti", 7) == "parti-00007"
    assert prompt_id("coco1", 12345) == "coco1-12345"
    with pytest.raises(ConfigError, match="a.b"):
        prompt_id("a.b", 0)


def test_write_read_round_trip_keeps_order_and_unicode(tmp_path):
    rows = [row(2, "un café à Paris"), row(0, "a dog"), row(1, 'a sign saying "hi"\nthere')]
    path = write_prompts(rows, tmp_path / "sub" / "set.jsonl")
    assert read_prompts(path) == rows
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 3
    assert "café" in lines[0]  # UTF-8, not \u escapes
    assert list(json.loads(lines[0])) == sorted(json.loads(lines[0]))  # sorted keys
    assert [p.name for p in path.parent.iterdir()] == ["set.jsonl"]  # no temporary left


@pytest.mark.parametrize(
    "bad, message",
    [
        (row(1) | {"id": "s.00001"}, "bad id 's.00001'"),
        (row(1) | {"id": "a/b"}, "bad id 'a/b'"),
        (row(1) | {"text": "   "}, "empty or non-string text"),
        (row(1) | {"meta": "x"}, "meta of id"),
        ({"id": "s-1", "text": "x"}, "missing key"),
        (row(0), "duplicate id 's-00000'"),
    ],
)
def test_write_rejects_bad_rows_and_writes_nothing(tmp_path, bad, message):
    path = tmp_path / "set.jsonl"
    with pytest.raises(DataError, match="row 1") as err:
        write_prompts([row(0), bad], path)
    assert message in str(err.value)
    assert not path.exists()
    assert list(tmp_path.iterdir()) == []


def test_write_rejects_empty_set(tmp_path):
    with pytest.raises(DataError, match="no prompt rows"):
        write_prompts([], tmp_path / "set.jsonl")


def test_read_names_file_and_line(tmp_path):
    path = tmp_path / "set.jsonl"
    good = json.dumps(row(0))
    path.write_text(good + "\n" + json.dumps(row(1) | {"id": "x.y"}) + "\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"set\.jsonl, line 2: bad id 'x\.y'"):
        read_prompts(path)
    path.write_text(good + "\n{not json\n", encoding="utf-8")
    with pytest.raises(DataError, match="line 2: not valid JSON"):
        read_prompts(path)
    path.write_text(good + "\n" + good + "\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"line 2: duplicate id 's-00000' \(first at line 1\)"):
        read_prompts(path)
    with pytest.raises(DataError, match="missing.jsonl does not exist"):
        read_prompts(tmp_path / "missing.jsonl")


# --- synthetic --------------------------------------------------------------------------------


def test_paper_synthetic_set_has_880_prompts_with_right_articles(tmp_path):
    assert len(PAPER_OBJECTS) == 40 and len(PAPER_MODIFIERS) == 22 and "" in PAPER_MODIFIERS
    rows = make_synthetic_prompts("synthetic", PAPER_OBJECTS, PAPER_MODIFIERS)
    assert len(rows) == 880
    texts = {r["text"] for r in rows}
    assert len(texts) == 880
    for text in [
        "a photo of an apple",
        "a photo of a red apple",
        "a photo of an orange",
        "a photo of an old car",
        "a photo of an umbrella",
        "a photo of a person",
        "a photo of a teddy bear",
        "a photo of an elephant",
        "a photo of a golden potted plant",
    ]:
        assert text in texts
    assert rows[0] == {
        "id": "synthetic-00000",
        "text": "a photo of a person",
        "set": "synthetic",
        "meta": {"object": "person", "modifier": ""},
    }
    assert rows[1]["meta"] == {"object": "person", "modifier": "red"}  # object-major
    assert rows[22]["meta"] == {"object": "bicycle", "modifier": ""}
    assert read_prompts(write_prompts(rows, tmp_path / "s.jsonl")) == rows


def test_config_yaml_lists_the_same_objects_and_modifiers():
    # config.yaml spells the paper's lists out for the workflow; PAPER_* is the one Python copy.
    synthetic = yaml.safe_load((ROOT / "config.yaml").read_text())["prompt_sets"]["synthetic"]
    assert tuple(synthetic["objects"]) == PAPER_OBJECTS
    assert tuple(synthetic["modifiers"]) == PAPER_MODIFIERS


def test_synthetic_template_and_validation():
    rows = make_synthetic_prompts("t", ["cat", "owl"], ["", "orange"], "{phrase}, oil painting")
    assert [r["text"] for r in rows] == [
        "a cat, oil painting",
        "an orange cat, oil painting",
        "an owl, oil painting",
        "an orange owl, oil painting",
    ]
    with pytest.raises(ConfigError, match=r"no \{phrase\} placeholder"):
        make_synthetic_prompts("t", ["cat"], [""], "a photo of {object}")
    with pytest.raises(ConfigError, match=r"duplicate objects \['cat'\]"):
        make_synthetic_prompts("t", ["cat", "dog", "cat"], [""])
    with pytest.raises(ConfigError, match=r"duplicate modifiers \['red'\]"):
        make_synthetic_prompts("t", ["cat"], ["red", "", "red"])
    with pytest.raises(ConfigError, match="empty entry"):
        make_synthetic_prompts("t", ["cat", " "], ["red"])


# --- PartiPrompts -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def parti():
    return load_parti()


def test_bundled_parti_has_1632_labelled_prompts(parti):
    assert len(parti) == 1632
    assert parti[0] == {
        "id": "parti-00000",
        "text": "bond",
        "set": "parti",
        "meta": {
            "category": "Abstract",
            "challenge": "Basic",
            "note": "Biology-inspired concepts with multiple meanings",
        },
    }
    assert len({r["meta"]["category"] for r in parti}) == 12
    assert len({r["meta"]["challenge"] for r in parti}) == 11
    assert all(r["text"] == r["text"].strip() and r["text"] for r in parti)
    # A prompt that starts with a quotation mark keeps it (csv quoting is off).
    assert any(r["text"].startswith('"G I G G L E"') for r in parti)


def test_parti_limit_is_a_stable_seeded_sample_with_stable_ids(parti):
    sample = load_parti(limit=100, sample_seed=3)
    assert len(sample) == 100
    assert sample == load_parti(limit=100, sample_seed=3)
    assert sample != load_parti(limit=100, sample_seed=4)
    by_id = {r["id"]: r for r in parti}
    assert all(by_id[r["id"]] == r for r in sample)  # same ids and texts as in the full set
    ids = [r["id"] for r in sample]
    assert ids == sorted(ids)  # file order
    with pytest.raises(ConfigError, match="between 1 and 1632"):
        load_parti(limit=5000)


def test_parti_file_source_checks_sha256(tmp_path, parti):
    from importlib import resources

    data = resources.files("seedscope").joinpath("data/PartiPrompts.tsv").read_bytes()
    good = tmp_path / "PartiPrompts.tsv"
    good.write_bytes(data)
    assert load_parti(source="file", path=good, set_name="p2")[5]["text"] == parti[5]["text"]
    changed = tmp_path / "changed.tsv"
    changed.write_bytes(data.replace(b"bond", b"bend", 1))
    with pytest.raises(DataError, match=f"expected {PARTI_SHA256}") as err:
        load_parti(source="file", path=changed)
    assert "changed.tsv" in str(err.value)
    rows = load_parti(source="file", path=changed, sha256=None)
    assert rows[0]["text"] == "bend"
    with pytest.raises(DataError, match="does not exist"):
        load_parti(source="file", path=tmp_path / "nope.tsv")
    with pytest.raises(ConfigError, match="needs a path"):
        load_parti(source="file")
    with pytest.raises(ConfigError, match="unknown"):
        load_parti(source="ftp")
