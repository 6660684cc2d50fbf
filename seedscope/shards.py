"""Image shards: WebDataset-style tar files with a manifest, written atomically and resumably.

A shard holds every prompt of one prompt set for one block of seeds. Each image is two tar
members, ``<key>.png`` and ``<key>.json`` (the WebDataset convention, so ``webdataset``, ``tar``
and most training loaders read it as is). Beside it lies ``<shard>.json``, the manifest: every
key with its prompt, seed, the sha256 of both members and their byte offsets in the tar, which
gives random access by seed or prompt without unpacking anything.

Writing goes to ``<shard>.partial`` plus a progress log ``<shard>.progress.jsonl``: a header
with the shard's identity, then one line per completed chunk (its number, the tar's size after
it, its entries), appended and fsync'd after the chunk's bytes. A killed job leaves both. The
next run accepts chunk lines while they are JSON, number the chunks 0, 1, 2, ..., lie inside
the partial and list entries that fill exactly their chunk's bytes (a torn line, or chunks that
a shortened partial lost, end it); it rewrites the log atomically to the header and those lines,
truncates the partial to the last of them and continues from there. Before publishing, the
writer checks the entries against the tar (member headers, offsets, sizes, every sha256) and
refuses on any disagreement. The finished tar and manifest are renamed into place, manifest
first: a kill between the two renames leaves the progress log, from which the next run finishes
without rendering anything.

Images are PNG: lossless, because FID moves with JPEG compression (clean-fid, Parmar et al.
2022), and bit-stable for a given pixel array, so a shard's sha256 is reproducible.
"""

from __future__ import annotations

import io
import json
import os
import re
import struct
import tarfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from seedscope.errors import ShardError
from seedscope.files import fsync_dir, json_sha256, replace_atomically, sha256_hex

FORMAT = "seedscope-shard/1"
BLOCK = "seeds-{first}-{last}"  # a seed block's file stem, with the workflow's wildcard names
_BLOCK_NAME = re.compile(r"seeds-(\d+)-(\d+)")
_BLOCK = tarfile.BLOCKSIZE
_RECORD = tarfile.RECORDSIZE


def manifest_path(shard: str | Path) -> Path:
    """The manifest that belongs to ``shard`` (``x.tar`` -> ``x.json``)."""
    return Path(shard).with_suffix(".json")


def block_name(first: int, last: int) -> str:
    """The file stem of the shard of seeds ``first`` to ``last`` (inclusive): ``seeds-0000-0015``
    (zero-padded, so shards sort by seed)."""
    return BLOCK.format(first=f"{first:04d}", last=f"{last:04d}")


def block_seeds(path: str | Path) -> tuple[int, int] | None:
    """The (first, last) seed of the block that the file ``path`` is named after, or None."""
    match = _BLOCK_NAME.fullmatch(Path(path).name.split(".")[0])
    return (int(match[1]), int(match[2])) if match else None


def image_key(prompt_id: str, seed: int) -> str:
    """The WebDataset key of one image: no dots, sortable by prompt then seed."""
    return f"{prompt_id}_seed{seed:06d}"


def _tar_member(name: str, data: bytes) -> bytes:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = 0  # fixed, so that the same images give the same shard bytes
    info.mode = 0o644
    header = info.tobuf(format=tarfile.USTAR_FORMAT, encoding="utf-8", errors="strict")
    padding = (-len(data)) % _BLOCK
    return header + data + b"\0" * padding


def _fix_hint(shard: Path) -> str:
    return (
        f"delete {shard} and {manifest_path(shard)} and rerun the workflow: "
        "Snakemake renders that shard again and nothing else"
    )


@dataclass(frozen=True)
class Entry:
    """Where one image and its metadata lie in a shard."""

    key: str
    prompt_id: str
    seed: int
    png_offset: int
    png_size: int
    png_sha256: str
    json_offset: int
    json_size: int
    json_sha256: str


class ShardWriter:
    """Appends images to a shard chunk by chunk; survives being killed between chunks.

    ``identity`` describes everything the shard's content depends on; a partial shard left
    by a run with another identity is discarded rather than resumed.
    """

    def __init__(self, shard: str | Path, identity: dict[str, Any]):
        self.shard = Path(shard)
        self.partial = self.shard.with_name(self.shard.name + ".partial")
        self.progress = self.shard.with_name(self.shard.name + ".progress.jsonl")
        self.identity = identity
        self.entries: list[Entry] = []
        self.chunks_done = 0
        self._offset = 0
        self._file = None

    def open(self) -> int:
        """Open for writing, resuming a matching partial shard. Returns the chunks already done.

        The progress log is rewritten atomically to its header and the chunk lines accepted
        (see the module docstring), and the partial is truncated to the end of the last of
        them, so every later line follows a whole one and every accepted chunk is in the tar.
        """
        self.shard.parent.mkdir(parents=True, exist_ok=True)
        self.entries, self.chunks_done, self._offset = [], 0, 0
        lines = [json.dumps({"identity": self.identity}, sort_keys=True).encode()]
        lines += self._accepted_chunks()
        replace_atomically(self.progress, b"".join(line + b"\n" for line in lines), durable=True)
        mode = "r+b" if self.partial.exists() else "wb"
        self._file = open(self.partial, mode)  # noqa: SIM115 - closed by finish()
        self._file.truncate(self._offset)
        self._file.seek(self._offset)
        return self.chunks_done

    def _accepted_chunks(self) -> list[bytes]:
        """The progress log's chunk lines that this run resumes from, in order (sets the state)."""
        if not (self.progress.exists() and self.partial.exists()):
            return []
        lines = self.progress.read_bytes().splitlines()
        header = _json(lines[0]) if lines else None
        if not isinstance(header, dict) or header.get("identity") != self.identity:
            return []
        size = self.partial.stat().st_size
        accepted = []
        for line in lines[1:]:
            chunk = _json(line)
            try:
                entries = [Entry(**e) for e in chunk["entries"]]
                valid = (
                    chunk["chunk"] == len(accepted)
                    and chunk["offset"] <= size
                    and _layout_error(entries, self._offset, chunk["offset"]) is None
                )
            except (TypeError, KeyError):  # not a chunk record
                valid = False
            if not valid:
                break  # a torn line, or a chunk the partial lost: redone from here
            accepted.append(line)
            self.entries += entries
            self.chunks_done, self._offset = len(accepted), chunk["offset"]
        return accepted

    def write_chunk(self, images: list[tuple[str, bytes, dict[str, Any]]]) -> None:
        """Append one chunk of ``(key, png_bytes, metadata)`` and record it durably."""
        new = []
        buffer = bytearray()
        for key, png, meta in images:
            meta_bytes = json.dumps(meta, sort_keys=True).encode()
            png_offset = self._offset + len(buffer) + _BLOCK
            buffer += _tar_member(f"{key}.png", png)
            json_offset = self._offset + len(buffer) + _BLOCK
            buffer += _tar_member(f"{key}.json", meta_bytes)
            new.append(
                Entry(
                    key=key,
                    prompt_id=meta["prompt_id"],
                    seed=meta["seed"],
                    png_offset=png_offset,
                    png_size=len(png),
                    png_sha256=sha256_hex(png),
                    json_offset=json_offset,
                    json_size=len(meta_bytes),
                    json_sha256=sha256_hex(meta_bytes),
                )
            )
        self._file.write(buffer)
        self._file.flush()
        os.fsync(self._file.fileno())
        self._offset += len(buffer)
        self.entries.extend(new)
        record = {
            "chunk": self.chunks_done,
            "offset": self._offset,
            "entries": [e.__dict__ for e in new],
        }
        with open(self.progress, "a") as log:
            log.write(json.dumps(record) + "\n")
            log.flush()
            os.fsync(log.fileno())
        self.chunks_done += 1

    def finish(self, info: dict[str, Any] | None = None) -> None:
        """Check the tar against the entries, close it, write the manifest and move both into place.

        The check streams every member from the partial once. The partial must hold exactly
        the bytes written; the entries must tile them member after member (each png, then its
        json, in order, without gap or overlap, so the tar has exactly two members per entry);
        each member's tar header must name the entry's key and size, and each member's sha256
        must match. On a disagreement it raises ``ShardError`` naming the shard and what
        differs, publishes nothing and leaves the partial and the progress log as they are.
        """
        problem = self._disagreement()
        if problem is not None:
            self._file.close()
            raise ShardError(
                f"refusing to publish shard {self.shard}: its entries and tar disagree: {problem};"
                f" {self.partial} and {self.progress} are left for inspection (delete both and"
                " rerun to render the shard again)"
            )
        end = b"\0" * (2 * _BLOCK)
        total = self._offset + len(end)
        end += b"\0" * ((-total) % _RECORD)
        self._file.write(end)
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        manifest = {
            "format": FORMAT,
            "shard": self.shard.name,
            "tar_bytes": self._offset + len(end),
            "identity": self.identity,
            "info": info or {},
            "columns": list(Entry.__dataclass_fields__),
            "entries": [list(e.__dict__.values()) for e in self.entries],
        }
        manifest_bytes = json.dumps(manifest, sort_keys=True).encode()
        replace_atomically(manifest_path(self.shard), manifest_bytes, durable=True)
        os.replace(self.partial, self.shard)
        fsync_dir(self.shard.parent)
        self.progress.unlink()

    def _disagreement(self) -> str | None:
        """What differs between the entries and the partial tar, or None (see ``finish``)."""
        self._file.flush()
        actual = os.fstat(self._file.fileno()).st_size
        if actual != self._offset:
            return f"the partial has {actual} bytes where {self._offset} were written"
        keys = [e.key for e in self.entries]
        if len(set(keys)) != len(keys):
            return f"{len(keys) - len(set(keys))} keys are listed twice"
        problem = _layout_error(self.entries, 0, self._offset)
        if problem is not None:
            return problem
        with open(self.partial, "rb") as tar:
            for name, offset, size, sha256 in _members(self.entries):
                tar.seek(offset - _BLOCK)
                try:
                    header = tarfile.TarInfo.frombuf(tar.read(_BLOCK), "utf-8", "strict")
                except tarfile.HeaderError as err:
                    return f"no tar header for {name} at byte {offset - _BLOCK} ({err})"
                if (header.name, header.size) != (name, size):
                    return (
                        f"the member at byte {offset - _BLOCK} is {header.name} ({header.size}"
                        f" bytes) where the entries list {name} ({size} bytes)"
                    )
                if sha256_hex(tar.read(size)) != sha256:
                    return f"{name} does not match its sha256"
        return None


def _json(line: bytes) -> Any:
    """One parsed JSON line, or None if it is not JSON (torn, or not even UTF-8)."""
    try:
        return json.loads(line)
    except ValueError:
        return None


def _members(entries: list[Entry]) -> Iterator[tuple[str, int, int, str]]:
    """The tar members of ``entries`` in tar order: name, data offset, size, sha256."""
    for e in entries:
        yield f"{e.key}.png", e.png_offset, e.png_size, e.png_sha256
        yield f"{e.key}.json", e.json_offset, e.json_size, e.json_sha256


def _layout_error(entries: list[Entry], start: int, end: int) -> str | None:
    """Why ``entries`` do not fill the tar bytes ``[start, end)`` member after member, or None."""
    position = start
    for name, offset, size, _ in _members(entries):
        if offset != position + _BLOCK:
            return f"{name} is listed at byte {offset} where a member starts at {position + _BLOCK}"
        position = offset + size + (-size) % _BLOCK
    if position != end:
        return f"the entries end at byte {position} where the tar data ends at {end}"
    return None


def read_manifest(shard: str | Path) -> dict[str, Any]:
    """Load a shard's manifest, with a clear error if it is missing or not a manifest."""
    shard = Path(shard)
    path = manifest_path(shard)
    if not path.exists():
        raise ShardError(f"shard {shard} has no manifest {path}; {_fix_hint(shard)}")
    try:
        manifest = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ShardError(f"manifest {path} is not valid JSON ({err}); {_fix_hint(shard)}") from err
    if manifest.get("format") != FORMAT:
        raise ShardError(f"{path} is not a {FORMAT} manifest; {_fix_hint(shard)}")
    return manifest


def content_sha256(manifest: dict[str, Any]) -> str:
    """The sha256 of what a shard holds: its manifest without ``info`` (run time, device), as
    canonical JSON. Two renders of the same images have the same content hash."""
    content = {key: value for key, value in manifest.items() if key != "info"}
    return json_sha256(content, compact=True)


class ShardReader:
    """Random access to a shard's images by key, seed or prompt, without unpacking it."""

    def __init__(self, shard: str | Path):
        self.shard = Path(shard)
        self.manifest = read_manifest(self.shard)
        if not self.shard.exists():
            raise ShardError(f"shard {self.shard} is missing; {_fix_hint(self.shard)}")
        actual = self.shard.stat().st_size
        if actual != self.manifest["tar_bytes"]:
            raise ShardError(
                f"shard {self.shard} has {actual} bytes but its manifest says "
                f"{self.manifest['tar_bytes']}: it is truncated or was replaced; "
                f"{_fix_hint(self.shard)}"
            )
        columns = self.manifest["columns"]
        self.entries = [
            Entry(**dict(zip(columns, row, strict=True))) for row in self.manifest["entries"]
        ]
        self._by_key = {e.key: e for e in self.entries}
        self._file = None

    def __len__(self) -> int:
        return len(self.entries)

    def __enter__(self) -> ShardReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Close the underlying file (reopened on the next read)."""
        if self._file is not None:
            self._file.close()
            self._file = None

    def _read(self, offset: int, size: int) -> bytes:
        if self._file is None:
            self._file = open(self.shard, "rb")  # noqa: SIM115 - closed by close()
        self._file.seek(offset)
        return self._file.read(size)

    @property
    def seeds(self) -> list[int]:
        """The seeds in this shard, ascending."""
        return sorted({e.seed for e in self.entries})

    @property
    def prompt_ids(self) -> list[str]:
        """The prompt ids in this shard, in shard order."""
        return list(dict.fromkeys(e.prompt_id for e in self.entries))

    def entry(self, key: str) -> Entry:
        """The manifest entry of ``key``."""
        try:
            return self._by_key[key]
        except KeyError:
            raise ShardError(f"no image {key!r} in shard {self.shard}") from None

    def png(self, key: str) -> bytes:
        """The encoded PNG bytes of ``key``."""
        e = self.entry(key)
        return self._read(e.png_offset, e.png_size)

    def image(self, key: str) -> Image.Image:
        """The decoded image of ``key`` (RGB)."""
        return Image.open(io.BytesIO(self.png(key))).convert("RGB")

    def meta(self, key: str) -> dict[str, Any]:
        """The metadata stored with ``key``."""
        e = self.entry(key)
        return json.loads(self._read(e.json_offset, e.json_size))

    def by_seed(self, seed: int) -> list[Entry]:
        """Entries of one seed, in prompt order."""
        return [e for e in self.entries if e.seed == seed]

    def by_prompt(self, prompt_id: str) -> list[Entry]:
        """Entries of one prompt, in seed order."""
        return [e for e in self.entries if e.prompt_id == prompt_id]

    def __iter__(self) -> Iterator[tuple[Entry, Image.Image, dict[str, Any]]]:
        for e in self.entries:
            yield e, self.image(e.key), self.meta(e.key)


def verify(shard: str | Path) -> int:
    """Check a shard against its manifest: members, order, offsets and every sha256.

    Returns the number of images. Raises ``ShardError`` naming the shard, the first bad key
    and how to repair it.
    """
    reader = ShardReader(shard)
    shard = reader.shard
    expected = []
    for e in reader.entries:
        expected += [
            (f"{e.key}.png", e.png_offset, e.png_size),
            (f"{e.key}.json", e.json_offset, e.json_size),
        ]
    try:
        with tarfile.open(shard, mode="r:") as tar:
            found = [(m.name, m.offset_data, m.size) for m in tar]
    except tarfile.TarError as err:
        raise ShardError(
            f"shard {shard} is not a readable tar ({err}); {_fix_hint(shard)}"
        ) from err
    if found != expected:
        first = next((f for f, x in zip(found, expected, strict=False) if f != x), None)
        raise ShardError(
            f"shard {shard} has {len(found)} members where its manifest lists {len(expected)}"
            f" (first difference: {first}); {_fix_hint(shard)}"
        )
    with reader:
        for e in reader.entries:
            png = reader._read(e.png_offset, e.png_size)
            meta = reader._read(e.json_offset, e.json_size)
            if sha256_hex(png) != e.png_sha256 or sha256_hex(meta) != e.json_sha256:
                raise ShardError(
                    f"image {e.key} in shard {shard} does not match its sha256 in the manifest"
                    f" (corrupted on disk?); {_fix_hint(shard)}"
                )
    return len(reader.entries)


_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_COLOR_TYPE = {1: 0, 2: 4, 3: 2, 4: 6}  # channels -> grey, grey+alpha, RGB, RGBA
_PNG_FILTER_UP = 2
_PNG_IEND = b"\x00\x00\x00\x00IEND\xaeB`\x82"


def _png_chunk(tag: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))


def encode_png(pixels, compress_level: int = 6) -> bytes:
    """Encode an HxWx3 (or HxW, HxWx1, HxWx2, HxWx4) uint8 array as PNG bytes.

    Lossless and deterministic for given pixels, level and zlib. Every row uses PNG's "Up"
    filter (one vectorised subtraction), then ``zlib.compress`` at ``compress_level``: about
    as small as Pillow's per-row adaptive filtering on photographs (within 0.5%), several
    times faster, and it releases the GIL while it compresses, so encoder threads run beside
    the renderer instead of queueing behind it (Pillow holds the GIL when saving to memory).
    Any PNG reader decodes it.
    """
    px = np.ascontiguousarray(pixels)
    if px.dtype != np.uint8 or px.ndim not in (2, 3) or 0 in px.shape:
        raise ValueError(
            f"expected a non-empty HxW or HxWxC uint8 array, got {px.dtype} {px.shape}"
        )
    height, width = px.shape[:2]
    channels = 1 if px.ndim == 2 else px.shape[2]
    if channels not in _PNG_COLOR_TYPE:
        raise ValueError(f"expected 1 to 4 channels, got {channels}")
    rows = px.reshape(height, width * channels)
    filtered = np.empty((height, rows.shape[1] + 1), dtype=np.uint8)
    filtered[:, 0] = _PNG_FILTER_UP
    filtered[0, 1:] = rows[0]  # the row above the first is zeros
    np.subtract(rows[1:], rows[:-1], out=filtered[1:, 1:])  # modulo 256, as PNG defines it
    header = struct.pack(">IIBBBBB", width, height, 8, _PNG_COLOR_TYPE[channels], 0, 0, 0)
    return b"".join(
        (
            _PNG_SIGNATURE,
            _png_chunk(b"IHDR", header),
            _png_chunk(b"IDAT", zlib.compress(filtered, compress_level)),
            _PNG_IEND,
        )
    )
