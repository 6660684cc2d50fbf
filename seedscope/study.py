"""What the config studies, each answer written once: the studied seeds and their blocks, the
prompt sets each model renders and their sizes, and the models (and prompt sets) that each
stage studies. Pure functions of a validated config: no torch, no files."""

from __future__ import annotations

from typing import Any

from seedscope.errors import ConfigError

PARTI_PROMPTS = 1632  # the prompts of PartiPrompts
# The per-image scores that per-seed quality can average (each an extractor writing one value
# per image, higher is better): HPS v2, PickScore, ImageReward, CLIPScore, LAION aesthetics.
SCORE_METRICS = ("hps", "pickscore", "imagereward", "clipscore", "aesthetic")
# Per-seed metrics where lower is better (the others, every score, are better higher).
LOWER_IS_BETTER_METRICS = ("fid", "kid")


def seed_range(config: dict[str, Any]) -> range:
    """Every studied seed, ascending: ``seeds.first`` .. ``seeds.first + seeds.count - 1``."""
    return range(config["seeds"]["first"], config["seeds"]["first"] + config["seeds"]["count"])


def seed_blocks(config: dict[str, Any]) -> list[tuple[int, int]]:
    """The (first, last) seed of every block, inclusive."""
    size = config["seeds"]["block_size"]
    return [(first, first + size - 1) for first in seed_range(config)[::size]]


def check_studied_seeds(config: dict[str, Any], key: str, seeds: list[int]) -> None:
    """Raise ``ConfigError`` naming ``key`` when some of ``seeds`` are not studied seeds."""
    studied = seed_range(config)
    outside = [s for s in seeds if s not in studied]
    if outside:
        raise ConfigError(
            f"config key {key}: {outside} are outside the studied seeds "
            f"{studied.start}..{studied.stop - 1}"
        )


def is_inpainting(spec: dict[str, Any]) -> bool:
    """Whether a model entry is an inpainting pipeline (it renders only inpaint prompt sets)."""
    return "Inpaint" in spec["pipeline"]


def model_prompt_sets(config: dict[str, Any], model: str) -> list[str]:
    """The prompt sets that ``model`` renders: the configured ones, else every set of its kind
    (inpaint sets for inpainting pipelines, text sets for the others)."""
    spec = config["models"][model]
    if spec["prompt_sets"] is not None:
        return list(spec["prompt_sets"])
    inpainting = is_inpainting(spec)
    sets = config["prompt_sets"]
    return [name for name in sets if (sets[name]["kind"] == "inpaint") == inpainting]


def prompt_set_sizes(config: dict[str, Any]) -> dict[str, int]:
    """Number of prompts in each configured prompt set."""
    sizes = {}
    for name, spec in config["prompt_sets"].items():
        if spec["kind"] == "synthetic":
            sizes[name] = len(spec["objects"]) * len(spec["modifiers"])
        elif spec["kind"] == "parti":
            sizes[name] = min(spec["limit"] or PARTI_PROMPTS, PARTI_PROMPTS)
        elif spec["kind"] == "inpaint":
            sizes[name] = config["inpainting"]["pairs"]
        else:
            sizes[name] = config["coco"]["parts"][spec["part"]]
    return sizes


def studied_models(config: dict[str, Any], stage: str, sets: list[str]) -> list[str]:
    """The models that stage ``stage`` studies: ``<stage>.models`` when given, else every model
    that renders all of ``sets``; none when the stage is disabled."""
    settings = config[stage]
    if not settings["enabled"]:
        return []
    if settings["models"] is not None:
        return list(settings["models"])
    return [m for m in config["models"] if set(sets) <= set(model_prompt_sets(config, m))]


def check_stage_models(
    config: dict[str, Any], stage: str, models: list[str], sets: list[str]
) -> None:
    """Refuse a model of ``<stage>.models`` that is unknown or renders none of ``sets``."""
    for model in models:
        if model not in config["models"]:
            raise ConfigError(
                f"config key {stage}.models: {model!r} is not a model; "
                f"choose from {sorted(config['models'])}"
            )
        missing = sorted(set(sets) - set(model_prompt_sets(config, model)))
        if missing:
            raise ConfigError(
                f"config key {stage}.models: model {model!r} renders no {missing}, which the "
                f"{stage} stage reads; add them to its prompt_sets or drop it from {stage}.models"
            )


def quality_models(config: dict[str, Any]) -> list[str]:
    """The models whose seeds are scored (FID, KID, HPS) and get a seed bank."""
    return studied_models(config, "quality", [config["quality"]["fid_set"]])


def quality_sets(config: dict[str, Any]) -> dict[str, list[str]]:
    """Prompt sets each extractor of per-seed quality runs on: Inception where FID is needed
    (the FID set, the generalisation set, Table 1's FID sets); every score of
    ``quality.scores`` on the FID and generalisation sets and Table 1b's held-out sets; HPS also
    on Table 1's HPS sets."""
    q = config["quality"]
    main = [q["fid_set"]] + ([q["generalisation_set"]] if q["generalisation_set"] else [])
    unique = lambda names: list(dict.fromkeys(names))  # noqa: E731 - ordered, no duplicates
    scored = main + q["best_of_n"]["sets"]
    return {"inception": unique(main + q["table1"]["fid_sets"])} | {
        score: unique(scored + (q["table1"]["hps_sets"] if score == "hps" else []))
        for score in q["scores"]
    }


def classifier_models(config: dict[str, Any]) -> list[str]:
    """The models that get a seed classifier."""
    settings = config["classifier"]
    if not settings["enabled"]:
        return []
    chosen = settings["models"]
    if chosen is not None:
        return list(chosen)
    models = config["models"]
    return [m for m in models if model_prompt_sets(config, m) and not is_inpainting(models[m])]


def style_models(config: dict[str, Any]) -> list[str]:
    """The models whose seeds get style rates, a style map and figs 8-9."""
    return studied_models(config, "style", config["style"]["prompt_sets"])


def layout_models(config: dict[str, Any]) -> list[str]:
    """The models whose seeds get layout statistics and fig 10."""
    return studied_models(config, "layout", [config["layout"]["prompt_set"]])


def inpainting_models(config: dict[str, Any]) -> list[str]:
    """The inpainting models that render inpaint sets: their seeds get text statistics."""

    if not config["inpainting"]["enabled"]:
        return []
    sets = config["prompt_sets"]
    return [
        m
        for m, spec in config["models"].items()
        if is_inpainting(spec)
        and any(sets[s]["kind"] == "inpaint" for s in model_prompt_sets(config, m))
    ]


def inpaint_sets(config: dict[str, Any], model: str) -> list[str]:
    """The inpaint prompt sets (tasks) that ``model`` renders."""

    sets = config["prompt_sets"]
    return [s for s in model_prompt_sets(config, model) if sets[s]["kind"] == "inpaint"]


def diverse_models(config: dict[str, Any]) -> list[str]:
    """The models compared in Table 2: studied by both the style and the layout stage and
    rendering the style evaluation set (or ``diverse.models``)."""
    settings = config["diverse"]
    if not settings["enabled"]:
        return []
    if settings["models"] is not None:
        return list(settings["models"])
    both = [m for m in style_models(config) if m in layout_models(config)]
    return [m for m in both if settings["style_set"] in model_prompt_sets(config, m)]
