"""Particle Guidance shards: every prompt's C particles, rendered jointly, in the usual format.

For each prompt of a prompt set, its C particle seeds (drawn per prompt,
``seedscope.diverse.settings.particle_seeds``) are rendered together as one batch of C by
``render_particles``, so the particles repel each other (see ``seedscope.diverse.particle``).
The shard is the project's usual one (``seedscope.shards``: WebDataset tar + manifest, keys
``image_key(prompt_id, seed)``, checked by ``verify``), and each image's JSON is
``seedscope.generate.image_metadata`` (its ``batch`` is the prompt's C particles) plus
``particle_guidance`` (``ParticleGuidance.as_dict()``, the coefficient included) and
``particles`` (its prompt's C seeds in batch order).

Writing resumes as ``render_shard``'s does, through the same driver
(``seedscope.render_driver.render_resumable``): chunks of ``chunk_prompts`` whole prompts, each
appended and recorded durably, so a killed job continues after its last completed chunk. The
shard's identity is ``render_shard``'s (model and its config entry, prompt set and the digest
of its rows, PNG level, chunking, device, dtype, threads, versions) with the digest of every
prompt's particle seeds and the guidance settings: a partial shard of other settings starts
over.

The model config's ``batch_size`` is not used: a batch is always one prompt's C particles.
With ``coeff=0`` the images are byte for byte ``render_shard``'s with ``batch_size = C``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from seedscope.diverse.particle import ParticleGuidance, check_pipeline_supported, render_particles
from seedscope.errors import ConfigError
from seedscope.files import json_sha256
from seedscope.generate import Item, image_metadata, prompts_digest, run_context, tune_allocator
from seedscope.render_driver import render_resumable

CHUNK_PROMPTS = 16  # prompts per durable chunk: a killed job redoes at most this many


def particle_identity(
    model: str,
    spec: dict[str, Any],
    prompt_set: str,
    prompts: Sequence[dict[str, Any]],
    particles: Mapping[str, Sequence[int]],
    guidance: ParticleGuidance,
    chunk_prompts: int,
    png_compress_level: int,
    context: dict[str, Any],
) -> dict[str, Any]:
    """Everything a particle shard's bytes depend on (a partial of another identity restarts)."""
    ordered = [[p["id"], list(particles[p["id"]])] for p in prompts]  # seeds in batch order
    every = [s for _, seeds in ordered for s in seeds]
    return {
        "model": model,
        "model_spec": spec,
        "prompt_set": prompt_set,
        "prompts_sha256": prompts_digest(prompts),
        "seeds": [min(every), max(every)] if every else [],
        "particles_sha256": json_sha256(ordered),
        "particle_guidance": guidance.as_dict(),
        "chunk_prompts": chunk_prompts,
        "png_compress_level": png_compress_level,
    } | context


def _check_particles(
    prompts: Sequence[dict[str, Any]], particles: Mapping[str, Sequence[int]]
) -> dict[str, list[int]]:
    checked, sizes = {}, set()
    for prompt in prompts:
        if prompt["id"] not in particles:
            raise ConfigError(f"prompt {prompt['id']!r} has no particle seeds")
        seeds = list(particles[prompt["id"]])
        if any(isinstance(s, bool) or not isinstance(s, int | np.integer) or s < 0 for s in seeds):
            raise ConfigError(f"particle seeds must be integers >= 0, got {seeds}")
        if len(set(seeds)) != len(seeds):
            raise ConfigError(f"particle seeds must be distinct (one image each), got {seeds}")
        checked[prompt["id"]] = [int(s) for s in seeds]
        sizes.add(len(seeds))
    if len(sizes) > 1:
        raise ConfigError(f"every prompt needs the same number of particles, got {sorted(sizes)}")
    return checked


def render_particle_shard(
    pipe,
    model: str,
    spec: dict[str, Any],
    prompt_set: str,
    prompts: Sequence[dict[str, Any]],
    particles: Mapping[str, Sequence[int]],
    shard: str | Path,
    guidance: ParticleGuidance,
    chunk_prompts: int = CHUNK_PROMPTS,
    png_compress_level: int = 6,
    progress=None,
    encoder_threads: int = 2,
) -> dict[str, Any]:
    """Render each prompt's C particles jointly into ``shard``, resuming.

    ``prompts`` are prompt rows (``id``, ``text``); ``particles`` maps each prompt id to its C
    particle seeds, in the order they form its batch. ``progress``, if given, is a tqdm-like
    object updated by C after each prompt. Unsupported pipelines, schedulers or particle
    counts raise ``ConfigError`` before anything is written. Returns a summary like
    ``render_shard``'s (images, chunks, chunks rendered in this call, seconds).
    """
    particles = _check_particles(prompts, particles)
    if chunk_prompts < 1:
        raise ConfigError(f"chunk_prompts={chunk_prompts}: must be at least 1")
    count = len(next(iter(particles.values()), []))
    check_pipeline_supported(pipe, spec, guidance, count)
    tune_allocator()
    context = run_context(pipe)
    identity = particle_identity(
        model,
        spec,
        prompt_set,
        prompts,
        particles,
        guidance,
        chunk_prompts,
        png_compress_level,
        context,
    )
    # Prompt-major, each prompt's C particles in batch order: with batches of C and chunks of
    # chunk_prompts x C items, every batch is one prompt's particles and every chunk whole prompts.
    items = [Item(p["id"], p["text"], seed) for p in prompts for seed in particles[p["id"]]]

    def render(batch: Sequence[Item]) -> np.ndarray:
        first = batch[0]
        return render_particles(pipe, first.prompt, particles[first.prompt_id], spec, guidance)

    def describe(item: Item, batch: Sequence[Item], position: int) -> dict[str, Any]:
        meta = image_metadata(model, spec, prompt_set, item, batch, position, context)
        extra = {"particle_guidance": guidance.as_dict(), "particles": particles[item.prompt_id]}
        return meta | extra

    return render_resumable(
        shard,
        identity,
        items,
        chunk_prompts * count,
        count,
        render,
        describe,
        png_compress_level=png_compress_level,
        encoder_threads=encoder_threads,
        progress=progress,
    )


def guidance_of(meta: dict[str, Any]) -> ParticleGuidance:
    """The ``ParticleGuidance`` recorded in an image's metadata."""
    settings = dict(meta["particle_guidance"])
    for label in ("method", "reference"):
        settings.pop(label)
    return ParticleGuidance.from_settings(settings)


def rerender_particle(meta: dict[str, Any], pipe) -> np.ndarray:
    """Render the image a particle shard's metadata describes again (HxWx3 uint8).

    Renders all C particles of its prompt again (they are one joint sample), which reproduces
    the image bit for bit on the same device type and thread count.
    """
    images = render_particles(
        pipe, meta["prompt"], meta["particles"], meta["model_spec"], guidance_of(meta)
    )
    return images[meta["batch"]["position"]]
