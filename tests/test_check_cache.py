"""seedscope.check_cache: library checks of the config, remembered once they pass."""

import pytest

from seedscope import check_cache
from seedscope.errors import ConfigError
from seedscope.validate import load_config, validate_config

from conftest import DEMO


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SEEDSCOPE_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache" / "checks"


def counting(fails=False):
    calls = []

    def check(*args):
        calls.append(args)
        if fails:
            raise ConfigError("bad")

    return check, calls


def test_a_passed_check_runs_once_per_arguments_and_library_version(cache, monkeypatch):
    check, calls = counting()
    check_cache.check_once("fit", ["diffusers"], check, "m", {"pipeline": "P"})
    check_cache.check_once("fit", ["diffusers"], check, "m", {"pipeline": "P"})
    assert calls == [("m", {"pipeline": "P"})] and len(list(cache.iterdir())) == 1
    check_cache.check_once("fit", ["diffusers"], check, "m", {"pipeline": "Q"})
    assert len(calls) == 2
    monkeypatch.setattr(check_cache, "library_version", lambda name: "0.0-other")
    check_cache.check_once("fit", ["diffusers"], check, "m", {"pipeline": "P"})
    assert len(calls) == 3


def test_a_failing_check_raises_every_time_and_is_not_remembered(cache):
    check, calls = counting(fails=True)
    for _ in range(2):
        with pytest.raises(ConfigError):
            check_cache.check_once("fit", ["diffusers"], check, "m")
    assert len(calls) == 2 and not (cache.exists() and any(cache.iterdir()))


def test_an_unwritable_cache_runs_every_check(tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("SEEDSCOPE_CACHE", str(blocker))
    check, calls = counting()
    check_cache.check_once("fit", ["timm"], check, "resnet50")
    check_cache.check_once("fit", ["timm"], check, "resnet50")
    assert len(calls) == 2


def test_a_bad_scheduler_fails_after_the_good_config_passed(cache):
    config = load_config(DEMO)
    assert any(cache.iterdir())  # the demo's model checks passed and are remembered
    model = next(iter(config["models"]))
    config["models"][model]["scheduler"]["name"] = "flow_match_euler"
    with pytest.raises(ConfigError, match=rf"models\.{model}\.scheduler\.name"):
        validate_config(config)
