"""Simulated screening studies with a known truth, at the paper's sizes.

Each simulated study draws 1,024 seeds' true per-seed values, lets the screening rule
(:mod:`seedscope.screening.rule`) run its rounds on noisy estimates, and compares what it
returns with the exhaustive target set (every seed on every prompt of the budget). Studies are
vectorised: a chunk of studies is one array ``(studies, seeds, rounds)`` per quantity.

**HPS** (:class:`HpsModel`). Seed ``s``'s score on prompt ``p`` is ``theta_s + pi_p + e_sp``:
seed means ``theta`` around 0.26 with sd 0.003 (the paper plots per-seed means but gives no
spread; 0.003 is a range of about 0.02 over 1,024 seeds), a prompt effect ``pi`` shared by all
seeds (it cancels exactly in the centred values of :mod:`seedscope.screening.inputs`, so it is
not drawn) and the seed's own noise ``e`` with sd 0.014 (a per-image sd of 0.02, half of its
variance the prompt's). A seed's running sum over prompts is a Gaussian random walk sampled at
the rounds (the round sums are of at least 100 prompts, so the CLT applies); the exhaustive
value is the walk's mean at the budget.

**FID** (:class:`FidModel`). A seed's centred, jackknife-corrected FID at ``n`` prompts
(what :func:`seedscope.screening.inputs.fid_inputs` gives the rule) is its exhaustive value
plus ``eta_s * r(n)`` plus noise: ``eta_s`` (sd ``eta_sd``) is how much the seed's FID bias
differs from the others' (seeds that make more or less varied images), ``r(n)`` the bias that
the jackknife leaves at ``n`` (0 at the budget), and the noise has the variance of
:mod:`seedscope.quality.intervals`, ``L / n + Q / n**2``, as independent increments between
rounds (a linear random walk plus a pairwise term whose variance grows as ``n**2``), so rounds
are nested like real cumulative prompt sets and the exhaustive value carries the noise at the
budget. ``L``, ``Q`` and ``r(n)`` come from real Frechet distances of 2,048-d Gaussian features
(:mod:`seedscope.screening.fidmodel`, ``benchmarks/bench_screening.py --calibrate``). The
seeds' expected FIDs at the budget are normal, spread so that the expected best and worst of
1,024 are the paper's 21.60 and 31.97 (SD 2.0, 10,000 COCO prompts).

The metrics are drawn independently (the paper's golden count, 65 for SD 2.0, is what two
unrelated top-256 lists share by chance). ``spread`` scales both metrics' seed spreads (1 is
the paper's; 0.1 is a tenth), which is the same, for every decision, as noise ``1 / spread``
times larger.

Each standard error handed to the rule is the true one times ``sqrt(chi2_df / df)`` (an
estimate from ``df + 1`` half-sample replicates), with the finite-population factor and the
panel's share of the centring of :mod:`seedscope.screening.inputs`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import stats

from seedscope.screening.rule import decide, kth_largest, orient, tighten
from seedscope.screening.settings import Plan, Target, check


@dataclass(frozen=True)
class HpsModel:
    """Per-seed mean HPS: seed means, and each image's own noise (after the prompt effect)."""

    mean: float = 0.26
    seed_sd: float = 0.003
    image_sd: float = 0.014
    df: float = 99.0


# Measured by benchmarks/bench_screening.py --calibrate (2,048-d Gaussian features, see
# seedscope/screening/fidmodel.py and docs/screening.md): a seed's own FID noise,
# L / n + Q / n**2 (fitted on 256 to 10,000 prompts: the pairwise term fits to 0), and the bias
# of FID at n prompts over FID at infinitely many, b(n).
FID_LINEAR = 12.6
FID_QUADRATIC = 0.0
FID_BIAS = ((256, 42.79), (512, 29.81), (1024, 17.70), (2048, 7.90), (4096, 3.61), (10_000, 1.41))


def loglog(points: tuple[tuple[int, float], ...], n) -> np.ndarray:
    """Piecewise power law through ``points``, extended by the end segments' slopes."""
    xs, ys = np.log([p[0] for p in points]), np.log([p[1] for p in points])
    x = np.log(np.asarray(n, dtype=float))
    slope_lo = (ys[1] - ys[0]) / (xs[1] - xs[0])
    slope_hi = (ys[-1] - ys[-2]) / (xs[-1] - xs[-2])
    inside = np.interp(x, xs, ys)
    y = np.where(x < xs[0], ys[0] + slope_lo * (x - xs[0]), inside)
    return np.exp(np.where(x > xs[-1], ys[-1] + slope_hi * (x - xs[-1]), y))


@dataclass(frozen=True)
class FidModel:
    """Per-seed FID at ``n`` prompts: exhaustive value, bias residual, own noise."""

    best: float = 21.60
    worst: float = 31.97
    linear: float = FID_LINEAR
    quadratic: float = FID_QUADRATIC
    bias_points: tuple[tuple[int, float], ...] = FID_BIAS
    eta_sd: float = 0.01
    df: float = 99.0

    def centre_and_sd(self, seeds: int) -> tuple[float, float]:
        """Mean and sd of the seeds' FIDs whose expected extremes are ``best`` and ``worst``."""
        extreme = stats.norm.ppf((seeds - 0.375) / (seeds + 0.25))  # Blom's expected maximum
        return (self.best + self.worst) / 2, (self.worst - self.best) / (2 * extreme)

    def bias(self, n) -> np.ndarray:
        """``b(n)``: FID at ``n`` prompts minus FID at infinitely many, for ``eta = 0``."""
        return loglog(self.bias_points, n)

    def residual(self, n, budget: int) -> np.ndarray:
        """``r(n)``: the bias the jackknife leaves, relative to FID at the budget, per unit of
        ``1 + eta``: ``b(n) - (b(n/2) - b(n)) (1 - n/N) - b(N)``, 0 at ``n = N``."""
        n = np.asarray(n, dtype=float)
        half = self.bias(n / 2) - self.bias(n)
        return self.bias(n) - half * (1 - n / budget) - self.bias(budget)


@dataclass(frozen=True)
class Setting:
    """One simulated configuration: what to find, how to render, and the world's truth."""

    target: Target
    plan: Plan
    spread: float = 1.0
    panel: int = 16
    policy: str = "thresholds"  # render the undecided seeds and those that pin a threshold
    pin: float = 4.0  # thresholds count as pinned once their band is this many epsilon bands
    hps: HpsModel = field(default_factory=HpsModel)
    fid: FidModel = field(default_factory=FidModel)
    alpha: float | None = None  # per-interval level; None: the union bound's


@dataclass
class Result:
    """Totals over simulated studies."""

    studies: int = 0
    studies_with_miss: int = 0  # a seed of the exhaustive target set was eliminated
    targets: int = 0
    targets_missed: int = 0
    returned: int = 0
    returned_outside_band: int = 0
    rendered: list[float] = field(default_factory=list)  # fraction of seeds x budget
    rounds: list[int] = field(default_factory=list)  # rounds run

    def add(self, other: Result) -> None:
        for name in ("studies", "studies_with_miss", "targets", "targets_missed", "returned"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.returned_outside_band += other.returned_outside_band
        self.rendered += other.rendered
        self.rounds += other.rounds


def _walks(rng, shape, rounds: np.ndarray, linear: float, quadratic: float) -> np.ndarray:
    """Own noise at each round: a linear walk / n plus a pairwise term / n**2."""
    steps = np.diff(rounds, prepend=0)
    squares = np.diff(rounds.astype(float) ** 2, prepend=0)
    walk = np.cumsum(rng.normal(size=(*shape, len(rounds))) * np.sqrt(linear * steps), -1)
    pairs = np.cumsum(rng.normal(size=(*shape, len(rounds))) * np.sqrt(quadratic * squares), -1)
    return walk / rounds + pairs / rounds.astype(float) ** 2


def _estimate_noise(rng, shape, df: float) -> np.ndarray:
    return np.sqrt(rng.chisquare(df, size=shape) / df)


def _draw(setting: Setting, studies: int, rng: np.random.Generator):
    """Per metric: estimates and standard errors at each round (studies x seeds x rounds)."""
    plan, seeds = setting.plan, setting.plan.seeds
    rounds = np.array(plan.rounds)
    n = rounds.astype(float)
    panel = slice(0, setting.panel)
    share = 1 + 1 / setting.panel  # the panel mean's own noise in a centred value
    fpc = np.clip(1 - (n / plan.budget) ** 2, 0, None)
    shape = (studies, seeds)
    drawn = {}
    if "hps" in setting.target.metrics:
        h = setting.hps
        theta = h.mean + setting.spread * h.seed_sd * rng.normal(size=shape)
        value = theta[..., None] + _walks(rng, shape, rounds, h.image_sd**2, 0.0)
        sd = h.image_sd * np.sqrt(share / n * fpc)
        drawn["hps"] = (value, sd * _estimate_noise(rng, value.shape, h.df), h.df)
    if "fid" in setting.target.metrics:
        f = setting.fid
        centre, seed_sd = f.centre_and_sd(seeds)
        true = centre + setting.spread * seed_sd * rng.normal(size=shape)
        eta = f.eta_sd * rng.normal(size=shape)
        noise = _walks(rng, shape, rounds, f.linear, f.quadratic)
        value = true[..., None] + eta[..., None] * f.residual(rounds, plan.budget) + noise
        sd = np.sqrt((f.linear / n + f.quadratic / n**2) * share * fpc)
        drawn["fid"] = (value, sd * _estimate_noise(rng, value.shape, f.df), f.df)
    for metric, (value, sd, df) in drawn.items():
        drawn[metric] = (value - value[:, panel].mean(1, keepdims=True), sd, df)
    return drawn


def truth(values: dict[str, np.ndarray], target: Target) -> tuple[np.ndarray, np.ndarray]:
    """The exhaustive target set and its epsilon band, from exhaustive values (studies x
    seeds) per metric."""
    in_target = in_band = True
    for metric in target.metrics:
        v, _ = orient(values[metric], values[metric], target.lower_is_better(metric), target.kind)
        tau = kth_largest(v, target.k)[..., None]
        spread = (v.max(-1) - v.min(-1))[..., None]
        in_target = in_target & (v >= tau)
        in_band = in_band & (v >= tau - target.epsilon * spread)
    return in_target, in_band


def screen(drawn, setting: Setting) -> tuple[object, np.ndarray, np.ndarray]:
    """Run the rounds on drawn estimates: the last decision, images rendered per study (in
    prompts x seeds) and the round each study stopped after (0-based)."""
    plan, target = setting.plan, setting.target
    rounds = plan.rounds
    studies = next(iter(drawn.values()))[0].shape[0]
    shape = (studies, plan.seeds)
    alpha = setting.alpha if setting.alpha is not None else plan.alpha(target.metrics)
    lo = {m: np.full(shape, -np.inf) for m in target.metrics}
    hi = {m: np.full(shape, np.inf) for m in target.metrics}
    panel = np.arange(plan.seeds) < setting.panel
    active = np.ones(shape, bool)
    finished = np.zeros(studies, bool)
    stopped = np.full(studies, len(rounds) - 1)
    rendered = np.zeros(studies)
    floor, decision, previous = None, None, 0
    for r, n in enumerate(rounds):
        rendered += active.sum(-1) * (n - previous)
        previous = n
        for metric in target.metrics:
            if not (plan.used(metric, n) or n == plan.budget):
                continue
            value, sd, df = drawn[metric]
            estimate = np.where(active, value[..., r], np.nan)
            lo[metric], hi[metric] = tighten(
                lo[metric], hi[metric], estimate, sd[..., r], df, alpha
            )
        decision = decide(lo, hi, target, floor, setting.pin)
        floor = decision.spread_lo
        stopped[decision.done & ~finished] = r
        finished |= decision.done
        wanted = decision.undecided | panel
        if setting.policy == "thresholds":
            wanted |= decision.relevant
        active &= wanted & ~finished[:, None]
    return decision, rendered, stopped


def simulate(setting: Setting, studies: int, seed: int = 0, chunk: int = 100) -> Result:
    """Run ``studies`` simulated screening studies of ``setting``; totals of what they found."""
    check(setting.target, setting.plan)
    if set(setting.target.metrics) - {"fid", "hps"}:
        raise ValueError(f"the simulation models fid and hps, not {setting.target.metrics}")
    if setting.policy not in ("thresholds", "undecided"):
        raise ValueError(f"policy {setting.policy!r} is not 'thresholds' or 'undecided'")
    rng = np.random.default_rng(seed)
    total = Result()
    for start in range(0, studies, chunk):
        size = min(chunk, studies - start)
        drawn = _draw(setting, size, rng)
        decision, rendered, stopped = screen(drawn, setting)
        exhaustive = {m: value[..., -1] for m, (value, _, _) in drawn.items()}
        in_target, in_band = truth(exhaustive, setting.target)
        missed = in_target & decision.out
        kept = decision.kept
        total.add(
            Result(
                studies=size,
                studies_with_miss=int(missed.any(-1).sum()),
                targets=int(in_target.sum()),
                targets_missed=int(missed.sum()),
                returned=int(kept.sum()),
                returned_outside_band=int((kept & ~in_band).sum()),
                rendered=list(rendered / (setting.plan.seeds * setting.plan.budget)),
                rounds=list(stopped + 1),
            )
        )
    return total
