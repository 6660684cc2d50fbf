"""Small traps of the command line: tags a bank does not know, ranking by one metric, and
config files layered as ``snakemake --configfile A B`` layers them."""

from __future__ import annotations

import copy
import json

import pandas as pd
import pytest
import yaml
from snakemake.utils import update_config

from seedscope.cli import main
from seedscope.errors import ConfigError
from seedscope.quality.perseed import LOWER_IS_BETTER
from seedscope.seedbank import SeedBankError, build_bank, pick, save_bank
from seedscope.validate import load_config, merge_config

from conftest import DEMO

SPEC = {"pipeline": "StableDiffusionPipeline", "weights": "some/model", "steps": 50}
SELECTION = {"set": "coco1", "metrics": ["fid", "hps"], "top_k": 2}


def _quality_bank(tags=None, **metrics):
    """A bank of seeds 0-5 in quality order 1, 4, 2, 5, 0, 3 (by fid and hps ranks), with
    any further ``metrics`` (name -> the values of seeds 0-5) on the selection set, as a
    bank of a run that scores them holds them."""
    table = pd.DataFrame(
        {
            "seed": [0, 1, 2, 3, 4, 5],
            "fid": [5.0, 1.0, 3.0, 9.0, 2.0, 4.0],
            "fid_rank": [5, 1, 3, 6, 2, 4],
            "hps": [0.2, 0.9, 0.5, 0.1, 0.8, 0.4],
            "hps_rank": [5, 1, 3, 6, 2, 4],
        }
    )
    if tags is None:
        tags = {"golden": [1, 4], "inferior": [3], "grayscale": []}
    bank = build_bank("sd2", SPEC, {"coco1": table}, tags, SELECTION, "0" * 64)
    for seed in bank["seeds"]:
        for name, values in metrics.items():
            seed["stats"]["coco1"] |= {name: values[seed["seed"]], f"{name}_rank": 1}
    return bank


def _inpainting_bank():
    text = pd.DataFrame(
        {
            "seed": [0, 1, 2, 3],
            "removal_ratio": [0.1, 0.5, 0.0, 0.3],
            "removal_ratio_rank": [3, 1, 4, 2],  # 1: the most text
            "text_tag": [False, True, False, False],
        }
    )
    return build_bank("sd2-inpaint", SPEC, {}, {}, None, "0" * 64, appearance={"text": text})


# -- tags a bank does not know ------------------------------------------------------------------


def test_a_tag_the_bank_does_not_know_is_refused_with_the_tags_it_has():
    bank = _quality_bank()
    for kwargs in ({"avoid": ["blurry"]}, {"prefer": ["blurry"]}, {"avoid": ["text"]}):
        with pytest.raises(SeedBankError, match="no tag 'blurry'|no tag 'text'") as error:
            pick(bank, 2, **kwargs)
        assert "golden, grayscale, inferior" in str(error.value)
    with pytest.raises(SeedBankError, match="no tag 'blurry'"):
        pick(bank, 2, avoid=["blurry"], diverse="style")  # checked before anything else


def test_a_known_tag_without_seeds_is_fine():
    bank = _quality_bank()
    assert pick(bank, 3, avoid=["grayscale"]) == [1, 4, 2]
    # a run that found no golden (or inferior) seed lists none, but the tags are still known
    empty = _quality_bank(tags={})
    assert pick(empty, 2, prefer=["golden"], avoid=["inferior"]) == [1, 4]


def test_the_default_preference_fits_an_inpainting_bank():
    bank = _inpainting_bank()
    assert pick(bank, 2) == [2, 0]  # fewest text first; no golden tag to prefer
    assert pick(bank, 3, avoid=["text"]) == [2, 0, 3]
    with pytest.raises(SeedBankError, match="no tag 'golden'; its tags are text"):
        pick(bank, 2, prefer=["golden"])
    assert pick(_quality_bank(), 2) == pick(_quality_bank(), 2, prefer=["golden"]) == [1, 4]


def test_pick_command_refuses_an_unknown_tag(tmp_path, capsys):
    save_bank(_quality_bank(), tmp_path / "sd2.json")
    assert main(["pick", "--bank", str(tmp_path / "sd2.json"), "--avoid", "blurry"]) == 2
    err = capsys.readouterr().err
    assert "no tag 'blurry'" in err and "golden, grayscale, inferior" in err


# -- ranking by one metric ----------------------------------------------------------------------


@pytest.mark.parametrize("metric, lower", sorted(LOWER_IS_BETTER.items()))
def test_rank_orders_by_the_metric_in_its_direction(metric, lower):
    values = [0.3, 0.6, 0.1, 0.5, 0.2, 0.4]
    bank = _quality_bank(**{metric: values}) if metric not in ("fid", "hps") else _quality_bank()
    if metric in ("fid", "hps"):
        values = [
            s["stats"]["coco1"][metric] for s in sorted(bank["seeds"], key=lambda s: s["seed"])
        ]
    best_first = sorted(range(6), key=lambda seed: values[seed] if lower else -values[seed])
    assert pick(bank, 6, prefer=[], rank=metric) == best_first


def test_rank_treats_a_new_score_as_higher_is_better_and_keeps_the_preference():
    bank = _quality_bank(pickscore=[21.0, 20.0, 22.5, 23.0, 19.0, 22.0])
    assert pick(bank, 3, prefer=[], rank="pickscore") == [3, 2, 5]
    # golden seeds (1, 4) first, each group by PickScore
    assert pick(bank, 4, prefer=["golden"], rank="pickscore") == [1, 4, 3, 2]
    assert pick(bank, 3, prefer=[], avoid=["inferior"], rank="pickscore") == [2, 5, 0]


def test_rank_errors_name_the_metrics_the_bank_has():
    bank = _quality_bank(pickscore=[1.0] * 6)
    with pytest.raises(SeedBankError, match="rank by one of its metrics: fid, hps, pickscore"):
        pick(bank, 2, rank="imagereward")
    with pytest.raises(SeedBankError, match="one of its metrics"):
        pick(bank, 2, rank="fid_rank")  # a rank column is not a metric
    with pytest.raises(SeedBankError, match="no per-seed quality statistics"):
        pick(_inpainting_bank(), 2, rank="fid")
    with pytest.raises(SeedBankError, match="choose one"):
        pick(bank, 2, rank="fid", order="random")


def test_pick_command_ranks(tmp_path, capsys):
    save_bank(_quality_bank(pickscore=[21.0, 20.0, 22.5, 23.0, 19.0, 22.0]), tmp_path / "b.json")
    args = ["pick", "--bank", str(tmp_path / "b.json"), "--n", "3"]
    assert main([*args, "--rank", "pickscore"]) == 0
    assert capsys.readouterr().out.split() == ["3", "2", "5"]
    assert main([*args, "--rank", "kid"]) == 2
    assert "fid, hps, pickscore" in capsys.readouterr().err


# -- layered config files -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "base, overlay",
    [
        ({"a": {"b": 1, "c": [1, 2]}, "d": 1}, {"a": {"c": [3]}, "e": {"f": None}}),
        ({"a": 5, "b": {"c": 1}}, {"a": {"x": 1}, "b": None}),  # a mapping replaces a number
        ({"a": None, "b": 2}, {"a": {"x": {"y": 1}}, "b": {}}),
        ({"a": {"b": {"c": 1, "d": 2}}}, {"a": {"b": {"d": 3}}}),
    ],
)
def test_configs_merge_as_snakemake_merges_them(base, overlay):
    expected = copy.deepcopy(base)
    update_config(expected, copy.deepcopy(overlay))
    assert merge_config(copy.deepcopy(base), overlay) == expected


def _overlay(tmp_path, values, name="overlay.yaml"):
    path = tmp_path / name
    path.write_text(yaml.safe_dump(values))
    return path


def test_check_config_and_plan_read_config_files_in_order(tmp_path, capsys):
    seeds = _overlay(tmp_path, {"seeds": {"count": 64}, "run": "bigger"})
    later = _overlay(tmp_path, {"run": "last"}, "later.yaml")
    assert main(["check-config", str(DEMO), str(seeds), str(later)]) == 0
    out = capsys.readouterr().out
    assert "run 'last', 2 seed blocks" in out  # block_size 32 kept from the demo config
    assert main(["check-config", str(seeds)]) == 2  # an overlay alone is not a config
    assert "'models' is a required property" in capsys.readouterr().err
    config = load_config(DEMO, seeds, check_libraries=False)
    assert config["seeds"] == {**load_config(DEMO, check_libraries=False)["seeds"], "count": 64}
    assert load_config(DEMO, check_libraries=False)["seeds"]["count"] == 32  # one file still works
    plan_json = tmp_path / "plan.json"
    assert main(["plan", str(DEMO), str(seeds), "--json", str(plan_json)]) == 0
    assert json.loads(plan_json.read_text())["seeds"] == 64


def test_config_file_errors_name_the_file(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(DEMO, tmp_path / "missing.yaml")
    listed = tmp_path / "list.yaml"
    listed.write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="list.yaml holds a list, not a mapping"):
        load_config(DEMO, listed)
