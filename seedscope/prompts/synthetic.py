"""Synthetic prompts: every object category with every modifier ("a photo of a red apple")."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from seedscope.errors import ConfigError
from seedscope.prompts.rows import prompt_id

# 40 of COCO's 80 object categories and 22 modifiers (the bare object included): 880 prompts,
# the size of the paper's synthetic set.
PAPER_OBJECTS: tuple[str, ...] = (
    "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat",
    "bench", "bird", "cat", "dog", "horse", "sheep", "cow", "elephant", "bear", "zebra",
    "giraffe", "backpack", "umbrella", "suitcase", "bottle", "cup", "bowl", "banana", "apple",
    "orange", "pizza", "cake", "chair", "couch", "bed", "laptop", "clock", "vase", "teddy bear",
    "book", "potted plant",
)  # fmt: skip
PAPER_MODIFIERS: tuple[str, ...] = (
    "", "red", "blue", "green", "yellow", "black", "white", "wooden", "metal", "glass",
    "plastic", "small", "large", "old", "new", "vintage", "broken", "shiny", "toy", "painted",
    "cartoon", "golden",
)  # fmt: skip

VOWELS = "aeiouAEIOU"


def with_article(phrase: str) -> str:
    """``phrase`` with "a" or "an" in front, chosen by the first letter of its first word."""
    return ("an " if phrase[:1] in VOWELS else "a ") + phrase


def _clean(values: Sequence[str], what: str, allow_empty: bool) -> list[str]:
    if isinstance(values, str) or not values:
        raise ConfigError(f"synthetic prompts: {what} must be a non-empty list of strings")
    cleaned = [" ".join(str(v).split()) for v in values]
    for raw, value in zip(values, cleaned, strict=True):
        if not value and not allow_empty:
            raise ConfigError(f"synthetic prompts: empty entry {raw!r} in {what}")
    duplicates = sorted({v for v in cleaned if cleaned.count(v) > 1})
    if duplicates:
        raise ConfigError(f"synthetic prompts: duplicate {what} {duplicates}; list each one once")
    return cleaned


def make_synthetic_prompts(
    set_name: str,
    objects: Sequence[str],
    modifiers: Sequence[str],
    template: str = "a photo of {phrase}",
) -> list[dict[str, Any]]:
    """Prompt rows for every object x every modifier, object-major.

    The phrase is article + modifier + object ("a red apple", "an apple" for the empty
    modifier ""), put into ``template`` at ``{phrase}``. ``meta`` holds the object and the
    modifier. Raises ``ConfigError`` for duplicates, empty objects or a template without
    ``{phrase}``.
    """
    if "{phrase}" not in template:
        raise ConfigError(
            f"synthetic prompts: template {template!r} has no {{phrase}} placeholder; "
            "use e.g. 'a photo of {phrase}'"
        )
    objects = _clean(objects, "objects", allow_empty=False)
    modifiers = _clean(modifiers, "modifiers", allow_empty=True)
    rows = []
    for obj in objects:
        for modifier in modifiers:
            phrase = with_article(f"{modifier} {obj}".strip())
            rows.append(
                {
                    "id": prompt_id(set_name, len(rows)),
                    "text": template.replace("{phrase}", phrase),
                    "set": set_name,
                    "meta": {"object": obj, "modifier": modifier},
                }
            )
    return rows
