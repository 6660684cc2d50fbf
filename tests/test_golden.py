"""Golden and inferior seed counts against chance: expected overlap, permutation p, exact tail."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from seedscope.quality.golden import (
    expected_overlap,
    golden_and_inferior,
    golden_vs_chance,
    hypergeom_p_value,
    overlap_p_value,
)


def _table(fid, hps, kid=None):
    table = pd.DataFrame({"seed": range(len(fid)), "fid": fid, "hps": hps})
    if kid is not None:
        table["kid"] = kid
    return table


def test_expected_overlap_at_the_papers_numbers_is_64():
    assert expected_overlap(1024, [256, 256]) == pytest.approx(64.0)
    assert expected_overlap(1024, [256, 256, 256]) == pytest.approx(16.0)  # N * (k/N)^3
    assert expected_overlap(1024, [128, 512]) == pytest.approx(64.0)  # k1 k2 / N
    assert expected_overlap(10, [20, 5]) == pytest.approx(5.0)  # k is capped by N
    # and it is the mean of the hypergeometric overlap of two random top-k lists
    assert stats.hypergeom.mean(1024, 256, 256) == pytest.approx(64.0)


def test_the_papers_counts_are_not_significant():
    # 65 (SD 2.0) and 67 (SDXL Turbo) golden seeds of 1,024 with the top 256 of FID and HPS
    for observed in (65, 67):
        assert hypergeom_p_value(1024, 256, 256, observed) > 0.3
        assert overlap_p_value(1024, [256, 256], observed, 10_000, seed=0) > 0.3


def test_permutation_p_agrees_with_the_hypergeometric_tail():
    permutations = 10_000
    for observed in (56, 64, 70, 76):
        exact = hypergeom_p_value(1024, 256, 256, observed)
        p = overlap_p_value(1024, [256, 256], observed, permutations, seed=observed)
        # the (1 + count) / (1 + permutations) convention shifts p by at most 1 / (1 + perms)
        mc_sd = np.sqrt(exact * (1 - exact) / permutations) + 1 / (1 + permutations)
        assert abs(p - exact) < 4 * mc_sd, (observed, p, exact)
    # unequal k as well
    exact = hypergeom_p_value(500, 100, 50, 14)
    p = overlap_p_value(500, [100, 50], 14, permutations, seed=1)
    assert abs(p - exact) < 4 * (np.sqrt(exact * (1 - exact) / permutations) + 1 / permutations)


def test_permutation_p_is_seeded_and_bounded():
    a = overlap_p_value(1024, [256, 256], 70, 2_000, seed=3)
    assert a == overlap_p_value(1024, [256, 256], 70, 2_000, seed=3)
    assert overlap_p_value(1024, [256, 256], 0, 99) == 1.0  # every overlap is >= 0
    assert overlap_p_value(1024, [256, 256], 257, 99) == pytest.approx(1 / 100)  # impossible
    with pytest.raises(ValueError, match="permutations"):
        overlap_p_value(1024, [256, 256], 64, 0)


def test_independent_rankings_give_chance_overlap_and_roughly_uniform_p():
    rng = np.random.default_rng(0)
    n, k, trials = 200, 50, 200
    counts, ps = [], []
    for trial in range(trials):
        table = _table(rng.normal(size=n), rng.normal(size=n))
        row = golden_vs_chance(table, ["fid", "hps"], k, permutations=499, seed=trial)
        golden = row.set_index("tag").loc["golden"]
        counts.append(golden["count"])
        ps.append(golden["p_value"])
    expected = k * k / n  # 12.5
    sd = np.sqrt(stats.hypergeom.var(n, k, k))
    assert np.mean(counts) == pytest.approx(expected, abs=4 * sd / np.sqrt(trials))
    ps = np.array(ps)
    # The overlap is a discrete count, so P(p <= a) is not a but the null mass of the overlaps
    # whose exact tail is <= a (at most a): the p-values are as uniform as a count allows.
    support = np.arange(k + 1)
    tails = stats.hypergeom.sf(support - 1, n, k, k)
    for alpha in (0.05, 0.2, 0.5):
        level = stats.hypergeom.pmf(support[tails <= alpha], n, k, k).sum()
        assert level <= alpha
        bound = 4 * np.sqrt(level * (1 - level) / trials) + 0.02  # + Monte Carlo error of p
        assert abs(np.mean(ps <= alpha) - level) < bound, (alpha, np.mean(ps <= alpha), level)
    assert np.mean(ps) > 0.4  # not small


def test_independent_rankings_at_the_papers_size_are_near_64():
    rng = np.random.default_rng(1)
    table = _table(rng.normal(size=1024), rng.normal(size=1024))
    out = golden_vs_chance(table, ["fid", "hps"], 256, permutations=2_000, seed=0)
    assert list(out.tag) == ["golden", "inferior"]
    sd = np.sqrt(stats.hypergeom.var(1024, 256, 256))  # 6
    assert (abs(out["count"] - 64) < 4 * sd).all()
    assert (out.expected_by_chance == 64).all()
    assert (out.p_value > 1e-3).all()
    assert ((out.N == 1024) & (out.k == 256) & (out.metrics == "fid+hps")).all()


def test_planted_agreement_gives_the_minimum_p():
    rng = np.random.default_rng(2)
    fid = rng.normal(size=1024)
    table = _table(fid, -fid)  # the same ranking: lower FID is better, higher HPS is better
    permutations = 999
    out = golden_vs_chance(table, ["fid", "hps"], 256, permutations=permutations).set_index("tag")
    assert (out["count"] == 256).all()
    assert (out.p_value == 1 / (1 + permutations)).all()
    assert (out.p_hypergeom < 1e-100).all()


def test_golden_vs_chance_counts_match_golden_and_inferior():
    rng = np.random.default_rng(3)
    n = 60
    shared = rng.normal(size=n)
    table = _table(shared + rng.normal(size=n), -shared + rng.normal(size=n), rng.normal(size=n))
    golden, inferior = golden_and_inferior(table, ["fid", "hps"], 15)
    out = golden_vs_chance(table, ["fid", "hps"], 15, permutations=199).set_index("tag")
    assert out.loc["golden", "count"] == len(golden)
    assert out.loc["inferior", "count"] == len(inferior)
    assert out.loc["golden", "p_hypergeom"] == pytest.approx(
        stats.hypergeom.sf(len(golden) - 1, n, 15, 15)
    )
    three = golden_vs_chance(table, ["fid", "kid", "hps"], 15, permutations=199)
    assert three.p_hypergeom.isna().all()  # the exact tail is for two metrics
    assert np.allclose(three.expected_by_chance, n * (15 / n) ** 3)
    assert (three.metrics == "fid+kid+hps").all()
    one = golden_vs_chance(table, ["fid"], 15, permutations=199)
    assert (one["count"] == 15).all() and (one.p_value == 1.0).all()  # one list overlaps itself
    capped = golden_vs_chance(table, ["fid", "hps"], 500, permutations=99)
    assert (capped.k == n).all() and (capped["count"] == n).all() and (capped.p_value == 1).all()
