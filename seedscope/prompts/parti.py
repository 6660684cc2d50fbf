"""PartiPrompts (1,632 prompts with category and challenge labels), checksum-verified.

The TSV ships with seedscope unmodified (Apache-2.0, see ``seedscope/data/NOTICE-PartiPrompts.md``);
it can also be read from a local file or downloaded from its upstream URL.
"""

from __future__ import annotations

import csv
import io
import random
from importlib import resources
from pathlib import Path
from typing import Any

from seedscope.errors import ConfigError, DataError
from seedscope.files import sha256_hex
from seedscope.prompts.coco import download_file
from seedscope.prompts.rows import prompt_id

PARTI_URL = "https://raw.githubusercontent.com/google-research/parti/main/PartiPrompts.tsv"
PARTI_SHA256 = "fab29e41bb512a169b56acab4cf2a41dcb675e285df2efcde6640c7dd3c440eb"
PARTI_COLUMNS = ("Prompt", "Category", "Challenge", "Note")
SOURCES = ("bundled", "file", "url")


def _check_sha256(data: bytes, sha256: str | None, where: str) -> None:
    actual = sha256_hex(data)
    if sha256 is not None and actual != sha256.lower():
        raise DataError(
            f"PartiPrompts from {where} has sha256 {actual}, expected {sha256}. Use the "
            "unmodified PartiPrompts.tsv, or set the prompt set's sha256 to the actual value "
            "if you changed the file on purpose"
        )


def _read_source(
    source: str, url: str | None, sha256: str | None, path: str | Path | None, cache_dir
) -> tuple[bytes, str]:
    if source == "bundled":
        data = resources.files("seedscope").joinpath("data/PartiPrompts.tsv").read_bytes()
        return data, "the bundled copy seedscope/data/PartiPrompts.tsv"
    if source == "file":
        if path is None:
            raise ConfigError("PartiPrompts source 'file' needs a path to PartiPrompts.tsv")
        path = Path(path).expanduser()
        if not path.is_file():
            raise DataError(f"PartiPrompts file {path} does not exist; fix the prompt set's path")
        return path.read_bytes(), str(path)
    if source == "url":
        url = url or PARTI_URL
        dest = Path(cache_dir) / f"PartiPrompts-{(sha256 or 'unchecked')[:12]}.tsv"
        download_file(url, dest, sha256=sha256)
        return dest.read_bytes(), f"{url} (cached at {dest})"
    raise ConfigError(f"PartiPrompts source {source!r} is unknown; use one of {list(SOURCES)}")


def parse_parti(data: bytes, where: str) -> list[dict[str, str]]:
    """The records of a PartiPrompts TSV (columns Prompt, Category, Challenge, Note)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise DataError(f"PartiPrompts from {where} is not UTF-8 text ({err})") from err
    # QUOTE_NONE: some prompts start with a quotation mark that is part of the prompt.
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter="\t", quoting=csv.QUOTE_NONE)
    missing = [c for c in PARTI_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise DataError(f"PartiPrompts from {where} lacks column(s) {missing}")
    records = []
    for line, record in enumerate(reader, start=2):
        if not (record["Prompt"] or "").strip():
            raise DataError(f"PartiPrompts from {where}, line {line}: empty prompt")
        records.append(record)
    return records


def load_parti(
    source: str = "bundled",
    url: str | None = None,
    sha256: str | None = PARTI_SHA256,
    path: str | Path | None = None,
    limit: int | None = None,
    sample_seed: int = 0,
    set_name: str = "parti",
    cache_dir: str | Path = "results/downloads",
) -> list[dict[str, Any]]:
    """PartiPrompts as prompt rows, from the bundled copy, a local ``path`` or ``url``.

    The file's sha256 must equal ``sha256`` (``None`` skips the check). ``limit`` keeps a
    seeded sample (``random.Random(sample_seed)``) of that many prompts in file order. Row
    ids are the prompts' positions in the full file, so they do not change with ``limit``.
    ``meta`` holds category, challenge and note. Prompt text is stripped of outer spaces.
    """
    data, where = _read_source(source, url, sha256, path, cache_dir)
    _check_sha256(data, sha256, where)
    records = parse_parti(data, where)
    indices = list(range(len(records)))
    if limit is not None:
        if not 1 <= limit <= len(records):
            raise ConfigError(
                f"PartiPrompts limit {limit} must be between 1 and {len(records)} (the number "
                f"of prompts in {where}); use null to keep all"
            )
        indices = sorted(random.Random(sample_seed).sample(indices, limit))
    return [
        {
            "id": prompt_id(set_name, i),
            "text": records[i]["Prompt"].strip(),
            "set": set_name,
            "meta": {
                "category": records[i]["Category"] or "",
                "challenge": records[i]["Challenge"] or "",
                "note": records[i]["Note"] or "",
            },
        }
        for i in indices
    ]
