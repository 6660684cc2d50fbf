"""sha256 digests and atomic file replacement, shared by every writer of shards, tables,
prompts, checkpoints and weights; and the checked reader of JSONL files (prompts, pairs).

A file written with :func:`atomic_output` or :func:`replace_atomically` appears under its name
only when complete: a killed job leaves the old file (or none), never a half-written one.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from seedscope.errors import DataError


def sha256_hex(data: bytes) -> str:
    """The sha256 of ``data``, as hex."""
    return hashlib.sha256(data).hexdigest()


def file_sha256(path: str | Path) -> str:
    """The sha256 of a file's bytes, as hex, read in blocks rather than all at once."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def json_sha256(
    value: Any, *, compact: bool = False, default: Callable[[Any], Any] | None = None
) -> str:
    """The sha256 of ``value`` as JSON with sorted keys (UTF-8, ASCII-escaped), as hex.

    ``compact`` leaves out the spaces after ``,`` and ``:``; ``default`` is ``json.dumps``'s
    fallback for values JSON cannot encode (e.g. ``str``). Both change the digest, and stored
    files hold these digests: each caller keeps the choice it was written with.
    """
    separators = (",", ":") if compact else None
    text = json.dumps(value, sort_keys=True, separators=separators, default=default)
    return sha256_hex(text.encode())


def fsync_dir(directory: str | Path) -> None:
    """Make renames in ``directory`` durable, where the platform can open a directory."""
    with contextlib.suppress(OSError):  # e.g. Windows, or a file system that cannot
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _fsync_file(path: Path) -> None:
    with open(path, "r+b") as f:
        os.fsync(f.fileno())


@contextlib.contextmanager
def atomic_output(
    path: str | Path, *, durable: bool = False, tmp: str | Path | None = None
) -> Iterator[Path]:
    """A temporary path to write ``path``'s new content to, renamed onto ``path`` on exit.

    The temporary is ``<path>.tmp`` unless ``tmp`` names another (in the same folder, so that
    the rename is atomic). If the block raises, the temporary is deleted and ``path`` is left
    as it was. ``durable`` fsyncs the temporary before the rename and the folder after it.
    """
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp") if tmp is None else Path(tmp)
    try:
        yield tmp
        if durable:
            _fsync_file(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if durable:
        fsync_dir(path.parent)


def replace_atomically(
    path: str | Path, data: bytes, *, durable: bool = False, tmp: str | Path | None = None
) -> None:
    """Replace ``path``'s content by ``data`` through :func:`atomic_output`."""
    with atomic_output(path, durable=durable, tmp=tmp) as out, open(out, "wb") as f:
        f.write(data)


def read_jsonl(path: str | Path, what: str, rule: str, fix: str = "") -> list[tuple[int, Any]]:
    """The value of every non-blank line of the JSONL file ``path``, with its line number.

    A missing file is a ``DataError`` naming it as ``what`` (e.g. ``"prompt file"``) and the
    ``rule`` that builds it; a line that is not JSON one naming the file and the line, followed
    by ``fix`` (what to do about it) when given.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{what} {path} does not exist; build it first ({rule}) or fix the path")
    values = []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                values.append((number, json.loads(line)))
            except json.JSONDecodeError as err:
                advice = f"; {fix}" if fix else ""
                raise DataError(f"{path}, line {number}: not valid JSON ({err}){advice}") from err
    return values
