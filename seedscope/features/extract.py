"""Extract one feature table from one image shard: every image is decoded once per extractor."""

from __future__ import annotations

import io
import os
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from seedscope.errors import FeatureError
from seedscope.features.table import FeatureTable
from seedscope.files import file_sha256
from seedscope.shards import ShardReader, manifest_path, verify


def decode_png(data: bytes) -> np.ndarray:
    """PNG bytes -> HxWx3 uint8 RGB array."""
    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image.convert("RGB"))


def _prompts(
    reader: ShardReader, entries: list, prompts_by_id: dict[str, str], where: str
) -> list[str]:
    """The prompt text of every image, checked against the text stored with the image."""
    texts = []
    for entry in entries:
        if entry.prompt_id not in prompts_by_id:
            raise FeatureError(
                f"prompt {entry.prompt_id!r} of image {entry.key} in shard {where} is not in the "
                "prompt file given; pass the prompt set the shard was rendered from"
            )
        text = prompts_by_id[entry.prompt_id]
        stored = reader.meta(entry.key).get("prompt")
        if stored is not None and stored != text:
            raise FeatureError(
                f"image {entry.key} in shard {where} was rendered from the prompt {stored!r} but "
                f"the prompt file says {text!r}: the prompt set changed after rendering; rerun "
                "the workflow so that the shard is rendered again"
            )
        texts.append(text)
    return texts


def _objects(entries: list, objects_by_id: dict[str, str], where: str) -> list[str]:
    """The object named by each image's prompt (synthetic sets: the row's ``meta.object``)."""
    missing = [e.prompt_id for e in entries if e.prompt_id not in objects_by_id]
    if missing:
        raise FeatureError(
            f"prompt {missing[0]!r} of shard {where} names no object; the layout extractor "
            "reads synthetic prompt sets, whose rows carry meta.object"
        )
    return [objects_by_id[e.prompt_id] for e in entries]


class _LazyMasks(list):
    """The masks of a list of entries, read from a mapping only when a batch asks for them."""

    def __init__(self, entries: list, masks: Mapping[str, np.ndarray]):
        super().__init__(e.prompt_id for e in entries)
        self.masks = masks

    def __getitem__(self, index):
        ids = super().__getitem__(index)
        return [self.masks[i] for i in ids] if isinstance(index, slice) else self.masks[ids]


def _masks(entries: list, masks_by_id: Mapping[str, np.ndarray], where: str) -> list:
    """Each image's inpainting mask (read lazily, batch by batch)."""
    missing = [e.prompt_id for e in entries if e.prompt_id not in masks_by_id]
    if missing:
        raise FeatureError(
            f"prompt {missing[0]!r} of shard {where} has no mask; the OCR extractor reads "
            "inpaint prompt sets, whose rows name their image-mask pair"
        )
    return _LazyMasks(entries, masks_by_id)


def extract_shard(
    shard_path: str | Path,
    extractor: Any,
    prompts_by_id: dict[str, str] | None = None,
    batch_size: int | None = None,
    progress: Any = None,
    keep_prompts: set[str] | None = None,
    objects_by_id: dict[str, str] | None = None,
    masks_by_id: Mapping[str, np.ndarray] | None = None,
) -> FeatureTable:
    """Verify ``shard_path``, decode each image once and run ``extractor`` on it in batches.

    Rows follow the manifest's key order. ``prompts_by_id`` maps prompt ids to texts (needed by
    extractors that score prompts, e.g. HPS); ``objects_by_id`` maps them to the object each
    prompt names (extractors with ``needs_objects``, e.g. layout), ``masks_by_id`` to the
    inpainting mask of its image (extractors with ``needs_masks``, e.g. OCR). ``keep_prompts``, when
    given, restricts the table to the images of those prompt ids (the style stage's analysis
    sample). ``progress`` (tqdm-like) gets ``update(n)`` per batch. A shard that fails
    :func:`seedscope.shards.verify` raises its ``ShardError``.
    """
    shard = Path(shard_path)
    verify(shard)
    batch_size = batch_size or extractor.batch_size
    with ShardReader(shard) as reader:
        entries = reader.entries
        if keep_prompts is not None:
            entries = [e for e in entries if e.prompt_id in keep_prompts]
        prompts = None
        if getattr(extractor, "needs_prompts", False):
            prompts = _prompts(reader, entries, prompts_by_id or {}, str(shard))
        elif getattr(extractor, "needs_objects", False):
            prompts = _objects(entries, objects_by_id or {}, str(shard))
        elif getattr(extractor, "needs_masks", False):
            prompts = _masks(entries, masks_by_id or {}, str(shard))
        rows = []
        with ThreadPoolExecutor(min(4, os.cpu_count() or 1)) as pool:
            for start in range(0, len(entries), batch_size):
                batch = entries[start : start + batch_size]
                pngs = [reader.png(e.key) for e in batch]  # reads stay on this thread
                images = list(pool.map(decode_png, pngs))
                texts = prompts[start : start + batch_size] if prompts is not None else None
                rows.append(np.asarray(extractor(images, texts), dtype=np.float32))
                if progress is not None:
                    progress.update(len(batch))
    features = np.concatenate(rows) if rows else np.zeros((0, extractor.dim), np.float32)
    if features.shape != (len(entries), extractor.dim):
        raise FeatureError(
            f"extractor {extractor.meta.get('extractor')} returned features of shape "
            f"{features.shape} for {len(entries)} images of {shard}, expected "
            f"({len(entries)}, {extractor.dim})"
        )
    meta = dict(extractor.meta) | {
        "shard": shard.name,
        "manifest_sha256": file_sha256(manifest_path(shard)),
        "images": len(entries),
    }
    return FeatureTable(
        keys=[e.key for e in entries],
        seeds=[e.seed for e in entries],
        prompt_ids=[e.prompt_id for e in entries],
        features=features,
        meta=meta,
    )
