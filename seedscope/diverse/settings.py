"""Which models the diverse-seed comparison studies, which of them Particle Guidance renders,
and the config checks of ``diverse:`` (run when the config is validated, before any job)."""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np

from seedscope.errors import ConfigError
from seedscope.study import diverse_models, model_prompt_sets, prompt_set_sizes

PG_KEYS = ("bandwidth", "schedule", "stop_sigma")  # besides coeff, one per shard
CONTROL = 0.0  # the coefficient of the control row: the same particle seeds, no guidance
OFFICIAL_DEMO_COEFF = 30.0  # the authors' demo notebook (SD 1.5, 512 px, DDIM, 30 steps)


def check_set_size(c: int, n: int) -> None:
    """Refuse ``diverse.c`` (the seeds of a set) outside 2 .. ``n``, the seeds to choose from:
    a set's diversity is a mean over pairs of its images."""
    if not 2 <= c <= n:
        raise ConfigError(
            f"config key diverse.c: {c} is out of range: it must be between 2 and the number of "
            f"seeds ({n})"
        )


def pg_settings(config: dict[str, Any], coeff: float = CONTROL) -> dict[str, Any]:
    """The Particle Guidance settings (``ParticleGuidance`` fields) of the config at ``coeff``."""
    return {"coeff": float(coeff)} | {k: config["diverse"]["particle_guidance"][k] for k in PG_KEYS}


def pg_coeffs(config: dict[str, Any]) -> list[float]:
    """Every coefficient Particle Guidance renders: the control (0) first, then the sweep."""
    return [CONTROL] + sorted(float(c) for c in config["diverse"]["particle_guidance"]["coeffs"])


def fig11_coeff(config: dict[str, Any]) -> float:
    """The coefficient whose Particle Guidance images fig. 11 shows: ``diverse.fig11.coeff``,
    else the configured one nearest (in ratio) to the official demo's 30."""
    chosen = config["diverse"]["fig11"].get("coeff")
    if chosen is not None:
        return float(chosen)
    coeffs = config["diverse"]["particle_guidance"]["coeffs"]
    return float(min(coeffs, key=lambda g: (abs(np.log(g / OFFICIAL_DEMO_COEFF)), g)))


def coeff_name(coeff: float) -> str:
    """A coefficient as its shard path spells it (``30``, ``0.5``, ``1e+03``)."""
    return f"{float(coeff):g}"


def pg_support(config: dict[str, Any], model: str) -> str | None:
    """None when Particle Guidance can render ``model``, else the reason it cannot."""
    from seedscope.diverse.particle import check_particle_guidance

    spec = config["models"][model]
    scheduler = spec.get("scheduler", {}).get("name")
    try:
        check_particle_guidance(
            spec["pipeline"], pg_settings(config), scheduler, config["diverse"]["c"]
        )
    except ConfigError as error:
        return str(error)
    return None


def pg_models(config: dict[str, Any]) -> list[str]:
    """The compared models that Particle Guidance renders."""
    chosen = config["diverse"]["particle_guidance"]["models"]
    if chosen is not None:
        return list(chosen)
    return [m for m in diverse_models(config) if pg_support(config, m) is None]


SEED_SPACE = 2**31  # particle seeds are drawn from 0 .. 2^31 - 1


def particle_draw(config: dict[str, Any]) -> dict[str, int]:
    """What each prompt's particle seeds are drawn with (:func:`particle_seeds`'s ``draw``):
    how many (``c``) and the seed of the draw."""
    return {"c": config["diverse"]["c"], "seed": config["diverse"]["particle_guidance"]["seed"]}


def particle_seeds(draw: dict[str, int], prompt_id: str) -> list[int]:
    """The C seeds whose initial noises Particle Guidance starts ``prompt_id``'s particles from:
    ``draw["c"]`` distinct seeds drawn at random for this prompt from ``draw["seed"]`` and the
    prompt id, in drawing order (the batch order). They come from the whole seed space, not
    the studied seeds, so a prompt keeps its seeds when the set around it or ``seeds.count``
    changes (growing the seeds renders no particle again); any seed is as random as another."""
    key = int.from_bytes(hashlib.sha256(str(prompt_id).encode()).digest()[:8], "little")
    rng = np.random.default_rng([draw["seed"], key])
    seeds: list[int] = []
    while len(seeds) < draw["c"]:
        seed = int(rng.integers(0, SEED_SPACE))
        if seed not in seeds:
            seeds.append(seed)
    return seeds


def check_diverse(config: dict[str, Any]) -> None:
    """Raise ``ConfigError`` for a diverse-seed setting that cannot work."""
    from seedscope.diverse.particle import ParticleGuidance

    settings = config["diverse"]
    if not settings["enabled"]:
        return
    seeds = config["seeds"]["count"]
    if settings["c"] > seeds:
        raise ConfigError(
            f"config key diverse.c: {settings['c']} seeds per prompt but only {seeds} seeds are "
            "studied; lower diverse.c or raise seeds.count"
        )
    if settings["repeats"] > seeds:
        raise ConfigError(
            f"config key diverse.repeats: {settings['repeats']} FPS runs need as many distinct "
            f"first seeds, but only {seeds} seeds are studied"
        )
    name, sizes = settings["style_set"], prompt_set_sizes(config)
    if name not in sizes:
        raise ConfigError(
            f"config key diverse.style_set: {name!r} is not a prompt set; choose from "
            f"{sorted(sizes)}"
        )
    if name in config["style"]["prompt_sets"]:
        raise ConfigError(
            f"config key diverse.style_set: {name!r} is also in style.prompt_sets, so evaluation "
            "prompts would overlap the analysis prompts; choose another set (the paper: COCO "
            "set 2 against set 1)"
        )
    if settings["style_prompts"] > sizes[name]:
        raise ConfigError(
            f"config key diverse.style_prompts: {settings['style_prompts']} evaluation prompts "
            f"asked for but {name!r} holds {sizes[name]}; lower it"
        )
    ParticleGuidance.from_settings(pg_settings(config))
    shown = settings["fig11"].get("coeff")
    if shown is not None and float(shown) not in pg_coeffs(config)[1:]:
        raise ConfigError(
            f"config key diverse.fig11.coeff: {shown} is not one of "
            f"diverse.particle_guidance.coeffs {settings['particle_guidance']['coeffs']}; "
            "choose one of them or null"
        )
    for model in diverse_models(config):
        if model not in config["models"]:
            raise ConfigError(
                f"config key diverse.models: {model!r} is not a model; "
                f"choose from {sorted(config['models'])}"
            )
        missing = {name, config["layout"]["prompt_set"]} - set(model_prompt_sets(config, model))
        if missing:
            raise ConfigError(
                f"config key diverse.models: model {model!r} renders no {sorted(missing)}, which "
                "the comparison reads; add them to its prompt_sets or drop it"
            )
    for model in config["diverse"]["particle_guidance"]["models"] or []:
        if model not in diverse_models(config):
            raise ConfigError(
                f"config key diverse.particle_guidance.models: {model!r} is not a compared "
                f"model ({diverse_models(config)})"
            )
        reason = pg_support(config, model)
        if reason:
            raise ConfigError(f"config key diverse.particle_guidance.models: {model!r}: {reason}")
