"""Prompt rows and their JSONL files.

A prompt row is ``{"id": str, "text": str, "set": str, "meta": dict}``. Ids become
WebDataset keys of the image shards, so they hold only letters, digits, ``_`` and ``-``
(no dots, no slashes) and are unique within a file.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from seedscope.errors import ConfigError, DataError
from seedscope.files import read_jsonl, replace_atomically

ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]+$")
REQUIRED_KEYS = ("id", "text", "set", "meta")


def prompt_id(set_name: str, index: int) -> str:
    """The id of prompt ``index`` of set ``set_name``: ``f"{set_name}-{index:05d}"``."""
    if not ID_PATTERN.match(set_name):
        raise ConfigError(
            f"prompt set name {set_name!r} cannot be used in prompt ids; use only letters, "
            "digits, '_' and '-'"
        )
    if index < 0:
        raise ConfigError(f"prompt index must be >= 0, got {index}")
    return f"{set_name}-{index:05d}"


def _row_problem(row: Any) -> str | None:
    """What is wrong with one row, or None if it is a valid prompt row."""
    if not isinstance(row, dict):
        return f"a row must be a JSON object, got {type(row).__name__}"
    missing = [key for key in REQUIRED_KEYS if key not in row]
    if missing:
        return f"missing key(s) {missing}; a row needs {list(REQUIRED_KEYS)}"
    if not isinstance(row["id"], str) or not ID_PATTERN.match(row["id"]):
        return (
            f"bad id {row['id']!r}: ids may hold only letters, digits, '_' and '-' "
            "(no dots or slashes: they become WebDataset keys)"
        )
    if not isinstance(row["text"], str) or not row["text"].strip():
        return f"empty or non-string text {row['text']!r} for id {row['id']!r}"
    if not isinstance(row["set"], str) or not row["set"]:
        return f"empty or non-string set {row['set']!r} for id {row['id']!r}"
    if not isinstance(row["meta"], dict):
        return f"meta of id {row['id']!r} must be an object, got {type(row['meta']).__name__}"
    return None


def _validate(rows: Iterable[Any], where: str, line_of=lambda i: f"row {i}") -> list[dict]:
    rows = list(rows)
    if not rows:
        raise DataError(f"{where}: no prompt rows; a prompt set needs at least one prompt")
    seen: dict[str, int] = {}
    for i, row in enumerate(rows):
        problem = _row_problem(row)
        if problem:
            raise DataError(f"{where}, {line_of(i)}: {problem}")
        if row["id"] in seen:
            raise DataError(
                f"{where}, {line_of(i)}: duplicate id {row['id']!r} (first at "
                f"{line_of(seen[row['id']])}); ids must be unique within a prompt set"
            )
        seen[row["id"]] = i
    return rows


def write_prompts(rows: Iterable[dict[str, Any]], path: str | Path) -> Path:
    """Validate ``rows`` and write them to ``path`` as JSONL, atomically, in the given order.

    One row per line, keys sorted, UTF-8. The file appears under its name only when complete.
    Raises ``DataError`` naming the bad row (empty text, bad or duplicate id, ...).
    """
    path = Path(path)
    rows = _validate(rows, f"prompt rows for {path}")
    lines = []
    for i, row in enumerate(rows):
        try:
            lines.append(json.dumps(row, sort_keys=True, ensure_ascii=False) + "\n")
        except (TypeError, ValueError) as err:
            raise DataError(
                f"prompt rows for {path}, row {i}: not JSON-serialisable: {err}"
            ) from err
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    replace_atomically(path, "".join(lines).encode("utf-8"), durable=True, tmp=tmp)
    return path


def read_prompts(path: str | Path) -> list[dict[str, Any]]:
    """Read and validate a prompt JSONL file written by :func:`write_prompts`.

    Raises ``DataError`` naming the file and line of a bad row, or the file if it is missing.
    """
    lines = read_jsonl(path, "prompt file", "the prompt_set rule")
    rows = [row for _, row in lines]
    return _validate(rows, str(path), line_of=lambda i: f"line {lines[i][0]}")
