"""Loading diffusers pipelines from a model's config entry.

A model entry names a diffusers pipeline class, its weights (a Hugging Face id or a local
folder), and its sampler. Weights are loaded with the pipeline's own ``from_pretrained``;
``HF_HUB_OFFLINE`` is honoured by huggingface_hub itself. Nothing here runs remote code.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from seedscope.errors import ConfigError, FeatureError, ModelNotFoundError, error_line

SCHEDULERS = {
    "ddim": "DDIMScheduler",
    "ddpm": "DDPMScheduler",
    "euler": "EulerDiscreteScheduler",
    "euler_ancestral": "EulerAncestralDiscreteScheduler",
    "dpmsolver_multistep": "DPMSolverMultistepScheduler",
    "pndm": "PNDMScheduler",
    "lms": "LMSDiscreteScheduler",
    "flow_match_euler": "FlowMatchEulerDiscreteScheduler",
}
# Schedulers of flow-matching models (SD 3, FLUX): they integrate a velocity along sigmas and
# fit neither DDPM-type models nor the other way round.
FLOW_MATCHING = frozenset({"flow_match_euler"})

if TYPE_CHECKING:  # torch is imported where it is used: the workflow imports this module to
    import torch  # check the config, and every Snakemake start would pay for torch's import


def looks_like_path(weights: str) -> bool:
    """True if ``weights`` names a local folder rather than a Hugging Face id."""
    return weights.startswith((".", "/", "~")) or os.path.isdir(weights) or weights.count("/") > 1


@dataclass(frozen=True)
class PretrainedSource:
    """Where ``from_pretrained`` looks for a model: ``name`` (what it is given), whether that is a
    local folder, and, for the message of a failed load, how it was tried and what to do."""

    name: str
    is_path: bool
    tried: str
    fix: str


def pretrained_source(
    source: str | Path, key: str, folder: str, holds: str, path_fix: str
) -> PretrainedSource:
    """Resolve ``source`` (config key ``key``): a local folder when it looks like a path (it
    must exist), else a Hugging Face hub id (offline: the local cache). ``folder`` says how to
    point the key at a local folder, ``holds`` what such a folder holds, and ``path_fix`` what to
    do when a local folder does not load."""
    text = str(source)
    is_path = isinstance(source, Path) or text.startswith((".", "/", "~"))
    is_path = is_path or Path(text).expanduser().exists()
    if is_path and not Path(text).expanduser().is_dir():
        raise FeatureError(
            f"{key}: local folder {source} does not exist; {folder} ({holds}) or at a Hugging "
            "Face hub id"
        )
    fix = (
        path_fix
        if is_path
        else f"on a machine with internet run `huggingface-cli download {source}` and copy the "
        f"Hugging Face cache here (HF_HOME), or {folder}"
    )
    return PretrainedSource(
        name=str(Path(text).expanduser()) if is_path else text,
        is_path=is_path,
        tried="as a local folder" if is_path else "as a Hugging Face hub id (offline: the cache)",
        fix=fix,
    )


def resolve_device(device: str) -> torch.device:
    """``auto`` -> cuda when available, else cpu."""
    import torch

    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def resolve_dtype(dtype: str, device: torch.device) -> torch.dtype:
    """``auto`` -> float16 on GPU, float32 on CPU (half precision is slow or missing there)."""
    import torch

    if dtype == "auto":
        return torch.float16 if device.type == "cuda" else torch.float32
    return {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}[dtype]


def pipeline_class(name: str):
    """The diffusers pipeline class called ``name``, with a clear error if there is none."""
    import diffusers

    cls = getattr(diffusers, name, None)
    if not (isinstance(cls, type) and issubclass(cls, diffusers.DiffusionPipeline)):
        raise ConfigError(
            f"pipeline {name!r} is not a diffusers pipeline class (diffusers "
            f"{diffusers.__version__}); use a class name such as StableDiffusionPipeline, "
            "StableDiffusionXLPipeline or StableDiffusionInpaintPipeline"
        )
    return cls


def weights_not_found(
    what: str, weights: str, config_key: str, holds: str, reason: str
) -> ModelNotFoundError:
    """The error for weights that are neither a local folder nor in the hub or its cache.

    ``what`` names the model in the message, ``config_key`` is where a local folder can be
    given instead, and ``holds`` says what such a folder contains.
    """
    offline = os.environ.get("HF_HUB_OFFLINE", "") not in ("", "0", "false", "False")
    return ModelNotFoundError(
        f"{what}: weights {weights!r} could not be loaded ({reason}). "
        + (
            "HF_HUB_OFFLINE is set, so only the local Hugging Face cache is searched. "
            if offline
            else ""
        )
        + "To provide them: run `huggingface-cli login` if the model is gated; pre-download it "
        f"into the Hugging Face cache with `huggingface-cli download {weights}` on a machine with "
        f"network access; or set {config_key} in the config to a local folder that holds {holds}."
    )


def _not_found(model: str, weights: str, reason: str) -> ModelNotFoundError:
    return weights_not_found(
        f"model {model!r}",
        weights,
        f"models.{model}.weights",
        "the pipeline (its model_index.json)",
        reason,
    )


def check_local_weights(model: str, weights: str) -> None:
    """Fail early if ``weights`` is a local path without a saved pipeline in it."""
    path = Path(weights).expanduser()
    if not (path / "model_index.json").exists():
        raise _not_found(model, weights, f"no model_index.json in local folder {path}")


def scheduler_choice(scheduler: dict[str, Any]) -> tuple[str | None, dict[str, Any]]:
    """The diffusers scheduler class name and config overrides of a ``scheduler`` config entry.

    The class is ``None`` for ``name: default`` (keep the one saved with the model); the
    overrides (``timestep_spacing`` unless it is ``default``) go on top of the model's own
    scheduler config, which holds its betas. ``eta`` is a call argument, not part of this.
    """
    name = scheduler.get("name", "default")
    spacing = scheduler.get("timestep_spacing", "default")
    overrides = {} if spacing == "default" else {"timestep_spacing": spacing}
    if name == "default":
        return None, overrides
    if name not in SCHEDULERS:
        raise ConfigError(f"scheduler {name!r} is unknown; choose one of {sorted(SCHEDULERS)}")
    return SCHEDULERS[name], overrides


def pipeline_traits(name: str) -> dict[str, bool]:
    """What the pipeline class ``name`` is built from, read from its constructor's type hints.

    ``flow_matching``: its ``scheduler`` is annotated with a flow-matching scheduler class
    (``FlowMatch...``), as in SD 3 and FLUX; ``transformer``: its denoiser is a ``transformer``
    component rather than a ``unet``. Decided from the class alone, without weights, so the
    config check can run before any job; this imports diffusers (and torch).
    """
    import inspect

    params = inspect.signature(pipeline_class(name).__init__).parameters
    hint = params["scheduler"].annotation if "scheduler" in params else None
    return {
        "flow_matching": isinstance(hint, type) and hint.__name__.startswith("FlowMatch"),
        "transformer": "transformer" in params and "unet" not in params,
        "denoiser": "unet" in params or "transformer" in params,
    }


def check_model_fit(model: str, spec: dict[str, Any]) -> None:
    """Refuse settings that do not fit model ``model``'s pipeline class.

    Flow-matching pipelines (SD 3, FLUX) need a flow-matching scheduler (or ``default``, the
    one saved with the weights); every other pipeline needs one of the others. The speed-ups
    ``channels_last`` and ``compile`` need a ``unet`` or ``transformer`` component, and a
    negative prompt a pipeline that uses one (not FLUX). Raises
    ``ConfigError`` naming the key and the allowed values.
    """
    from seedscope.families import takes_negative_prompt

    try:
        traits = pipeline_traits(spec["pipeline"])
    except ConfigError as error:
        raise ConfigError(f"config key models.{model}.pipeline: {error}") from error
    for key in ("channels_last", "compile"):
        if spec.get(key) and not traits["denoiser"]:
            raise ConfigError(
                f"config key models.{model}.{key}: {spec['pipeline']} has no unet or "
                "transformer component to apply it to; set it to false"
            )
    if spec.get("negative_prompt") and not takes_negative_prompt(pipeline_class(spec["pipeline"])):
        raise ConfigError(
            f"config key models.{model}.negative_prompt: {spec['pipeline']} takes no negative "
            "prompt (its guidance is an input of the network); leave it empty"
        )
    name = (spec.get("scheduler") or {}).get("name", "default")
    flow = traits["flow_matching"]
    if name == "default" or (name in FLOW_MATCHING) == flow:
        return
    allowed = ["default"] + sorted(n for n in SCHEDULERS if (n in FLOW_MATCHING) == flow)
    kind = "a flow-matching" if flow else "not a flow-matching"
    raise ConfigError(
        f"config key models.{model}.scheduler.name: {name!r} does not fit {spec['pipeline']}, "
        f"which is {kind} pipeline; choose one of {allowed}"
    )


def denoiser(pipe):
    """The denoising network: the ``unet``, or the ``transformer`` (SD 3, FLUX, PixArt)."""
    module = getattr(pipe, "unet", None)
    return module if module is not None else pipe.transformer


def configure_scheduler(pipe, scheduler: dict[str, Any]) -> None:
    """Swap in the configured scheduler class and timestep spacing, keeping the model's betas."""
    import diffusers

    name, overrides = scheduler_choice(scheduler)
    cls = type(pipe.scheduler) if name is None else getattr(diffusers, name)
    pipe.scheduler = cls.from_config(pipe.scheduler.config, **overrides)


def apply_speedups(pipe, spec: dict[str, Any]):
    """Opt-in speed-ups from the model's config entry (``channels_last``, ``compile``).

    They apply to the denoiser, a UNet or a diffusion transformer (whose convolutions are its
    patch embedding), and ``channels_last`` to the VAE too. Both change floats at the 1e-6
    level (other kernels), like a change of batch size; they are recorded in each image's
    metadata through ``model_spec``.
    """
    import torch

    attribute = "unet" if getattr(pipe, "unet", None) is not None else "transformer"
    if spec.get("channels_last"):
        denoiser(pipe).to(memory_format=torch.channels_last)
        pipe.vae.to(memory_format=torch.channels_last)
    if spec.get("compile"):
        setattr(pipe, attribute, torch.compile(denoiser(pipe)))
    return pipe


def load_pipeline(name: str, spec: dict[str, Any], device: str = "auto"):
    """Load model ``name`` as described by its config entry ``spec`` and move it to ``device``.

    Raises ``ModelNotFoundError`` naming the weights and how to provide them if they are
    neither a local folder nor in the Hugging Face cache / hub.
    """
    cls = pipeline_class(spec["pipeline"])
    weights = spec["weights"]
    target = resolve_device(device)
    dtype = resolve_dtype(spec.get("dtype", "auto"), target)
    if looks_like_path(weights):
        check_local_weights(name, weights)
        weights = str(Path(weights).expanduser())
    kwargs = {"dtype": dtype}
    for key in ("revision", "variant"):
        if spec.get(key):
            kwargs[key] = spec[key]
    try:
        pipe = cls.from_pretrained(weights, **kwargs)
    except (OSError, ValueError) as err:
        # huggingface_hub raises OSError subclasses (repository or file not found, offline
        # cache misses); diffusers raises ValueError for folders without a pipeline.
        raise _not_found(name, spec["weights"], error_line(err)) from err
    configure_scheduler(pipe, spec.get("scheduler", {}))
    pipe.set_progress_bar_config(disable=True)
    return apply_speedups(pipe.to(target), spec)
