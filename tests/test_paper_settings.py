"""config.yaml holds the settings the paper states, as listed in docs/paper-settings.md.

The doc's first table is the one place the paper's values are written down beside the config:
it is parsed here and every row is compared with the validated config.yaml.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from seedscope.study import prompt_set_sizes
from seedscope.validate import validate_config

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "paper-settings.md"
STATED = "## Settings the paper states"
HEADER = ["setting", "config key", "value"]

_CODE = re.compile(r"^`([^`]+)`$")


def doc_table(text: str) -> dict[str, Any]:
    """Config key -> parsed YAML value, from the first table after the ``STATED`` heading.

    Every row below the header must be ``| words | `key` | `yaml` |``, and the section holds
    one table: a row that is not read fails here rather than being skipped.
    """
    section = text.split(STATED, 1)[1].split("\n## ", 1)[0]
    lines = [line.strip() for line in section.splitlines()]
    table = [i for i, line in enumerate(lines) if line.startswith("|")]
    assert table == list(range(table[0], table[0] + len(table))), "one table, no gaps"
    table = [lines[i] for i in table]
    assert [c.strip() for c in table[0].strip("|").split("|")] == HEADER, table[0]
    rows: dict[str, Any] = {}
    for line in table[2:]:
        cells = [c.strip() for c in line.strip("|").split("|")]
        assert len(cells) == 3, f"not a row of three cells: {line}"
        key, value = (_CODE.match(c) for c in cells[1:])
        assert key and value, f"key and value must each be one `code` span: {line}"
        assert key.group(1) not in rows, f"{key.group(1)} is listed twice"
        rows[key.group(1)] = yaml.safe_load(value.group(1))
    return rows


STATED_SETTINGS = doc_table(DOC.read_text())


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


def test_doc_table_holds_the_settings_the_papers_design_rests_on():
    for key in ("seeds.count", "prompts(coco1)", "quality.golden.top_k", "classifier.epochs"):
        assert key in STATED_SETTINGS, key


@pytest.mark.parametrize("key", sorted(STATED_SETTINGS))
def test_config_has_the_stated_setting(paper_config, key):
    assert lookup(paper_config, key) == STATED_SETTINGS[key], key


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


@pytest.mark.parametrize(
    "rows, error",
    [
        ("| one | a.b | `1` |\n", "one `code` span"),  # a key not in code: not skipped
        ("| one | `a.b` | `1` | extra |\n", "three cells"),
        ("| one | `a.b` | `1` |\n| two | `a.b` | `2` |\n", "listed twice"),
        ("| one | `a.b` | `1` |\n\n| two | `c` | `2` |\n", "no gaps"),  # a split table
    ],
)
def test_doc_table_parser_refuses_rows_it_cannot_read(rows, error):
    text = f"{STATED}\n\n| setting | config key | value |\n| --- | --- | --- |\n{rows}"
    with pytest.raises(AssertionError, match=error):
        doc_table(text)
