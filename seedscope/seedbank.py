"""The seed bank: per model, every studied seed with its statistics and tags, for use at inference.

A bank is a JSON file (``results/<run>/seedbank/<model>.json``) that names the model and the
sampler settings its statistics hold for, the hash of the run's config, and per seed its
statistics on each scored prompt set and its tags (``golden``, ``inferior``, the style tags
``grayscale``, ``sky`` and ``border``; an inpainting model's bank has ``text``). Use it like
this (the README's example, and a test runs it)::

    import torch
    from seedscope.seedbank import load_bank, load_pipeline, pick, pipeline_settings

    bank = load_bank("results/paper/seedbank/sd2.json")
    seeds = pick(bank, n=4, prefer=["golden"], avoid=["grayscale", "border"])  # or order="random"
    pipe = load_pipeline(bank, device="cuda")  # the studied class, weights, dtype, scheduler
    generators = [torch.Generator("cpu").manual_seed(s) for s in seeds]  # one per image
    images = pipe(
        ["a red bicycle by a lake"] * len(seeds),
        generator=generators,
        **pipeline_settings(bank)["call"],  # steps, guidance, size, eta, negative prompt
    ).images

``load_pipeline`` is plain diffusers, and ``pipeline_settings`` spells out every setting it
uses, so any code that calls diffusers the same way renders the studied images.

A seed is a noise recipe only for the model and sampler it was studied with: the statistics
carry over to other prompts (figs 6-7) but not to other models.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from seedscope.errors import SeedscopeError
from seedscope.files import json_sha256
from seedscope.study import LOWER_IS_BETTER_METRICS, SCORE_METRICS

FORMAT = 1
STAT_COLUMNS = (*LOWER_IS_BETTER_METRICS, *SCORE_METRICS)  # every per-seed metric
# Every key of a model's config entry that its images depend on (batch_size, channels_last and
# compile only at the float round-off level); ``build_bank`` adds the run's ``device``.
MODEL_KEYS = (
    "pipeline",
    "weights",
    "revision",
    "variant",
    "dtype",
    "resolution",
    "steps",
    "guidance",
    "negative_prompt",
    "scheduler",
    "batch_size",
    "channels_last",
    "compile",
)


class SeedBankError(SeedscopeError):
    """A seed bank file is missing or malformed, or cannot satisfy a request."""


def config_hash(config: dict[str, Any]) -> str:
    """sha256 of the config as canonical JSON (key-sorted), to tie a bank to its run."""
    return json_sha256(config, default=str)


def _stats(row: pd.Series) -> dict[str, float]:
    out = {}
    for column, value in row.items():
        if column.split("_")[0] in STAT_COLUMNS and not pd.isna(value):
            out[column] = int(value) if "rank" in column else float(value)
    return out


# Per-seed appearance columns a bank keeps (the tables hold more: counts, measure means).
APPEARANCE_TAGS = ("grayscale", "sky", "border")
APPEARANCE_COLUMNS = {
    "style": tuple(f"{f}_{c}" for f in APPEARANCE_TAGS for c in ("rate", "lo", "hi")),
    "style_map": ("x", "y"),
    "layout": ("detection_rate", "x_mean", "y_mean", "size_mean", "depth_mean"),
    "text": tuple(
        f"{task}_{c}"
        for task in ("removal", "completion")
        for c in ("ratio", "ratio_lo", "ratio_hi", "text_rate")
    ),
}


def _numbers(row: pd.Series, columns: Sequence[str]) -> dict[str, float | None]:
    """``columns`` of ``row`` as JSON numbers (None for a missing value: no detection)."""
    return {c: None if pd.isna(row[c]) else float(row[c]) for c in columns if c in row.index}


def build_bank(
    model: str,
    spec: dict[str, Any],
    per_set: dict[str, pd.DataFrame],
    tags: dict[str, Sequence[int]],
    selection: dict[str, Any] | None,
    config_sha256: str,
    device: str = "auto",
    appearance: dict[str, pd.DataFrame] | None = None,
    diverse: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A bank for ``model`` from its per-seed tables (``per_set[set]``) and tagged seed lists.

    Seeds are listed best first by ``quality_rank``: the mean of their ranks on the selection
    set's metrics (``selection["set"]``, ``selection["metrics"]``). ``bank["model"]`` holds the
    model's config entry ``spec`` (its ``MODEL_KEYS``) and the run's ``device`` setting, which
    decides what ``dtype: auto`` meant. ``appearance`` may hold the per-seed ``style`` table
    (its rates go to each seed's ``style`` entry and its ``grayscale``, ``sky`` and ``border``
    tags to the tags), the ``style_map`` (``style_map: {x, y}``) and the ``layout`` table
    (``layout``: detection rate and mean layout). An inpainting model's bank has no quality
    tables (``per_set`` empty, ``selection`` None): its ``text`` table gives each seed's
    per-task text ratios and the ``text`` tag, and seeds are listed fewest text first.
    ``diverse`` (the diverse-seed stage's sets: ``c`` and ``sets`` by feature, each a list of
    FPS runs of ``c`` seeds) becomes ``bank["diverse_style"]`` and ``bank["diverse_layout"]``,
    which ``pick(..., diverse=...)`` reads.
    """
    appearance = {k: v.set_index("seed") for k, v in (appearance or {}).items()}
    tags = dict(tags)
    if "style" in appearance:
        style = appearance["style"]
        for flag in APPEARANCE_TAGS:
            tags[flag] = style.index[style[f"{flag}_tag"].astype(bool)].tolist()
    if "text" in appearance:
        text = appearance["text"]
        tags["text"] = text.index[text["text_tag"].astype(bool)].tolist()
    indexed = {name: table.set_index("seed") for name, table in per_set.items()}
    if selection is None:  # an inpainting model: no quality scores, fewest text first
        ratios = [c for c in appearance["text"].columns if c.endswith("_ratio_rank")]
        quality = (-appearance["text"][ratios].mean(axis=1)).rank(method="average")
    else:
        main = indexed[selection["set"]]
        quality = main[[f"{m}_rank" for m in selection["metrics"]]].mean(axis=1)
    seeds = []
    for seed in quality.sort_values(kind="stable").index:
        seeds.append(
            {
                "seed": int(seed),
                "quality_rank": float(quality[seed]),
                "tags": sorted(tag for tag, members in tags.items() if seed in set(members)),
                "stats": {
                    name: _stats(table.loc[seed]) if seed in table.index else {}
                    for name, table in indexed.items()
                },
                **{
                    name: _numbers(table.loc[seed], APPEARANCE_COLUMNS[name])
                    for name, table in appearance.items()
                    if seed in table.index
                },
            }
        )
    return {
        "format": FORMAT,
        "model": {"name": model, **{k: spec.get(k) for k in MODEL_KEYS}, "device": device},
        "config_sha256": config_sha256,
        "selection": selection,
        "tags": {tag: sorted(int(s) for s in members) for tag, members in tags.items()},
        **{
            f"diverse_{feature}": runs
            for feature, runs in (diverse or {"sets": {}})["sets"].items()
        },
        "seeds": seeds,
    }


def save_bank(bank: dict[str, Any], path: str | Path) -> None:
    """Write a bank as indented JSON."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(bank, indent=1, allow_nan=False) + "\n")


def load_bank(path: str | Path) -> dict[str, Any]:
    """Read and check a bank; a missing or malformed file raises :class:`SeedBankError`."""
    path = Path(path)
    if not path.exists():
        raise SeedBankError(
            f"seed bank {path} does not exist; make it with "
            f"`snakemake --profile ... {path}` (rule seedbank), or check the path"
        )
    try:
        bank = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise SeedBankError(f"seed bank {path} is not valid JSON ({error}); rebuild it") from error
    if bank.get("format") != FORMAT or not isinstance(bank.get("seeds"), list):
        raise SeedBankError(
            f"seed bank {path} has format {bank.get('format')!r}, this seedscope reads {FORMAT}; "
            "rebuild it with this version"
        )
    return bank


def pick(
    bank: dict[str, Any],
    n: int,
    prefer: Sequence[str] | None = None,
    avoid: Sequence[str] = (),
    order: str = "best",
    seed: int | None = None,
    diverse: str | None = None,
    rank: str | None = None,
) -> list[int]:
    """``n`` distinct seeds: those with a ``prefer`` tag first, never one with an ``avoid`` tag.

    ``order="best"`` takes seeds by quality rank, or with ``rank`` (a metric such as ``fid``
    or ``pickscore``) by that metric's per-seed estimate on the bank's selection set, best
    first (lower first for FID and KID, higher for the scores: ``seedscope.study``); the
    preferred seeds still come first, each group in that order, and seeds without the
    estimate come last. ``order="random"`` samples uniformly within the preferred seeds
    (then the rest), reproducibly for a given ``seed``. ``prefer`` defaults to ``golden``
    where the bank has quality statistics, and to nothing in an inpainting model's bank.
    Every tag named must be one the bank knows, though it may have no seeds (the keys of
    ``bank["tags"]``, and ``golden`` and ``inferior`` where it has quality statistics): a
    misspelt tag, or one of a stage the bank was built without, raises
    :class:`SeedBankError` listing the bank's tags.
    ``diverse="style"`` or ``"layout"`` returns instead a diverse seed set chosen by farthest
    point sampling on that feature: the first set (of the bank's FPS runs) without an
    ``avoid`` tag, ``n`` at most the set's size.
    """
    if n < 1:
        raise SeedBankError(f"n must be at least 1, got {n}")
    known = _known_tags(bank)
    if prefer is None:
        prefer = ["golden"] if "golden" in known else []
    _check_tags(bank, known, [*prefer, *avoid])
    if diverse is not None:
        if rank is not None:
            raise SeedBankError(
                "a diverse seed set comes in its farthest-point order; drop rank, or diverse"
            )
        return _diverse(bank, n, avoid, diverse)
    if order not in ("best", "random"):
        raise SeedBankError(f"order must be 'best' or 'random', got {order!r}")
    if rank is not None and order == "random":
        raise SeedBankError(
            f"rank={rank!r} orders seeds by that metric and order='random' samples them: "
            "choose one (order='best' with rank)"
        )
    listed = bank["seeds"] if rank is None else _ranked(bank, rank)
    allowed = [s for s in listed if not set(s["tags"]) & set(avoid)]
    preferred = [s for s in allowed if set(s["tags"]) & set(prefer)]
    others = [s for s in allowed if not set(s["tags"]) & set(prefer)]
    if order == "random":
        rng = np.random.default_rng(seed)
        preferred = [preferred[i] for i in rng.permutation(len(preferred))]
        others = [others[i] for i in rng.permutation(len(others))]
    chosen = (preferred + others)[:n]
    if len(chosen) < n:
        raise SeedBankError(
            f"the bank has {len(allowed)} seeds without tags {list(avoid)}, fewer than n={n}; "
            "ask for fewer seeds or avoid fewer tags"
        )
    return [int(s["seed"]) for s in chosen]


def _known_tags(bank: dict[str, Any]) -> list[str]:
    """The tags ``bank`` can answer for, sorted: the keys of its ``tags`` (a tag may have no
    seeds, e.g. no grayscale seed), and ``golden`` and ``inferior`` wherever the bank has
    quality statistics (a ``selection``), since a run that finds none lists no seeds for them."""
    known = set(bank.get("tags") or {})
    if bank.get("selection"):
        known |= {"golden", "inferior"}
    return sorted(known)


def _check_tags(bank: dict[str, Any], known: Sequence[str], tags: Sequence[str]) -> None:
    unknown = sorted(set(tags) - set(known))
    if unknown:
        name = bank.get("model", {}).get("name", "?")
        raise SeedBankError(
            f"the seed bank of model {name!r} has no tag {', '.join(map(repr, unknown))}; "
            f"its tags are {', '.join(known) or 'none'}. Use those (style tags come from the "
            "style stage, text from the inpainting stage), or rebuild the bank with that stage"
        )


# per-seed statistics derived from a metric's estimate: <metric>_sd, _lo, _hi, _rank, _rank_lo...
_DERIVED = ("_sd", "_lo", "_hi", "_rank")


def _bank_metrics(bank: dict[str, Any]) -> list[str]:
    """The metrics with per-seed estimates on the bank's selection set, sorted (what ``pick``
    can ``rank`` by); none for an inpainting model's bank."""
    selection = bank.get("selection") or {}
    keys = {k for s in bank["seeds"] for k in s.get("stats", {}).get(selection.get("set"), {})}
    derived = {k for k in keys for d in _DERIVED if k.endswith(d) and k[: -len(d)] in keys}
    return sorted(keys - derived)


def _ranked(bank: dict[str, Any], metric: str) -> list[dict[str, Any]]:
    """The bank's seeds by ``metric`` on its selection set, best first; seeds without an
    estimate last; ties (and those) in quality-rank order."""
    name = bank.get("model", {}).get("name", "?")
    if not bank.get("selection"):
        raise SeedBankError(
            f"the seed bank of model {name!r} has no per-seed quality statistics (an inpainting "
            f"model's bank), so it cannot rank by {metric!r}; drop rank"
        )
    metrics = _bank_metrics(bank)
    if metric not in metrics:
        raise SeedBankError(
            f"the seed bank of model {name!r} has no per-seed {metric!r} on its selection set "
            f"{bank['selection']['set']!r}; rank by one of its metrics: "
            f"{', '.join(metrics) or 'none'}"
        )
    sign = 1.0 if metric in LOWER_IS_BETTER_METRICS else -1.0
    stats = [s.get("stats", {}).get(bank["selection"]["set"], {}) for s in bank["seeds"]]
    order = sorted(
        range(len(stats)),
        key=lambda i: (metric not in stats[i], sign * stats[i].get(metric, 0.0)),
    )
    return [bank["seeds"][i] for i in order]


def _diverse(bank: dict[str, Any], n: int, avoid: Sequence[str], feature: str) -> list[int]:
    runs = bank.get(f"diverse_{feature}") if feature in ("style", "layout") else None
    if not runs:
        have = [k.removeprefix("diverse_") for k in bank if k.startswith("diverse_")]
        raise SeedBankError(
            f"the bank has no diverse {feature!r} seed sets (it has {have or 'none'}); ask for "
            "style or layout from a bank made with the diverse-seed stage"
        )
    c = len(runs[0])
    if n > c:
        raise SeedBankError(
            f"a diverse seed set holds {c} seeds (diverse.c), fewer than n={n}; ask for "
            f"at most {c}, or rerun the stage with a larger diverse.c"
        )
    tagged = {s["seed"] for s in bank["seeds"] if set(s["tags"]) & set(avoid)}
    for run in runs:
        if not tagged & set(run):
            return [int(s) for s in run[:n]]
    raise SeedBankError(
        f"every diverse {feature} seed set has a seed tagged {list(avoid)}; avoid fewer tags"
    )


def pipeline_settings(bank: dict[str, Any], device: str = "auto") -> dict[str, Any]:
    """Everything plain diffusers needs to render the images studied for ``bank``'s model.

    Returns a dict with:

    - ``pipeline``: the diffusers pipeline class name; ``weights``: the first argument of its
      ``from_pretrained``; ``load``: that call's keywords (``dtype``, and ``revision`` and
      ``variant`` where set);
    - ``scheduler``: the diffusers scheduler class name, or None to keep the one saved with
      the weights; ``scheduler_config``: what to override in the model's own scheduler config
      (``cls.from_config(pipe.scheduler.config, **scheduler_config)``, as the study did);
    - ``call``: the pipeline call's keywords (``num_inference_steps``; ``guidance_scale``,
      ``height``, ``width`` and ``eta`` where the pipeline's call takes them; ``negative_prompt``
      where one was set and the pipeline uses it with classifier-free guidance: without it the
      pipeline's own default applies, as in the study; FLUX takes none, its
      ``guidance_scale`` is an input of the transformer);
    - ``device``: where to run, ``device`` resolved (``auto``: cuda when available).

    ``dtype: auto`` is float16 on a GPU and float32 on a CPU: the study's device decides it
    where the bank records one, else ``device``.
    """
    from seedscope.families import uses_guidance
    from seedscope.generate import sampler_kwargs
    from seedscope.models import pipeline_class, resolve_device, resolve_dtype, scheduler_choice

    model = bank["model"]
    target = resolve_device(device)
    studied = model.get("device") or "auto"
    dtype = resolve_dtype(
        model.get("dtype") or "auto", target if studied == "auto" else resolve_device(studied)
    )
    load: dict[str, Any] = {"dtype": dtype}
    load |= {key: model[key] for key in ("revision", "variant") if model.get(key)}
    scheduler_spec = model.get("scheduler") or {}
    scheduler, overrides = scheduler_choice(scheduler_spec)
    cls = pipeline_class(model["pipeline"])
    call = sampler_kwargs(cls, model | {"scheduler": scheduler_spec})
    if uses_guidance(cls, model["guidance"]) and model.get("negative_prompt"):
        call["negative_prompt"] = model["negative_prompt"]
    return {
        "pipeline": model["pipeline"],
        "weights": model["weights"],
        "load": load,
        "scheduler": scheduler,
        "scheduler_config": overrides,
        "call": call,
        "device": target,
    }


def load_pipeline(bank: dict[str, Any], device: str = "auto"):
    """The diffusers pipeline of ``bank``'s model, set up as studied, on ``device``.

    Plain diffusers, following :func:`pipeline_settings`: the pipeline class's
    ``from_pretrained`` with the studied dtype, revision and variant, then the studied
    scheduler. Call it with ``**pipeline_settings(bank)["call"]`` and one CPU generator per
    image.
    """
    import diffusers

    settings = pipeline_settings(bank, device)
    cls = getattr(diffusers, settings["pipeline"])
    pipe = cls.from_pretrained(settings["weights"], **settings["load"])
    name = settings["scheduler"]
    scheduler = type(pipe.scheduler) if name is None else getattr(diffusers, name)
    pipe.scheduler = scheduler.from_config(pipe.scheduler.config, **settings["scheduler_config"])
    return pipe.to(settings["device"])
