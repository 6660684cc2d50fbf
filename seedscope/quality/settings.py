"""The per-seed quality stage's config checks (run when the config is validated, before any job)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from seedscope.errors import ConfigError
from seedscope.study import (
    LOWER_IS_BETTER_METRICS,
    SCORE_METRICS,
    model_prompt_sets,
    quality_models,
    quality_sets,
    seed_range,
)


def _check_names(key: str, names: list[str], allowed: list[str] | tuple[str, ...]) -> None:
    unknown = [n for n in names if n not in allowed]
    if unknown:
        raise ConfigError(
            f"config key {key}: {unknown} {'is' if len(unknown) == 1 else 'are'} not "
            f"{'a metric' if len(unknown) == 1 else 'metrics'} here; choose from {list(allowed)}"
        )


def check_metrics(config: dict[str, Any]) -> None:
    """Refuse an unknown metric name in ``quality.scores``, ``quality.golden.metrics`` or
    ``quality.best_of_n`` (verifiers, N, sets) before any job."""
    quality = config["quality"]
    scores = quality["scores"]
    _check_names("quality.scores", scores, SCORE_METRICS)
    if quality["table1"]["hps_sets"] and "hps" not in scores:
        raise ConfigError(
            "config key quality.scores: Table 1 reports HPS on quality.table1.hps_sets, so "
            "hps must be scored; add it to quality.scores or empty quality.table1.hps_sets"
        )
    metrics = (*LOWER_IS_BETTER_METRICS, *scores)
    _check_names("quality.golden.metrics", quality["golden"]["metrics"], metrics)
    best = quality["best_of_n"]
    _check_names("quality.best_of_n.verifiers", best["verifiers"], scores)
    for verifier in best["verifiers"]:
        if set(scores) <= {verifier}:
            raise ConfigError(
                f"config key quality.best_of_n.verifiers: {verifier!r} is the only score of "
                "quality.scores, and Table 1b judges best-of-N by every score but its verifier; "
                "add another score to quality.scores"
            )
    seeds = len(seed_range(config))
    if max(best["n"]) > seeds:
        raise ConfigError(
            f"config key quality.best_of_n.n: best-of-{max(best['n'])} needs that many distinct "
            f"seeds per prompt, but the study has {seeds} seeds (seeds.count); lower n or study "
            "more seeds"
        )
    for name in best["sets"]:
        if name == quality["fid_set"]:
            raise ConfigError(
                f"config key quality.best_of_n.sets: {name!r} is quality.fid_set, on which golden "
                "seeds are chosen; Table 1b compares on held-out prompts, so use other sets"
            )
    figure_set = best["figure_set"]
    if figure_set is not None and figure_set not in best["sets"]:
        raise ConfigError(
            f"config key quality.best_of_n.figure_set: {figure_set!r} is not one of "
            f"quality.best_of_n.sets {best['sets']}"
        )


def check_quality(config: dict[str, Any]) -> None:
    """Raise ``ConfigError`` for a quality setting that cannot work."""
    if not config["quality"]["enabled"]:
        return
    sets = config["prompt_sets"]
    for extractor, names in quality_sets(config).items():
        for name in names:
            if name not in sets:
                raise ConfigError(
                    f"config key quality: prompt set {name!r} (needed for {extractor} features) "
                    f"is not a prompt set; choose from {sorted(sets)}"
                )
            if extractor == "inception" and sets[name]["kind"] != "coco":
                raise ConfigError(
                    f"config key quality: FID needs real images, so {name!r} must be a COCO "
                    f"prompt set (it is {sets[name]['kind']!r}); score it with HPS only"
                )
    needed = set().union(*quality_sets(config).values())
    for model in quality_models(config):
        if model not in config["models"]:
            raise ConfigError(
                f"config key quality.models: {model!r} is not a model; "
                f"choose from {sorted(config['models'])}"
            )
        missing = needed - set(model_prompt_sets(config, model))
        if missing:
            raise ConfigError(
                f"config key quality.models: model {model!r} renders no {sorted(missing)}, which "
                "per-seed quality needs; add them to its prompt_sets or drop it from quality.models"
            )
    check_metrics(config)
    for name in ("inception", *config["quality"]["scores"]):
        weights = config["features"][name]["weights"]
        if weights not in ("tiny", "clean-fid", "hub") and not Path(weights).exists():
            raise ConfigError(
                f"config key features.{name}.weights: {weights} does not exist; give the path of "
                "a local copy of the weights, or 'tiny' / the default to fetch them"
            )
