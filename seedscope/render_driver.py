"""The resumable render loop of every shard job: open, skip done chunks, render, append, finish.

A shard job renders a list of items (one image each) into a shard (``seedscope.shards``) in
durable chunks of ``chunk_size`` items, each chunk rendered ``batch_size`` items per call of a
caller-supplied ``render``. ``render_resumable`` opens the shard's ``ShardWriter``: a partial
shard of the same identity resumes after its last completed chunk, one of another identity
starts over (the writer decides, see ``seedscope.shards``). Each image is described by the
caller's ``describe`` (its metadata, whose ``key`` names its tar members) and PNG-encoded on
background threads while the next batch renders; each chunk is appended and recorded before
the next begins, and the finished shard is checked and published with a summary.

``seedscope.generate.render_shard`` (the generation job) and
``seedscope.diverse.particle_shard.render_particle_shard`` (Particle Guidance) both run it;
what differs is theirs: the items, the identity, how a batch renders and what its images'
metadata say.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from seedscope.shards import ShardWriter, encode_png

T = TypeVar("T")


def batches(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    """Consecutive slices of at most ``size`` items."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def render_resumable(
    shard: str | Path,
    identity: dict[str, Any],
    items: Sequence[T],
    chunk_size: int,
    batch_size: int,
    render: Callable[[Sequence[T]], Sequence[Any]],
    describe: Callable[[T, Sequence[T], int], dict[str, Any]],
    png_compress_level: int = 6,
    encoder_threads: int = 2,
    in_line: bool = False,
    progress=None,
    log: logging.Logger | None = None,
) -> dict[str, Any]:
    """Render ``items`` (one image each) into ``shard``, resuming from its last completed chunk.

    ``identity`` is everything the shard's bytes depend on (a partial of another identity
    starts over). ``items`` are cut into chunks of ``chunk_size`` and each chunk into batches
    of ``batch_size``; ``render(batch)`` returns the batch's images (HxWx3 uint8, one per item,
    in order) and ``describe(item, batch, position)`` the metadata of the image at
    ``position`` in its batch (its ``key``, ``prompt_id`` and ``seed`` go into the manifest).
    PNGs are encoded at ``png_compress_level`` on ``encoder_threads`` threads while the next
    batch renders, or with ``in_line`` each at once (the same bytes). ``progress``, if given,
    is a tqdm-like object told first the images of the chunks already done (0 for a fresh
    shard), then each batch's images once rendered. ``log``, if given, reports a resumed
    shard. Returns the summary that also goes into the manifest's ``info``: images, chunks,
    chunks rendered in this call, seconds.
    """
    chunks = list(batches(items, chunk_size))
    writer = ShardWriter(shard, identity)
    done = writer.open()
    if done and log is not None:
        log.info("resuming %s at chunk %d of %d", shard, done, len(chunks))
    if progress is not None:
        progress.update(sum(len(c) for c in chunks[:done]))
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=encoder_threads) as pool:
        for chunk in chunks[done:]:
            pending = []
            for batch in batches(chunk, batch_size):
                pixels = render(batch)
                for position, (item, image) in enumerate(zip(batch, pixels, strict=True)):
                    meta = describe(item, batch, position)
                    if in_line:
                        png = _done(encode_png(image, png_compress_level))
                    else:
                        png = pool.submit(encode_png, image, png_compress_level)
                    pending.append((meta["key"], png, meta))
                if progress is not None:
                    progress.update(len(batch))
            writer.write_chunk([(key, png.result(), meta) for key, png, meta in pending])
    summary = {
        "images": len(items),
        "chunks": len(chunks),
        "chunks_rendered": len(chunks) - done,
        "seconds": round(time.perf_counter() - start, 3),
    }
    writer.finish(info=summary)
    return summary


def _done(value):
    """A finished future holding ``value`` (in-line encoding)."""
    future: Future = Future()
    future.set_result(value)
    return future
