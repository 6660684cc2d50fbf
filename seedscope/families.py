"""How each family of diffusers pipelines takes precomputed text embeddings.

The engine encodes every prompt once and hands the pipeline its embeddings. That is only safe
where the embeddings are exactly what the pipeline's own call would compute, so a family is
recognised by the exact parameter names of its ``encode_prompt`` (the signature that diffusers
copies between pipelines of one family) and the tests render each family both ways:

- ``sd``: Stable Diffusion 1.x/2.x and its variants; returns (embeds, negative embeds);
- ``sdxl``: SDXL-type, two CLIP encoders; adds pooled embeddings;
- ``sd3``: Stable Diffusion 3/3.5, two CLIP encoders and T5; same outputs as ``sdxl``;
- ``flux``: FLUX.1, CLIP and T5; no classifier-free guidance (guidance is an embedding of the
  transformer), returns (embeds, pooled embeds, text ids);
- ``pixart``: PixArt-alpha/Sigma, T5 with attention masks;
- ``generic``: anything else, called with the prompt strings.

Every keyword the pipeline's call would give ``encode_prompt`` itself (``max_sequence_length``,
``clean_caption``, ``clip_skip``, an empty negative prompt) is taken from the call's own
defaults, so a precomputed embedding is the one the call computes.
"""

from __future__ import annotations

import functools
import inspect
from dataclasses import dataclass
from typing import Any

_COMMON = {"self", "prompt", "device", "num_images_per_prompt", "prompt_embeds", "lora_scale"}
_CFG = {"do_classifier_free_guidance", "negative_prompt", "negative_prompt_embeds"}
_POOLED = {"pooled_prompt_embeds", "negative_pooled_prompt_embeds"}
# Keywords that the call passes on to ``encode_prompt`` with its own default.
CALL_DEFAULTS = ("max_sequence_length", "clean_caption", "clip_skip")


@dataclass(frozen=True)
class Family:
    """A family of pipelines: ``encode_prompt``'s parameters and what its outputs are called."""

    name: str
    encode_params: frozenset[str]
    outputs: tuple[str | None, ...]  # None: an output the call does not take (FLUX's text ids)
    cfg: bool  # whether encode_prompt takes do_classifier_free_guidance

    def embeds(self, result: tuple) -> dict[str, Any]:
        """``encode_prompt``'s result as the pipeline call's keyword arguments."""
        return {name: value for name, value in zip(self.outputs, result, strict=True) if name}


_PAIR = ("prompt_embeds", "negative_prompt_embeds")
_POOLED_OUT = _PAIR + ("pooled_prompt_embeds", "negative_pooled_prompt_embeds")
FAMILIES = (
    Family("sd", frozenset(_COMMON | _CFG | {"clip_skip"}), _PAIR, True),
    Family(
        "sdxl",
        frozenset(_COMMON | _CFG | _POOLED | {"prompt_2", "negative_prompt_2", "clip_skip"}),
        _POOLED_OUT,
        True,
    ),
    Family(
        "sd3",
        frozenset(
            _COMMON
            | _CFG
            | _POOLED
            | {"prompt_2", "prompt_3", "negative_prompt_2", "negative_prompt_3"}
            | {"clip_skip", "max_sequence_length"}
        ),
        _POOLED_OUT,
        True,
    ),
    Family(
        "flux",
        frozenset(_COMMON | {"prompt_2", "pooled_prompt_embeds", "max_sequence_length"}),
        ("prompt_embeds", "pooled_prompt_embeds", None),
        False,
    ),
    Family(
        "pixart",
        frozenset(
            _COMMON
            | _CFG
            | {"prompt_attention_mask", "negative_prompt_attention_mask", "kwargs"}
            | {"clean_caption", "max_sequence_length"}
        )
        - {"lora_scale"},
        ("prompt_embeds", "prompt_attention_mask")
        + ("negative_prompt_embeds", "negative_prompt_attention_mask"),
        True,
    ),
)
GENERIC = Family("generic", frozenset(), (), True)


@functools.cache
def _family_of(cls: type) -> Family:
    encode = getattr(cls, "encode_prompt", None)
    if encode is None:
        return GENERIC
    params = frozenset(inspect.signature(encode).parameters)
    call = inspect.signature(cls.__call__).parameters
    for family in FAMILIES:
        takes = {name for name in family.outputs if name}
        if params == family.encode_params and takes <= set(call):
            return family
    return GENERIC


def family_of(pipe) -> Family:
    """The family of ``pipe`` (a pipeline or its class); ``GENERIC`` when none fits exactly.

    Looks at the instance's own ``encode_prompt`` when it has one (a wrapper that keeps the
    signature, as a test spy does, keeps the family).
    """
    cls = pipe if isinstance(pipe, type) else type(pipe)
    family = _family_of(cls)
    if not isinstance(pipe, type) and "encode_prompt" in vars(pipe):
        params = frozenset(inspect.signature(pipe.encode_prompt).parameters) | {"self"}
        if params != family.encode_params:
            return GENERIC
    return family


def call_parameters(pipe) -> dict[str, inspect.Parameter]:
    """The named parameters of the pipeline's ``__call__`` (``pipe``: a pipeline or its class)."""
    cls = pipe if isinstance(pipe, type) else type(pipe)
    return dict(inspect.signature(cls.__call__).parameters)


def call_default(pipe, name: str, fallback: Any = None) -> Any:
    """The default of the call's parameter ``name`` (``fallback`` if it has none)."""
    param = call_parameters(pipe).get(name)
    if param is None or param.default is inspect.Parameter.empty:
        return fallback
    return param.default


def takes_negative_prompt(pipe) -> bool:
    """Whether a negative prompt means anything to the pipeline with classifier-free guidance.

    FLUX's call takes one only for its optional "true CFG" (``true_cfg_scale`` > 1), which the
    config does not set, so its family says no.
    """
    family = family_of(pipe)
    if family is not GENERIC:
        return family.cfg
    return "negative_prompt" in call_parameters(pipe)


def uses_guidance(pipe, guidance: float) -> bool:
    """Whether ``guidance`` turns on classifier-free guidance (two passes per step)."""
    return (
        takes_negative_prompt(pipe) and guidance > 1.0 and "guidance_scale" in call_parameters(pipe)
    )


def encode_kwargs(pipe, family: Family, negative_prompt: str, cfg: bool) -> dict[str, Any]:
    """The keywords, besides the prompt, that the pipeline's call gives ``encode_prompt``."""
    out: dict[str, Any] = {"num_images_per_prompt": 1}
    for name in ("prompt_2", "prompt_3"):
        if name in family.encode_params:
            out[name] = None  # the call's default: the same prompt for every encoder
    for name in CALL_DEFAULTS:
        if name in family.encode_params and name in call_parameters(pipe):
            out[name] = call_default(pipe, name)
    if family.cfg:
        out["do_classifier_free_guidance"] = cfg
        out["negative_prompt"] = (
            negative_prompt or call_default(pipe, "negative_prompt") if cfg else None
        )
    return out
