"""Particle Guidance shards: the engine's bytes at coefficient 0, resuming, metadata, identity."""

import numpy as np
import pytest

from seedscope.cli import main
from seedscope.diverse.particle import ParticleGuidance
from seedscope.diverse.particle_shard import render_particle_shard, rerender_particle
from seedscope.errors import ConfigError
from seedscope.generate import render_shard
from seedscope.models import load_pipeline
from seedscope.shards import ShardReader, content_sha256, image_key, read_manifest, verify

from conftest import model_spec

PROMPTS = [
    {"id": f"t-{i:05d}", "text": t} for i, t in enumerate(["a red dog", "a blue cat", "an apple"])
]
# C = 3 particles per prompt, each prompt its own, kept in this order (the batch order)
PARTICLES = {"t-00000": [21, 5, 13], "t-00001": [3, 21, 8], "t-00002": [13, 2, 7]}
C = 3
GUIDANCE = ParticleGuidance(coeff=30.0)


class _Stop(Exception):
    pass


class _StopAfter:
    """A progress bar that raises once more than ``images`` were reported: a killed job."""

    def __init__(self, images: int):
        self.images, self.seen = images, 0

    def update(self, n):
        self.seen += n
        if self.seen > self.images:
            raise _Stop


@pytest.fixture(scope="module")
def sd2(tiny_models):
    spec = model_spec("sd2", tiny_models["sd2"])  # batch_size 4: unused, a batch is C particles
    return load_pipeline("sd2", spec, "cpu"), spec


def render(sd2, shard, guidance=GUIDANCE, chunk_prompts=1, progress=None):
    pipe, spec = sd2
    args = (pipe, "sd2", spec, "t", PROMPTS, PARTICLES, shard, guidance)
    return render_particle_shard(*args, chunk_prompts=chunk_prompts, progress=progress)


def pngs(shard) -> list[tuple[str, bytes]]:
    reader = ShardReader(shard)
    with reader:
        return [(e.key, reader.png(e.key)) for e in reader.entries]


def interrupted(sd2, shard, guidance=GUIDANCE):
    """A job killed while rendering its second chunk (the second prompt)."""
    with pytest.raises(_Stop):
        render(sd2, shard, guidance, progress=_StopAfter(C))
    progress = shard.with_name(shard.name + ".progress.jsonl")
    assert not shard.exists() and shard.with_name(shard.name + ".partial").exists()
    assert len(progress.read_text().splitlines()) == 2  # the identity and chunk 0


@pytest.fixture(scope="module")
def reference(sd2, tmp_path_factory):
    """The uninterrupted shard: 3 prompts x 3 particles, one prompt per chunk."""
    shard = tmp_path_factory.mktemp("reference") / "s.tar"
    summary = render(sd2, shard)
    assert summary["images"] == 9 and summary["chunks"] == summary["chunks_rendered"] == 3
    return shard


def test_coeff_zero_writes_render_shards_pngs(sd2, tmp_path):
    pipe, spec = sd2
    particles = tmp_path / "pg" / "s.tar"
    render(sd2, particles, ParticleGuidance(coeff=0.0), chunk_prompts=2)
    plain_spec = spec | {"batch_size": C}
    expected = []
    for prompt in PROMPTS:  # each prompt's own seeds, one batch of C, as the plain engine
        plain = tmp_path / "plain" / prompt["id"] / "s.tar"
        seeds = PARTICLES[prompt["id"]]
        render_shard(pipe, "sd2", plain_spec, "t", [prompt], seeds, plain, chunk_size=C)
        expected += sorted(pngs(plain))
    assert [key for key, _ in pngs(particles)] == [
        image_key(p["id"], s) for p in PROMPTS for s in PARTICLES[p["id"]]
    ]
    assert sorted(pngs(particles)) == sorted(expected)


def test_interrupted_shard_resumes_to_the_same_bytes(sd2, reference, tmp_path):
    """Particle shards resume through the render driver (tested in test_render_driver)."""
    shard = tmp_path / "s.tar"
    interrupted(sd2, shard)
    summary = render(sd2, shard)
    assert summary["chunks"] == 3 and summary["chunks_rendered"] == 2
    assert shard.read_bytes() == reference.read_bytes()
    assert content_sha256(read_manifest(shard)) == content_sha256(read_manifest(reference))


def test_shard_verifies_and_records_the_settings(sd2, reference):
    pipe, spec = sd2
    assert verify(reference) == 9
    identity = read_manifest(reference)["identity"]
    assert identity["particle_guidance"] == GUIDANCE.as_dict()
    assert identity["chunk_prompts"] == 1 and identity["seeds"] == [2, 21]
    assert len(identity["particles_sha256"]) == 64
    reader = ShardReader(reference)
    for entry in reader.entries:
        meta = reader.meta(entry.key)
        assert meta["particle_guidance"] == GUIDANCE.as_dict()
        assert meta["particle_guidance"]["coeff"] == 30.0
        seeds = PARTICLES[meta["prompt_id"]]
        assert meta["particles"] == seeds and meta["model_spec"] == spec
        assert meta["key"] == image_key(meta["prompt_id"], meta["seed"]) == entry.key
        prompt = next(p["text"] for p in PROMPTS if p["id"] == meta["prompt_id"])
        assert meta["batch"]["members"] == [[meta["prompt_id"], prompt, s] for s in seeds]
        assert meta["batch"]["position"] == seeds.index(meta["seed"])
        assert meta["device"] == "cpu" and meta["versions"] == identity["versions"]
    key = image_key(PROMPTS[1]["id"], PARTICLES[PROMPTS[1]["id"]][2])
    again = rerender_particle(reader.meta(key), pipe)
    assert np.array_equal(again, np.asarray(reader.image(key)))


def test_the_rerender_command_renders_a_particle_with_its_siblings(reference, capsys):
    key = image_key(PROMPTS[0]["id"], PARTICLES[PROMPTS[0]["id"]][1])
    assert main(["rerender", str(reference), key]) == 0
    assert f"{key}: max difference 0 levels" in capsys.readouterr().out
    assert main(["rerender", str(reference), key, "--alone"]) == 2
    assert "rendered together: it cannot be rendered alone" in capsys.readouterr().err


def test_changed_setting_does_not_resume_a_partial_of_other_settings(sd2, reference, tmp_path):
    shard = tmp_path / "s.tar"
    interrupted(sd2, shard)  # a partial at coefficient 30 with its first chunk done
    linear = ParticleGuidance(coeff=30.0, schedule="linear")
    assert render(sd2, shard, linear)["chunks_rendered"] == 3  # all of it, none resumed
    assert verify(shard) == 9
    reader = ShardReader(shard)
    # the first prompt's particles too are the new setting's, not the partial's
    assert {reader.meta(e.key)["particle_guidance"]["schedule"] for e in reader.entries} == {
        "linear"
    }


@pytest.mark.parametrize(
    "change, message",
    [
        ({"t-00000": [1, 2], "t-00001": [3, 4], "t-00002": [5, 6]}, "needs at least 3"),
        ({"t-00001": [1, 2, 1]}, "must be distinct"),
        ({"t-00001": [1, 2, 3, 4]}, "the same number of particles"),
        ({"t-00002": None}, "'t-00002' has no particle seeds"),
    ],
)
def test_bad_particles_are_refused_before_anything_is_written(sd2, tmp_path, change, message):
    pipe, spec = sd2
    particles = {k: v for k, v in (PARTICLES | change).items() if v is not None}
    shard = tmp_path / "s.tar"
    with pytest.raises(ConfigError, match=message):
        render_particle_shard(pipe, "sd2", spec, "t", PROMPTS, particles, shard, GUIDANCE)
    assert list(tmp_path.iterdir()) == []
