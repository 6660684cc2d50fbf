"""Reference features of real images: the COCO images whose captions formed a prompt set.

A COCO prompt row keeps the image it describes in ``meta["image"]`` (the name as listed by
:func:`seedscope.prompts.coco.list_images`: ``train2017/000000000009.jpg`` in the zip,
``000000000009.jpg`` in a folder). The images are read through
:mod:`seedscope.prompts.coco` from the same kinds of source (zip, folder, demo folder), never
unpacked.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from seedscope.errors import DataError, FeatureError
from seedscope.features.table import FeatureTable
from seedscope.files import json_sha256
from seedscope.prompts.coco import list_images, open_image

FIX = (
    "point coco.path (coco.images: zip or folder) at the COCO train2017 images that were "
    "captioned, or lower the number of reference images needed (coco.parts)"
)


def _available(source: Path, needed: int) -> list[str]:
    kind = "folder" if source.is_dir() else "zip"
    try:
        names = list_images(source)
    except DataError:
        if not source.exists():
            raise
        names = []  # an empty folder or zip
    if len(names) < needed:
        raise FeatureError(
            f"reference {kind} {source} has {len(names)} images, at least {needed} needed "
            f"(the real images whose captions formed the prompt set); {FIX}"
        )
    return names


def match_images(source: str | Path, rows: Sequence[dict[str, Any]]) -> list[str]:
    """The name in ``source`` of each row's ``meta["image"]`` (exact, else a unique basename)."""
    source = Path(source)
    wanted = []
    for row in rows:
        image = row.get("meta", {}).get("image")
        if not isinstance(image, str) or not image:
            raise FeatureError(
                f"prompt {row.get('id')!r} (set {row.get('set')!r}) names no COCO image in "
                "meta.image; reference features need a COCO caption prompt set"
            )
        wanted.append(image)
    names = _available(source, len(rows))
    exact = set(names)
    by_base: dict[str, list[str]] = {}
    for name in names:
        by_base.setdefault(name.rsplit("/", 1)[-1], []).append(name)
    found, missing = [], []
    for image in wanted:
        base = by_base.get(image.rsplit("/", 1)[-1], [])
        name = image if image in exact else (base[0] if len(base) == 1 else None)
        if name is None:
            missing.append(image)
        found.append(name)
    if missing:
        raise FeatureError(
            f"{len(missing)} of the {len(rows)} captioned images are not in {source} "
            f"(first: {missing[:5]}); {FIX}"
        )
    return found


def reference_table(
    image_source: str | Path,
    rows: Sequence[dict[str, Any]],
    extractor: Any,
    n_images: int | None = None,
    batch_size: int | None = None,
    progress: Any = None,
) -> FeatureTable:
    """Features of the real images behind the first ``n_images`` prompt ``rows`` (all if None).

    Keys are the image names, ``prompt_ids`` the rows' ids and seeds -1. Raises
    :class:`FeatureError` if the source holds fewer images than needed or lacks one of them.
    """
    rows = list(rows)
    needed = len(rows) if n_images is None else n_images
    if needed > len(rows):
        raise FeatureError(
            f"{needed} reference images requested but the prompt set has only {len(rows)} "
            "prompts; lower the number requested"
        )
    rows = rows[:needed]
    names = match_images(image_source, rows)
    batch_size = batch_size or extractor.batch_size
    out = []
    for start in range(0, len(rows), batch_size):
        batch = names[start : start + batch_size]
        images = [np.asarray(open_image(image_source, name)) for name in batch]
        texts = [row["text"] for row in rows[start : start + batch_size]]
        out.append(np.asarray(extractor(images, texts), dtype=np.float32))
        if progress is not None:
            progress.update(len(batch))
    features = np.concatenate(out) if out else np.zeros((0, extractor.dim), np.float32)
    meta = dict(extractor.meta) | {
        "reference": Path(image_source).name,
        "prompt_set": rows[0]["set"] if rows else None,
        "images": len(rows),
        "images_sha256": json_sha256(names),
    }
    return FeatureTable(
        keys=names,
        seeds=np.full(len(rows), -1),
        prompt_ids=[row["id"] for row in rows],
        features=features,
        meta=meta,
    )
