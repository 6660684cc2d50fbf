"""seedscope.files: sha256 digests equal hashlib's, and atomic writes that leave either the old
file or the new one, never a temporary or a half-written file."""

import hashlib
import json
import os
from pathlib import Path

import pytest

from seedscope import files
from seedscope.errors import DataError
from seedscope.files import (
    atomic_output,
    file_sha256,
    json_sha256,
    read_jsonl,
    replace_atomically,
    sha256_hex,
)

ABC_SHA256 = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"  # FIPS 180-2


def test_sha256_hex_of_known_input():
    assert sha256_hex(b"abc") == ABC_SHA256
    assert sha256_hex(b"") == hashlib.sha256(b"").hexdigest()


def test_file_sha256_streams_a_file_larger_than_a_block(tmp_path):
    data = os.urandom(3 * (1 << 20) + 17)
    (tmp_path / "f.bin").write_bytes(data)
    (tmp_path / "abc").write_bytes(b"abc")
    assert file_sha256(tmp_path / "f.bin") == hashlib.sha256(data).hexdigest()
    assert file_sha256(str(tmp_path / "abc")) == ABC_SHA256


def test_json_sha256_keeps_each_callers_encoding():
    value = {"b": [1, 2.5, "é"], "a": {"y": None, "x": True}}
    default = json.dumps(value, sort_keys=True).encode()
    compact = json.dumps(value, sort_keys=True, separators=(",", ":")).encode()
    assert json_sha256(value) == hashlib.sha256(default).hexdigest()
    assert json_sha256(value, compact=True) == hashlib.sha256(compact).hexdigest()
    assert json_sha256(value) != json_sha256(value, compact=True)
    # key order does not matter, and a list hashes as json.dumps writes it
    assert json_sha256({"a": value["a"], "b": value["b"]}) == json_sha256(value)
    names = ["x/1.jpg", "y/2.jpg"]
    assert json_sha256(names) == hashlib.sha256(json.dumps(names).encode()).hexdigest()
    # default= encodes what JSON cannot; without it such a value is an error
    odd = {"path": Path("/tmp/x")}
    expected = json.dumps(odd, sort_keys=True, default=str).encode()
    assert json_sha256(odd, default=str) == hashlib.sha256(expected).hexdigest()
    with pytest.raises(TypeError):
        json_sha256(odd)


def test_read_jsonl_numbers_the_lines_and_names_the_file_and_line_of_bad_json(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_text('{"a": 1}\n\n  \n["é", 2]\n3\n', encoding="utf-8")
    assert read_jsonl(path, "row file", "the rows rule") == [(1, {"a": 1}), (4, ["é", 2]), (5, 3)]
    path.write_text('{"a": 1}\n\n{"a": \n', encoding="utf-8")
    with pytest.raises(DataError, match=r"rows\.jsonl, line 3: not valid JSON \(.*\)$"):
        read_jsonl(path, "row file", "the rows rule")
    with pytest.raises(DataError, match=r"line 3: not valid JSON \(.*\); rebuild it$"):
        read_jsonl(path, "row file", "the rows rule", "rebuild it")
    missing = tmp_path / "none.jsonl"
    expected = r"^row file .*none\.jsonl does not exist; build it first \(the rows rule\) or fix"
    with pytest.raises(DataError, match=expected):
        read_jsonl(missing, "row file", "the rows rule")


def test_replace_atomically_replaces_the_content_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "out.json"
    replace_atomically(path, b"first")
    assert path.read_bytes() == b"first"
    replace_atomically(path, b"second", durable=True)
    assert path.read_bytes() == b"second"
    replace_atomically(path, b"third", tmp=tmp_path / ".out.json.tmp-1")
    assert path.read_bytes() == b"third"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.json"]


def test_atomic_output_writes_under_a_temporary_name_until_the_end(tmp_path):
    path = tmp_path / "table.npz"
    path.write_bytes(b"old")
    with atomic_output(path, durable=True) as tmp:
        assert tmp == tmp_path / "table.npz.tmp"
        tmp.write_bytes(b"new")
        assert path.read_bytes() == b"old"  # not replaced before the block ends
    assert path.read_bytes() == b"new" and not tmp.exists()


def test_a_failure_while_writing_leaves_the_old_file(tmp_path):
    path = tmp_path / "prompts.jsonl"
    path.write_bytes(b"old")
    with pytest.raises(RuntimeError, match="killed"), atomic_output(path) as tmp:
        tmp.write_bytes(b"half of the new con")
        raise RuntimeError("killed")
    assert path.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["prompts.jsonl"]
    with pytest.raises(TypeError):
        replace_atomically(path, "not bytes")  # type: ignore[arg-type]
    assert path.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["prompts.jsonl"]


def test_a_failed_rename_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "checkpoint.pt"
    path.write_bytes(b"old")

    def fail(src, dst):
        raise OSError("rename failed")

    monkeypatch.setattr(files.os, "replace", fail)
    with pytest.raises(OSError, match="rename failed"):
        replace_atomically(path, b"new", durable=True)
    assert path.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.pt"]


def test_a_new_file_is_not_created_when_writing_fails(tmp_path):
    path = tmp_path / "model.safetensors"
    with pytest.raises(ValueError), atomic_output(path, tmp=tmp_path / "model.tmp.safetensors"):
        raise ValueError("no weights")
    assert list(tmp_path.iterdir()) == []


def test_fsync_dir_accepts_a_folder_and_ignores_what_it_cannot_open(tmp_path, monkeypatch):
    synced = []

    def record(fd):
        synced.append((fd, os.fstat(fd).st_ino))

    monkeypatch.setattr(files.os, "fsync", record)
    files.fsync_dir(tmp_path)
    assert [inode for _, inode in synced] == [tmp_path.stat().st_ino]  # the folder itself
    with pytest.raises(OSError):
        os.fstat(synced[0][0])  # and its descriptor is closed again

    files.fsync_dir(tmp_path / "missing")  # no error: durability is best effort there
    assert len(synced) == 1  # nothing opened, nothing synced

    def refuse(fd):  # a file system that cannot fsync a folder
        synced.append((fd, None))
        raise OSError("EINVAL")

    monkeypatch.setattr(files.os, "fsync", refuse)
    files.fsync_dir(tmp_path)
    assert len(synced) == 2
    with pytest.raises(OSError):
        os.fstat(synced[1][0])  # closed even when the fsync failed
