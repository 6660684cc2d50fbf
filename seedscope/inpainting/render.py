"""What the engine needs to render an inpainting prompt set: each image's own image and mask.

An inpainting prompt row names its pair (``meta.pair_id``); :class:`PairConditioning` turns a
batch of items into the pipeline's ``image`` and ``mask_image`` lists, one entry per item, so
that each item's generator draws its own masked-image latent (the diffusers inpainting
pipeline draws it from the first generator when it is given a single image).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from seedscope.errors import DataError
from seedscope.inpainting.pairs import load_pair


class PairConditioning:
    """``conditioning(batch) -> {"image": [...], "mask_image": [...]}`` for the engine's
    ``render_shard``; pairs are read from ``folder`` (a pair set) and kept for reuse."""

    def __init__(self, folder: str | Path, prompts: Sequence[dict[str, Any]], resolution: int):
        self.folder, self.resolution = Path(folder), resolution
        self.pair_of = {}
        for row in prompts:
            pair = row.get("meta", {}).get("pair_id")
            if pair is None:
                raise DataError(
                    f"prompt {row['id']} names no pair (meta.pair_id): only inpainting prompt "
                    "sets (kind inpaint) can be rendered with image-mask pairs"
                )
            self.pair_of[row["id"]] = pair
        self._pair = lru_cache(maxsize=64)(self._load)

    def _load(self, pair_id: str) -> tuple[Image.Image, Image.Image]:
        image, mask = load_pair(self.folder, pair_id, self.resolution)
        return Image.fromarray(image), Image.fromarray(mask.astype("uint8") * 255)

    def __call__(self, batch: Sequence[Any]) -> dict[str, list[Image.Image]]:
        pairs = [self._pair(self.pair_of[item.prompt_id]) for item in batch]
        return {"image": [p[0] for p in pairs], "mask_image": [p[1] for p in pairs]}


class PairMasks(Mapping):
    """``{prompt id: bool mask}`` of an inpaint prompt set, each mask read from the pair set
    when first asked for (the OCR extractor measures text inside it)."""

    def __init__(self, folder: str | Path, prompts: Sequence[dict[str, Any]]):
        self.folder = Path(folder)
        self.pair_of = {r["id"]: r["meta"]["pair_id"] for r in prompts if "pair_id" in r["meta"]}
        self._mask = lru_cache(maxsize=64)(lambda pair: load_pair(self.folder, pair)[1])

    def __getitem__(self, prompt_id: str) -> np.ndarray:
        return self._mask(self.pair_of[prompt_id])

    def __iter__(self) -> Iterator[str]:
        return iter(self.pair_of)

    def __len__(self) -> int:
        return len(self.pair_of)


def shard_conditioning(reader, folder: str | Path) -> PairConditioning:
    """The conditioning a shard of an inpaint prompt set was rendered with, to render its
    images again (``seedscope rerender``): each prompt's pair, as the shard's metadata names
    it, read from the pair set ``folder`` at the shard's resolution."""
    first = {}
    for entry in reader.entries:
        first.setdefault(entry.prompt_id, entry.key)
    rows = [
        {"id": pid, "meta": reader.meta(key).get("prompt_meta", {})} for pid, key in first.items()
    ]
    resolution = reader.meta(reader.entries[0].key)["model_spec"]["resolution"]
    return PairConditioning(folder, rows, resolution)
