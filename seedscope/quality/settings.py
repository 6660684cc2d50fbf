"""The per-seed quality stage's config checks (run when the config is validated, before any job)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from seedscope.errors import ConfigError
from seedscope.study import model_prompt_sets, quality_models, quality_sets


def check_quality(config: dict[str, Any]) -> None:
    """Raise ``ConfigError`` for a quality setting that cannot work."""
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
