"""Table 1b, quality per render: best-of-N drawn from rendered images, against random and golden
seeds (seedscope.quality.best_of_n), its intervals' coverage, and its config checks."""

from __future__ import annotations

import numpy as np
import pytest
import yaml
from scipy import stats

from seedscope.errors import ConfigError, FeatureError
from seedscope.features.table import FeatureTable
from seedscope.quality import best_of_n
from seedscope.validate import validate_config

from conftest import DEMO

SETTINGS = {"n": [2, 4, 8], "verifiers": ["hps"], "draws": 3, "seed": 0}


def population(prompts: int, seeds: int, rng, correlation: float = 0.5) -> dict[str, np.ndarray]:
    """Two scores of every (prompt, seed): a seed effect, a prompt effect and image noise, with
    correlated image noise (so that choosing by one score helps the other)."""
    seed_effect = rng.normal(0, 0.3, seeds)
    prompt_effect = rng.normal(0, 1, (prompts, 1))
    noise = rng.normal(0, 1, (2, prompts, seeds))
    other = correlation * noise[0] + np.sqrt(1 - correlation**2) * noise[1]
    return {
        "hps": seed_effect + prompt_effect + noise[0],
        "pickscore": 0.5 * seed_effect + prompt_effect + other,
    }


def rows_by(rows, **keys):
    return [r for r in rows if all(r[k] == v for k, v in keys.items())]


def test_candidates_are_distinct_nested_and_seeded():
    picks = best_of_n.candidates(50, 20, 8, draws=3, seed=4, stream=0)
    assert picks.shape == (3, 50, 8)
    assert all(len(set(row)) == 8 for row in picks.reshape(-1, 8))
    assert picks.min() >= 0 and picks.max() < 20
    again = best_of_n.candidates(50, 20, 8, draws=3, seed=4, stream=0)
    assert np.array_equal(picks, again)
    other = best_of_n.candidates(50, 20, 8, draws=3, seed=4, stream=1)
    assert not np.array_equal(picks, other)
    # the first candidate is uniform over the pool: every seed turns up
    first = best_of_n.candidates(2000, 20, 1, draws=1, seed=0, stream=0)[..., 0]
    counts = np.bincount(first.ravel(), minlength=20)
    assert stats.chisquare(counts).pvalue > 1e-4
    with pytest.raises(ValueError, match="distinct seeds"):
        best_of_n.candidates(5, 4, 8, draws=1, seed=0, stream=0)


def test_best_of_one_is_random_seeds_exactly():
    rng = np.random.default_rng(0)
    scores = population(40, 30, rng)
    rows = best_of_n.quality_per_render(scores, [1, 5, 9, 12], SETTINGS | {"n": [2]}, 0.95)
    picks = best_of_n.candidates(40, 30, 2, 3, 0, 0)
    pool = np.arange(30)
    one = best_of_n.choose(scores["hps"], pool, picks, 1)
    assert np.array_equal(one, pool[picks[..., 0]])
    random = rows_by(rows, seeds="random", verifier="none", metric="pickscore")[0]
    expected = best_of_n.per_prompt(scores["pickscore"], one).mean()
    assert random["value"] == pytest.approx(expected, abs=0)
    assert random["renders"] == 1 and random["vs_random"] == 0


def test_best_of_n_by_the_verifier_is_never_below_random_on_the_verifier():
    rng = np.random.default_rng(1)
    scores = population(60, 40, rng)
    picks = best_of_n.candidates(60, 40, 16, 4, 0, 0)
    pool = np.arange(40)
    random = best_of_n.per_prompt(scores["hps"], pool[picks[..., 0]])
    previous = random
    for n in (2, 4, 8, 16):
        chosen = best_of_n.per_prompt(
            scores["hps"], best_of_n.choose(scores["hps"], pool, picks, n)
        )
        assert np.all(chosen >= previous - 1e-12)  # prompt by prompt, and growing with N
        previous = chosen
    assert previous.mean() > random.mean()


def test_rows_leave_out_the_verifier_and_mark_a_golden_pool_smaller_than_n():
    rng = np.random.default_rng(2)
    scores = population(30, 25, rng)
    rows = best_of_n.quality_per_render(scores, [0, 3, 7], SETTINGS, 0.95)
    assert not rows_by(rows, verifier="hps", metric="hps")
    golden_8 = rows_by(rows, seeds="golden", verifier="hps", renders=8)[0]
    assert np.isnan(golden_8["value"]) and "fewer than N = 8" in golden_8["note"]
    golden_2 = rows_by(rows, seeds="golden", verifier="hps", renders=2)[0]
    assert np.isfinite(golden_2["value"]) and golden_2["pool"] == 3
    # methods x evaluation metrics: random and golden on both scores, best-of-N on the other
    assert len(rows) == 2 * 2 + 2 * 3 * 1


def test_interval_and_paired_difference_cover_their_truth():
    """At 1,024 seeds and 1,000 prompts, the t intervals over prompts of best-of-4 and of its
    difference to random seeds cover the expectation over prompts (the truth from 50,000
    further prompts of the same population)."""
    rng = np.random.default_rng(3)
    seeds, prompts, trials = 1024, 1000, 40
    seed_effect = rng.normal(0, 0.3, seeds)

    def draw(n_prompts, generator):
        prompt_effect = generator.normal(0, 1, (n_prompts, 1))
        noise = generator.normal(0, 1, (2, n_prompts, seeds))
        return {
            "hps": seed_effect + prompt_effect + noise[0],
            "pickscore": 0.5 * seed_effect + prompt_effect + 0.5 * noise[0] + 0.87 * noise[1],
        }

    settings = {"n": [4], "verifiers": ["hps"], "draws": 1, "seed": 0}
    truth_value, truth_delta = [], []
    for chunk in range(10):  # the truth: 50,000 prompts in chunks
        scores = draw(5000, np.random.default_rng(1000 + chunk))
        rows = best_of_n.quality_per_render(scores, [0], settings | {"seed": chunk}, 0.95)
        row = rows_by(rows, seeds="random", verifier="hps", metric="pickscore")[0]
        truth_value.append(row["value"])
        truth_delta.append(row["vs_random"])
    value, delta = np.mean(truth_value), np.mean(truth_delta)
    covered = np.zeros((trials, 2), dtype=bool)
    for trial in range(trials):
        scores = draw(prompts, np.random.default_rng(trial))
        rows = best_of_n.quality_per_render(scores, [0], settings | {"seed": 99 + trial}, 0.95)
        row = rows_by(rows, seeds="random", verifier="hps", metric="pickscore")[0]
        covered[trial] = (
            row["lo"] <= value <= row["hi"],
            row["vs_random_lo"] <= delta <= row["vs_random_hi"],
        )
    # 95% nominal: fewer than 33 of 40 covered happens with probability < 0.3% if it holds
    assert covered.sum(axis=0).min() >= 33, covered.mean(axis=0)


def test_score_matrix_orders_prompts_and_seeds_and_names_a_missing_pair():
    table = FeatureTable(
        keys=np.array(["a_0", "b_0", "a_1", "b_1"]),
        seeds=np.array([0, 0, 1, 1]),
        prompt_ids=np.array(["a", "b", "a", "b"]),
        features=np.array([[1.0], [2.0], [3.0], [4.0]], dtype=np.float32),
        meta={},
    )
    matrix = best_of_n.score_matrix([table], ["b", "a"], [1, 0])
    assert matrix.tolist() == [[4.0, 2.0], [3.0, 1.0]]
    with pytest.raises(FeatureError, match="no score for prompt 'c'"):
        best_of_n.score_matrix([table], ["a", "c"], [0, 1])


@pytest.fixture
def demo_config() -> dict:
    """The demo config as written (each test changes its own copy)."""
    return yaml.safe_load(DEMO.read_text())


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda q: q.update(scores=["hps", "pickscor"]), r"'pickscor'\] is not a metric"),
        (lambda q: q["golden"].update(metrics=["fid", "blur"]), r"quality.golden.metrics"),
        (lambda q: q["best_of_n"].update(verifiers=["dino"]), r"quality.best_of_n.verifiers"),
        (
            lambda q: q.update(scores=["hps"]) or q["best_of_n"].update(verifiers=["hps"]),
            r"'hps' is the only score",
        ),
        (lambda q: q["best_of_n"].update(n=[2, 64]), r"best-of-64 needs that many"),
        (lambda q: q["best_of_n"].update(sets=["coco1"]), r"on which golden seeds are chosen"),
        (lambda q: q.update(scores=["pickscore", "clipscore"]), r"hps must be scored"),
    ],
)
def test_bad_metric_settings_stop_before_any_job(demo_config, change, message):
    demo_config["quality"] = {"best_of_n": {}, "golden": {}} | demo_config["quality"]
    change(demo_config["quality"])
    with pytest.raises(ConfigError, match=message):
        validate_config(demo_config, check_libraries=False)
