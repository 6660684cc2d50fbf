"""config.yaml holds the settings the paper states, as listed in docs/paper-settings.md.

The doc's first table is parsed here and compared both with ``PAPER_SETTINGS`` (so a row cannot
change silently in either place) and with the validated config.yaml.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from seedscope.config import prompt_set_sizes, validate_config

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "paper-settings.md"
STATED = "## Settings the paper states"

# The paper's stated settings: config key (as in the doc's table) -> value.
PAPER_SETTINGS: dict[str, Any] = {
    "seeds.count": 1024,
    "models.sd2.weights": "stabilityai/stable-diffusion-2-base",
    "models.sdxl-turbo.weights": "stabilityai/sdxl-turbo",
    "prompts(*)": 22512,
    "coco.parts": [10000, 10000],
    "prompts(coco1)": 10000,
    "prompts(coco2)": 10000,
    "coco.captioner.model": "llava-hf/llava-1.5-7b-hf",
    "prompts(parti)": 1632,
    "len(prompt_sets.synthetic.objects)": 40,
    "len(prompt_sets.synthetic.modifiers)": 22,
    "prompts(synthetic)": 880,
    "seed_swap.steps": 40,
    "quality.fid_set": "coco1",
    "quality.hps_prompts": 1000,
    "quality.generalisation_set": "coco2",
    "features.hps.version": "v2.0",
    "quality.golden.top_k": 256,
    "quality.golden.metrics": ["fid", "hps"],
    "quality.table1.fid_sets": ["coco2"],
    "quality.table1.hps_sets": ["coco2", "parti"],
    "quality.table1.prompts": None,  # every prompt of the held-out sets ("another 10,000 prompts")
    "classifier.split.train": 9000,
    "classifier.split.val": 1000,
    "classifier.split.test": 1000,
    "classifier.epochs": 6,
}

_CODE = re.compile(r"^`([^`]+)`$")


def doc_table(text: str) -> dict[str, Any]:
    """Config key -> parsed YAML value, from the first table after the ``STATED`` heading."""
    section = text.split(STATED, 1)[1].split("\n## ", 1)[0]
    rows: dict[str, Any] = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if not line.startswith("|") or len(cells) != 3 or set(cells[1]) <= {"-", " "}:
            continue
        key, value = (_CODE.match(c) for c in cells[1:])
        if key is None or value is None:
            continue  # the header row
        assert key.group(1) not in rows, f"{key.group(1)} is listed twice"
        rows[key.group(1)] = yaml.safe_load(value.group(1))
    return rows


def lookup(config: dict[str, Any], key: str) -> Any:
    """The value of a doc key: a dotted path, ``len(path)``, ``prompts(set)`` or ``prompts(*)``."""
    if match := re.fullmatch(r"prompts\((.+)\)", key):
        sizes = prompt_set_sizes(config)
        name = match.group(1)
        if name == "*":  # the text-to-image prompts (inpaint sets are image-mask pairs)
            sets = config["prompt_sets"]
            return sum(n for s, n in sizes.items() if sets[s]["kind"] != "inpaint")
        return sizes[name]
    if match := re.fullmatch(r"len\((.+)\)", key):
        return len(lookup(config, match.group(1)))
    value: Any = config
    for part in key.split("."):
        assert isinstance(value, dict) and part in value, f"config has no key {key}"
        value = value[part]
    return value


@pytest.fixture(scope="module")
def paper_config() -> dict[str, Any]:
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    return validate_config(config, check_libraries=False)


def test_doc_table_lists_the_stated_settings():
    assert doc_table(DOC.read_text()) == PAPER_SETTINGS


@pytest.mark.parametrize("key", sorted(PAPER_SETTINGS))
def test_config_has_the_stated_setting(paper_config, key):
    assert lookup(paper_config, key) == PAPER_SETTINGS[key], key


def test_lookup_reads_paths_lengths_and_prompt_counts():
    config = {
        "a": {"b": [1, 2, 3]},
        "coco": {"parts": [5, 7]},
        "prompt_sets": {"x": {"kind": "coco", "part": 1}, "y": {"kind": "coco", "part": 0}},
    }
    assert lookup(config, "a.b") == [1, 2, 3]
    assert lookup(config, "len(a.b)") == 3
    assert lookup(config, "prompts(x)") == 7
    assert lookup(config, "prompts(*)") == 12
    with pytest.raises(AssertionError, match="no key a.c"):
        lookup(config, "a.c")


def test_doc_table_parser_stops_at_the_next_section():
    text = (
        f"{STATED}\n\n| setting | config key | value |\n| --- | --- | --- |\n"
        "| one | `a.b` | `[1, 2]` |\n| two | `c` | `x` |\n\n## Next\n| z | `d` | `1` |\n"
    )
    assert doc_table(text) == {"a.b": [1, 2], "c": "x"}
