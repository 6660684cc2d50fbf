"""COCO image source: resumable checked downloads, folder and zip reading, selection, parts."""

from __future__ import annotations

import hashlib
import os
import random
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
import pytest

from seedscope.errors import ConfigError, DataError
from seedscope.prompts.coco import (
    download_file,
    list_images,
    make_demo_images,
    open_image,
    select_images,
    split_parts,
)

PAYLOAD = bytes(random.Random(0).randrange(256) for _ in range(300_000))


class Server:
    """A loopback HTTP server for one payload; it can ignore Range or cut a transfer short."""

    def __init__(self):
        self.payload, self.honour_range, self.truncate = PAYLOAD, True, False
        self.ranges: list[str | None] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                data, status = server.payload, 200
                header = self.headers.get("Range")
                server.ranges.append(header)
                start = int(header[6:].split("-")[0]) if header else 0
                if header and server.honour_range:
                    if start >= len(data):
                        self.send_response(416)
                        self.end_headers()
                        return
                    status = 206
                self.send_response(status)
                if status == 206:
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                    data = data[start:]
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data[: len(data) // 2] if server.truncate else data)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/train2017.zip"
        threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True).start()


@pytest.fixture
def server():
    s = Server()
    yield s
    s.httpd.shutdown()
    s.httpd.server_close()


SHA = hashlib.sha256(PAYLOAD).hexdigest()
MD5 = hashlib.md5(PAYLOAD).hexdigest()


def test_download_verifies_and_renames(server, tmp_path):
    dest = download_file(server.url, tmp_path / "a.zip", sha256=SHA, md5=MD5, chunk_bytes=4096)
    assert dest.read_bytes() == PAYLOAD
    assert not (tmp_path / "a.zip.part").exists()
    assert server.ranges == [None]
    # An existing verified file is kept without another request.
    assert download_file(server.url, dest, md5=MD5) == dest
    assert server.ranges == [None]


def test_download_resumes_a_partial_file_with_range(server, tmp_path):
    part = tmp_path / "a.zip.part"
    part.write_bytes(PAYLOAD[:100_000])
    dest = download_file(server.url, tmp_path / "a.zip", md5=MD5)
    assert dest.read_bytes() == PAYLOAD
    assert server.ranges == ["bytes=100000-"]


def test_interrupted_download_keeps_part_and_next_call_resumes(server, tmp_path):
    server.truncate = True
    with pytest.raises(DataError, match="interrupted.*kept.*resumes"):
        download_file(server.url, tmp_path / "a.zip", sha256=SHA)
    part = tmp_path / "a.zip.part"
    assert 0 < part.stat().st_size < len(PAYLOAD)
    assert not (tmp_path / "a.zip").exists()
    server.truncate = False
    dest = download_file(server.url, tmp_path / "a.zip", sha256=SHA)
    assert dest.read_bytes() == PAYLOAD
    assert server.ranges[-1] == f"bytes={len(PAYLOAD) // 2}-"


def test_download_restarts_when_server_ignores_range(server, tmp_path):
    server.honour_range = False
    (tmp_path / "a.zip.part").write_bytes(b"x" * 1000)  # not even a prefix of the payload
    dest = download_file(server.url, tmp_path / "a.zip", sha256=SHA)
    assert dest.read_bytes() == PAYLOAD
    assert server.ranges == ["bytes=1000-"]


def test_complete_part_file_is_verified_after_416(server, tmp_path):
    (tmp_path / "a.zip.part").write_bytes(PAYLOAD)
    dest = download_file(server.url, tmp_path / "a.zip", sha256=SHA)
    assert dest.read_bytes() == PAYLOAD


def test_checksum_mismatch_deletes_part_and_says_so(server, tmp_path):
    with pytest.raises(DataError) as err:
        download_file(server.url, tmp_path / "a.zip", md5="0" * 32)
    message = str(err.value)
    assert f"md5 of the download of {server.url} is {MD5}, expected {'0' * 32}" in message
    assert "deleted" in message
    assert list(tmp_path.iterdir()) == []
    # A resumed download whose old part was corrupt fails the same way.
    (tmp_path / "a.zip.part").write_bytes(b"garbage")
    with pytest.raises(DataError, match="sha256"):
        download_file(server.url, tmp_path / "a.zip", sha256=SHA)
    assert list(tmp_path.iterdir()) == []


def test_download_of_unreachable_url_is_a_data_error(server, tmp_path):
    server.httpd.shutdown()
    server.httpd.server_close()  # connection refused from now on
    with pytest.raises(DataError, match="download of .* failed: .*rerun"):
        download_file(server.url, tmp_path / "a.zip", sha256=SHA)
    assert list(tmp_path.iterdir()) == []


def test_parti_url_source_downloads_into_cache(server, tmp_path):
    from importlib import resources

    from seedscope.prompts.parti import load_parti

    server.payload = resources.files("seedscope").joinpath("data/PartiPrompts.tsv").read_bytes()
    rows = load_parti(source="url", url=server.url, cache_dir=tmp_path / "cache")
    assert len(rows) == 1632
    assert len(list((tmp_path / "cache").glob("PartiPrompts-*.tsv"))) == 1
    server.payload = server.payload.replace(b"bond", b"bend", 1)
    with pytest.raises(DataError, match="sha256"):
        load_parti(source="url", url=server.url, cache_dir=tmp_path / "other")


# --- images -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    folder = tmp_path_factory.mktemp("coco") / "train2017"
    make_demo_images(folder, 12, seed=0)
    return folder


def test_demo_images_are_coco_named_and_deterministic(demo, tmp_path):
    assert list_images(demo)[:2] == ["000000000001.jpg", "000000000002.jpg"]
    assert len(list_images(demo)) == 12
    again = make_demo_images(tmp_path / "again", 12, seed=0)
    assert [p.read_bytes() for p in again] == [(demo / p.name).read_bytes() for p in again]
    other = make_demo_images(tmp_path / "other", 12, seed=1)
    assert other[0].read_bytes() != again[0].read_bytes()
    image = open_image(demo, "000000000003.jpg")
    assert image.mode == "RGB" and image.size == (64, 64)
    assert np.asarray(image).std() > 0  # not a blank image


def test_zip_source_is_listed_and_read_without_extraction(demo, tmp_path):
    archive = tmp_path / "train2017.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for name in list_images(demo)[::-1]:
            z.write(demo / name, f"train2017/{name}")
        z.writestr("train2017/README.txt", "not an image")
        z.writestr("__MACOSX/train2017/._000000000001.jpg", "resource fork")
    names = list_images(archive)
    assert names == [f"train2017/{n}" for n in list_images(demo)]
    image = open_image(archive, names[4])
    assert np.array_equal(np.asarray(image), np.asarray(open_image(demo, list_images(demo)[4])))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["train2017.zip"]
    with pytest.raises(DataError, match="cannot read image 'train2017/nope.jpg'"):
        open_image(archive, "train2017/nope.jpg")


def test_bad_sources_raise(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        list_images(tmp_path / "missing")
    with pytest.raises(DataError, match="no .jpg"):
        list_images(tmp_path)
    (tmp_path / "x.txt").write_text("x")
    with pytest.raises(DataError, match="neither a folder nor a zip"):
        list_images(tmp_path / "x.txt")


def test_select_images_is_seeded_and_independent_of_listing_order():
    names = [f"{i:012d}.jpg" for i in range(1000)]
    chosen = select_images(names, 100, seed=0)
    assert len(set(chosen)) == 100 and set(chosen) <= set(names)
    assert chosen == select_images(list(reversed(names)), 100, seed=0)
    assert chosen != select_images(names, 100, seed=1)
    assert chosen != sorted(chosen)  # a random order, so consecutive parts are random subsets
    with pytest.raises(DataError, match="1001 images requested but only 1000 available in z"):
        select_images(names, 1001, seed=0, source="z")


def test_split_parts_are_consecutive_and_disjoint():
    items = list(range(25))
    parts = split_parts(items, [10, 10])
    assert parts == [list(range(10)), list(range(10, 20))]
    assert not set(parts[0]) & set(parts[1])
    assert split_parts(items, [25]) == [items]
    with pytest.raises(ConfigError, match=r"\[10, 16\] need 26 items but only 25"):
        split_parts(items, [10, 16])
    with pytest.raises(ConfigError, match="positive"):
        split_parts(items, [0, 5])
