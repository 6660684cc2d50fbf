"""Extract one feature table from one image shard: every image is decoded once per extractor."""

from __future__ import annotations

import io
import os
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


def _prompts(reader: ShardReader, prompts_by_id: dict[str, str], where: str) -> list[str]:
    """The prompt text of every image, checked against the text stored with the image."""
    texts = []
    for entry in reader.entries:
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


def extract_shard(
    shard_path: str | Path,
    extractor: Any,
    prompts_by_id: dict[str, str] | None = None,
    batch_size: int | None = None,
    progress: Any = None,
) -> FeatureTable:
    """Verify ``shard_path``, decode each image once and run ``extractor`` on it in batches.

    Rows follow the manifest's key order. ``prompts_by_id`` maps prompt ids to texts (needed by
    extractors that score prompts, e.g. HPS). ``progress`` (tqdm-like) gets ``update(n)`` per
    batch. A shard that fails :func:`seedscope.shards.verify` raises its ``ShardError``.
    """
    shard = Path(shard_path)
    verify(shard)
    batch_size = batch_size or extractor.batch_size
    with ShardReader(shard) as reader:
        entries = reader.entries
        prompts = None
        if getattr(extractor, "needs_prompts", False):
            prompts = _prompts(reader, prompts_by_id or {}, str(shard))
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
