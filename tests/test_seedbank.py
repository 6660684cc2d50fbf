"""The seed bank: built from per-seed tables, picked from by tag, read back with clear errors."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from seedscope.cli import main
from seedscope.seedbank import SeedBankError, build_bank, config_hash, load_bank, pick, save_bank


def _bank(tmp_path):
    per_seed = pd.DataFrame(
        {
            "seed": [0, 1, 2, 3, 4, 5],
            "fid": [5.0, 1.0, 3.0, 9.0, 2.0, 4.0],
            "fid_rank": [5, 1, 3, 6, 2, 4],
            "hps": [0.2, 0.9, 0.5, 0.1, 0.8, 0.4],
            "hps_rank": [5, 1, 3, 6, 2, 4],
        }
    )
    parti = pd.DataFrame({"seed": [0, 1, 2, 3, 4, 5], "hps": [0.1] * 6, "hps_rank": [1] * 6})
    bank = build_bank(
        "sd2",
        {"pipeline": "StableDiffusionPipeline", "weights": "some/model", "steps": 50},
        {"coco1": per_seed, "parti": parti},
        {"golden": [1, 4], "inferior": [3], "text": [4]},
        {"set": "coco1", "metrics": ["fid", "hps"], "top_k": 2},
        config_hash({"run": "x"}),
    )
    path = tmp_path / "sd2.json"
    save_bank(bank, path)
    return path


def test_bank_lists_seeds_best_first_with_stats_and_tags(tmp_path):
    bank = load_bank(_bank(tmp_path))
    assert [s["seed"] for s in bank["seeds"]] == [1, 4, 2, 5, 0, 3]
    first = bank["seeds"][0]
    assert first["tags"] == ["golden"] and first["stats"]["coco1"]["fid"] == 1.0
    assert first["stats"]["parti"] == {"hps": 0.1, "hps_rank": 1}
    assert bank["model"]["weights"] == "some/model"
    assert bank["config_sha256"] == config_hash({"run": "x"}) != config_hash({"run": "y"})


def test_pick_prefers_and_avoids_tags(tmp_path):
    bank = load_bank(_bank(tmp_path))
    assert pick(bank, 2, prefer=["golden"]) == [1, 4]
    assert pick(bank, 2, prefer=["golden"], avoid=["text"]) == [1, 2]  # filled by rank
    assert 3 not in pick(bank, 5, prefer=[], avoid=["inferior"])
    assert pick(bank, 3, prefer=["no-such-tag"]) == [1, 4, 2]


def test_pick_random_is_reproducible_and_keeps_preference(tmp_path):
    bank = load_bank(_bank(tmp_path))
    draws = {tuple(pick(bank, 4, order="random", seed=s)) for s in range(20)}
    assert len(draws) > 1
    assert all(set(d[:2]) == {1, 4} for d in draws)
    assert pick(bank, 4, order="random", seed=3) == pick(bank, 4, order="random", seed=3)


def test_pick_errors_name_the_problem(tmp_path):
    bank = load_bank(_bank(tmp_path))
    with pytest.raises(SeedBankError, match="fewer than n=6"):
        pick(bank, 6, avoid=["text"])
    with pytest.raises(SeedBankError, match="order must be"):
        pick(bank, 1, order="worst")
    with pytest.raises(SeedBankError, match="does not exist"):
        load_bank(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(SeedBankError, match="not valid JSON"):
        load_bank(tmp_path / "bad.json")


def test_pick_command(tmp_path, capsys):
    path = _bank(tmp_path)
    assert (
        main(["pick", "--bank", str(path), "--n", "3", "--prefer", "golden", "--avoid", "text"])
        == 0
    )
    assert capsys.readouterr().out.split() == ["1", "2", "5"]
    assert main(["pick", "--bank", str(path), "--n", "2", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["seeds"] == [1, 4]
    assert main(["pick", "--bank", str(tmp_path / "none.json")]) == 2
    assert "does not exist" in capsys.readouterr().err
