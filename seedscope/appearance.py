"""Which models and prompt sets the style, layout and inpainting stages study, and their
config checks.

The style and layout stages (paper section 4.3) read images that the generation stage already
renders: the style stage a seeded sample of prompts of ``style.prompt_sets``, the layout stage
every prompt of the synthetic set ``layout.prompt_set``. The inpainting stage (section 4.5)
reads the shards of the inpaint prompt sets, which inpainting models render from image-mask
pairs. The checks here run when the config is validated, so a bad value stops the workflow
before any job.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from seedscope.errors import ConfigError


def _studied(config: dict[str, Any], stage: str, sets: list[str]) -> list[str]:
    from seedscope.config import model_prompt_sets

    settings = config[stage]
    if not settings["enabled"]:
        return []
    if settings["models"] is not None:
        return list(settings["models"])
    return [m for m in config["models"] if set(sets) <= set(model_prompt_sets(config, m))]


def style_models(config: dict[str, Any]) -> list[str]:
    """The models whose seeds get style rates, a style map and figs 8-9."""
    return _studied(config, "style", config["style"]["prompt_sets"])


def layout_models(config: dict[str, Any]) -> list[str]:
    """The models whose seeds get layout statistics and fig 10."""
    return _studied(config, "layout", [config["layout"]["prompt_set"]])


def _check_models(config: dict[str, Any], stage: str, models: list[str], sets: list[str]):
    from seedscope.config import model_prompt_sets

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


def check_style(config: dict[str, Any]) -> None:
    """Raise ``ConfigError`` for a style setting that cannot work (before any job runs)."""
    from seedscope.config import prompt_set_sizes
    from seedscope.style.measures import FLAG_FIELDS, MEASURE_FIELDS, Thresholds

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
    _check_models(config, "style", style_models(config), style["prompt_sets"])
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


def check_layout(config: dict[str, Any]) -> None:
    """Raise ``ConfigError`` for a layout setting that cannot work (before any job runs)."""
    from seedscope.layout.labels import check_objects
    from seedscope.models import looks_like_path

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
    _check_models(config, "layout", layout_models(config), [name])
    features = config["features"]["layout"]
    check_objects(spec["objects"], features["labels"])
    for key in ("centroid_object", "size_object"):
        if layout["fig10"][key] not in spec["objects"]:
            raise ConfigError(
                f"config key layout.fig10.{key}: {layout['fig10'][key]!r} is not an object of "
                f"prompt set {name!r}; choose from {spec['objects']}"
            )
    from seedscope.config import check_studied_seeds

    check_studied_seeds(config, "layout.fig10.seeds", layout["fig10"]["seeds"])
    if features["weights"] == "hub":
        for key in ("segmenter", "depth"):
            where = features[key]
            if looks_like_path(where) and not (Path(where).expanduser() / "config.json").is_file():
                raise ConfigError(
                    f"config key features.layout.{key}: {where} holds no config.json; point it "
                    "at a folder saved with save_pretrained, or at a Hugging Face id"
                )


def inpainting_models(config: dict[str, Any]) -> list[str]:
    """The inpainting models that render inpaint sets: their seeds get text statistics."""
    from seedscope.config import is_inpainting, model_prompt_sets

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
    from seedscope.config import model_prompt_sets

    sets = config["prompt_sets"]
    return [s for s in model_prompt_sets(config, model) if sets[s]["kind"] == "inpaint"]


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
