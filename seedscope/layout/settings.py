"""The layout stage's config checks (run when the config is validated, before any job)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from seedscope.errors import ConfigError
from seedscope.layout.labels import check_objects
from seedscope.models import looks_like_path
from seedscope.study import check_stage_models, check_studied_seeds, layout_models


def check_layout(config: dict[str, Any]) -> None:
    """Raise ``ConfigError`` for a layout setting that cannot work (before any job runs)."""

    layout = config["layout"]
    if not layout["enabled"]:
        return
    name = layout["prompt_set"]
    spec = config["prompt_sets"].get(name)
    if spec is None or spec["kind"] != "synthetic":
        kind = "not a prompt set" if spec is None else f"a {spec['kind']} set"
        raise ConfigError(
            f"config key layout.prompt_set: {name!r} is {kind}; the layout stage needs a "
            "synthetic set, whose prompts name the object to find"
        )
    check_stage_models(config, "layout", layout_models(config), [name])
    features = config["features"]["layout"]
    check_objects(spec["objects"], features["labels"])
    for key in ("centroid_object", "size_object"):
        if layout["fig10"][key] not in spec["objects"]:
            raise ConfigError(
                f"config key layout.fig10.{key}: {layout['fig10'][key]!r} is not an object of "
                f"prompt set {name!r}; choose from {spec['objects']}"
            )

    check_studied_seeds(config, "layout.fig10.seeds", layout["fig10"]["seeds"])
    if features["weights"] == "hub":
        for key in ("segmenter", "depth"):
            where = features[key]
            if looks_like_path(where) and not (Path(where).expanduser() / "config.json").is_file():
                raise ConfigError(
                    f"config key features.layout.{key}: {where} holds no config.json; point it "
                    "at a folder saved with save_pretrained, or at a Hugging Face id"
                )
