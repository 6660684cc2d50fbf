"""A shard render killed by SIGKILL at random moments, again and again, ends as if never killed."""

import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest
import torch

from seedscope.generate import render_shard
from seedscope.models import load_pipeline
from seedscope.shards import ShardReader, verify

from conftest import model_spec

PROMPTS = [
    {"id": f"r-{i:05d}", "text": t}
    for i, t in enumerate(["a red dog", "a blue cat", "an apple", "a green tree"])
]
SEEDS = list(range(8))
IMAGES, CHUNK = len(PROMPTS) * len(SEEDS), 2  # 32 images in 16 chunks, one image per batch
FLOOR = 0.05  # seconds per image at least, so that a kill's delay covers at most a few images

# Loads the pipeline once (importing torch and diffusers is most of a job's start-up), then for
# every shard path on stdin forks a job that renders it, resuming, as a generation job does.
# It prints "pid <job>", the job prints "done <images>" after every batch (resumed images
# first), then "exit <exit code>" (-9: killed by SIGKILL).
SERVER = textwrap.dedent(
    """
    import json, multiprocessing, sys, time, torch
    torch.set_num_threads(1)  # before any torch work: the forked jobs inherit no thread pool
    from seedscope.generate import render_shard
    from seedscope.models import load_pipeline
    spec, prompts, seeds, chunk, floor = json.loads(sys.argv[1])
    pipe = load_pipeline("sd2", spec, "cpu")

    class Report:
        done = 0

        def update(self, n):
            time.sleep(floor)
            self.done += n
            print("done", self.done, flush=True)

    def render(shard):
        render_shard(pipe, "sd2", spec, "t", prompts, seeds, shard, chunk, progress=Report())

    for line in sys.stdin:
        job = multiprocessing.get_context("fork").Process(target=render, args=(line.strip(),))
        job.start()
        print("pid", job.pid, flush=True)
        job.join()
        print("exit", job.exitcode, flush=True)
    """
)


@pytest.fixture
def server(tiny_models, tmp_path):
    """The job server and the spec it renders with; it and its jobs are killed at the end."""
    spec = model_spec("sd2", tiny_models["sd2"], batch_size=1)
    log = tmp_path / "server.log"
    with open(log, "w") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-c", SERVER, json.dumps([spec, PROMPTS, SEEDS, CHUNK, FLOOR])],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            start_new_session=True,  # its own process group, with its jobs
        )
    watchdog = threading.Timer(600, os.killpg, (process.pid, signal.SIGKILL))  # a hang ends
    watchdog.start()
    yield process, spec, log
    watchdog.cancel()
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def run_job(server, shard, kill_at=None, delay=0.0):
    """Render ``shard`` in a job; SIGKILL it ``delay`` s after it reports ``kill_at`` images.

    Returns the images it found done when it started and its exit code (-9: killed).
    """
    process, _, log = server
    process.stdin.write(f"{shard}\n")
    process.stdin.flush()
    pid = resumed = None
    for line in process.stdout:
        word, value = line.split()
        if word == "pid":
            pid = int(value)
        elif word == "done":
            resumed = int(value) if resumed is None else resumed
            if kill_at is not None and int(value) >= kill_at:
                time.sleep(delay)
                os.kill(pid, signal.SIGKILL)
                kill_at = None
        else:
            return resumed, int(value)
    raise AssertionError(f"the job server ended:\n{log.read_text()[-3000:]}")


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


@pytest.mark.slow
def test_three_sigkills_at_random_moments_leave_the_same_shard(server, tmp_path):
    shard = tmp_path / "killed" / "s.tar"
    rng = random.Random(2405)
    chunks = 0
    for kill in range(3):
        # The first kill may land before any chunk is complete, the later ones after at least
        # one: a job that reports a chunk's images plus one has written that chunk. The delay
        # covers 3 images at most (FLOOR), so every kill lands before image 27 of 32.
        kill_at = chunks * CHUNK + rng.choice([1, 2, 3, 4] if kill == 0 else [3, 4, 5])
        resumed, code = run_job(server, shard, kill_at, delay=rng.uniform(0, 3 * FLOOR))
        assert code == -signal.SIGKILL and not shard.exists(), "the job ended before its kill"
        assert resumed == chunks * CHUNK  # every chunk completed before the kill survived it
        assert chunks_done(shard) > chunks or kill == 0, "the kill left no new chunk"
        chunks = chunks_done(shard)
    assert 0 < chunks < IMAGES // CHUNK
    assert run_job(server, shard) == (chunks * CHUNK, 0)

    _, spec, _ = server
    torch.set_num_threads(1)  # as in the jobs
    reference = tmp_path / "reference" / "s.tar"
    render_shard(
        load_pipeline("sd2", spec, "cpu"), "sd2", spec, "t", PROMPTS, SEEDS, reference, CHUNK
    )
    assert verify(shard) == IMAGES
    assert shard.read_bytes() == reference.read_bytes()
    assert ShardReader(shard).entries == ShardReader(reference).entries
