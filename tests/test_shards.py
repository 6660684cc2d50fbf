"""Shards: round trip, random access, resumable writing, and verify catching corruption."""

import dataclasses
import io
import json
import subprocess
import tarfile

import numpy as np
import pytest
import webdataset as wds
from PIL import Image

from seedscope.errors import ShardError
from seedscope.shards import (
    ShardReader,
    ShardWriter,
    content_sha256,
    encode_png,
    image_key,
    manifest_path,
    verify,
)

IDENTITY = {"model": "m", "seeds": [0, 3]}


def images(prompts=("p-00000", "p-00001"), seeds=range(4)):
    rng = np.random.default_rng(0)
    out = []
    for pid in prompts:
        for seed in seeds:
            pixels = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
            out.append(
                (image_key(pid, seed), encode_png(pixels), {"prompt_id": pid, "seed": seed, "x": 1})
            )
    return out


def write(path, items, chunk=3, identity=IDENTITY, info=None):
    writer = ShardWriter(path, identity)
    writer.open()
    for start in range(0, len(items), chunk):
        writer.write_chunk(items[start : start + chunk])
    writer.finish(info)


def test_round_trip_and_random_access(tmp_path):
    shard = tmp_path / "seeds-0000-0003.tar"
    items = images()
    write(shard, items)
    assert verify(shard) == 8
    reader = ShardReader(shard)
    assert reader.seeds == [0, 1, 2, 3] and reader.prompt_ids == ["p-00000", "p-00001"]
    assert [e.prompt_id for e in reader.by_seed(2)] == ["p-00000", "p-00001"]
    assert [e.seed for e in reader.by_prompt("p-00001")] == [0, 1, 2, 3]
    key, png, meta = items[5]
    assert reader.png(key) == png and reader.meta(key) == meta
    assert np.array_equal(np.asarray(reader.image(key)), np.asarray(Image.open(io.BytesIO(png))))
    assert not (tmp_path / "seeds-0000-0003.tar.partial").exists()


def test_shard_is_a_webdataset_and_a_plain_tar(tmp_path):
    shard = tmp_path / "s.tar"
    items = images()
    write(shard, items)
    samples = list(wds.WebDataset(str(shard), shardshuffle=False).decode("rgb"))
    assert [s["__key__"] for s in samples] == [k for k, _, _ in items]
    assert samples[0]["png"].shape == (8, 8, 3) and samples[0]["json"]["seed"] == 0
    listing = subprocess.run(["tar", "-tf", str(shard)], capture_output=True, text=True, check=True)
    assert listing.stdout.split()[:2] == [f"{items[0][0]}.png", f"{items[0][0]}.json"]


def test_same_images_give_same_bytes(tmp_path):
    write(tmp_path / "a.tar", images(), chunk=3)
    write(tmp_path / "b.tar", images(), chunk=5)
    assert (tmp_path / "a.tar").read_bytes() == (tmp_path / "b.tar").read_bytes()


def test_content_hash_ignores_run_info_but_not_images(tmp_path):
    """Two renders of the same images (other timings) share a content hash; other pixels don't."""
    shards = [tmp_path / run / "seeds-0000-0003.tar" for run in ("a", "b", "c")]
    other = [(key, encode_png(np.zeros((8, 8, 3), np.uint8)), meta) for key, _, meta in images()]
    for shard, items, seconds in zip(
        shards, [images(), images(), other], [1.5, 9.0, 1.5], strict=True
    ):
        shard.parent.mkdir()
        write(shard, items, info={"seconds": seconds})
    a, b, c = (ShardReader(shard).manifest for shard in shards)
    assert manifest_path(shards[0]).read_bytes() != manifest_path(shards[1]).read_bytes()
    assert content_sha256(a) == content_sha256(b) != content_sha256(c)


def test_resume_after_kill_redoes_only_the_torn_chunk(tmp_path):
    shard = tmp_path / "s.tar"
    items = images()
    writer = ShardWriter(shard, IDENTITY)
    writer.open()
    writer.write_chunk(items[:3])
    writer.write_chunk(items[3:6])
    # A kill in the middle of the third chunk: bytes appended, its progress line torn.
    with open(writer.partial, "ab") as f:
        f.write(b"garbage that a killed job left behind")
    with open(writer.progress, "a") as f:
        f.write('{"chunk": 2, "offs')
    resumed = ShardWriter(shard, IDENTITY)
    assert resumed.open() == 2
    resumed.write_chunk(items[6:])
    resumed.finish()
    write(tmp_path / "ref.tar", items)
    assert verify(shard) == 8
    assert shard.read_bytes() == (tmp_path / "ref.tar").read_bytes()


def test_partial_shard_of_other_settings_is_discarded(tmp_path):
    shard = tmp_path / "s.tar"
    writer = ShardWriter(shard, IDENTITY)
    writer.open()
    writer.write_chunk(images()[:3])
    other = ShardWriter(shard, IDENTITY | {"model": "other"})
    assert other.open() == 0


def test_verify_names_the_corrupt_image(tmp_path):
    shard = tmp_path / "s.tar"
    items = images()
    write(shard, items)
    before = manifest_path(shard).read_text()
    entry = ShardReader(shard).entry(items[4][0])
    data = bytearray(shard.read_bytes())
    data[entry.png_offset + 20] ^= 0xFF
    shard.write_bytes(bytes(data))
    with pytest.raises(ShardError) as err:
        verify(shard)
    message = str(err.value)
    assert items[4][0] in message and str(shard) in message and "rerun" in message
    assert manifest_path(shard).read_text() == before  # nothing deleted or rewritten


def test_truncated_shard_and_missing_manifest(tmp_path):
    shard = tmp_path / "s.tar"
    write(shard, images())
    shard.write_bytes(shard.read_bytes()[:-2048])
    with pytest.raises(ShardError, match="truncated"):
        ShardReader(shard)
    manifest_path(shard).unlink()
    with pytest.raises(ShardError, match="no manifest"):
        verify(shard)


def test_manifest_member_mismatch(tmp_path):
    shard = tmp_path / "s.tar"
    write(shard, images())
    manifest = json.loads(manifest_path(shard).read_text())
    manifest["entries"] = manifest["entries"][:-1]
    manifest_path(shard).write_text(json.dumps(manifest))
    with pytest.raises(ShardError, match="members"):
        verify(shard)
    with tarfile.open(shard) as tar:  # the tar itself is untouched
        assert len(tar.getmembers()) == 16


def tear(writer):
    """What a kill in the middle of a chunk leaves: its bytes half written, its line half."""
    with open(writer.partial, "ab") as f:
        f.write(b"half of a chunk")
    with open(writer.progress, "a") as f:
        f.write('{"chunk": 7, "offset": 12')


def test_torn_lines_are_dropped_so_later_chunks_survive_later_kills(tmp_path):
    shard, items = tmp_path / "s.tar", images(seeds=range(6))  # 12 images, 6 chunks of 2
    writer = ShardWriter(shard, IDENTITY)
    writer.open()
    done = 0
    for job in range(3):  # each job writes two chunks and is killed while writing the next
        for _ in range(2 if job else 1):
            writer.write_chunk(items[2 * done : 2 * done + 2])
            done += 1
        written = writer._offset
        tear(writer)
        writer = ShardWriter(shard, IDENTITY)
        assert writer.open() == done and writer.chunks_done == done
        assert writer.partial.stat().st_size == written  # the torn bytes are cut, not more
        lines = writer.progress.read_text().splitlines()
        assert len(lines) == 1 + done and all(json.loads(line) for line in lines)
    writer.write_chunk(items[2 * done :])
    writer.finish()
    write(tmp_path / "ref.tar", items)
    assert verify(shard) == 12
    assert shard.read_bytes() == (tmp_path / "ref.tar").read_bytes()
    assert ShardReader(shard).entries == ShardReader(tmp_path / "ref.tar").entries


def test_shortened_partial_never_yields_more_entries_than_images(tmp_path):
    shard, items = tmp_path / "s.tar", images()  # 8 images, 4 chunks of 2
    writer = ShardWriter(shard, IDENTITY)
    writer.open()
    for start in (0, 2, 4):
        writer.write_chunk(items[start : start + 2])
        if start == 0:
            first_chunk_end = writer._offset
    with open(writer.partial, "r+b") as f:  # the file system lost the end of the partial
        f.truncate(first_chunk_end + 1000)
    writer = ShardWriter(shard, IDENTITY)
    assert writer.open() == 1
    writer.write_chunk(items[2:4])
    writer.write_chunk(items[4:6])  # the partial grows past where the lost chunks ended
    writer = ShardWriter(shard, IDENTITY)  # killed, resumed
    assert writer.open() == 3
    writer.write_chunk(items[6:])
    writer.finish()
    assert verify(shard) == 8
    assert len(json.loads(manifest_path(shard).read_text())["entries"]) == 8


def drop_entry(writer):
    writer.entries.pop(3)


def repeat_entry(writer):
    writer.entries.append(writer.entries[-1])


def change_sha256(writer):
    writer.entries[2] = dataclasses.replace(writer.entries[2], json_sha256="0" * 64)


def flip_png_byte(writer):
    writer._file.seek(writer.entries[5].png_offset + 30)
    writer._file.write(b"\xff")
    writer._file.seek(writer._offset)


def rename_member(writer):
    entry = writer.entries[4]
    writer.entries[4] = dataclasses.replace(entry, key="p-00009_seed000009")


def cut_partial(writer):
    writer._file.truncate(writer._offset - 512)


@pytest.mark.parametrize(
    "tamper, differs",
    [
        (drop_entry, "is listed at byte"),
        (repeat_entry, "listed twice"),
        (change_sha256, "sha256"),
        (flip_png_byte, "sha256"),
        (rename_member, "p-00009_seed000009.png"),
        (cut_partial, "bytes where"),
    ],
)
def test_finish_refuses_when_entries_and_tar_disagree(tmp_path, tamper, differs):
    shard, items = tmp_path / "s.tar", images()
    writer = ShardWriter(shard, IDENTITY)
    writer.open()
    for start in range(0, len(items), 3):
        writer.write_chunk(items[start : start + 3])
    tamper(writer)
    partial, progress = writer.partial.read_bytes(), writer.progress.read_bytes()
    with pytest.raises(ShardError, match=differs) as err:
        writer.finish()
    assert str(shard) in str(err.value)
    assert not shard.exists() and not manifest_path(shard).exists()
    assert writer.partial.read_bytes() == partial and writer.progress.read_bytes() == progress
