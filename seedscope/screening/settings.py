"""What a screening run looks for, and how it renders: the target and the plan, checked up front.

A **target** is the paper's golden (or inferior) seed set: the seeds among the ``k`` best (worst)
of all seeds by every metric of ``metrics``, each metric's best being its lowest value (FID) or
its highest (HPS), values taken on all ``budget`` prompts (the exhaustive study). ``epsilon``
widens it into the band a returned seed may come from: within ``epsilon`` times the metric's
spread (best seed's exhaustive value to the worst's, as the paper reports it: 21.60 to 31.97
FID for SD 2.0) of the k-th best.

A **plan** renders every seed that is still needed on the same new prompts each round: the
cumulative prompt counts ``schedule`` (e.g. 100, 200, 400, ...) up to the ``budget``, which is
always the last round. A metric is only used from ``min_prompts[metric]`` prompts on (FID at
fewer prompts than feature dimensions ranks seeds by their bias, not by their value:
:mod:`seedscope.screening.inputs`). ``delta`` bounds the probability that any seed of the
exhaustive target set is eliminated.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from seedscope.errors import ConfigError
from seedscope.quality.perseed import LOWER_IS_BETTER

KINDS = ("golden", "inferior")
DIRECTIONS = LOWER_IS_BETTER  # every per-seed metric -> True when lower is better


@dataclass(frozen=True)
class Target:
    """The seed set to find: ``kind`` golden or inferior, ``k`` per metric, band ``epsilon``."""

    kind: str
    k: int
    metrics: tuple[str, ...]
    epsilon: float

    def lower_is_better(self, metric: str) -> bool:
        return DIRECTIONS[metric]


@dataclass(frozen=True)
class Plan:
    """Seeds, rounds, budget and error level of a screening run."""

    seeds: int
    schedule: tuple[int, ...]
    budget: int
    delta: float
    min_prompts: dict[str, int] = field(default_factory=dict)

    @property
    def rounds(self) -> tuple[int, ...]:
        """Cumulative prompts after each round: the schedule below the budget, then the budget."""
        return tuple(n for n in self.schedule if n < self.budget) + (self.budget,)

    def used(self, metric: str, n: int) -> bool:
        """Whether ``metric`` informs the decisions at ``n`` prompts."""
        return n >= self.min_prompts.get(metric, 0)

    def looks(self, metrics: tuple[str, ...]) -> int:
        """Intervals per seed that can be wrong: (metric, round) pairs in use before the budget
        (at the budget every value is exact)."""
        return sum(self.used(m, n) for m in metrics for n in self.rounds if n < self.budget)

    def alpha(self, metrics: tuple[str, ...]) -> float:
        """Each interval's error level: ``delta / (seeds x looks)`` (the union bound)."""
        return self.delta / (self.seeds * max(1, self.looks(metrics)))


def check(target: Target, plan: Plan) -> None:
    """Refuse a screening that cannot run, before any work, with a message naming the fix."""
    if target.kind not in KINDS:
        raise ConfigError(f"screening target '{target.kind}' must be one of {', '.join(KINDS)}")
    unknown = [m for m in target.metrics if m not in DIRECTIONS]
    if not target.metrics or unknown:
        raise ConfigError(
            f"screening metrics {list(target.metrics)} must be a non-empty list of "
            f"{', '.join(DIRECTIONS)}"
        )
    if not isinstance(plan.seeds, int) or plan.seeds < 2:
        raise ConfigError(f"screening needs at least 2 seeds, got {plan.seeds}")
    if not isinstance(target.k, int) or not 1 <= target.k <= plan.seeds:
        raise ConfigError(
            f"screening top_k = {target.k} must be between 1 and the number of seeds "
            f"({plan.seeds}): a target set cannot be larger than the seeds"
        )
    for name, value in (("epsilon", target.epsilon), ("delta", plan.delta)):
        if not (isinstance(value, int | float) and math.isfinite(value) and 0 < value < 1):
            raise ConfigError(f"screening {name} = {value} must lie strictly between 0 and 1")
    schedule = list(plan.schedule)
    if not schedule or any(not isinstance(n, int) or n < 3 for n in schedule):
        raise ConfigError(
            f"screening schedule {schedule} must be cumulative prompt counts of at least 3 "
            "(each round's intervals need 3 prompts)"
        )
    if any(b <= a for a, b in zip(schedule, schedule[1:], strict=False)):
        raise ConfigError(
            f"screening schedule {schedule} must be strictly increasing: each entry is the "
            "cumulative number of prompts after that round"
        )
    if not isinstance(plan.budget, int) or plan.budget < schedule[0]:
        raise ConfigError(
            f"screening budget = {plan.budget} prompts is smaller than the first round "
            f"({schedule[0]}); raise the budget or start the schedule lower"
        )
    bad = {m: n for m, n in plan.min_prompts.items() if m not in target.metrics}
    if bad:
        raise ConfigError(f"screening min_prompts names metrics not screened: {sorted(bad)}")
