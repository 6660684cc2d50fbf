"""Particle Guidance (PG; Corso, Xu, De Bortoli, Barzilay, Jaakkola, ICLR 2024, arXiv
2310.13102): the C images of one prompt are rendered jointly and repel each other, the
diverse-sampling baseline that "Good Seed Makes a Good Crop" (arXiv 2405.14828) sets against
farthest-point-sampled and random seeds. Written from the paper and from reading the official
Stable Diffusion code (github.com/gcorso/particle-guidance, ``stable_diffusion/diffusers/
pipelines/stable_diffusion/pipeline_stable_diffusion_particle.py``); no code is copied.

Method. PG adds to each particle's score the gradient of a joint potential,
``score_i - grad_i Phi``, ``Phi = coeff * sum_{j != i} k(f_i, f_j)``, so similar particles push
each other apart. The sampler steps with a noise prediction, so the term enters as
``eps_i += std_t * J_t * coeff * grad_i sum_j k_ij`` with ``std_t`` the sample's noise scale
(``sqrt(1 - alphabar_t)`` for DDIM/DDPM latents, ``sigma_t`` for Euler's) and ``J_t`` the
derivative of the kernel's space by the latent (below). As in the official pipeline it is added
to the classifier-free-guided prediction just before the scheduler step. That is done by
wrapping ``pipe.scheduler.step`` during one call of the engine's own ``render_batch``: the
wrapper sees ``(eps, t, x_t)`` as the scheduler does and changes nothing else. Not
``callback_on_step_end``: it runs after the step and sees neither ``eps`` nor ``x_t``, so it
would need each scheduler's map from noise prediction to next latent and a rebuilt ``x0_hat``.

Settings (``ParticleGuidance``; every one is recorded by ``as_dict``):

- ``kernel_space="latent"`` (default): ``f`` is the flattened noisy latent ``x_t``, ``J = 1``:
  the official "pixel" variant (its kernel is on ``x_t``, not on ``x0_hat``). ``"x0"``: ``f`` is
  the flattened predicted clean latent ``x0_hat``, with the UNet's Jacobian ignored as in the
  official feature variant (``J = 1/sqrt(alphabar_t)`` for DDIM/DDPM, 1 for Euler). That
  variant's DINO ViT-S/16 features of the decoded ``x0_hat`` are not implemented: a second
  network and backpropagation through the VAE decoder at every step.
- Kernel: RBF ``k_ij = exp(-|f_i - f_j|^2 / h_i)``, computed in float32.
- ``bandwidth="median"`` (default): the official per-particle rule ``h_i = median_{j != i}
  |f_i - f_j|^2 / log(C - 1)`` (not SVGD's ``median / log C`` over all pairs). It needs C >= 3:
  at C = 2, ``log 1 = 0`` and the official kernel is flat (no guidance), so it is refused. A
  number ``b``: fixed ``h = b * D``, D the elements per particle (two independent unit-normal
  latents are ``2 D`` apart squared).
- ``strength`` (default 0.1): ``coeff = strength * D``. With the median bandwidth the kernel's
  gradient is about ``1/D`` of a unit noise prediction per element, so the official ``coeff``
  means something at one resolution only (its script's default is 0, i.i.d.). For 4 unit-normal
  particles ``D * repulsion`` has an rms of 1.27 per element at any D, so 0.1 moves the noise
  prediction by about 13% of its size at the start: a moderate push, chosen on the tiny test
  model, not tuned for quality on SD 2.0. 0 is plain sampling, byte for byte.
- ``schedule="constant"`` (default, official: ``coeff`` is constant in score space; ``std_t``
  is the score-to-noise conversion, not a schedule) or ``"linear"``: ``1 - i/n`` at step i of n.
- ``stop_sigma=1.0``: PG is off once ``sigma_t = sqrt((1 - alphabar_t)/alphabar_t) < stop_sigma``
  (official pixel variant; its feature variant runs only while ``sigma_t > 3``). For SD 2.0
  (scaled-linear betas, DDIM, 50 "leading" steps) it is on for the first 32 steps (t >= 361).

Supported: ``StableDiffusionPipeline`` and ``StableDiffusionXLPipeline`` with DDIM or DDPM
(variance preserving) or Euler / Euler ancestral (variance exploding), epsilon prediction.
Multistep solvers (DPM-Solver, PNDM, LMS, ...) reuse earlier noise predictions, v-prediction
models would need the term converted: both raise ``ConfigError``. SDXL Turbo's one step: there
is no trajectory to guide, the first prediction is the image, and a push on it would only add a
non-image offset to the output the network never sees; PG needs ``steps >= 2`` (ConfigError).

Each particle's initial latent (and any later noise) comes from ``seed_generator(seed)``, drawn
by the plain engine; all C particles are one batch of C, so with strength 0 the images equal
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
KERNEL_SPACES = ("latent", "x0")
SCHEDULES = ("constant", "linear")


def _number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


@dataclass(frozen=True)
class ParticleGuidance:
    """Particle Guidance settings (see the module docstring for each one's meaning)."""

    strength: float = 0.1
    kernel_space: str = "latent"
    bandwidth: str | float = "median"
    schedule: str = "constant"
    stop_sigma: float = 1.0

    def __post_init__(self):
        bad = None
        if not (_number(self.strength) and self.strength >= 0):
            bad = f"strength={self.strength!r}: must be a number >= 0"
        elif self.kernel_space not in KERNEL_SPACES:
            bad = f"kernel_space={self.kernel_space!r}: choose one of {KERNEL_SPACES}"
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
    steps: int,
    settings: dict[str, Any] | ParticleGuidance | None,
    scheduler: str | None = None,
    particles: int | None = None,
) -> ParticleGuidance:
    """Validate PG for a model's config entry without loading it; returns the settings.

    ``scheduler`` is the config's scheduler name (``"default"`` is checked at render time),
    ``particles`` the number of images rendered jointly.
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
    if steps < 2:
        raise ConfigError(
            f"particle guidance with {pipeline_class_name} at {steps} step: with one step (SDXL "
            "Turbo) there is no trajectory to guide, the first prediction is the image; use "
            "steps >= 2 or compare against random seeds only"
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


def _check_pipe(pipe, spec: dict[str, Any], guidance: ParticleGuidance, particles: int) -> None:
    name, scheduler = type(pipe).__name__, pipe.scheduler
    check_particle_guidance(name, spec["steps"], guidance, None, particles)
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


def _guided_step(scheduler, guidance: ParticleGuidance, steps: int, record: list):
    """A wrapper of ``scheduler.step`` that adds the repulsion to the noise prediction."""
    original = scheduler.step
    vp = type(scheduler).__name__ in VP_SCHEDULERS

    @functools.wraps(original)  # keeps the signature the pipeline inspects (eta, generator)
    def step(model_output, timestep, sample, *args, **kwargs):
        index = len(record)
        if vp:
            alphabar = float(scheduler.alphas_cumprod[int(timestep)])
            std, scale = math.sqrt(1 - alphabar), math.sqrt(alphabar)
        else:
            at = scheduler.step_index
            at = scheduler.index_for_timestep(timestep) if at is None else at
            std, scale = float(scheduler.sigmas[at]), 1.0
        sigma = std / scale
        weight = 1.0 if guidance.schedule == "constant" else 1.0 - index / steps
        weight *= guidance.strength if sigma >= guidance.stop_sigma else 0.0
        if weight > 0:
            count = sample.shape[0]
            x = sample.reshape(count, -1).float()
            jacobian = 1.0
            if guidance.kernel_space == "x0":
                x = (x - std * model_output.reshape(count, -1).float()) / scale
                jacobian = 1.0 / scale
            push = repulsion(x, guidance.bandwidth) * (weight * x.shape[1] * std * jacobian)
            model_output = model_output - push.view_as(model_output).to(model_output.dtype)
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

    _check_pipe(pipe, spec, guidance, len(seeds))
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
