"""Analysis and evaluation prompts of the diverse-seed study (paper section 4.4, Table 2).

Diverse seeds are chosen by farthest point sampling on seed features measured on *analysis*
prompts and scored on *evaluation* prompts the choice never saw, so that Table 2 measures how
a seed's style or layout carries over to new prompts, not how well FPS fits its own data.

- Layout: one synthetic prompt set (object x modifier, ``layout.prompt_set``) is split in two
  halves by :func:`layout_split`, stratified by object.
- Style: the analysis prompts are those of the style stage (``style.prompt_sets``, a sample of
  ``style.prompts`` each); the evaluation prompts are a seeded sample of another prompt set
  (``diverse.style_set``, :func:`style_evaluation`).

:func:`check_disjoint` refuses analysis and evaluation prompts that overlap.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from seedscope.errors import ConfigError
from seedscope.style.sample import sample_prompts

# what -> how to fix an overlap, naming the config keys involved
FIXES = {
    "style": (
        "diverse.style_set must name a prompt set other than those in style.prompt_sets: the "
        "style FPS features are measured on style.prompt_sets, so the evaluation prompts must "
        "come from elsewhere"
    ),
    "layout": (
        "the layout analysis and evaluation prompts must be the two halves of one "
        "seedscope.diverse.split.layout_split of layout.prompt_set (disjoint by construction); "
        "pass both halves of the same split (same diverse.split_seed)"
    ),
}


def layout_split(rows: Sequence[dict[str, Any]], seed: int) -> tuple[list[str], list[str]]:
    """The synthetic prompts ``rows`` split into ``(analysis_ids, evaluation_ids)``.

    Stratified by object: the prompts of each object (``meta.object``; one per modifier) are
    shuffled with one ``numpy.random.default_rng(seed)``, objects taken in order of first
    appearance, and the first half go to the analysis side, the rest to the evaluation side.
    With an odd count the extra prompt goes to the **analysis** side (``ceil(n / 2)``
    analysis, ``floor(n / 2)`` evaluation): FPS features then cover every object, and an
    object with a single modifier is not evaluated at all. Each side lists ids in file order.
    The result depends only on the rows (in file order) and ``seed``: every model gets the same
    split.

    Raises ``ConfigError`` for rows without ``meta.object`` (not a synthetic set), duplicate
    ids, or an empty evaluation side.
    """
    by_object: dict[str, list[int]] = {}
    for i, row in enumerate(rows):
        obj = (row.get("meta") or {}).get("object")
        if not isinstance(obj, str) or not obj:
            raise ConfigError(
                f"layout split: prompt {row.get('id')!r} has no meta.object; layout.prompt_set "
                "must name a synthetic prompt set (kind synthetic: object x modifier rows)"
            )
        by_object.setdefault(obj, []).append(i)
    ids = [str(row["id"]) for row in rows]
    if len(set(ids)) != len(ids):
        raise ConfigError("layout split: the prompt rows hold duplicate ids")
    rng = np.random.default_rng(seed)
    analysis = np.zeros(len(rows), dtype=bool)
    for members in by_object.values():
        order = rng.permutation(len(members))
        half = (len(members) + 1) // 2
        analysis[[members[j] for j in order[:half]]] = True
    if analysis.all():
        raise ConfigError(
            "layout split: no evaluation prompts, since every object has a single modifier; "
            "give the synthetic set of layout.prompt_set at least two modifiers"
        )
    return (
        [p for p, a in zip(ids, analysis, strict=True) if a],
        [p for p, a in zip(ids, analysis, strict=True) if not a],
    )


def style_evaluation(prompt_ids: Sequence[str], count: int | None, seed: int) -> list[str]:
    """The style evaluation prompts: ``count`` of ``prompt_ids`` (the set ``diverse.style_set``,
    file order) drawn by :func:`seedscope.style.sample.sample_prompts` with ``seed``; all of
    them when ``count`` is None. Returned in file order."""
    ids = list(prompt_ids)
    if count is None:
        return ids
    if not 2 <= count <= len(ids):
        raise ConfigError(
            f"config key diverse.style_prompts: {count} style evaluation prompts asked for but "
            f"the set diverse.style_set holds {len(ids)}; choose between 2 and {len(ids)} (a "
            "diversity interval needs at least 2 prompts), or null for all of them"
        )
    return sample_prompts(ids, count, seed)


def check_disjoint(analysis_ids: Iterable[str], evaluation_ids: Iterable[str], what: str) -> None:
    """Raise ``ConfigError`` if analysis and evaluation prompts share an id.

    ``what`` is ``"style"`` or ``"layout"`` (the message then names the config keys to fix) or
    any other label. Prompt ids carry their set's name, so prompts of two different sets never
    share an id; this catches a set used on both sides, or halves of two different splits.
    """
    shared = sorted(set(map(str, analysis_ids)) & set(map(str, evaluation_ids)))
    if not shared:
        return
    shown = ", ".join(shared[:5]) + (f" and {len(shared) - 5} more" if len(shared) > 5 else "")
    fix = FIXES.get(what, "choose evaluation prompts the seeds were not chosen on")
    raise ConfigError(
        f"diverse seeds ({what}): {len(shared)} prompt(s) are both analysis prompts (where "
        f"FPS chooses the seeds) and evaluation prompts (where Table 2 scores them): {shown}. "
        f"{fix}"
    )


def evaluation_ids(
    rows: Sequence[dict[str, Any]], prompt_set: str, evaluation: dict[str, Any]
) -> list[str]:
    """The evaluation prompt ids of ``prompt_set`` (its rows ``rows``): the evaluation half of
    the layout split on ``evaluation["layout_set"]``, else the style evaluation sample.
    ``evaluation`` holds ``layout_set``, ``split_seed``, ``style_prompts`` and ``seed``."""
    if prompt_set == evaluation["layout_set"]:
        return layout_split(rows, evaluation["split_seed"])[1]
    return style_evaluation(
        [r["id"] for r in rows], evaluation["style_prompts"], evaluation["seed"]
    )
