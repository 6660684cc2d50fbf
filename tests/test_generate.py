"""The generation engine: reproducible images, batch independence, resuming a killed job."""

import functools
import io
import json
import platform
import signal
import subprocess
import sys
import textwrap
import time

import diffusers
import numpy as np
import pytest
import torch
import transformers
from PIL import Image

import seedscope.generate
from seedscope.generate import (
    Item,
    PromptEmbeddings,
    cpu_name,
    render_batch,
    render_shard,
    rerender,
    run_context,
    tune_allocator,
)
from seedscope.models import load_pipeline
from seedscope.plan import load_calibration, make_plan
from seedscope.shards import ShardReader, encode_png, image_key, read_manifest, verify
from seedscope.validate import load_config

from conftest import REPO, model_spec

sys.path.insert(0, str(REPO / "benchmarks"))
from bench_generation import WAYS  # noqa: E402

PROMPTS = [
    {"id": f"t-{i:05d}", "text": t} for i, t in enumerate(["a red dog", "a blue cat", "an apple"])
]
# Rendering one image alone instead of in a batch changes floats by ~1e-6, which moves a few
# pixels by one uint8 level. This is the tolerance we promise across batch sizes.
MAX_LEVELS, MAX_FRACTION = 2, 0.01
# What the seed bank promises between a shard's image and plain diffusers' call for it (README).
BANK_LEVELS = 1


@pytest.fixture(scope="module", params=["sd2", "sdxl-turbo"])
def pipe_and_spec(request, tiny_models):
    spec = model_spec(request.param, tiny_models[request.param])
    return load_pipeline(request.param, spec, "cpu"), spec, request.param


def test_rerender_from_shard_metadata(pipe_and_spec, tmp_path):
    pipe, spec, name = pipe_and_spec
    shard = tmp_path / "seeds-0005-0008.tar"
    render_shard(pipe, name, spec, "t", PROMPTS, [5, 6, 7, 8], shard, chunk_size=5)
    assert verify(shard) == 12
    reader = ShardReader(shard)
    for entry in reader.entries[::3]:
        stored = np.asarray(reader.image(entry.key))
        meta = reader.meta(entry.key)
        assert meta["seed"] == entry.seed and meta["prompt_id"] == entry.prompt_id
        assert np.array_equal(rerender(meta, pipe, exact=True), stored)
        alone = rerender(meta, pipe, exact=False)
        diff = np.abs(alone.astype(int) - stored.astype(int))
        assert diff.max() <= MAX_LEVELS and (diff > 0).mean() <= MAX_FRACTION


def test_image_depends_on_seed_not_on_batch_neighbours(pipe_and_spec):
    pipe, spec, _ = pipe_and_spec
    emb = PromptEmbeddings(pipe, "", spec["guidance"])
    a = render_batch(pipe, emb, [Item("t-0", "a red dog", 3), Item("t-1", "a blue cat", 4)], spec)
    b = render_batch(pipe, emb, [Item("t-0", "a red dog", 3), Item("t-2", "an apple", 9)], spec)
    assert np.array_equal(a[0], b[0])  # same batch size and position, different neighbour
    assert not np.array_equal(
        a[0], render_batch(pipe, emb, [Item("t-0", "a red dog", 4)] * 2, spec)[0]
    )


def test_global_rng_state_does_not_matter(pipe_and_spec):
    pipe, spec, _ = pipe_and_spec
    emb = PromptEmbeddings(pipe, "", spec["guidance"])
    torch.manual_seed(123)
    a = render_batch(pipe, emb, [Item("t-0", "a red dog", 3)], spec)
    torch.manual_seed(456)
    torch.randn(100)
    assert np.array_equal(a, render_batch(pipe, emb, [Item("t-0", "a red dog", 3)], spec))


KILLABLE = textwrap.dedent(
    """
    import json, sys, torch
    torch.set_num_threads(1)
    from seedscope.generate import render_shard
    from seedscope.models import load_pipeline
    spec, prompts, shard, delay, *fast = json.loads(sys.argv[1])
    pipe = load_pipeline("sd2", spec, "cpu")
    if delay:  # slow each pipeline call down so that a kill lands mid-shard
        import time
        call = type(pipe).__call__
        type(pipe).__call__ = lambda self, *a, **k: (time.sleep(delay), call(self, *a, **k))[1]
    summary = render_shard(
        pipe, "sd2", spec, "t", prompts, list(range(8)), shard, chunk_size=4, fast=fast != [False]
    )
    import seedscope.generate
    print(json.dumps(summary | {"allocator_tuned": seedscope.generate._allocator_tuned}))
    """
)


def run_generation(args, **kwargs):
    return subprocess.Popen(
        [sys.executable, "-c", KILLABLE, json.dumps(args)],
        stdout=subprocess.PIPE,
        text=True,
        **kwargs,
    )


def test_killed_job_resumes_and_redoes_at_most_one_chunk(tiny_models, tmp_path):
    spec = model_spec("sd2", tiny_models["sd2"], batch_size=2)
    killed, reference = tmp_path / "killed" / "s.tar", tmp_path / "ref" / "s.tar"
    progress = killed.with_name("s.tar.progress.jsonl")
    job = run_generation([spec, PROMPTS, str(killed), 0.3])
    deadline = time.time() + 120
    while time.time() < deadline and (
        not progress.exists() or len(progress.read_text().splitlines()) < 3
    ):
        time.sleep(0.05)
    job.send_signal(signal.SIGKILL)
    job.wait()
    assert not killed.exists(), "the job was meant to be killed before finishing"
    done = len(progress.read_text().splitlines()) - 1  # first line is the identity
    assert 2 <= done < 6
    rerun = run_generation([spec, PROMPTS, str(killed), 0])
    summary = json.loads(rerun.communicate(timeout=300)[0])
    assert summary["chunks"] == 6 and summary["chunks_rendered"] == 6 - done
    assert verify(killed) == 24 and not progress.exists()
    ref = run_generation([spec, PROMPTS, str(reference), 0])
    ref.communicate(timeout=300)
    assert killed.read_bytes() == reference.read_bytes()


def test_fast_and_plain_paths_write_the_same_bytes(pipe_and_spec, tmp_path, monkeypatch):
    pipe, spec, name = pipe_and_spec
    output_types = []
    call = type(pipe).__call__

    @functools.wraps(call)  # keeps the signature that the engine inspects
    def spy(self, *args, **kwargs):
        output_types.append(kwargs["output_type"])
        return call(self, *args, **kwargs)

    monkeypatch.setattr(type(pipe), "__call__", spy)
    fast, plain = tmp_path / "fast" / "s.tar", tmp_path / "plain" / "s.tar"
    render_shard(pipe, name, spec, "t", PROMPTS, [0, 1, 2], fast, chunk_size=4, fast=True)
    fast_calls, output_types[:] = list(output_types), []
    render_shard(pipe, name, spec, "t", PROMPTS, [0, 1, 2], plain, chunk_size=4, fast=False)
    assert set(fast_calls) == {"pt"} and set(output_types) == {"np"}  # two different paths
    assert fast.read_bytes() == plain.read_bytes()


def test_batch_size_changes_images_only_within_tolerance(pipe_and_spec, tmp_path):
    pipe, spec, name = pipe_and_spec
    small, large = tmp_path / "b1" / "s.tar", tmp_path / "b6" / "s.tar"
    render_shard(pipe, name, spec | {"batch_size": 1}, "t", PROMPTS, [0, 1], small, chunk_size=6)
    render_shard(pipe, name, spec | {"batch_size": 6}, "t", PROMPTS, [0, 1], large, chunk_size=6)
    a, b = ShardReader(small), ShardReader(large)
    for entry in a.entries:
        diff = np.abs(np.asarray(a.image(entry.key), int) - np.asarray(b.image(entry.key), int))
        assert diff.max() <= MAX_LEVELS and (diff > 0).mean() <= MAX_FRACTION


def test_negative_prompt_is_encoded_once_and_gives_the_same_tensors(pipe_and_spec, monkeypatch):
    pipe, _, _ = pipe_and_spec
    calls = []
    encode = pipe.encode_prompt

    @functools.wraps(encode)  # keeps the signature that tells the pipeline family
    def spy(*args, **kwargs):
        calls.append("negative_prompt_embeds" in kwargs)
        return encode(*args, **kwargs)

    monkeypatch.setattr(pipe, "encode_prompt", spy)
    cached = PromptEmbeddings(pipe, "blurry", guidance=7.5)
    plain = PromptEmbeddings(pipe, "blurry", guidance=7.5, capacity=0)
    texts = ["a red dog", "a blue cat", "an apple"]
    fast_embeds = [cached.get(t) for t in texts]
    assert calls == [False, True, True]
    for text, fast in zip(texts, fast_embeds, strict=True):
        slow = plain.get(text)
        assert fast.keys() == slow.keys()
        assert all(torch.equal(fast[k], slow[k]) for k in fast)


def test_allocator_tuning_is_idempotent():
    first = tune_allocator()
    assert tune_allocator() is first
    if sys.platform.startswith("linux") and "glibc" in " ".join(platform.libc_ver()):
        assert first


def test_allocator_tuning_changes_no_byte(tiny_models, tmp_path):
    """The fast path (allocator tuned) in one process, the plain path (untuned) in another."""
    spec = model_spec("sd2", tiny_models["sd2"], batch_size=3)
    shards = {fast: tmp_path / str(fast) / "s.tar" for fast in (True, False)}
    jobs = {
        fast: run_generation([spec, PROMPTS[:2], str(shards[fast]), 0, fast]) for fast in shards
    }
    tuned = {
        fast: json.loads(job.communicate(timeout=300)[0])["allocator_tuned"]
        for fast, job in jobs.items()
    }
    assert tuned[False] is None and tuned[True] == tune_allocator()
    assert shards[True].read_bytes() == shards[False].read_bytes()


@pytest.mark.parametrize("shape", [(64, 64, 3), (5, 7, 3), (1, 1, 3), (9, 4), (6, 6, 1), (6, 6, 4)])
@pytest.mark.parametrize("level", [0, 1, 6, 9])
def test_png_round_trips_every_pixel(shape, level):
    pixels = np.random.default_rng(sum(shape) + level).integers(0, 256, shape, dtype=np.uint8)
    png = encode_png(pixels, level)
    Image.open(io.BytesIO(png)).verify()  # signature, chunk CRCs
    decoded = np.asarray(Image.open(io.BytesIO(png)))
    assert np.array_equal(decoded.reshape(shape), pixels)
    assert encode_png(pixels.copy(), level) == png  # deterministic


def test_png_of_a_rendered_image_is_smaller_at_higher_levels(pipe_and_spec):
    pipe, spec, _ = pipe_and_spec
    emb = PromptEmbeddings(pipe, "", spec["guidance"])
    image = render_batch(pipe, emb, [Item("t-0", "a red dog", 3)], spec)[0]
    sizes = [len(encode_png(image, level)) for level in (0, 1, 9)]
    assert sizes[0] > sizes[1] >= sizes[2]
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(encode_png(image, 1)))), image)


@pytest.mark.parametrize(
    "bad", [np.zeros((4, 4, 3), np.float32), np.zeros((4, 4, 5), np.uint8), np.zeros((0, 4, 3))]
)
def test_png_rejects_what_it_cannot_store_losslessly(bad):
    with pytest.raises(ValueError):
        encode_png(bad)


def test_benchmark_runs_and_its_calibration_feeds_the_plan(tmp_path):
    """One command, every way in its own worker process; ``seedscope plan`` reads the result."""
    out = tmp_path / "bench"
    args = ["--models", "sdxl-turbo", "--prompts", "2", "--seeds", "2", "--batch", "4"]
    args += ["--repeats", "1", "--threads", "1", "--encoder-threads", "1", "--out", str(out)]
    subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "bench_generation.py"), *args],
        check=True,
        timeout=600,
        capture_output=True,
    )
    (row,) = json.loads((out / "generation.json").read_text())
    assert {f"{way}_img_per_s" for way in WAYS} <= row.keys()
    assert row["batched_batch"] == 2 and row["engine_batch"] == 4 and row["allocator_tuned"]
    assert all(len(times) == 1 for times in row["rounds_s"].values())
    assert "engine @ idiomatic batch" in (out / "generation.md").read_text()
    calibration = load_calibration(out / "calibration.json")
    entry = calibration["sdxl-turbo"]
    assert entry["architecture"] == "tiny" and entry["seconds_per_image"] > 0
    config = load_config(REPO / "config.yaml")
    plan = make_plan(config, calibration)["models"]["sdxl-turbo"]
    assert plan["cost_source"].startswith("estimated")  # a tiny model's speed says nothing
    spec = config["models"]["sdxl-turbo"]
    full = {"sdxl-turbo": entry | {"architecture": "full", "device": "H100"}}
    full["sdxl-turbo"] |= {"resolution": spec["resolution"], "steps": spec["steps"]}
    plan = make_plan(config, full)["models"]["sdxl-turbo"]
    assert plan["cost_source"] == "measured on H100"
    assert plan["seconds_per_image"] == entry["seconds_per_image"]


def test_run_context_of_a_compiled_unet(pipe_and_spec, monkeypatch):
    pipe, _, _ = pipe_and_spec
    monkeypatch.setattr(pipe, "unet", torch.compile(pipe.unet))  # lazy: nothing compiles here
    context = run_context(pipe)
    assert context["dtype"] == "float32" and context["device"] == "cpu"


def test_sdxl_with_guidance_renders_what_plain_diffusers_renders(tiny_models, tmp_path):
    """No negative prompt and guidance > 1: SDXL's default (zero negative embeddings), not ""."""
    spec = model_spec("sdxl-turbo", tiny_models["sdxl-turbo"], guidance=5.0, steps=2, batch_size=3)
    pipe = load_pipeline("sdxl-turbo", spec, "cpu")
    assert pipe.config.force_zeros_for_empty_prompt
    shard = tmp_path / "s.tar"
    render_shard(pipe, "sdxl-turbo", spec, "t", PROMPTS[:2], [0, 1, 2], shard, chunk_size=6)
    reader = ShardReader(shard)
    call = dict(num_inference_steps=2, guidance_scale=5.0, height=64, width=64)

    def plain(text, seed, **extra):
        generator = torch.Generator("cpu").manual_seed(seed)
        return np.asarray(pipe(text, generator=generator, **call, **extra).images[0], int)

    for prompt in PROMPTS[:2]:
        for seed in (0, 2):
            stored = np.asarray(reader.image(image_key(prompt["id"], seed)), int)
            assert np.abs(plain(prompt["text"], seed) - stored).max() <= BANK_LEVELS
            # The engine's old way, encoding "" as the negative prompt, is another image.
            other = plain(prompt["text"], seed, negative_prompt="")
            assert np.abs(other - stored).max() > 10 * BANK_LEVELS


class _Stop(Exception):
    pass


class _StopAfter:
    """A progress bar that stops the job once it has seen more than ``images`` images."""

    def __init__(self, images):
        self.images, self.seen = images, 0

    def update(self, n):
        self.seen += n
        if self.seen > self.images:
            raise _Stop


def test_partial_shard_of_other_software_or_hardware_starts_over(tiny_models, tmp_path):
    spec = model_spec("sdxl-turbo", tiny_models["sdxl-turbo"], batch_size=2)
    pipe = load_pipeline("sdxl-turbo", spec, "cpu")

    def render(shard, progress=None):  # 6 images in 3 chunks, one batch each
        args = (pipe, "sdxl-turbo", spec, "t", PROMPTS, [0, 1], shard)
        return render_shard(*args, chunk_size=2, progress=progress)

    def killed_after_one_chunk(shard, patch=None):
        with pytest.MonkeyPatch.context() as mp:
            if patch:
                mp.setattr(*patch)
            with pytest.raises(_Stop):
                render(shard, _StopAfter(2))
        assert shard.with_name("s.tar.partial").exists() and not shard.exists()

    same = tmp_path / "same" / "s.tar"
    render(same)  # that a partial of the same identity resumes: the killed job test above

    other_torch = (torch, "__version__", "0.0.1+other")
    other_device = (seedscope.generate, "device_name", lambda device: "Some Other Processor")
    for name, patch in {"torch": other_torch, "device": other_device}.items():
        shard = tmp_path / name / "s.tar"
        killed_after_one_chunk(shard, patch)
        assert render(shard)["chunks_rendered"] == 3, f"a partial shard of another {name}"
        assert shard.read_bytes() == same.read_bytes()

    reader = ShardReader(same)
    meta = reader.meta(reader.entries[0].key)
    versions = {
        "torch": torch.__version__,
        "diffusers": diffusers.__version__,
        "transformers": transformers.__version__,
        "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version(),
    }
    assert meta["versions"].items() >= versions.items()
    assert meta["device"] == "cpu" and meta["device_name"] == cpu_name() != ""
    identity = read_manifest(same)["identity"]
    assert identity["versions"] == meta["versions"]
    assert identity["device_name"] == meta["device_name"]
