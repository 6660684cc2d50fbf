"""The resumable render driver, with a fake renderer: chunks, resuming, starting over, encoding."""

import logging
import threading

import numpy as np
import pytest

import seedscope.render_driver
from seedscope.render_driver import render_resumable
from seedscope.shards import ShardReader, content_sha256, image_key, read_manifest, verify

ITEMS = [(f"p-{prompt}", seed) for prompt in range(3) for seed in range(4)]  # 12 images
CHUNK, BATCH = 4, 3  # 3 chunks of 4 images, each rendered as a batch of 3 and one of 1
IDENTITY = {"renderer": "fake", "setting": 1}
LOG = logging.getLogger("test.render_driver")


def pixels(item) -> np.ndarray:
    """The fake image of (prompt id, seed): noise of its own, so every image differs."""
    prompt, seed = item
    return np.random.default_rng([int(prompt[2:]), seed]).integers(0, 256, (8, 8, 3), np.uint8)


def describe(item, batch, position):
    prompt, seed = item
    members = [list(member) for member in batch]
    return {"key": image_key(prompt, seed), "prompt_id": prompt, "seed": seed, "batch": members}


class _Killed(Exception):
    pass


class Renderer:
    """Renders each batch's fake images and records the batches; with ``calls``, the job is
    killed when rendering more than that many batches."""

    def __init__(self, calls=None):
        self.calls, self.batches = calls, []

    def __call__(self, batch):
        if self.calls is not None and len(self.batches) == self.calls:
            raise _Killed
        self.batches.append(list(batch))
        return np.stack([pixels(item) for item in batch])


class Progress:
    def __init__(self):
        self.updates = []

    def update(self, n):
        self.updates.append(n)


def render(shard, renderer, identity=IDENTITY, **kwargs):
    return render_resumable(shard, identity, ITEMS, CHUNK, BATCH, renderer, describe, **kwargs)


def messages(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == LOG.name]


def interrupted(shard):
    """A job killed in its second chunk, after its first batch: one chunk done, one begun."""
    with pytest.raises(_Killed):
        render(shard, Renderer(calls=3))
    assert not shard.exists() and shard.with_name(shard.name + ".partial").exists()


@pytest.fixture
def reference(tmp_path):
    shard = tmp_path / "reference" / "s.tar"
    render(shard, Renderer())
    return shard


def test_renders_every_item_in_chunks_of_batches(tmp_path):
    shard, renderer, progress = tmp_path / "s.tar", Renderer(), Progress()
    summary = render(shard, renderer, progress=progress)
    assert {k: v for k, v in summary.items() if k != "seconds"} == {
        "images": 12,
        "chunks": 3,
        "chunks_rendered": 3,
    }
    # batches never cross a chunk: 3 + 1 images per chunk of 4
    cuts = [(0, 3), (3, 4), (4, 7), (7, 8), (8, 11), (11, 12)]
    assert renderer.batches == [ITEMS[start:end] for start, end in cuts]
    assert progress.updates == [0, 3, 1, 3, 1, 3, 1]
    assert verify(shard) == 12
    assert read_manifest(shard)["info"] == summary
    assert read_manifest(shard)["identity"] == IDENTITY
    reader = ShardReader(shard)
    assert [e.key for e in reader.entries] == [image_key(*item) for item in ITEMS]
    for item in ITEMS[::5]:
        assert np.array_equal(np.asarray(reader.image(image_key(*item))), pixels(item))
    assert reader.meta(image_key(*ITEMS[7]))["batch"] == [list(ITEMS[7])]  # alone in its batch
    assert sorted(p.name for p in shard.parent.iterdir()) == ["s.json", "s.tar"]


def test_interrupted_render_resumes_after_its_last_chunk(reference, tmp_path, caplog):
    shard = tmp_path / "s.tar"
    interrupted(shard)
    renderer, progress = Renderer(), Progress()
    with caplog.at_level(logging.INFO, logger=LOG.name):
        summary = render(shard, renderer, progress=progress, log=LOG)
    assert summary["chunks"] == 3 and summary["chunks_rendered"] == 2
    assert renderer.batches[0] == ITEMS[4:7]  # the begun chunk again; the done one not at all
    assert [item for batch in renderer.batches for item in batch] == ITEMS[4:]
    assert progress.updates == [4, 3, 1, 3, 1]  # the done chunk's images first
    assert messages(caplog) == [f"resuming {shard} at chunk 1 of 3"]
    assert shard.read_bytes() == reference.read_bytes()
    assert content_sha256(read_manifest(shard)) == content_sha256(read_manifest(reference))
    assert not shard.with_name("s.tar.progress.jsonl").exists()


def test_partial_of_another_identity_starts_over(reference, tmp_path, caplog):
    shard = tmp_path / "s.tar"
    interrupted(shard)
    renderer, progress, other = Renderer(), Progress(), IDENTITY | {"setting": 2}
    with caplog.at_level(logging.INFO, logger=LOG.name):
        summary = render(shard, renderer, other, progress=progress, log=LOG)
    assert summary["chunks_rendered"] == 3 and progress.updates[0] == 0
    assert [item for batch in renderer.batches for item in batch] == ITEMS
    assert messages(caplog) == []  # nothing was resumed
    assert read_manifest(shard)["identity"] == other
    assert shard.read_bytes() == reference.read_bytes()  # the old partial left no byte


@pytest.mark.parametrize("in_line", [True, False])
def test_pngs_in_line_or_on_encoder_threads_are_the_same_bytes(
    reference, tmp_path, monkeypatch, in_line
):
    threads = []
    encode = seedscope.render_driver.encode_png

    def spy(*args):
        threads.append(threading.current_thread() is threading.main_thread())
        return encode(*args)

    monkeypatch.setattr(seedscope.render_driver, "encode_png", spy)
    shard = tmp_path / "s.tar"
    render(shard, Renderer(), encoder_threads=2, in_line=in_line)
    assert len(threads) == 12 and set(threads) == {in_line}
    assert shard.read_bytes() == reference.read_bytes()


def test_a_render_of_too_few_images_writes_no_chunk(tmp_path):
    shard = tmp_path / "s.tar"
    with pytest.raises(ValueError, match="zip"):
        render(shard, lambda batch: [pixels(item) for item in batch[:-1]])
    progress = shard.with_name("s.tar.progress.jsonl").read_text().splitlines()
    assert len(progress) == 1  # the identity only
