"""Particle Guidance: plain images at coeff 0, particles pushed apart above it, clear errors.

``test_particle_official.py`` checks the push against the official pipeline's formula and the
one-step SDXL Turbo case."""

import json
import math

import numpy as np
import pytest
import torch

from seedscope.diverse.particle import (
    ParticleGuidance,
    check_particle_guidance,
    render_particles,
    repulsion,
)
from seedscope.errors import ConfigError
from seedscope.generate import Item, PromptEmbeddings, render_batch
from seedscope.models import load_pipeline
from seedscope.shards import encode_png

from conftest import model_spec

SEEDS = [11, 12, 13, 14]
PROMPT = "a red dog"


@pytest.fixture(scope="module")
def sd2(tiny_models):
    spec = model_spec("sd2", tiny_models["sd2"])
    return load_pipeline("sd2", spec, "cpu"), spec


def plain(pipe, spec, seeds):
    embeddings = PromptEmbeddings(pipe, spec["negative_prompt"], spec["guidance"])
    return render_batch(pipe, embeddings, [Item("p", PROMPT, s) for s in seeds], spec)


def mean_distance(latents: np.ndarray) -> float:
    x = latents.reshape(len(latents), -1).astype(np.float64)
    i, j = np.triu_indices(len(x), 1)
    return float(np.linalg.norm(x[i] - x[j], axis=1).mean())


def test_coeff_zero_writes_the_plain_engines_bytes(sd2):
    pipe, spec = sd2
    images = render_particles(pipe, PROMPT, SEEDS, spec, ParticleGuidance(coeff=0.0))
    reference = plain(pipe, spec, SEEDS)
    assert images.shape == (4, 64, 64, 3) and images.dtype == np.uint8
    assert [encode_png(a) for a in images] == [encode_png(b) for b in reference]
    assert "step" not in vars(pipe.scheduler)  # the wrapper is gone after the call


def test_guidance_pushes_particles_apart_and_more_with_coeff(sd2):
    pipe, spec = sd2

    def render(**settings):
        guidance = ParticleGuidance(**settings)
        return render_particles(pipe, PROMPT, SEEDS, spec, guidance, return_latents=True)

    base_images, base = render(coeff=0.0)
    runs = {c: render(coeff=c) for c in (10.0, 30.0)}
    distances = {c: mean_distance(latents) for c, (_, latents) in runs.items()}
    assert mean_distance(base) < distances[10.0] < distances[30.0]
    # measured on this tiny model (D = 256; 4 DDIM steps, PG on for the 2 with sigma >= 1):
    # 1.132 at coeff 10, 1.394 at 30
    assert 1.05 < distances[10.0] / mean_distance(base) < 1.3
    assert not np.array_equal(runs[10.0][0], base_images)
    linear = render(coeff=30.0, schedule="linear")[1]
    assert mean_distance(base) < mean_distance(linear) < distances[30.0]
    switched_off = render(coeff=30.0, stop_sigma=1e9)  # sigma never reaches it: plain
    assert np.array_equal(switched_off[0], base_images)
    assert np.array_equal(switched_off[1], base)


def test_same_seeds_twice_give_identical_particles(sd2):
    pipe, spec = sd2
    guidance = ParticleGuidance(coeff=30.0)
    torch.manual_seed(1)
    a = render_particles(pipe, PROMPT, SEEDS, spec, guidance, return_latents=True)
    torch.manual_seed(2)  # the global generator plays no part
    b = render_particles(pipe, PROMPT, SEEDS, spec, guidance, return_latents=True)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])


def test_sdxl_with_euler_ancestral_at_two_steps(tiny_models):
    spec = model_spec("sdxl-turbo", tiny_models["sdxl-turbo"], steps=2)
    pipe = load_pipeline("sdxl-turbo", spec, "cpu")
    off, base = render_particles(pipe, PROMPT, SEEDS, spec, ParticleGuidance(coeff=0.0), True)
    assert np.array_equal(off, plain(pipe, spec, SEEDS))
    _, pushed = render_particles(pipe, PROMPT, SEEDS, spec, ParticleGuidance(coeff=30.0), True)
    assert mean_distance(pushed) > mean_distance(base)


def test_unsupported_scheduler_or_prediction_is_a_clear_error(sd2):
    from diffusers import DDIMScheduler, DPMSolverMultistepScheduler

    pipe, spec = sd2
    saved = pipe.scheduler
    try:
        pipe.scheduler = DPMSolverMultistepScheduler.from_config(saved.config)
        with pytest.raises(ConfigError, match="StableDiffusionPipeline with DPMSolverMultistep"):
            render_particles(pipe, PROMPT, SEEDS, spec, ParticleGuidance())
        pipe.scheduler = DDIMScheduler.from_config(saved.config, prediction_type="v_prediction")
        with pytest.raises(ConfigError, match="predicting 'v_prediction'"):
            render_particles(pipe, PROMPT, SEEDS, spec, ParticleGuidance())
        assert "step" not in vars(pipe.scheduler)
    finally:
        pipe.scheduler = saved


@pytest.mark.parametrize(
    "args, message",
    [
        (("StableDiffusion3Pipeline", {}), "does not support StableDiffusion3Pipeline"),
        (("StableDiffusionInpaintPipeline", {}), "does not support StableDiffusionInpaint"),
        (("StableDiffusionPipeline", {"coef": 1}), r"unknown setting\(s\) \['coef'\]"),
        (("StableDiffusionPipeline", {"strength": 0.1}), r"unknown setting\(s\) \['strength'\]"),
        (("StableDiffusionPipeline", {"coeff": -1}), "coeff=-1"),
        (("StableDiffusionPipeline", {"coeff": True}), "coeff=True"),
        (("StableDiffusionPipeline", {"stop_sigma": float("nan")}), "stop_sigma=nan"),
        (("StableDiffusionPipeline", {"kernel_space": "x0"}), r"unknown setting\(s\)"),
        (("StableDiffusionPipeline", {"bandwidth": "mean"}), "bandwidth='mean'"),
        (("StableDiffusionPipeline", {"schedule": "cosine"}), "schedule='cosine'"),
        (("StableDiffusionPipeline", {}, "dpmsolver_multistep"), "'dpmsolver_multistep'"),
        (("StableDiffusionPipeline", {}, "ddim", 2), "median bandwidth needs at least 3"),
    ],
)
def test_config_check_refuses_what_is_not_supported(args, message):
    with pytest.raises(ConfigError, match=message):
        check_particle_guidance(*args)


def test_config_check_passes_and_settings_are_metadata():
    guidance = check_particle_guidance(
        "StableDiffusionPipeline", {"coeff": 0.2, "bandwidth": 2.0}, "ddim", 2
    )
    meta = json.loads(json.dumps(guidance.as_dict()))
    assert meta == {
        "method": "particle_guidance",
        "reference": "arXiv:2310.13102",
        "coeff": 0.2,
        "bandwidth": 2.0,
        "schedule": "constant",
        "stop_sigma": 1.0,
    }
    # SDXL Turbo's one step is accepted (the push acts on the initial noises there)
    turbo = check_particle_guidance("StableDiffusionXLPipeline", {}, "euler_ancestral", 4)
    assert turbo == ParticleGuidance(coeff=30.0)


def test_repulsion_is_minus_the_kernels_gradient_and_pushes_apart():
    torch.manual_seed(0)
    f = torch.randn(5, 12, dtype=torch.float64)
    push = repulsion(f, "median")
    squared = torch.cdist(f, f) ** 2
    for i in range(5):  # the official per-particle bandwidth, held fixed when differentiating
        others = torch.cat([squared[i, :i], squared[i, i + 1 :]])
        h = others.median() / math.log(4)
        fi = f[i].clone().requires_grad_(True)
        potential = sum(torch.exp(-((fi - f[j]) ** 2).sum() / h) for j in range(5) if j != i)
        (gradient,) = torch.autograd.grad(potential, fi)
        assert torch.allclose(push[i], -gradient)
    assert mean_distance((f + 0.05 * push).numpy()) > mean_distance(f.numpy())
    same = repulsion(torch.ones(3, 4), "median")
    assert torch.isfinite(same).all() and not same.any()
