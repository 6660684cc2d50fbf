"""The seed classifier's config checks (run when the config is validated, before any job)."""

from __future__ import annotations

from typing import Any

from seedscope.check_cache import check_once
from seedscope.errors import ConfigError
from seedscope.study import (
    check_studied_seeds,
    classifier_models,
    model_prompt_sets,
    prompt_set_sizes,
)


def _check_backbone(backbone: str) -> None:
    import timm

    if not timm.is_model(backbone):
        close = timm.list_models(f"*{backbone[:4]}*")[:10]
        raise ConfigError(
            f"config key classifier.backbone: {backbone!r} is not a timm model"
            + (f"; similar names: {close}" if close else "")
        )


def check_classifier(config: dict[str, Any], check_libraries: bool) -> None:
    """Raise ``ConfigError`` for a classifier setting that cannot work; ``check_libraries``
    also looks the backbone up in timm (once per timm version)."""
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
