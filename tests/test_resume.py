"""A shard render killed by SIGKILL at random moments, again and again, ends as if never killed.

The jobs run the render driver (``seedscope.render_driver``) with a fake renderer, so what is
killed is the driver and the shard writer, and nothing else costs time; ``test_generate`` and
``test_particle_shard`` check that their jobs resume through it.
"""

import json
import random
import signal
import subprocess
import sys
import textwrap
import threading
import time

from seedscope.shards import ShardReader, verify

PROMPTS, SEEDS = 4, 8
IMAGES, CHUNK = PROMPTS * SEEDS, 2  # 32 images in 16 chunks, one image per batch
FLOOR = 0.05  # seconds per image at least, so that a kill's delay covers at most a few images

# A job renders the shard argv[1], resuming, with a fake image of its own for every prompt and
# seed; it prints "done <images>" after every batch (resumed images first).
JOB = textwrap.dedent(
    """
    import json, sys, time
    import numpy as np
    from seedscope.render_driver import render_resumable
    from seedscope.shards import image_key
    prompts, seeds, chunk, floor = json.loads(sys.argv[2])
    items = [(f"r-{p:05d}", seed) for p in range(prompts) for seed in range(seeds)]

    def render(batch):
        return [np.random.default_rng([int(p[2:]), s]).integers(0, 256, (16, 16, 3), np.uint8)
                for p, s in batch]

    def describe(item, batch, position):
        return {"key": image_key(*item), "prompt_id": item[0], "seed": item[1]}

    class Report:
        done = 0

        def update(self, n):
            time.sleep(floor)
            self.done += n
            print("done", self.done, flush=True)

    identity = {"job": "fake", "images": len(items)}
    render_resumable(sys.argv[1], identity, items, chunk, 1, render, describe, progress=Report())
    """
)


def run_job(shard, kill_at=None, delay=0.0):
    """Render ``shard`` in a job; SIGKILL it ``delay`` s after it reports ``kill_at`` images.

    Returns the images it found done when it started and its exit code (-9: killed).
    """
    args = json.dumps([PROMPTS, SEEDS, CHUNK, FLOOR])
    job = subprocess.Popen([sys.executable, "-c", JOB, str(shard), args], stdout=subprocess.PIPE)
    hung = threading.Event()
    watchdog = threading.Timer(120, lambda: (hung.set(), job.kill()))
    watchdog.start()
    resumed = None
    try:
        for line in job.stdout:
            done = int(line.split()[1])
            resumed = done if resumed is None else resumed
            if kill_at is not None and done >= kill_at:
                time.sleep(delay)
                job.send_signal(signal.SIGKILL)
                kill_at = None
    finally:
        watchdog.cancel()
    code = job.wait()
    assert not hung.is_set(), "the job hung"
    return resumed, code


def chunks_done(shard):
    """Chunks whose progress line is whole (a kill may have torn the last one)."""
    progress = shard.with_name(shard.name + ".progress.jsonl")
    count = 0
    for line in progress.read_text().splitlines()[1:]:  # the first line is the header
        try:
            json.loads(line)
        except ValueError:
            break
        count += 1
    return count


def test_three_sigkills_at_random_moments_leave_the_same_shard(tmp_path):
    shard = tmp_path / "killed" / "s.tar"
    rng = random.Random(2405)
    chunks = 0
    for kill in range(3):
        # The first kill may land before any chunk is complete, the later ones after at least
        # one: a job that reports a chunk's images plus one has written that chunk. The delay
        # covers 3 images at most (FLOOR), so every kill lands before image 27 of 32.
        kill_at = chunks * CHUNK + rng.choice([1, 2, 3, 4] if kill == 0 else [3, 4, 5])
        resumed, code = run_job(shard, kill_at, delay=rng.uniform(0, 3 * FLOOR))
        assert code == -signal.SIGKILL and not shard.exists(), "the job ended before its kill"
        assert resumed == chunks * CHUNK  # every chunk completed before the kill survived it
        assert chunks_done(shard) > chunks or kill == 0, "the kill left no new chunk"
        chunks = chunks_done(shard)
    assert 0 < chunks < IMAGES // CHUNK
    assert run_job(shard) == (chunks * CHUNK, 0)

    reference = tmp_path / "reference" / "s.tar"
    assert run_job(reference) == (0, 0)
    assert verify(shard) == IMAGES
    assert shard.read_bytes() == reference.read_bytes()
    assert ShardReader(shard).entries == ShardReader(reference).entries
