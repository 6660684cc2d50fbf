"""Adaptive seed screening: the elimination rule's guarantee, by simulation and by construction.

(a) Over 200 simulated studies at a reduced size, the share of studies that eliminate a seed of
the exhaustive target set is within what ``delta`` allows (a one-sided binomial test), and the
same test rejects the rule without its union bound (so the test can fail). (b) For random
intervals, no eliminated seed could be a target and every seed decided in is within the band,
whatever values inside the intervals are true. (c) Without noise the rule returns exactly the
target set after one round. (d) Bad settings raise ConfigError before any work.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from seedscope.errors import ConfigError
from seedscope.screening.inputs import fid_inputs, jackknife_fid, score_inputs
from seedscope.screening.rule import decide, kth_largest, orient
from seedscope.screening.settings import Plan, Target, check
from seedscope.screening.simulate import FidModel, HpsModel, Setting, simulate, truth

SEEDS, K, BUDGET = 128, 32, 2000
SCHEDULE = (100, 200, 400, 800, 1600)
METRICS = ("fid", "hps")


def setting(kind="golden", delta=0.1, spread=0.25, fid_from=1000, **changes) -> Setting:
    target = Target(kind, K, METRICS, 0.05)
    plan = Plan(SEEDS, SCHEDULE, BUDGET, delta, {"fid": fid_from})
    return Setting(target, plan, spread=spread, panel=8, **changes)


def binomial_p(misses: int, studies: int, delta: float) -> float:
    """P(at least ``misses`` of ``studies`` if each misses with probability ``delta``)."""
    return stats.binomtest(misses, studies, delta, alternative="greater").pvalue


@pytest.mark.parametrize("kind", ["golden", "inferior"])
def test_miss_probability_within_delta(kind):
    delta, studies = 0.1, 200
    result = simulate(setting(kind, delta), studies, seed=1)
    assert result.targets > 0 and result.returned >= result.targets - result.targets_missed
    assert binomial_p(result.studies_with_miss, studies, delta) > 0.01, result
    # without the union bound (each interval at level delta) the same test must fail
    naive = simulate(setting(kind, delta, alpha=delta), studies, seed=1)
    assert binomial_p(naive.studies_with_miss, studies, delta) < 0.01, naive


def _random_bounds(rng, runs: int, seeds: int):
    lo, hi = {}, {}
    for metric in METRICS:
        centre = rng.normal(size=(runs, seeds)) * rng.choice([0.3, 1, 3], size=(runs, 1))
        half = rng.exponential(0.3, size=(runs, seeds)) * (rng.random((runs, seeds)) < 0.8)
        lo[metric], hi[metric] = centre - half, centre + half
    return lo, hi


@pytest.mark.parametrize("kind", ["golden", "inferior"])
def test_rule_never_eliminates_a_possible_target(kind):
    rng = np.random.default_rng(2)
    runs, seeds, draws = 100, 40, 60
    target = Target(kind, 10, METRICS, 0.1)
    lo, hi = _random_bounds(rng, runs, seeds)
    decision = decide(lo, hi, target)
    assert decision.out.any() and decision.inside.any() and decision.undecided.any()
    straddles_all = np.ones((runs, seeds), bool)
    for metric in METRICS:
        low, high = orient(lo[metric], hi[metric], target.lower_is_better(metric), kind)
        straddles_all &= high >= decision.tau_lo[metric][:, None]
    # an interval that reaches the threshold band on every metric is never eliminated
    assert not (decision.out & straddles_all).any()
    # whatever values inside the intervals are true: out seeds are not targets, in seeds are
    # within the band
    for _ in range(draws):
        values = {m: rng.uniform(lo[m], hi[m]) for m in METRICS}
        in_target, in_band = truth(values, target)
        assert not (decision.out & in_target).any()
        assert not (decision.inside & ~in_band).any()
        assert (in_target & ~decision.out).sum() == in_target.sum()


def test_thresholds_bracket_the_kth_best():
    rng = np.random.default_rng(3)
    lo, hi = _random_bounds(rng, 50, 30)
    target = Target("golden", 7, ("hps",), 0.1)
    decision = decide(lo, hi, target)
    for _ in range(20):
        v = rng.uniform(lo["hps"], hi["hps"])
        tau = kth_largest(v, 7)
        assert (decision.tau_lo["hps"] <= tau).all() and (tau <= decision.tau_hi["hps"]).all()


@pytest.mark.parametrize("kind", ["golden", "inferior"])
def test_zero_noise_returns_exactly_the_target(kind):
    rng = np.random.default_rng(4)
    target = Target(kind, K, METRICS, 0.05)
    values = {m: rng.normal(size=(5, SEEDS)) for m in METRICS}
    decision = decide(values, values, target)
    in_target, _ = truth(values, target)
    assert (decision.kept == in_target).all() and decision.done.all()
    silent = {"hps": HpsModel(image_sd=0.0), "fid": FidModel(linear=0, quadratic=0, eta_sd=0)}
    quiet = setting(kind, fid_from=0, **silent)
    result = simulate(quiet, 20, seed=5)
    assert result.studies_with_miss == 0 and result.returned == result.targets
    assert result.returned_outside_band == 0 and set(result.rounds) == {1}
    assert np.allclose(result.rendered, SCHEDULE[0] / BUDGET)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"budget": 50}, "smaller than the first round"),
        ({"k": SEEDS + 1}, "larger than the seeds"),
        ({"k": 0}, "between 1 and the number of seeds"),
        ({"epsilon": 0.0}, "epsilon"),
        ({"epsilon": 1.0}, "epsilon"),
        ({"epsilon": float("nan")}, "epsilon"),
        ({"delta": 0.0}, "delta"),
        ({"delta": 1.5}, "delta"),
        ({"schedule": (100, 100, 400)}, "strictly increasing"),
        ({"schedule": (400, 200)}, "strictly increasing"),
        ({"schedule": ()}, "cumulative prompt counts"),
        ({"kind": "silver"}, "golden, inferior"),
        ({"metrics": ("fid", "clip")}, "non-empty list"),
    ],
)
def test_bad_settings_raise_before_any_work(changes, message):
    target = {"kind": "golden", "k": K, "metrics": METRICS, "epsilon": 0.05}
    plan = {"seeds": SEEDS, "schedule": SCHEDULE, "budget": BUDGET, "delta": 0.05}
    for key, value in changes.items():
        (target if key in target else plan)[key] = value
    bad = Setting(Target(**target), Plan(**plan))
    with pytest.raises(ConfigError, match=message):
        check(bad.target, bad.plan)
    with pytest.raises(ConfigError, match=message):  # a billion studies: refused at once
        simulate(bad, 10**9)


def test_plan_counts_looks_and_rounds():
    plan = Plan(SEEDS, (100, 200, 400, 5000), BUDGET, 0.05, {"fid": 300})
    assert plan.rounds == (100, 200, 400, BUDGET)
    assert plan.looks(METRICS) == 3 + 1  # hps at 100, 200, 400; fid at 400; budget exact
    assert plan.alpha(METRICS) == pytest.approx(0.05 / (SEEDS * 4))


def test_inputs_from_blocks():
    """Centring, jackknife and standard errors from arrays shaped like the perseed blocks."""
    rng = np.random.default_rng(6)
    seeds, n, resamples = 6, 400, 100
    shared = rng.normal(size=(1, 2, resamples))  # prompt noise shared by every seed
    blocks = {
        "seed": np.arange(seeds),
        "n": np.full(seeds, n),
        "hps": np.linspace(0.25, 0.27, seeds),
        "hps_sub": 0.26 + 0.01 * shared + 0.001 * rng.normal(size=(seeds, 2, resamples)),
        "fid": np.linspace(20, 25, seeds),
    }
    blocks["fid_sub"] = blocks["fid"][:, None, None] + np.array([[2.0], [6.0]]) + shared
    value, sd, df = score_inputs(blocks, panel=[0, 1], budget=1000)
    assert value == pytest.approx(blocks["hps"] - blocks["hps"][:2].mean())
    assert (df == resamples - 1).all() and (sd < 0.001 * 1.5).all()  # shared noise cancelled
    _, sd_end, _ = score_inputs(blocks, panel=[0, 1], budget=n)
    assert (sd_end == 0).all()
    value, sd, _ = fid_inputs(blocks, panel=[0], budget=10 * n)
    # every seed's half-sample mean is the same amount above its value, so the jackknife moves
    # every seed alike and the centred values are the differences to seed 0
    assert value == pytest.approx(blocks["fid"] - 20.0)
    assert jackknife_fid(20.0, 22.0, n, 10 * n) == pytest.approx(18.2)
    with pytest.raises(ConfigError, match="panel"):
        score_inputs(blocks, panel=[99], budget=1000)
    with pytest.raises(ConfigError, match="budget"):
        score_inputs(blocks, panel=[0], budget=n - 1)


def test_fid_calibration_runs_on_real_frechet_distances():
    """The calibration's measurements at a tiny size: the bias falls with n, the jackknife
    takes most of it off (FID at infinitely many prompts is known exactly), the noise fit is
    non-negative."""
    from seedscope.screening.fidmodel import GaussianFeatures, fit_noise, measure

    population = GaussianFeatures(d=16, trace=10.0, mean_norm=1.0)
    rows = measure(population, {64: 6, 256: 6}, budget=10**6, halves=4, seed=0)
    assert rows[0]["bias"] > rows[1]["bias"] > 0
    assert all(abs(r["jack_bias"]) < 0.5 * r["bias"] for r in rows)
    linear, quadratic = fit_noise(rows)
    assert linear >= 0 and quadratic >= 0 and linear + quadratic > 0
