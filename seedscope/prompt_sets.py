"""Build one configured prompt set (synthetic, PartiPrompts or COCO captions) as prompt rows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from seedscope.prompts.coco import split_parts
from seedscope.prompts.parti import load_parti
from seedscope.prompts.rows import prompt_id, read_prompts
from seedscope.prompts.synthetic import make_synthetic_prompts


def build_prompt_set(
    name: str,
    spec: dict[str, Any],
    coco_parts: list[int] | None = None,
    captions: str | Path | None = None,
    cache_dir: str | Path = "results/downloads",
    pairs: str | Path | None = None,
    removal_prompt: str | None = None,
) -> list[dict[str, Any]]:
    """The rows of prompt set ``name`` from its (validated) config entry ``spec``.

    COCO sets take part ``spec["part"]`` of the captions file, split into ``coco_parts``.
    Inpaint sets take every pair of the pair set in folder ``pairs``: the removal task with
    ``removal_prompt``, the completion task with each pair's category name.
    """
    kind = spec["kind"]
    if kind == "synthetic":
        return make_synthetic_prompts(name, spec["objects"], spec["modifiers"], spec["template"])
    if kind == "parti":
        return load_parti(
            source=spec["source"],
            url=spec["url"],
            sha256=spec["sha256"],
            path=spec["path"],
            limit=spec["limit"],
            sample_seed=spec["sample_seed"],
            set_name=name,
            cache_dir=cache_dir,
        )
    if kind == "coco":
        part = split_parts(read_prompts(captions), coco_parts)[spec["part"]]
        return [
            {
                "id": prompt_id(name, i),
                "text": row["text"],
                "set": name,
                "meta": row["meta"] | {"caption_id": row["id"]},
            }
            for i, row in enumerate(part)
        ]
    if kind == "inpaint":
        from seedscope.inpainting.pairs import inpainting_prompts, read_pair_set

        return inpainting_prompts(
            read_pair_set(pairs), spec["task"], removal_prompt or "", set_name=name
        )
    raise ValueError(f"unknown prompt set kind {kind!r}")
