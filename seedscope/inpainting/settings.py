"""The inpainting stage's config checks (run when the config is validated, before any job)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from seedscope.errors import ConfigError
from seedscope.study import inpainting_models


def check_inpainting(config: dict[str, Any]) -> None:
    """Raise ``ConfigError`` for an inpainting setting that cannot work (before any job runs)."""
    settings = config["inpainting"]
    if not any(spec["kind"] == "inpaint" for spec in config["prompt_sets"].values()):
        return
    resolutions = {config["models"][m]["resolution"] for m in inpainting_models(config)}
    if len(resolutions) > 1:
        raise ConfigError(
            f"config key models: the inpainting models render at {sorted(resolutions)} px, but "
            "the pair set is stored once at one resolution; give them the same resolution"
        )
    low, high = settings["area_bounds"]
    if not 0 <= low < high <= 1:
        raise ConfigError(
            f"config key inpainting.area_bounds: {settings['area_bounds']} must be two fractions "
            "low < high in [0, 1], e.g. [0.05, 0.5]"
        )
    annotations = settings["annotations"]
    if annotations == "demo" and config["coco"]["images"] != "demo":
        raise ConfigError(
            "config key inpainting.annotations: 'demo' draws masks on the demo's own images, so "
            "it needs coco.images: demo; give COCO's annotations (download or a path) instead"
        )
    if annotations not in ("download", "demo") and not Path(annotations).expanduser().is_file():
        raise ConfigError(
            f"config key inpainting.annotations: {annotations} does not exist; give the path of "
            "instances_train2017.json or annotations_trainval2017.zip, or 'download' to fetch it"
        )
    if annotations != "demo" and config["coco"]["images"] == "demo":
        raise ConfigError(
            "config key coco.images: 'demo' images have no COCO annotations; set "
            "inpainting.annotations: demo, or point coco.images at train2017"
        )
