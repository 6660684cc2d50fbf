"""The seed bank: built from per-seed tables, picked from by tag, read back with clear errors."""

from __future__ import annotations

import inspect
import json
import re
import textwrap

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

import seedscope.seedbank
from seedscope.cli import main
from seedscope.generate import render_shard
from seedscope.models import load_pipeline as load_model
from seedscope.seedbank import (
    MODEL_KEYS,
    SeedBankError,
    build_bank,
    config_hash,
    load_bank,
    pick,
    pipeline_settings,
    save_bank,
)
from seedscope.shards import ShardReader, image_key

from conftest import REPO, model_spec

# The seed bank's promise (README): plain diffusers renders the studied image within one level.
BANK_LEVELS = 1


def _per_seed():
    return pd.DataFrame(
        {
            "seed": [0, 1, 2, 3, 4, 5],
            "fid": [5.0, 1.0, 3.0, 9.0, 2.0, 4.0],
            "fid_rank": [5, 1, 3, 6, 2, 4],
            "hps": [0.2, 0.9, 0.5, 0.1, 0.8, 0.4],
            "hps_rank": [5, 1, 3, 6, 2, 4],
        }
    )


def _bank(tmp_path):
    per_seed = _per_seed()
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
    with pytest.raises(SeedBankError, match="no tag 'no-such-tag'"):
        pick(bank, 3, prefer=["no-such-tag"])


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


def test_bank_records_every_model_setting_that_images_depend_on():
    schema = yaml.safe_load((REPO / "schemas" / "config.schema.yaml").read_text())
    keys = set(schema["$defs"]["model"]["properties"])
    # ``tiny`` says how the weights were built and ``prompt_sets`` what was rendered; neither
    # changes an image. Every other key of a model entry goes into the bank.
    assert keys - set(MODEL_KEYS) == {"tiny", "prompt_sets"}
    assert set(MODEL_KEYS) <= keys


def _settings_bank(**model):
    base = {
        "pipeline": "StableDiffusionPipeline",
        "weights": "some/model",
        "resolution": 512,
        "steps": 50,
        "guidance": 7.5,
        "scheduler": {"name": "ddim", "timestep_spacing": "trailing", "eta": 0.5},
    }
    return {"model": base | model}


def test_pipeline_settings_spell_out_the_studied_call():
    settings = pipeline_settings(_settings_bank(dtype="float16", variant="fp16"), "cpu")
    assert settings["pipeline"] == "StableDiffusionPipeline" and settings["weights"] == "some/model"
    assert settings["load"] == {"dtype": torch.float16, "variant": "fp16"}
    assert settings["scheduler"] == "DDIMScheduler"
    assert settings["scheduler_config"] == {"timestep_spacing": "trailing"}
    assert settings["call"] == {
        "num_inference_steps": 50,
        "guidance_scale": 7.5,
        "height": 512,
        "width": 512,
        "eta": 0.5,
    }
    assert settings["device"] == torch.device("cpu")
    negative = pipeline_settings(_settings_bank(negative_prompt="blurry"), "cpu")["call"]
    assert negative["negative_prompt"] == "blurry"
    no_guidance = _settings_bank(negative_prompt="blurry", guidance=1.0)
    assert "negative_prompt" not in pipeline_settings(no_guidance, "cpu")["call"]
    default = pipeline_settings(_settings_bank(scheduler={"name": "default"}), "cpu")
    assert default["scheduler"] is None and default["scheduler_config"] == {}


def test_pipeline_settings_resolve_auto_dtype_on_the_studied_device():
    def dtype(bank, device="cpu"):
        return pipeline_settings(bank, device)["load"]["dtype"]

    assert dtype(_settings_bank(dtype="auto", device="cuda")) == torch.float16
    assert dtype(_settings_bank(dtype="auto", device="cpu")) == torch.float32
    assert dtype(_settings_bank(dtype="auto", device="auto")) == torch.float32  # here: cpu
    assert dtype(_settings_bank(dtype="bfloat16", device="cpu")) == torch.bfloat16


def readme_example() -> str:
    """The python code block of the README's seed-bank section."""
    text = (REPO / "README.md").read_text()
    section = text[text.index("## Seed quality and the seed bank") :]
    section = section[: section.index("\n## ", 1)]
    (code,) = re.findall(r"```python\n(.*?)```", section, re.S)
    return code


def test_readme_and_module_docstring_show_the_same_example():
    doc = inspect.getdoc(seedscope.seedbank)
    block = doc[doc.index("::\n") + 3 :]
    lines = []
    for line in block.splitlines()[1:]:
        if line and not line.startswith("    "):
            break
        lines.append(line)
    assert textwrap.dedent("\n".join(lines)).strip() == readme_example().strip()


PROMPT = {"id": "p-00000", "text": "a red bicycle by a lake"}


@pytest.mark.parametrize(
    "kind, overrides",
    [
        # DDIM with eta draws noise at every step; trailing is not the saved spacing.
        ("sd2", {"scheduler": {"name": "ddim", "timestep_spacing": "trailing", "eta": 0.7}}),
        # Guidance with SDXL's zero negative embeddings; not the saved scheduler class.
        (
            "sdxl-turbo",
            {
                "guidance": 5.0,
                "steps": 2,
                "scheduler": {"name": "euler", "timestep_spacing": "leading"},
            },
        ),
    ],
)
def test_readme_example_renders_the_studied_images(kind, overrides, tiny_models, tmp_path):
    # 48 px is not the tiny models' default size, so the example must pass height and width.
    spec = model_spec(kind, tiny_models[kind], resolution=48, **overrides)
    shard = tmp_path / "seeds-0000-0005.tar"
    pipe = load_model(kind, spec, "cpu")  # as the workflow loads it
    render_shard(pipe, kind, spec, "coco1", [PROMPT], list(range(6)), shard, chunk_size=6)
    selection = {"set": "coco1", "metrics": ["fid", "hps"], "top_k": 2}
    # the example avoids grayscale and border seeds (a bank with the style stage knows both)
    tags = {"golden": [1, 4], "border": [4], "grayscale": []}
    bank = build_bank(kind, spec, {"coco1": _per_seed()}, tags, selection, "0" * 64, "cpu")
    save_bank(bank, tmp_path / "bank.json")

    code = readme_example()
    for old, new in [
        ('"results/paper/seedbank/sd2.json"', json.dumps(str(tmp_path / "bank.json"))),
        ('device="cuda"', 'device="cpu"'),
        ('"a red bicycle by a lake"', json.dumps(PROMPT["text"])),
    ]:
        assert code.count(old) == 1, f"the README example no longer has {old}"
        code = code.replace(old, new)
    namespace = {}
    exec(compile(code, "README.md", "exec"), namespace)

    assert namespace["seeds"] == [1, 2, 5, 0]
    reader = ShardReader(shard)
    for seed, image in zip(namespace["seeds"], namespace["images"], strict=True):
        stored = np.asarray(reader.image(image_key(PROMPT["id"], seed)), int)
        assert np.abs(np.asarray(image, int) - stored).max() <= BANK_LEVELS
    # The images depend on these settings: without them the example would not match.
    plain = namespace["pipe"]
    generator = torch.Generator("cpu").manual_seed(namespace["seeds"][0])
    call = pipeline_settings(bank)["call"]
    unset = {"sd2": {"eta": 0.0}, "sdxl-turbo": {"negative_prompt": ""}}[kind]
    other = plain(PROMPT["text"], generator=generator, **(call | unset)).images[0]
    stored = np.asarray(reader.image(image_key(PROMPT["id"], namespace["seeds"][0])), int)
    assert np.abs(np.asarray(other, int) - stored).max() > 10 * BANK_LEVELS
