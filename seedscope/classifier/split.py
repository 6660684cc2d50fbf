"""Text-disjoint train/val/test splits of prompts for the seed classifier.

Splitting by prompt id is not enough: COCO has duplicate captions, and the captioner's
empty-caption fallback gives many prompts the same text. Identical texts render near-identical
images for a seed, so a prompt text on both sides of a split leaks test images into training.
Prompts are therefore grouped by their normalised text (``normalise_text``) and every group goes
to one split as a whole.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from seedscope.errors import ConfigError, DataError

SPLITS = ("train", "val", "test")


def _is_edge(char: str) -> bool:
    return char.isspace() or unicodedata.category(char).startswith("P")


def normalise_text(text: str) -> str:
    """The form under which two prompt texts count as the same text.

    Unicode NFKC (full-width letters, ligatures and compatibility spaces become their plain
    forms), case folding (``str.casefold``, then NFKC again, as Unicode's NFKC_Casefold), every
    run of whitespace collapsed to one space, and whitespace and punctuation (Unicode categories
    P*) stripped from both ends. ``"  A  Dog on the Beach. "`` and ``"a dog on the beach"`` are
    the same text; ``"a dog, on the beach"`` is not.
    """
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())
    collapsed = " ".join(folded.split())
    start, end = 0, len(collapsed)
    while start < end and _is_edge(collapsed[start]):
        start += 1
    while end > start and _is_edge(collapsed[end - 1]):
        end -= 1
    return collapsed[start:end]


def _groups(prompts: Mapping[str, str] | Iterable[tuple[str, str]]) -> list[list[str]]:
    """Prompt ids grouped by normalised text: groups sorted by text, ids sorted in a group."""
    items = prompts.items() if isinstance(prompts, Mapping) else prompts
    text_of: dict[str, str] = {}
    for item in items:
        if isinstance(item, str) or len(item) != 2:
            raise TypeError(
                f"split_prompts needs (prompt id, text) pairs or an id -> text mapping, got "
                f"{item!r}: the split groups prompts by their text"
            )
        prompt_id, text = item
        if text_of.setdefault(prompt_id, text) != text:
            raise DataError(
                f"prompt id {prompt_id!r} has two texts, {text_of[prompt_id]!r} and {text!r}; "
                "prompt ids must be unique across the classifier's prompt sets"
            )
    by_text: dict[str, list[str]] = {}
    for prompt_id, text in text_of.items():
        by_text.setdefault(normalise_text(text), []).append(prompt_id)
    return [sorted(by_text[text]) for text in sorted(by_text)]


def _counts(fractions: Sequence[float] | Mapping[str, int], n: int) -> list[int]:
    """Prompts wanted per split, from fractions of ``n`` or from explicit counts."""
    if isinstance(fractions, Mapping):
        if set(fractions) != set(SPLITS) or any(int(v) < 1 for v in fractions.values()):
            raise ConfigError(
                f"split counts {dict(fractions)} must give a positive count for exactly "
                f"{', '.join(SPLITS)}"
            )
        counts = [int(fractions[s]) for s in SPLITS]
        if sum(counts) > n:
            raise DataError(
                f"the split needs {sum(counts)} distinct prompts (train {counts[0]} + val "
                f"{counts[1]} + test {counts[2]}) but only {n} are available; lower the "
                "counts or generate images for more prompts"
            )
        return counts
    fr = [float(f) for f in fractions]
    if len(fr) != 3 or any(f < 0 for f in fr) or sum(fr) > 1 + 1e-9:
        raise ConfigError(
            f"split fractions {tuple(fractions)} must be three non-negative numbers "
            "(train, val, test) summing to at most 1"
        )
    bounds = np.round(np.cumsum(fr) * n).astype(int)
    return [int(c) for c in np.diff(np.concatenate([[0], bounds]))]


def split_prompts(
    prompts: Mapping[str, str] | Iterable[tuple[str, str]],
    fractions: Sequence[float] | Mapping[str, int] = (0.8, 0.1, 0.1),
    seed: int = 0,
) -> dict[str, list[str]]:
    """Split prompts into text-disjoint ``train``/``val``/``test`` id lists, fixed by ``seed``.

    ``prompts`` maps prompt ids to texts (a mapping or ``(id, text)`` pairs; an id repeated with
    the same text counts once, with another text raises ``DataError``). ``fractions`` is either
    three fractions (train, val, test; sum at most 1) or a dict of prompt counts, e.g.
    ``{"train": 9000, "val": 1000, "test": 1000}`` as in the paper.

    Prompts whose texts are equal after ``normalise_text`` form one group, and a group is never
    split: the groups are shuffled by ``seed`` and laid end to end, and each group goes to the
    split whose share of that line holds its first prompt (prompts past the last share are left
    out). A split therefore gets its count to within the size of the largest group at each of
    its ends (exactly, when all texts differ). The result depends neither on the order nor on the
    repetition of ``prompts``; ids keep the shuffled group order.
    """
    groups = _groups(prompts)
    n = sum(len(g) for g in groups)
    counts = _counts(fractions, n)
    bounds = np.cumsum(counts)
    order = np.random.default_rng(seed).permutation(len(groups))
    split: dict[str, list[str]] = {s: [] for s in SPLITS}
    start = 0
    for index in order:
        which = int(np.searchsorted(bounds, start, side="right"))
        if which == len(SPLITS):
            break
        split[SPLITS[which]].extend(groups[index])
        start += len(groups[index])
    empty = [s for s in SPLITS if not split[s]]
    if empty:
        largest = max(groups, key=len, default=[])
        raise DataError(
            f"split {fractions} of {n} prompts ({len(groups)} distinct texts, the most common "
            f"shared by {len(largest)} prompts) leaves {', '.join(empty)} empty; each split "
            "needs at least one prompt, so use more prompts with distinct texts and fractions "
            "or counts that give each split one"
        )
    return split
