"""Validating a config against ``schemas/config.schema.yaml`` and deriving what the DAG needs.

``validate_config`` fills in the schema's defaults and stops at the first bad key with a message
naming it, its value and what is allowed. The helpers below turn a valid config into seed
blocks and per-model prompt sets, the same way for the Snakefile and the CLI.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from seedscope.appearance import check_inpainting, check_layout, check_style
from seedscope.checked import check_once
from seedscope.diverse.settings import check_diverse
from seedscope.errors import ConfigError
from seedscope.models import check_local_weights, check_model_fit, looks_like_path

PARTI_PROMPTS = 1632
SCHEMA = Path(__file__).resolve().parent.parent / "schemas" / "config.schema.yaml"


def _with_defaults(cls):
    """A validator class that writes each property's default into the instance."""
    validate_properties = cls.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for name, sub in properties.items():
                if "default" in sub and name not in instance:
                    instance[name] = copy.deepcopy(sub["default"])
        yield from validate_properties(validator, properties, instance, schema)

    return jsonschema.validators.extend(cls, {"properties": set_defaults})


def _key(path) -> str:
    return ".".join(str(p) for p in path) or "(top level)"


def _describe(error: jsonschema.ValidationError) -> str:
    where = f"config key {_key(error.absolute_path)}"
    if error.validator == "additionalProperties" and isinstance(
        error.schema.get("properties"), dict
    ):
        allowed = ", ".join(sorted(error.schema["properties"]))
        return f"{where}: {error.message}; allowed keys are: {allowed}"
    if error.validator == "enum":
        return f"{where}: {error.instance!r} is not allowed; choose one of {error.validator_value}"
    if error.validator == "pattern" and error.validator_value == "^[A-Za-z0-9_-]+$":
        return f"{where}: {error.instance!r} may only contain letters, digits, '_' and '-'"
    return f"{where}: {error.message}"


def load_schema(path: str | Path = SCHEMA) -> dict[str, Any]:
    """The config schema as a dict."""
    return yaml.safe_load(Path(path).read_text())


def validate_config(
    config: dict[str, Any], schema_path: str | Path = SCHEMA, *, check_libraries: bool = True
) -> dict[str, Any]:
    """Validate ``config`` in place (filling defaults) and return it.

    Raises ``ConfigError`` naming the first bad key, its value and the allowed values.
    ``check_libraries=False`` skips the checks that import torch (seconds): looking the
    classifier backbone up in timm's registry, and fitting each model's scheduler and
    speed-ups to its pipeline class in diffusers (``models.check_model_fit``). It is for
    processes that run jobs of a workflow whose main process has already checked the same
    config. Those checks, once passed, are remembered (``seedscope.checked``).
    """
    schema = load_schema(schema_path)
    cls = _with_defaults(jsonschema.validators.validator_for(schema))
    errors = sorted(cls(schema).iter_errors(config), key=lambda e: (len(e.absolute_path), e.path))
    if errors:
        best = jsonschema.exceptions.best_match(errors)
        raise ConfigError(_describe(best) + f"  (schema: {schema_path})")
    _check_semantics(config, check_libraries)
    return config


def _check_semantics(config: dict[str, Any], check_libraries: bool) -> None:
    seeds = config["seeds"]
    if seeds["count"] % seeds["block_size"]:
        raise ConfigError(
            f"config key seeds.count: {seeds['count']} is not a multiple of seeds.block_size "
            f"({seeds['block_size']}); growing the range by whole blocks is what keeps existing "
            "shards valid"
        )
    sets = config["prompt_sets"]
    for name, model in config["models"].items():
        if model["tiny"] and model["weights"] is None:
            model["weights"] = f"{run_dir(config)}/models/{name}"
        if model["weights"] is None:
            raise ConfigError(
                f"config key models.{name}.weights: missing; give a Hugging Face id or a local "
                "folder (or set tiny to build a tiny model for testing)"
            )
        for s in model["prompt_sets"] or []:
            if s not in sets:
                raise ConfigError(
                    f"config key models.{name}.prompt_sets: {s!r} is not a prompt set; "
                    f"choose from {sorted(sets)}"
                )
            if (sets[s]["kind"] == "inpaint") != is_inpainting(model):
                raise ConfigError(
                    f"config key models.{name}.prompt_sets: {s!r} is a {sets[s]['kind']} set but "
                    f"{model['pipeline']} {'is' if is_inpainting(model) else 'is not'} an "
                    "inpainting pipeline; inpaint sets go to inpainting models only"
                )
        if not model["tiny"] and looks_like_path(model["weights"]):
            check_local_weights(name, model["weights"])
        if check_libraries:
            libraries = ["diffusers", "transformers", "torch"]
            check_once("model fit", libraries, check_model_fit, name, model)
    coco = config["coco"]
    if sum(coco["parts"]) > coco["n_images"]:
        raise ConfigError(
            f"config key coco.parts: the parts {coco['parts']} need {sum(coco['parts'])} images "
            f"but coco.n_images is {coco['n_images']}"
        )
    if coco["images"] in ("zip", "folder") and not coco["path"]:
        raise ConfigError(
            f"config key coco.path: coco.images is {coco['images']!r}, so set coco.path"
        )
    for name, spec in sets.items():
        if spec["kind"] == "coco" and spec["part"] >= len(coco["parts"]):
            raise ConfigError(
                f"config key prompt_sets.{name}.part: {spec['part']} but coco.parts has only "
                f"{len(coco['parts'])} parts (0 to {len(coco['parts']) - 1})"
            )
        if spec["kind"] == "parti" and spec["source"] == "file" and not spec["path"]:
            raise ConfigError(f"config key prompt_sets.{name}.path: source is 'file', so set path")
    _check_classifier(config, check_libraries)
    _check_quality(config)
    check_style(config)
    check_layout(config)
    check_inpainting(config)
    check_diverse(config)
    swap = config["seed_swap"]
    if swap["model"] is not None and swap["model"] not in config["models"]:
        raise ConfigError(
            f"config key seed_swap.model: {swap['model']!r} is not a model; "
            f"choose from {sorted(config['models'])}"
        )


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


def _check_backbone(backbone: str) -> None:
    import timm

    if not timm.is_model(backbone):
        close = timm.list_models(f"*{backbone[:4]}*")[:10]
        raise ConfigError(
            f"config key classifier.backbone: {backbone!r} is not a timm model"
            + (f"; similar names: {close}" if close else "")
        )


def _check_classifier(config: dict[str, Any], check_libraries: bool) -> None:
    settings = config["classifier"]
    if not settings["enabled"]:
        return
    for model in classifier_models(config):
        if model not in config["models"]:
            raise ConfigError(
                f"config key classifier.models: {model!r} is not a model; "
                f"choose from {sorted(config['models'])}"
            )
        missing = set(settings["prompt_sets"]) - set(model_prompt_sets(config, model))
        if missing:
            raise ConfigError(
                f"config key classifier.prompt_sets: model {model!r} renders no {sorted(missing)}; "
                f"it renders {model_prompt_sets(config, model)}"
            )
    available = sum(prompt_set_sizes(config)[s] for s in settings["prompt_sets"])
    needed = sum(settings["split"].values())
    if needed > available:
        raise ConfigError(
            f"config key classifier.split: {settings['split']} needs {needed} prompts but "
            f"classifier.prompt_sets {settings['prompt_sets']} hold {available}; lower the split "
            "or add prompt sets"
        )
    if check_libraries:
        check_once("timm backbone", ["timm"], _check_backbone, settings["backbone"])
    check_studied_seeds(config, "classifier.gradcam.seeds", settings["gradcam"]["seeds"])


def check_studied_seeds(config: dict[str, Any], key: str, seeds: list[int]) -> None:
    """Raise ``ConfigError`` naming ``key`` when some of ``seeds`` are not studied seeds."""
    first, count = config["seeds"]["first"], config["seeds"]["count"]
    outside = [s for s in seeds if not first <= s < first + count]
    if outside:
        raise ConfigError(
            f"config key {key}: {outside} are outside the studied seeds "
            f"{first}..{first + count - 1}"
        )


def quality_models(config: dict[str, Any]) -> list[str]:
    """The models whose seeds are scored (FID, KID, HPS) and get a seed bank."""
    settings = config["quality"]
    if not settings["enabled"]:
        return []
    if settings["models"] is not None:
        return list(settings["models"])
    return [m for m in config["models"] if settings["fid_set"] in model_prompt_sets(config, m)]


def quality_sets(config: dict[str, Any]) -> dict[str, list[str]]:
    """Prompt sets each extractor runs on: Inception where FID is needed, HPS where HPS is."""
    q = config["quality"]
    main = [q["fid_set"]] + ([q["generalisation_set"]] if q["generalisation_set"] else [])
    unique = lambda names: list(dict.fromkeys(names))  # noqa: E731 - ordered, no duplicates
    return {
        "inception": unique(main + q["table1"]["fid_sets"]),
        "hps": unique(main + q["table1"]["hps_sets"]),
    }


def _check_quality(config: dict[str, Any]) -> None:
    if not config["quality"]["enabled"]:
        return
    sets = config["prompt_sets"]
    for extractor, names in quality_sets(config).items():
        for name in names:
            if name not in sets:
                raise ConfigError(
                    f"config key quality: prompt set {name!r} (needed for {extractor} features) "
                    f"is not a prompt set; choose from {sorted(sets)}"
                )
            if extractor == "inception" and sets[name]["kind"] != "coco":
                raise ConfigError(
                    f"config key quality: FID needs real images, so {name!r} must be a COCO "
                    f"prompt set (it is {sets[name]['kind']!r}); score it with HPS only"
                )
    needed = set().union(*quality_sets(config).values())
    for model in quality_models(config):
        if model not in config["models"]:
            raise ConfigError(
                f"config key quality.models: {model!r} is not a model; "
                f"choose from {sorted(config['models'])}"
            )
        missing = needed - set(model_prompt_sets(config, model))
        if missing:
            raise ConfigError(
                f"config key quality.models: model {model!r} renders no {sorted(missing)}, which "
                "per-seed quality needs; add them to its prompt_sets or drop it from quality.models"
            )
    for name in ("inception", "hps"):
        weights = config["features"][name]["weights"]
        if weights not in ("tiny", "clean-fid", "hub") and not Path(weights).exists():
            raise ConfigError(
                f"config key features.{name}.weights: {weights} does not exist; give the path of "
                "a local copy of the weights, or 'tiny' / the default to fetch them"
            )


def load_config(path: str | Path) -> dict[str, Any]:
    """Read a YAML config file and validate it."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"config file {path} does not exist")
    return validate_config(yaml.safe_load(path.read_text()) or {})


def run_dir(config: dict[str, Any]) -> str:
    """Where this run's outputs go: ``<results_dir>/<run>``."""
    return f"{config['results_dir']}/{config['run']}"


def captioner_path(config: dict[str, Any]) -> str:
    """The LLaVA model id or folder that captions COCO images."""
    captioner = config["coco"]["captioner"]
    return f"{run_dir(config)}/models/captioner" if captioner["tiny"] else captioner["model"]


def seed_blocks(config: dict[str, Any]) -> list[tuple[int, int]]:
    """The (first, last) seed of every block, inclusive."""
    seeds = config["seeds"]
    size = seeds["block_size"]
    return [
        (first, first + size - 1)
        for first in range(seeds["first"], seeds["first"] + seeds["count"], size)
    ]


def block_name(first: int, last: int) -> str:
    """The file stem of a seed block's shard: ``seeds-0000-0015``."""
    return f"seeds-{first:04d}-{last:04d}"


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


def canonical(value: Any) -> Any:
    """``value`` with every dict's keys sorted, recursively.

    Snakemake decides whether params changed by comparing their ``repr``; sorting keys makes
    that independent of the order in which a config file happens to list them.
    """
    if isinstance(value, dict):
        return {key: canonical(value[key]) for key in sorted(value)}
    if isinstance(value, list | tuple):
        return [canonical(v) for v in value]
    return value
