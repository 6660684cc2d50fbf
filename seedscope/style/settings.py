"""The style stage's config checks (run when the config is validated, before any job)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from seedscope.errors import ConfigError
from seedscope.study import check_stage_models, prompt_set_sizes, style_models
from seedscope.style.measures import FLAG_FIELDS, MEASURE_FIELDS, Thresholds


def check_style(config: dict[str, Any]) -> None:
    """Raise ``ConfigError`` for a style setting that cannot work (before any job runs)."""

    style = config["style"]
    if not style["enabled"]:
        return
    sizes = prompt_set_sizes(config)
    for name in style["prompt_sets"]:
        if name not in sizes:
            raise ConfigError(
                f"config key style.prompt_sets: {name!r} is not a prompt set; "
                f"choose from {sorted(sizes)}"
            )
        if style["prompts"] > sizes[name]:
            raise ConfigError(
                f"config key style.prompts: {style['prompts']} analysis prompts asked for but "
                f"prompt set {name!r} holds {sizes[name]}; lower style.prompts to at most "
                f"{sizes[name]} or drop {name!r} from style.prompt_sets"
            )
    check_stage_models(config, "style", style_models(config), style["prompt_sets"])
    measure = config["features"]["style"]["measure"]
    for key, given, allowed in (
        ("features.style.measure", measure, MEASURE_FIELDS),
        ("style.thresholds", style["thresholds"], FLAG_FIELDS),
    ):
        unknown = sorted(set(given) - set(allowed))
        if unknown:
            raise ConfigError(
                f"config key {key}: {unknown} are not among its settings; choose from {allowed}"
            )
    Thresholds(**measure, **style["thresholds"])
    weights = config["features"]["style"]["weights"]
    if weights not in ("torchvision", "tiny") and not Path(weights).expanduser().is_file():
        raise ConfigError(
            f"config key features.style.weights: {weights} is not a file; download "
            "https://download.pytorch.org/models/vgg19-dcbb9e9d.pth and give its path, or use "
            "'torchvision' to fetch it at first use"
        )
