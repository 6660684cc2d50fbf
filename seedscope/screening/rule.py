"""The elimination rule: which seeds are surely outside the target, surely inside its band, or
still undecided, from simultaneous intervals of every seed's exhaustive value.

**Intervals.** Each seed ``s``, metric ``m`` and round gets the interval ``estimate -+ t sd``
with ``t`` the Student quantile of ``1 - alpha / 2`` at the estimate's degrees of freedom and
``alpha = delta / (seeds x looks)`` (:meth:`~seedscope.screening.settings.Plan.alpha`). A seed's
bounds are the intersection of its intervals so far; a seed that is not rendered any more keeps
them. By the union bound, with probability at least ``1 - delta`` every interval of every seed
at every round covers that seed's exhaustive value at once (the event **E**); nothing below
needs more than E, whichever seeds the rounds render (each interval is a fixed-``n``
statement about a fixed seed; the rendering policy only chooses which of them are looked at).

**Thresholds.** On each metric, oriented so that higher means "more in the target" (``-FID``
for golden seeds, ``+FID`` for inferior ones), the target is ``v_s >= tau``, ``tau`` the k-th
largest exhaustive value. On E, ``tau`` lies between the k-th largest lower bound ``tau_lo`` and
the k-th largest upper bound ``tau_hi`` (order statistics are monotone). The spread is the
range of the exhaustive values, best seed to worst (the paper's 21.60 to 31.97 for FID); on E it
is at least the largest lower bound minus the smallest upper bound (``spread_lo``, kept as a
running maximum over rounds).

**Decisions.** A seed is *out* (eliminated) when on some metric ``hi_s < tau_lo``: on E then
``v_s <= hi_s < tau_lo <= tau``, so no seed of the target set is ever out. A seed is *in* when
on every metric ``lo_s >= tau_hi - epsilon * spread_lo``: on E its value is within ``epsilon``
spreads of the k-th best on every metric. The others are *undecided*; the run is done when none
is left. The returned set is every seed not out: on E it contains the whole target set.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from seedscope.screening.settings import Target


def intervals(estimate, sd, df, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """Two-sided ``1 - alpha`` Student intervals ``estimate -+ t sd`` (arrays broadcast).

    A NaN estimate or standard error is no information: ``(-inf, inf)``. A standard error of 0
    (every prompt of the budget seen) is the exact value.
    """
    estimate, sd = np.asarray(estimate, dtype=float), np.asarray(sd, dtype=float)
    half = stats.t.isf(alpha / 2, np.asarray(df, dtype=float)) * sd
    half = np.where(sd == 0, 0.0, half)
    known = np.isfinite(estimate) & np.isfinite(half)
    return np.where(known, estimate - half, -np.inf), np.where(known, estimate + half, np.inf)


def orient(lo, hi, lower_is_better: bool, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """Bounds on the scale where higher is more in the target (golden: better; inferior:
    worse)."""
    flip = lower_is_better == (kind == "golden")
    return (-np.asarray(hi), -np.asarray(lo)) if flip else (np.asarray(lo), np.asarray(hi))


def kth_largest(values: np.ndarray, k: int) -> np.ndarray:
    """The k-th largest along the last axis (1 = the largest)."""
    return np.partition(values, values.shape[-1] - k, axis=-1)[..., values.shape[-1] - k]


@dataclass
class Decision:
    """One round's verdict, arrays over ``(..., seeds)`` (``...``: independent runs)."""

    out: np.ndarray  # surely outside the target set: eliminated
    inside: np.ndarray  # surely within the epsilon band on every metric (and not out)
    undecided: np.ndarray  # neither: needs more prompts
    relevant: np.ndarray  # its interval straddles a threshold not yet pinned to the band
    tau_lo: dict[str, np.ndarray]  # per metric, oriented, shape (...)
    tau_hi: dict[str, np.ndarray]
    spread_lo: dict[str, np.ndarray]

    @property
    def kept(self) -> np.ndarray:
        """The seeds returned if the run stopped now: all but the eliminated."""
        return ~self.out

    @property
    def done(self) -> np.ndarray:
        """Runs with no undecided seed left."""
        return ~self.undecided.any(axis=-1)


def decide(
    lo: dict[str, np.ndarray],
    hi: dict[str, np.ndarray],
    target: Target,
    spread_floor: dict[str, np.ndarray] | None = None,
    pin: float = 1.0,
) -> Decision:
    """Out, in and undecided seeds from every seed's current bounds on each target metric.

    ``lo[m]``, ``hi[m]``: bounds on each seed's exhaustive value of metric ``m`` in its own
    units (``(..., seeds)``, infinite where nothing is known). ``spread_floor``: lower bounds
    of each metric's spread from earlier rounds (the running maximum is kept). A seed is
    ``relevant`` to a threshold while its interval straddles ``(tau_lo, tau_hi)`` and that band
    is wider than ``pin`` times the epsilon band. Pure: no state.
    """
    out = inside = relevant = None
    tau_lo, tau_hi, spread_lo = {}, {}, {}
    for metric in target.metrics:
        low, high = orient(lo[metric], hi[metric], target.lower_is_better(metric), target.kind)
        t_lo, t_hi = kth_largest(low, target.k), kth_largest(high, target.k)
        spread = np.nan_to_num(np.maximum(low.max(-1) - high.min(-1), 0.0), posinf=0.0)
        if spread_floor is not None and metric in spread_floor:
            spread = np.maximum(spread, spread_floor[metric])
        band = target.epsilon * spread
        metric_out = high < t_lo[..., None]
        metric_in = low >= (t_hi - band)[..., None]
        loose = (t_hi - t_lo > pin * band)[..., None]
        straddles = (high > t_lo[..., None]) & (low < t_hi[..., None]) & loose
        out = metric_out if out is None else out | metric_out
        inside = metric_in if inside is None else inside & metric_in
        relevant = straddles if relevant is None else relevant | straddles
        tau_lo[metric], tau_hi[metric], spread_lo[metric] = t_lo, t_hi, spread
    inside = inside & ~out
    return Decision(out, inside, ~out & ~inside, relevant, tau_lo, tau_hi, spread_lo)


def tighten(
    lo: np.ndarray, hi: np.ndarray, estimate, sd, df, alpha: float
) -> tuple[np.ndarray, np.ndarray]:
    """Intersect the bounds so far with this round's intervals (NaN estimate: not rendered)."""
    new_lo, new_hi = intervals(estimate, sd, df, alpha)
    return np.maximum(lo, new_lo), np.minimum(hi, new_hi)
