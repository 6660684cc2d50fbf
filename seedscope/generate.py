"""The generation engine: render every prompt x seed of a seed block into one shard.

A seed is a noise recipe: the image for (model, prompt, seed) draws its initial latent and every
later noise draw of a stochastic sampler from its own ``torch.Generator("cpu")`` seeded with
that seed. diffusers draws per-sample noise from a list of generators one sample at a time, so
an image does not depend on which other images share its batch beyond float round-off of the
batched network (measured on CPU with the tiny models: about 1e-6 in floats between batch 1
and batch 8, at most one uint8 level; the tests check this tolerance).

Each prompt's text embedding is computed once, alone (batch 1), so it is a pure function of
the prompt; images are batched across prompts and seeds; PNG encoding runs on background
threads while the next batch renders. Every setting follows the pipeline's own default, so an
image equals what the plain pipeline call gives for the same prompt, seed and settings (within
float round-off across batch sizes).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import logging
import platform
import sys
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

import seedscope
from seedscope.errors import DataError
from seedscope.families import (
    GENERIC,
    call_default,
    call_parameters,
    encode_kwargs,
    family_of,
    uses_guidance,
)
from seedscope.files import json_sha256
from seedscope.render_driver import render_resumable
from seedscope.shards import image_key

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Item:
    """One image to render: a prompt row and a seed."""

    prompt_id: str
    prompt: str
    seed: int


# glibc's mallopt parameters (malloc.h).
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
# The largest mmap threshold glibc accepts on 64-bit (HEAP_MAX_SIZE / 2), and a trim threshold
# that keeps freed memory for the next batch rather than returning it to the kernel.
ALLOCATOR_MMAP_THRESHOLD = 32 << 20
ALLOCATOR_TRIM_THRESHOLD = 1 << 30
_allocator_tuned: bool | None = None


def tune_allocator() -> bool:
    """Keep freed host memory in the process instead of handing it back to the kernel (glibc).

    With glibc's defaults, every forward pass on the CPU maps fresh pages for its large
    activations and unmaps them on free (or trims the heap), so each batch pays thousands of
    page faults: a tiny SD2 UNet at 64 latents took 6,600 faults and 37 ms per call instead of
    20 faults and 27 ms. Raising the mmap and trim thresholds keeps those pages mapped. Where
    a tensor lives in memory does not change a single float (torch aligns every CPU tensor to
    64 bytes either way). Process-wide and not undone: a generation job is its own process.
    Returns whether the setting was applied (False off glibc, e.g. macOS or musl).
    """
    global _allocator_tuned
    if _allocator_tuned is None:
        _allocator_tuned = False
        if sys.platform.startswith("linux"):
            try:
                libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
                mallopt = libc.mallopt
                mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
            except (OSError, AttributeError):
                mallopt = None
            if mallopt is not None:
                _allocator_tuned = bool(
                    mallopt(_M_MMAP_THRESHOLD, ALLOCATOR_MMAP_THRESHOLD)
                    and mallopt(_M_TRIM_THRESHOLD, ALLOCATOR_TRIM_THRESHOLD)
                )
        log.debug("host allocator tuned: %s", _allocator_tuned)
    return _allocator_tuned


def seed_generator(seed: int) -> torch.Generator:
    """The generator that every noise draw of ``seed``'s image comes from (always on CPU)."""
    return torch.Generator("cpu").manual_seed(seed)


class PromptEmbeddings:
    """Text embeddings of each prompt, computed once and alone, kept for recent prompts.

    Every keyword of ``encode_prompt`` is what the pipeline's own call gives it (see
    ``seedscope.families``): an empty negative prompt is the call's default (``None`` for
    Stable Diffusion, SDXL and SD 3, so SDXL-type pipelines whose config sets
    ``force_zeros_for_empty_prompt`` use zero negative embeddings; ``""`` for PixArt). FLUX
    takes no negative prompt: its guidance is an input of the transformer. Pipelines of no
    known family get the prompt strings, and a negative prompt only if their call takes one.

    With a cache (``capacity`` > 0) the negative prompt is encoded once, with the first
    prompt, and its embeddings are handed back to the pipeline's ``encode_prompt`` for every
    later prompt (the pipeline's own way of taking precomputed negative embeddings), so they
    are the same tensors; without one, every prompt encodes its negative again.
    """

    def __init__(self, pipe, negative_prompt: str, guidance: float, capacity: int = 256):
        self.pipe = pipe
        self.family = family_of(pipe)
        self.cfg = uses_guidance(pipe, guidance)
        self.negative_prompt = negative_prompt
        self.capacity = capacity
        self._cache: OrderedDict[str, dict[str, torch.Tensor]] = OrderedDict()
        self._negative: dict[str, torch.Tensor] = {}
        self._device: torch.device | None = None

    @property
    def device(self) -> torch.device:
        """The pipeline's execution device, looked up once (diffusers walks every module)."""
        if self._device is None:
            self._device = self.pipe._execution_device
        return self._device

    @torch.inference_mode()
    def _encode(self, prompt: str) -> dict[str, torch.Tensor]:
        common = encode_kwargs(self.pipe, self.family, self.negative_prompt, self.cfg)
        common["device"] = self.device
        if self.capacity:
            common |= self._negative
        out = self.family.embeds(self.pipe.encode_prompt(prompt, **common))
        if not self.cfg:
            out = {k: v for k, v in out.items() if not k.startswith("negative_")}
        elif self.capacity and not self._negative:
            self._negative = {k: v for k, v in out.items() if k.startswith("negative_")}
        return out

    def get(self, prompt: str) -> dict[str, torch.Tensor]:
        """The embedding tensors (batch 1) of ``prompt``."""
        if not self.capacity:
            return self._encode(prompt)
        if prompt in self._cache:
            self._cache.move_to_end(prompt)
        else:
            self._cache[prompt] = self._encode(prompt)
            if len(self._cache) > self.capacity:
                self._cache.popitem(last=False)
        return self._cache[prompt]

    def batch(self, prompts: Sequence[str]) -> dict[str, Any]:
        """Pipeline keyword arguments for a batch of prompts."""
        if self.family is GENERIC:
            out = {"prompt": list(prompts)}
            if self.cfg and self.negative_prompt:
                out["negative_prompt"] = [self.negative_prompt] * len(prompts)
            return out
        parts = [self.get(p) for p in prompts]
        out = {name: torch.cat([p[name] for p in parts]) for name in parts[0]}
        if self.family.cfg and call_default(self.pipe, "negative_prompt") is not None:
            out["negative_prompt"] = None  # PixArt's "" would clash with the embeddings
        return out


def sampler_kwargs(pipe, spec: dict[str, Any]) -> dict[str, Any]:
    """Keyword arguments of the pipeline call that come from the model's config entry.

    ``pipe`` is a pipeline or its class: its call's signature decides which of the guidance
    scale, ``eta``, height and width go in (FLUX's guidance scale is its guidance embedding).
    """
    accepted = call_parameters(pipe)
    kwargs = {
        "num_inference_steps": spec["steps"],
        "guidance_scale": spec["guidance"],
        "height": spec["resolution"],
        "width": spec["resolution"],
        "eta": spec.get("scheduler", {}).get("eta", 0.0),
    }
    return {k: v for k, v in kwargs.items() if k == "num_inference_steps" or k in accepted}


def to_uint8(images: np.ndarray) -> np.ndarray:
    """Floats in [0, 1] -> uint8, rounding as diffusers' ``numpy_to_pil`` does."""
    return (np.clip(images, 0.0, 1.0) * 255).round().astype(np.uint8)


def tensor_to_uint8(images: torch.Tensor) -> np.ndarray:
    """(B, 3, H, W) floats in [0, 1] on any device -> (B, H, W, 3) uint8 on the host.

    The same arithmetic as ``to_uint8`` (float32 multiply, round half to even), done on the
    device so that one small uint8 tensor, not a float32 one, crosses to the host per batch.
    """
    images = (images.float().clamp(0.0, 1.0) * 255).round().to(torch.uint8)
    return images.permute(0, 2, 3, 1).cpu().numpy()


def render_batch(
    pipe,
    embeddings: PromptEmbeddings,
    items: Sequence[Item],
    spec: dict[str, Any],
    extra: dict[str, Any] | None = None,
    callback: Callable | None = None,
    generators: list[torch.Generator] | None = None,
    fast: bool = True,
) -> np.ndarray:
    """Render ``items`` in one pipeline call; returns uint8 images of shape (B, H, W, 3).

    ``generators`` replaces the items' own seed generators (the seed-swap study reseeds them).
    ``fast=False`` is the plain path (float images through numpy, as diffusers returns them);
    both give the same bytes.
    """
    kwargs = embeddings.batch([it.prompt for it in items]) | sampler_kwargs(pipe, spec)
    kwargs["generator"] = generators or [seed_generator(it.seed) for it in items]
    if callback is not None:
        kwargs["callback_on_step_end"] = callback
    with torch.inference_mode():
        out = pipe(output_type="pt" if fast else "np", **kwargs, **(extra or {}))
        return tensor_to_uint8(out.images) if fast else to_uint8(out.images)


def shard_items(prompts: Sequence[dict[str, Any]], seeds: Sequence[int]) -> list[Item]:
    """Every prompt x every seed, prompt-major (so a prompt's embedding is reused at once)."""
    return [Item(p["id"], p["text"], s) for p in prompts for s in seeds]


def prompts_digest(prompts: Sequence[dict[str, Any]]) -> str:
    """A sha256 over the prompt ids and texts, part of a shard's identity."""
    return json_sha256([[p["id"], p["text"]] for p in prompts])


@functools.cache
def cpu_name() -> str:
    """The CPU's model name (``/proc/cpuinfo`` on Linux, else ``platform``), looked up once."""
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                key, _, value = line.partition(":")
                if key.strip() == "model name" and value.strip():
                    return value.strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown cpu"


@functools.cache
def _cuda_name(index: int) -> str:
    return torch.cuda.get_device_name(index)


def device_name(device: torch.device) -> str:
    """The hardware that renders on ``device``: the GPU's name on CUDA, else the CPU model."""
    if device.type == "cuda":
        return _cuda_name(device.index if device.index is not None else torch.cuda.current_device())
    return cpu_name()


def software_versions() -> dict[str, Any]:
    """Versions of the software an image's floats depend on.

    ``cuda`` and ``cudnn`` are those torch was built with and loads (None for a CPU-only build).
    """
    import diffusers
    import transformers

    return {
        "seedscope": seedscope.__version__,
        "torch": str(torch.__version__),
        "diffusers": diffusers.__version__,
        "transformers": transformers.__version__,
        "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version(),
    }


def run_context(pipe) -> dict[str, Any]:
    """What every image of a job shares: device and its name, dtype, threads, versions.

    Computed once per job; part of each image's metadata and of its shard's identity.
    """
    module = getattr(pipe, "unet", None)
    if module is None:  # not ``or``: a torch.compile'd module has no truth value
        module = getattr(pipe, "transformer", None)
    device = pipe._execution_device
    return {
        "scheduler_class": type(pipe.scheduler).__name__,
        "device": device.type,
        "device_name": device_name(device),
        "dtype": str(module.dtype if module is not None else pipe.dtype).removeprefix("torch."),
        "threads": torch.get_num_threads(),
        "versions": software_versions(),
    }


def image_metadata(
    model: str,
    spec: dict,
    prompt_set: str,
    item: Item,
    batch: Sequence[Item],
    position: int,
    context: dict[str, Any],
) -> dict[str, Any]:
    """Everything needed to render this one image again."""
    return {
        "key": image_key(item.prompt_id, item.seed),
        "model": model,
        "model_spec": spec,
        "prompt_set": prompt_set,
        "prompt_id": item.prompt_id,
        "prompt": item.prompt,
        "seed": item.seed,
        "batch": {
            "position": position,
            "members": [[b.prompt_id, b.prompt, b.seed] for b in batch],
        },
    } | context


def render_shard(
    pipe,
    model: str,
    spec: dict[str, Any],
    prompt_set: str,
    prompts: Sequence[dict[str, Any]],
    seeds: Sequence[int],
    shard: str | Path,
    chunk_size: int,
    png_compress_level: int = 6,
    encoder_threads: int = 2,
    progress=None,
    fast: bool = True,
    conditioning: Callable[[Sequence[Item]], dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Render every prompt x seed into ``shard``, resuming from the last completed chunk.

    ``progress``, if given, is a tqdm-like object updated once per image. ``fast=False`` is
    the plain path: no embedding cache, float images through numpy, PNGs encoded in line,
    glibc's allocator left as it is; it writes the same bytes and exists to prove that.
    ``conditioning(batch)``, when given, returns the extra pipeline inputs of a batch (the
    inpainting study's images and masks, one per item); each image's metadata also records
    its prompt row's ``meta`` (e.g. the pair id and task).
    The chunked, resumable writing is ``seedscope.render_driver.render_resumable``'s.
    Returns a summary (images, chunks, chunks rendered in this call, seconds).
    """
    if fast:
        tune_allocator()
    items = shard_items(prompts, seeds)
    prompt_meta = {p["id"]: p.get("meta", {}) for p in prompts}
    context = run_context(pipe)
    identity = {
        "model": model,
        "model_spec": spec,
        "prompt_set": prompt_set,
        "prompts_sha256": prompts_digest(prompts),
        "seeds": [min(seeds), max(seeds)],
        "chunk_size": chunk_size,
        "png_compress_level": png_compress_level,
    } | context  # the same software and hardware: a partial shard from other ones starts over
    negative, guidance = spec.get("negative_prompt", ""), spec["guidance"]
    embeddings = PromptEmbeddings(pipe, negative, guidance, capacity=256 if fast else 0)

    def render(batch: Sequence[Item]) -> np.ndarray:
        extra = conditioning(batch) if conditioning is not None else None
        return render_batch(pipe, embeddings, batch, spec, extra=extra, fast=fast)

    def describe(item: Item, batch: Sequence[Item], position: int) -> dict[str, Any]:
        meta = image_metadata(model, spec, prompt_set, item, batch, position, context)
        if conditioning is not None:
            meta["prompt_meta"] = prompt_meta[item.prompt_id]
        return meta

    return render_resumable(
        shard,
        identity,
        items,
        chunk_size,
        spec["batch_size"],
        render,
        describe,
        png_compress_level=png_compress_level,
        encoder_threads=encoder_threads,
        in_line=not fast,
        progress=progress,
        log=log,
    )


def check_conditioning(meta: dict[str, Any], conditioning) -> None:
    """Raise ``DataError`` when an inpainted image (its metadata names a pair) comes without
    the conditioning it was rendered with."""
    pair = meta.get("prompt_meta", {}).get("pair_id")
    if pair is not None and conditioning is None:
        raise DataError(
            f"image {meta['key']} was inpainted from pair {pair}: give the pair set it was "
            "rendered from (seedscope rerender --pairs results/<run>/inpainting/pairs)"
        )


def rerender(
    meta: dict[str, Any],
    pipe,
    exact: bool = True,
    conditioning: Callable[[Sequence[Item]], dict[str, Any]] | None = None,
) -> np.ndarray:
    """Render the image described by a shard's metadata again; returns HxWx3 uint8.

    ``exact=True`` renders the image's whole original batch, which reproduces it bit for bit
    on the same device type and thread count. ``exact=False`` renders it alone (batch 1),
    which agrees within float round-off: at most a few uint8 levels on a few pixels.
    ``conditioning`` is what ``render_shard`` was given: an inpainted image (its metadata
    names a pair) needs it (``seedscope.inpainting.render.shard_conditioning``).
    """
    check_conditioning(meta, conditioning)
    spec = meta["model_spec"]
    embeddings = PromptEmbeddings(pipe, spec.get("negative_prompt", ""), spec["guidance"])
    if exact:
        batch = [Item(pid, text, seed) for pid, text, seed in meta["batch"]["members"]]
        position = meta["batch"]["position"]
    else:
        batch, position = [Item(meta["prompt_id"], meta["prompt"], meta["seed"])], 0
    extra = conditioning(batch) if conditioning is not None else None
    return render_batch(pipe, embeddings, batch, spec, extra=extra)[position]
