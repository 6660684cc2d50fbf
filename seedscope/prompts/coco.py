"""COCO train2017 images: a resumable checked download, listing, reading, selection, demo images.

Images are read from a folder or straight out of ``train2017.zip`` (never extracted). The
selection of images to caption is a seeded sample, split into disjoint consecutive parts.
"""

from __future__ import annotations

import functools
import hashlib
import http.client
import io
import os
import random
import re
import urllib.error
import urllib.request
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

from seedscope.errors import ConfigError, DataError

COCO_TRAIN2017_URL = "http://images.cocodataset.org/zips/train2017.zip"
COCO_TRAIN2017_MD5 = "cced6f7f71b7629ddf16f17bbcfab6b2"

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
T = TypeVar("T")


def _hashers(sha256: str | None, md5: str | None) -> dict[str, Any]:
    expected = {"sha256": sha256, "md5": md5}
    return {name: hashlib.new(name) for name, value in expected.items() if value}


def download_file(
    url: str,
    dest: str | Path,
    sha256: str | None = None,
    md5: str | None = None,
    chunk_bytes: int = 1 << 20,
    timeout: float = 60.0,
) -> Path:
    """Download ``url`` to ``dest``, resuming a previous partial download, and check it.

    Bytes go to ``dest + ".part"``; if that exists, the download continues from its end with
    an HTTP Range request (and starts over if the server ignores Range). The checksum(s) are
    verified before the file is renamed to ``dest``. On a mismatch the ``.part`` file is
    deleted and ``DataError`` is raised. An interrupted transfer keeps the ``.part`` file so
    that the next call resumes. An existing ``dest`` is verified and kept.
    """
    dest = Path(dest)
    part = dest.with_name(dest.name + ".part")
    expected = {"sha256": sha256, "md5": md5}
    if dest.exists():
        _verify_existing(dest, expected)
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    hashers = _hashers(sha256, md5)
    offset = part.stat().st_size if part.exists() else 0
    if offset:
        with open(part, "rb") as f:
            while block := f.read(chunk_bytes):
                for h in hashers.values():
                    h.update(block)
    request = urllib.request.Request(url, headers={"Range": f"bytes={offset}-"} if offset else {})
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as err:
        if err.code != 416 or not offset:  # 416: the .part already holds the whole file
            raise DataError(f"download of {url} failed: HTTP {err.code} {err.reason}") from err
        response = None
    except (urllib.error.URLError, OSError) as err:
        raise DataError(
            f"download of {url} failed: {err}; check the network and rerun (any partial "
            f"download in {part} is resumed)"
        ) from err
    if response is not None:
        with response:
            mode = "ab"
            if offset and not _resumes_at(response, offset):
                mode, offset, hashers = "wb", 0, _hashers(sha256, md5)  # Range ignored
            length = response.headers.get("Content-Length")
            expected_size = offset + int(length) if length and length.isdigit() else None
            received = offset
            try:
                with open(part, mode) as f:
                    while block := response.read(chunk_bytes):
                        f.write(block)
                        received += len(block)
                        for h in hashers.values():
                            h.update(block)
                # urllib's read(n) returns b"" when the connection drops early, without error.
                if expected_size is not None and received < expected_size:
                    raise http.client.IncompleteRead(b"", expected_size - received)
            except (OSError, http.client.HTTPException) as err:
                raise DataError(
                    f"download of {url} was interrupted after {received:,} bytes "
                    f"({type(err).__name__}: {err}); the partial file {part} is kept and the "
                    "next run resumes from it"
                ) from err
    for name, h in hashers.items():
        if h.hexdigest() != expected[name]:
            part.unlink(missing_ok=True)
            raise DataError(
                f"{name} of the download of {url} is {h.hexdigest()}, expected "
                f"{expected[name]}; the partial file {part} was deleted. Rerun to download "
                "again; if it fails again, check the URL and the expected checksum"
            )
    os.replace(part, dest)
    return dest


def _resumes_at(response, offset: int) -> bool:
    """True if the server answered a Range request with the bytes from ``offset`` on."""
    if response.status != 206:
        return False
    match = re.match(r"bytes (\d+)-", response.headers.get("Content-Range", ""))
    return bool(match) and int(match.group(1)) == offset


def _verify_existing(path: Path, expected: dict[str, str | None]) -> None:
    hashers = _hashers(expected["sha256"], expected["md5"])
    if not hashers:
        return
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            for h in hashers.values():
                h.update(block)
    for name, h in hashers.items():
        if h.hexdigest() != expected[name]:
            raise DataError(
                f"{path} exists but its {name} is {h.hexdigest()}, expected {expected[name]}; "
                "delete it and rerun to download it again"
            )


@functools.lru_cache(maxsize=2)
def _zip(path: str, mtime_ns: int, size: int) -> zipfile.ZipFile:
    # Keyed on mtime and size so that a replaced zip is reopened.
    return zipfile.ZipFile(path)


def _open_zip(path: Path) -> zipfile.ZipFile:
    stat = path.stat()
    try:
        return _zip(str(path.resolve()), stat.st_mtime_ns, stat.st_size)
    except zipfile.BadZipFile as err:
        raise DataError(f"{path} is not a readable zip file ({err}); download it again") from err


def _is_image(name: str) -> bool:
    base = name.rsplit("/", 1)[-1]
    return name.lower().endswith(IMAGE_SUFFIXES) and not base.startswith(".")


def list_images(source: str | Path) -> list[str]:
    """Sorted names of the images in ``source``: a folder (its *.jpg/*.jpeg/*.png files) or a
    zip file (its image members, e.g. ``train2017/000000000009.jpg``, read without extracting).
    """
    source = Path(source)
    if source.is_dir():
        names = [p.name for p in source.iterdir() if p.is_file() and _is_image(p.name)]
    elif source.is_file() and zipfile.is_zipfile(source):
        names = [n for n in _open_zip(source).namelist() if _is_image(n)]
    elif source.exists():
        raise DataError(f"image source {source} is neither a folder nor a zip file")
    else:
        raise DataError(f"image source {source} does not exist; check coco.images / coco.path")
    if not names:
        raise DataError(f"no .jpg/.jpeg/.png images in {source}")
    return sorted(names)


def open_image(source: str | Path, name: str):
    """Image ``name`` (as listed by :func:`list_images`) of ``source``, as an RGB PIL image."""
    from PIL import Image

    source = Path(source)
    try:
        data = (source / name).read_bytes() if source.is_dir() else _open_zip(source).read(name)
        with Image.open(io.BytesIO(data)) as image:
            return image.convert("RGB")
    except (OSError, KeyError, zipfile.BadZipFile) as err:
        raise DataError(f"cannot read image {name!r} from {source}: {err}") from err


def select_images(names: Sequence[str], n: int, seed: int, source: str | None = None) -> list[str]:
    """A seeded sample of ``n`` distinct names (in sample order), the same for the same input.

    The names are sorted first, so the sample does not depend on listing order. Raises
    ``DataError`` if fewer than ``n`` are available.
    """
    unique = sorted(set(names))
    if n > len(unique):
        where = f" in {source}" if source else ""
        raise DataError(
            f"{n} images requested but only {len(unique)} available{where}; lower "
            "coco.n_images (and coco.parts) or point coco.path at the full train2017 set"
        )
    return random.Random(seed).sample(unique, n)


def split_parts(items: Sequence[T], sizes: Sequence[int]) -> list[list[T]]:
    """Consecutive disjoint parts of ``items`` with the given sizes (the rest is unused)."""
    if any(not isinstance(s, int) or s < 1 for s in sizes):
        raise ConfigError(f"part sizes must be positive integers, got {list(sizes)}")
    if sum(sizes) > len(items):
        raise ConfigError(
            f"coco.parts {list(sizes)} need {sum(sizes)} items but only {len(items)} are "
            "available; lower the part sizes or raise coco.n_images"
        )
    parts, start = [], 0
    for size in sizes:
        parts.append(list(items[start : start + size]))
        start += size
    return parts


def make_demo_images(out_dir: str | Path, n: int, seed: int = 0, size: int = 64) -> list[Path]:
    """Write ``n`` small synthetic COCO-like JPEGs (random coloured shapes) named like COCO
    (``000000000001.jpg``, ...) into ``out_dir``; the same files for the same seed.
    """
    from PIL import Image, ImageDraw

    if n < 1 or size < 16:
        raise ConfigError(f"demo images need n >= 1 and size >= 16, got n={n}, size={size}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    paths = []
    for index in range(1, n + 1):
        background = tuple(rng.randrange(256) for _ in range(3))
        image = Image.new("RGB", (size, size), background)
        draw = ImageDraw.Draw(image)
        for _ in range(rng.randint(1, 4)):
            fill = tuple(rng.randrange(256) for _ in range(3))
            x0, y0 = rng.randrange(size - 8), rng.randrange(size - 8)
            x1, y1 = rng.randint(x0 + 4, size), rng.randint(y0 + 4, size)
            shape = rng.choice(("ellipse", "rectangle", "triangle"))
            if shape == "ellipse":
                draw.ellipse((x0, y0, x1, y1), fill=fill)
            elif shape == "rectangle":
                draw.rectangle((x0, y0, x1, y1), fill=fill)
            else:
                draw.polygon([(x0, y1), ((x0 + x1) // 2, y0), (x1, y1)], fill=fill)
        path = out_dir / f"{index:012d}.jpg"
        image.save(path, format="JPEG", quality=90)
        paths.append(path)
    return paths
