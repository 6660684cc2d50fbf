"""Particle Guidance (PG; Corso, Xu, De Bortoli, Barzilay, Jaakkola, ICLR 2024, arXiv
2310.13102): the C images of one prompt are rendered jointly and repel each other, the
diverse-sampling baseline that "Good Seed Makes a Good Crop" (arXiv 2405.14828) sets against
farthest-point-sampled and random seeds. Written from the paper and from reading the official
Stable Diffusion code (github.com/gcorso/particle-guidance, ``stable_diffusion/diffusers/
pipelines/stable_diffusion/pipeline_stable_diffusion_particle.py``, its "pixel" variant); no
code is copied. ``tests/test_particle_official.py`` re-implements that pipeline's repulsion
line by line and checks that the push reaching the scheduler equals it.

What the official pipeline does at each step with noise level
``sigma_t = sqrt((1 - alphabar_t) / alphabar_t) >= 1`` (below 1 the term is off):

- ``f_i`` is particle i's flattened latent as the pipeline holds it: ``x_t`` for DDIM/DDPM (the
  variance-preserving latent), ``x0 + sigma_t * eps`` for Euler-type schedulers (the scheduler's
  own, variance-exploding latent);
- ``d_ij = |f_i - f_j|`` over the other particles ``j != i``, the per-particle bandwidth
  ``h_i = median_j(d_ij)^2 / log(C - 1)`` (torch's median: the lower middle value), the RBF
  weights ``k_ij = exp(-d_ij^2 / h_i)``;
- the push ``g_i = coeff * sigma_t * sum_j 2 k_ij (f_i - f_j) / h_i`` is *subtracted* from the
  classifier-free-guided noise prediction just before ``scheduler.step``.

Here the same amount is subtracted by wrapping ``pipe.scheduler.step`` for one call of the
engine's own ``render_batch``: the wrapper sees ``(eps, t, x_t)`` as the scheduler does and
changes nothing else (``callback_on_step_end`` runs after the step and sees neither). For
DDIM/DDPM ``sigma_t`` comes from ``alphas_cumprod[t]`` as in the official code; for Euler-type
schedulers it is the scheduler's own ``sigmas[step_index]``, the noise level of the latent it
holds (equal to the official ``all_sigmas[t]`` at integer timesteps; the official Euler branch
indexes ``all_sigmas`` with the step number and does not run as published, so its formula, not
its indexing, is what is reproduced).

Settings (``ParticleGuidance``; each is recorded in every image's metadata by ``as_dict``):

- ``coeff``: the official coefficient (its script's ``--coeff``; 0 is i.i.d. sampling, byte for
  byte the plain engine; its demo notebook uses 30 with SD 1.5 at 512 px, DDIM, 30 steps). The
  kernel's gradient scales as ``1 / D`` (D = latent elements per image), so a coefficient means
  the same thing only at one latent size; Table 2 therefore sweeps it
  (``diverse.particle_guidance.coeffs``).
- ``bandwidth="median"`` (official) or a number ``b`` for a fixed ``h = b * D``.
- ``schedule="constant"`` (official) or ``"linear"``: the push times ``1 - i/n`` at step i of n.
- ``stop_sigma=1.0`` (official): the push is off while ``sigma_t < stop_sigma``. For SD 2
  (scaled-linear betas, 50 DDIM steps, "leading") it acts on the first 32 steps (t >= 361); at
  SDXL Turbo's single step (``sigma_t`` = 14.6) it acts once, on the initial noises, and moves
  the one-step prediction ``x0 = x_T - sigma_t * eps`` by ``sigma_t`` times the push.

The official feature ("DINO") variant, whose kernel is on DINO ViT-S/16 features of the
decoded prediction and back-propagates through the VAE decoder, is not implemented.

Supported: ``StableDiffusionPipeline`` and ``StableDiffusionXLPipeline`` with DDIM or DDPM
(variance preserving) or Euler / Euler ancestral (variance exploding), epsilon prediction, any
number of steps. Multistep solvers (DPM-Solver, PNDM, LMS, ...) reuse earlier noise
predictions, and v-prediction models would need the term converted: both raise
``ConfigError``.

Each particle's initial latent (and any later noise) comes from ``seed_generator(seed)``, drawn
by the plain engine; all C particles are one batch of C, so with ``coeff=0`` the images equal
``render_batch`` of the same seeds in one batch of C.
"""

from __future__ import annotations

import functools
import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from seedscope.errors import ConfigError

PIPELINES = ("StableDiffusionPipeline", "StableDiffusionXLPipeline")
VP_SCHEDULERS = ("DDIMScheduler", "DDPMScheduler")
VE_SCHEDULERS = ("EulerDiscreteScheduler", "EulerAncestralDiscreteScheduler")
SCHEDULER_NAMES = {"ddim", "ddpm", "euler", "euler_ancestral", "default"}  # config names
SCHEDULES = ("constant", "linear")


def _number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


@dataclass(frozen=True)
class ParticleGuidance:
    """Particle Guidance settings (see the module docstring for each one's meaning)."""

    coeff: float = 30.0
    bandwidth: str | float = "median"
    schedule: str = "constant"
    stop_sigma: float = 1.0

    def __post_init__(self):
        bad = None
        if not (_number(self.coeff) and self.coeff >= 0):
            bad = f"coeff={self.coeff!r}: must be a number >= 0"
        elif self.bandwidth != "median" and not (_number(self.bandwidth) and self.bandwidth > 0):
            bad = f"bandwidth={self.bandwidth!r}: 'median' or a number > 0"
        elif self.schedule not in SCHEDULES:
            bad = f"schedule={self.schedule!r}: choose one of {SCHEDULES}"
        elif not (_number(self.stop_sigma) and self.stop_sigma >= 0):
            bad = f"stop_sigma={self.stop_sigma!r}: must be a number >= 0"
        if bad:
            raise ConfigError(f"particle guidance setting {bad}")

    @classmethod
    def from_settings(cls, settings: dict[str, Any] | None) -> ParticleGuidance:
        """Settings from a config mapping; unknown keys are a ``ConfigError``."""
        settings = dict(settings or {})
        unknown = sorted(set(settings) - set(cls.__dataclass_fields__))
        if unknown:
            known = sorted(cls.__dataclass_fields__)
            raise ConfigError(f"particle guidance: unknown setting(s) {unknown}; known: {known}")
        return cls(**settings)

    def as_dict(self) -> dict[str, Any]:
        """The settings for an image's metadata."""
        return {"method": "particle_guidance", "reference": "arXiv:2310.13102"} | asdict(self)


def check_particle_guidance(
    pipeline_class_name: str,
    settings: dict[str, Any] | ParticleGuidance | None,
    scheduler: str | None = None,
    particles: int | None = None,
) -> ParticleGuidance:
    """Validate PG for a model's config entry without loading it; returns the settings.

    ``scheduler`` is the config's scheduler name (``"default"`` is checked at render time),
    ``particles`` the number of images rendered jointly. Every step count is supported, one
    step included.
    """
    if isinstance(settings, ParticleGuidance):
        guidance = settings
    else:
        guidance = ParticleGuidance.from_settings(settings)
    if pipeline_class_name not in PIPELINES:
        raise ConfigError(
            f"particle guidance does not support {pipeline_class_name}: it is implemented for "
            f"{list(PIPELINES)} (a UNet predicting noise, stepped by DDIM/DDPM/Euler)"
        )
    if scheduler is not None and scheduler not in SCHEDULER_NAMES:
        raise ConfigError(
            f"particle guidance with {pipeline_class_name}: scheduler {scheduler!r} is not "
            f"supported (multistep solvers reuse earlier noise predictions); choose one of "
            f"{sorted(SCHEDULER_NAMES)}"
        )
    if particles is not None and particles < (3 if guidance.bandwidth == "median" else 2):
        raise ConfigError(
            f"particle guidance with {particles} particle(s): the median bandwidth needs at "
            "least 3 (h = median / log(C - 1)), a fixed bandwidth at least 2"
        )
    return guidance


def check_pipeline_supported(
    pipe, spec: dict[str, Any], guidance: ParticleGuidance, particles: int
) -> None:
    """Refuse a loaded pipeline whose class, scheduler or prediction type the push is not
    defined for, or a particle count it cannot render."""
    name, scheduler = type(pipe).__name__, pipe.scheduler
    check_particle_guidance(name, guidance, None, particles)
    kind = type(scheduler).__name__
    if kind not in VP_SCHEDULERS + VE_SCHEDULERS:
        raise ConfigError(
            f"particle guidance does not support {name} with {kind}: only single-step "
            f"schedulers {list(VP_SCHEDULERS + VE_SCHEDULERS)} (a multistep solver reuses "
            "earlier noise predictions, so the repulsion would be mixed into later steps)"
        )
    prediction = scheduler.config.get("prediction_type", "epsilon")
    if prediction != "epsilon":
        raise ConfigError(
            f"particle guidance does not support {name} predicting {prediction!r}: the "
            "repulsion is added to a noise (epsilon) prediction"
        )


def repulsion(features, bandwidth: str | float):
    """``sum_j 2 k_ij (f_i - f_j) / h_i`` = minus the gradient of ``sum_j k_ij`` by ``f_i``.

    ``features`` is (C, D) float32; returns (C, D).
    """
    import torch

    count, dim = features.shape
    diff = features[:, None, :] - features[None, :, :]  # (C, C, D): f_i - f_j
    squared = (diff**2).sum(-1)
    off = ~torch.eye(count, dtype=torch.bool, device=features.device)
    if bandwidth == "median":
        others = squared[off].view(count, count - 1)
        h = others.median(dim=1, keepdim=True).values / math.log(count - 1)
    else:
        h = torch.full((count, 1), float(bandwidth) * dim, device=features.device)
    h = h.clamp_min(1e-12 * dim)  # identical particles: no push, no NaN
    weights = torch.exp(-squared / h) * off
    return (2 * weights[:, :, None] * diff).sum(1) / h


def noise_level(scheduler, timestep) -> float:
    """``sigma_t`` of the latent ``scheduler`` steps at ``timestep``:
    ``sqrt((1 - alphabar_t) / alphabar_t)`` for DDIM/DDPM, the scheduler's own sigma for
    Euler-type schedulers."""
    if type(scheduler).__name__ in VP_SCHEDULERS:
        alphabar = float(scheduler.alphas_cumprod[int(timestep)])
        return math.sqrt((1 - alphabar) / alphabar)
    at = scheduler.step_index
    at = scheduler.index_for_timestep(timestep) if at is None else at
    return float(scheduler.sigmas[at])


def push(latents, sigma: float, guidance: ParticleGuidance, weight: float = 1.0):
    """The amount subtracted from the noise prediction of particles ``latents`` (C, ...) at
    noise level ``sigma``: ``weight * coeff * sigma * repulsion``, shaped and typed like
    ``latents``; None where the push is off (``sigma < stop_sigma``, or a zero weight)."""
    if sigma < guidance.stop_sigma or weight * guidance.coeff <= 0:
        return None
    count = latents.shape[0]
    f = latents.reshape(count, -1).float()
    amount = repulsion(f, guidance.bandwidth) * (weight * guidance.coeff * sigma)
    return amount.view_as(latents).to(latents.dtype)


def _guided_step(scheduler, guidance: ParticleGuidance, steps: int, record: list):
    """A wrapper of ``scheduler.step`` that subtracts :func:`push` from the noise prediction."""
    original = scheduler.step

    @functools.wraps(original)  # keeps the signature the pipeline inspects (eta, generator)
    def step(model_output, timestep, sample, *args, **kwargs):
        index = len(record)
        weight = 1.0 if guidance.schedule == "constant" else 1.0 - index / steps
        amount = push(sample, noise_level(scheduler, timestep), guidance, weight)
        if amount is not None:
            model_output = model_output - amount.to(model_output.dtype)
        out = original(model_output, timestep, sample, *args, **kwargs)
        record.append(out[0] if isinstance(out, tuple) else out.prev_sample)
        return out

    return step


def render_particles(
    pipe,
    prompt: str,
    seeds: list[int],
    spec: dict[str, Any],
    guidance: ParticleGuidance,
    return_latents: bool = False,
):
    """Render the C = len(seeds) particles of ``prompt`` jointly with Particle Guidance.

    Returns (C, H, W, 3) uint8 images, and with ``return_latents`` also the final latents
    (C, ...) as float32 numpy (before decoding).
    """
    from seedscope.generate import Item, PromptEmbeddings, render_batch

    check_pipeline_supported(pipe, spec, guidance, len(seeds))
    embeddings = PromptEmbeddings(pipe, spec.get("negative_prompt", ""), spec["guidance"])
    items = [Item("particle", prompt, int(seed)) for seed in seeds]
    scheduler, record = pipe.scheduler, []
    had_own = "step" in vars(scheduler)
    original = scheduler.step
    scheduler.step = _guided_step(scheduler, guidance, spec["steps"], record)
    try:
        images = render_batch(pipe, embeddings, items, spec)
    finally:
        if had_own:
            scheduler.step = original
        else:
            del scheduler.step
    if not return_latents:
        return images
    return images, np.asarray(record[-1].float().cpu().numpy())
