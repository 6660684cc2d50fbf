"""Particle Guidance against the official Stable Diffusion pipeline (github.com/gcorso/
particle-guidance, ``stable_diffusion/diffusers/pipelines/stable_diffusion/
pipeline_stable_diffusion_particle.py``, ``__call__``, the non-``svgd`` branch).

``official_grad_phi`` re-implements that branch in its own order of operations; the tests check
that what reaches ``scheduler.step`` through our wrapper (``_guided_step``) is the guided noise
prediction minus exactly that ``grad_phi``, for DDIM, Euler, Euler ancestral and one-step
SDXL Turbo.
"""

import numpy as np
import pytest
import torch
from diffusers import DDIMScheduler, EulerAncestralDiscreteScheduler, EulerDiscreteScheduler

from seedscope.diverse.particle import (
    ParticleGuidance,
    _guided_step,
    noise_level,
    push,
    render_particles,
)
from seedscope.generate import Item, PromptEmbeddings, render_batch
from seedscope.models import load_pipeline

from conftest import model_spec

SD2_BETAS = dict(
    beta_schedule="scaled_linear",
    beta_start=0.00085,
    beta_end=0.012,
    num_train_timesteps=1000,
    steps_offset=1,
)
SHAPE = (4, 4, 8, 8)  # C = 4 particles, SD's 4 latent channels
SEEDS = [11, 12, 13, 14]
PROMPT = "a red dog"
# float32 on both sides (the official code takes torch.norm and squares it, we sum squares);
# ``eps - (eps - push)`` rounds at the scale of the largest entry, hence the scaled atol
RTOL, ATOL = 1e-5, 1e-6


def official_sigmas(scheduler) -> torch.Tensor:
    """The official ``all_sigmas``: sqrt((1 - alphabar) / alphabar) for every train timestep."""
    abar = scheduler.alphas_cumprod
    return torch.sqrt((1 - abar) / abar)


def official_grad_phi(latents: torch.Tensor, sigma: torch.Tensor, coeff: float) -> torch.Tensor:
    """The official non-svgd ``grad_phi``, operation by operation (written from reading it)."""
    flat = latents.view(len(latents), -1)
    diff = flat.unsqueeze(1) - flat.unsqueeze(0)  # N x N x d
    others = ~torch.eye(diff.shape[0], dtype=bool)
    diff = diff[others].view(diff.shape[0], -1, diff.shape[-1])  # N x (N - 1) x d
    distance = torch.norm(diff, p=2, dim=-1, keepdim=True)  # N x (N - 1) x 1
    n = flat.shape[0]
    h_t = distance.median(dim=1, keepdim=True)[0] ** 2 / np.log(n - 1)
    weights = torch.exp(-(distance**2 / h_t))
    coeff_ = 0 if sigma < 1 else coeff  # only while sigma >= 1
    grad_phi = 2 * weights * diff / h_t * sigma * coeff_
    return grad_phi.sum(dim=1).view_as(latents)
    # the pipeline then steps the scheduler with ``guided - grad_phi``


def wrap_with_recorder(scheduler, guidance: ParticleGuidance, steps: int, delegate: bool):
    """``scheduler``'s step replaced by a recorder of the ``model_output`` it is given (which
    then runs the real step if ``delegate``), wrapped by our ``_guided_step``; returns the
    wrapped step and the list of recorded ``(model_output, timestep, sample)``."""
    seen = []

    def recorder(model_output, timestep, sample, *args, **kwargs):
        seen.append((model_output.clone(), timestep, sample.clone()))
        if delegate:
            return type(scheduler).step(scheduler, model_output, timestep, sample, *args, **kwargs)
        return (sample,)

    scheduler.step = recorder
    return _guided_step(scheduler, guidance, steps, record=[]), seen


def compare(ours: torch.Tensor, official: torch.Tensor, worst: dict) -> None:
    scale = float(official.abs().max())
    torch.testing.assert_close(ours, official, rtol=RTOL, atol=ATOL * (1 + scale))
    worst["abs"] = max(worst.get("abs", 0.0), float((ours - official).abs().max()))
    if scale > 0:
        worst["rel"] = max(worst.get("rel", 0.0), float((ours - official).abs().max()) / scale)


def sd2_ddim() -> DDIMScheduler:
    scheduler = DDIMScheduler(**SD2_BETAS, set_alpha_to_one=False, timestep_spacing="leading")
    scheduler.set_timesteps(50)
    return scheduler


@pytest.mark.parametrize("coeff", [0.0, 30.0, 1000.0])
@pytest.mark.parametrize("t", [981, 601, 381, 361, 341, 21])
def test_ddim_push_reaching_the_scheduler_is_the_official_grad_phi(t, coeff):
    scheduler = sd2_ddim()
    assert t in scheduler.timesteps.tolist()
    generator = torch.Generator().manual_seed(t)
    x0, noise, eps = (torch.randn(SHAPE, generator=generator) for _ in range(3))
    abar = scheduler.alphas_cumprod[t]
    x_t = abar.sqrt() * x0 + (1 - abar).sqrt() * noise  # DDIM's variance-preserving latent
    sigma = official_sigmas(scheduler)[t]  # official: sigma = all_sigmas[t]
    official = official_grad_phi(x_t, sigma, coeff)
    assert official.abs().max() > 0 if (coeff > 0 and sigma >= 1) else not official.any()

    guidance = ParticleGuidance(coeff=coeff)
    step, seen = wrap_with_recorder(scheduler, guidance, 50, delegate=False)
    step(eps, torch.tensor(t), x_t)
    (reaching, timestep, sample), worst = seen[0], {}
    assert int(timestep) == t and torch.equal(sample, x_t)
    compare(eps - reaching, official, worst)
    if not official.any():  # off: the noise prediction reaches the scheduler untouched
        assert torch.equal(reaching, eps)

    assert noise_level(scheduler, t) == pytest.approx(float(sigma), rel=1e-6)
    direct = push(x_t, noise_level(scheduler, t), guidance)
    if direct is None:
        assert not official.any()
    else:
        compare(direct, official, worst)
    print(f"DDIM t={t} sigma={float(sigma):.4f} coeff={coeff}: {worst}")


@pytest.mark.parametrize("count", [3, 4, 5, 8])  # 5 and 8: an even number of others (median)
def test_push_equals_the_official_grad_phi_for_other_particle_counts(count):
    scheduler, t = sd2_ddim(), 601
    x = torch.randn((count, 4, 8, 8), generator=torch.Generator().manual_seed(count))
    sigma = official_sigmas(scheduler)[t]
    official = official_grad_phi(x, sigma, 30.0)
    compare(push(x, noise_level(scheduler, t), ParticleGuidance(coeff=30.0)), official, {})


# The official pipeline was written for its own modified DDIM scheduler, whose ``step`` takes
# the step index: it calls ``scheduler.step(noise_pred, i, latents)`` and takes
# ``sigma = all_sigmas[t]``. With diffusers' Euler schedulers (float timesteps, ``step`` looking
# up the timestep) neither line runs as published, so for them the official *formula* is
# compared, with sigma = the scheduler's own sigma at that step (the noise level of the
# variance-exploding latent x = x0 + sigma * noise it holds).
@pytest.mark.parametrize("kind", [EulerDiscreteScheduler, EulerAncestralDiscreteScheduler])
@pytest.mark.parametrize(
    "spacing, steps", [("leading", 30), ("linspace", 30), ("trailing", 1)]
)  # trailing at 1 step: SDXL Turbo
@pytest.mark.parametrize("coeff", [0.0, 30.0, 1000.0])
def test_euler_push_reaching_the_scheduler_is_the_official_formula(kind, spacing, steps, coeff):
    scheduler = kind(**SD2_BETAS, timestep_spacing=spacing)
    scheduler.set_timesteps(steps)
    all_sigmas = official_sigmas(scheduler)
    if spacing == "leading":  # integer timesteps: the scheduler's sigma is the official one
        indices = scheduler.timesteps.long()
        assert torch.equal(indices.float(), scheduler.timesteps)
        torch.testing.assert_close(scheduler.sigmas[:-1], all_sigmas[indices], rtol=1e-6, atol=0)
    if steps == 1:
        assert float(scheduler.sigmas[0]) == pytest.approx(14.6146, abs=1e-4)

    guidance = ParticleGuidance(coeff=coeff)
    step, seen = wrap_with_recorder(scheduler, guidance, steps, delegate=True)
    generator = torch.Generator().manual_seed(steps)
    x0, noise = torch.randn(SHAPE, generator=generator), torch.randn(SHAPE, generator=generator)
    worst, pushed = {}, 0
    for i, t in enumerate(scheduler.timesteps):  # the real step advances the step index
        sigma = scheduler.sigmas[i]
        x = x0 + sigma * noise  # the Euler-scale latent at this step
        eps = torch.randn(SHAPE, generator=generator)
        scheduler.scale_model_input(x, t)  # as the pipeline does (the UNet's input)
        step(eps, t, x, generator=torch.Generator().manual_seed(i))
        reaching, timestep, sample = seen[-1]
        assert torch.equal(timestep, t) and torch.equal(sample, x)
        official = official_grad_phi(x, sigma, coeff)
        compare(eps - reaching, official, worst)
        pushed += bool(official.any())
    assert scheduler.step_index == steps
    expected = int((scheduler.sigmas[:-1] >= 1).sum()) if coeff > 0 else 0
    assert pushed == expected and (coeff == 0 or pushed > 0)
    print(f"{kind.__name__} {spacing} x{steps} coeff={coeff}: {pushed} pushed, {worst}")


@pytest.fixture(scope="module")
def turbo(tiny_models):
    spec = model_spec("sdxl-turbo", tiny_models["sdxl-turbo"])
    return load_pipeline("sdxl-turbo", spec, "cpu"), spec


def mean_distance(latents: np.ndarray) -> float:
    x = latents.reshape(len(latents), -1).astype(np.float64)
    i, j = np.triu_indices(len(x), 1)
    return float(np.linalg.norm(x[i] - x[j], axis=1).mean())


def test_one_step_sdxl_turbo_coeff_zero_is_the_plain_engine(turbo):
    pipe, spec = turbo
    images = render_particles(pipe, PROMPT, SEEDS, spec, ParticleGuidance(coeff=0.0))
    embeddings = PromptEmbeddings(pipe, spec["negative_prompt"], spec["guidance"])
    reference = render_batch(pipe, embeddings, [Item("p", PROMPT, s) for s in SEEDS], spec)
    assert images.shape == (4, 64, 64, 3)
    assert np.array_equal(images, reference)
    assert "step" not in vars(pipe.scheduler)


def test_one_step_sdxl_turbo_is_pushed_by_the_official_grad_phi(turbo):
    pipe, spec = turbo
    scheduler = pipe.scheduler
    runs = {}
    for coeff in (0.0, 100.0):
        seen = []

        def recorder(model_output, timestep, sample, *args, seen=seen, **kwargs):
            seen.append((model_output.clone(), timestep, sample.clone()))
            return type(scheduler).step(scheduler, model_output, timestep, sample, *args, **kwargs)

        scheduler.step = recorder  # render_particles wraps it and puts it back
        try:
            guidance = ParticleGuidance(coeff=coeff)
            out = render_particles(pipe, PROMPT, SEEDS, spec, guidance, return_latents=True)
            assert vars(scheduler)["step"] is recorder
        finally:
            del scheduler.step
        assert len(seen) == 1  # one step
        runs[coeff] = (*out, *seen[0])
    (plain_images, plain_latents, eps, t, x_t), (images, latents, reaching, t2, x2) = runs.values()
    assert torch.equal(x_t, x2) and torch.equal(t, t2)  # the same initial noises and timestep
    sigma = scheduler.sigmas[0]
    assert float(sigma) == pytest.approx(14.6146, abs=1e-4)
    official = official_grad_phi(x_t, sigma, 100.0)
    compare(eps - reaching, official, worst := {})
    print(f"SDXL Turbo 1 step, sigma={float(sigma):.4f}: {worst}")
    # the one step predicts x0 = x_T - sigma * eps: the push moves it by sigma * grad_phi
    moved = torch.from_numpy(latents - plain_latents)
    torch.testing.assert_close(moved, float(sigma) * official, rtol=1e-4, atol=1e-4)
    assert not np.array_equal(images, plain_images)
    # measured on this tiny model (D = 256, so coeff 100 is a strong push): 1.52
    assert 1.2 < mean_distance(latents) / mean_distance(plain_latents) < 2
