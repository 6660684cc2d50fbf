"""The config validator: the schema (defaults included), then the checks that need more than
one key, the checks of every stage (each owned by its stage's ``settings`` module) and, unless
told otherwise, the checks that import torch. ``load_config`` reads YAML files through it,
merged in order as Snakemake merges ``--configfile`` files."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from seedscope.check_cache import check_once
from seedscope.classifier.settings import check_classifier
from seedscope.config import SCHEMA, apply_schema, run_dir
from seedscope.diverse.settings import check_diverse
from seedscope.errors import ConfigError
from seedscope.inpainting.settings import check_inpainting
from seedscope.layout.settings import check_layout
from seedscope.models import check_local_weights, check_model_fit, looks_like_path
from seedscope.quality.settings import check_quality
from seedscope.study import is_inpainting
from seedscope.style.settings import check_style


def validate_config(
    config: dict[str, Any], schema_path: str | Path = SCHEMA, *, check_libraries: bool = True
) -> dict[str, Any]:
    """Validate ``config`` in place (filling defaults) and return it.

    Raises ``ConfigError`` naming the first bad key, its value and the allowed values.
    ``check_libraries=False`` skips the checks that import torch (seconds): looking the
    classifier backbone up in timm's registry, and fitting each model's scheduler and
    speed-ups to its pipeline class in diffusers (``models.check_model_fit``). It is for
    processes that run jobs of a workflow whose main process has already checked the same
    config. Those checks, once passed, are remembered (``seedscope.check_cache``).
    """
    apply_schema(config, schema_path)
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
    check_classifier(config, check_libraries)
    check_quality(config)
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


def merge_config(config: dict[str, Any], overlay: dict[str, Any]) -> dict[str, Any]:
    """Update ``config`` in place with ``overlay``, recursively, and return it.

    The merge of Snakemake's ``--configfile A B`` (``snakemake.utils.update_config``): a
    mapping in ``overlay`` updates the one in ``config`` key by key (replacing a value that
    is not a mapping); any other value, lists and None included, replaces the old one.
    """
    for key, value in overlay.items():
        if not isinstance(config, Mapping):
            config = {}  # a value that is not a mapping, updated key by key: replaced
        if isinstance(value, Mapping):
            config[key] = merge_config(config.get(key, {}), value)
        else:
            config[key] = value
    return config


def read_configs(*paths: str | Path) -> dict[str, Any]:
    """The YAML files ``paths`` merged in order as Snakemake merges ``--configfile`` files
    (:func:`merge_config`), not yet validated."""
    if not paths:
        raise ConfigError("no config file given; name one, e.g. config.yaml")
    config: dict[str, Any] = {}
    for path in map(Path, paths):
        if not path.exists():
            raise ConfigError(f"config file {path} does not exist")
        layer = yaml.safe_load(path.read_text()) or {}
        if not isinstance(layer, Mapping):
            raise ConfigError(
                f"config file {path} holds a {type(layer).__name__}, not a mapping of keys; "
                "a config file is YAML keys such as run, seeds and models"
            )
        merge_config(config, layer)
    return config


def load_config(*paths: str | Path, check_libraries: bool = True) -> dict[str, Any]:
    """Read YAML config files, merged in order as ``snakemake --configfile A B ...`` merges
    them (a later file overrides keys of the earlier ones, nested keys one by one), and
    validate the result (``validate_config``, with ``check_libraries``)."""
    return validate_config(read_configs(*paths), check_libraries=check_libraries)
