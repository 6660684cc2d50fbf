"""Which models the diverse-seed comparison studies, which of them Particle Guidance renders,
and the config checks of ``diverse:`` (run when the config is validated, before any job)."""

from __future__ import annotations

from typing import Any

from seedscope.errors import ConfigError

PG_KEYS = ("strength", "kernel_space", "bandwidth", "schedule", "stop_sigma")


def diverse_models(config: dict[str, Any]) -> list[str]:
    """The models compared in Table 2: studied by both the style and the layout stage and
    rendering the style evaluation set (or ``diverse.models``)."""
    from seedscope.appearance import layout_models, style_models
    from seedscope.config import model_prompt_sets

    settings = config["diverse"]
    if not settings["enabled"]:
        return []
    if settings["models"] is not None:
        return list(settings["models"])
    both = [m for m in style_models(config) if m in layout_models(config)]
    return [m for m in both if settings["style_set"] in model_prompt_sets(config, m)]


def pg_settings(config: dict[str, Any]) -> dict[str, Any]:
    """The Particle Guidance settings (``ParticleGuidance`` fields) of the config."""
    return {k: config["diverse"]["particle_guidance"][k] for k in PG_KEYS}


def pg_support(config: dict[str, Any], model: str) -> str | None:
    """None when Particle Guidance can render ``model``, else the reason it cannot."""
    from seedscope.diverse.particle import check_particle_guidance

    spec = config["models"][model]
    scheduler = spec.get("scheduler", {}).get("name")
    try:
        check_particle_guidance(
            spec["pipeline"], spec["steps"], pg_settings(config), scheduler, config["diverse"]["c"]
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


def particle_seeds(config: dict[str, Any]) -> list[int]:
    """The C seeds whose initial noises Particle Guidance starts its particles from: the first
    C studied seeds."""
    first = config["seeds"]["first"]
    return list(range(first, first + config["diverse"]["c"]))


def check_diverse(config: dict[str, Any]) -> None:
    """Raise ``ConfigError`` for a diverse-seed setting that cannot work."""
    from seedscope.config import model_prompt_sets, prompt_set_sizes
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
