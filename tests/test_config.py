"""Config validation: defaults, and a clear error naming the key for every kind of bad value."""

import copy

import pytest
import yaml

from seedscope.errors import ConfigError, ModelNotFoundError
from seedscope.shards import block_name
from seedscope.study import seed_blocks
from seedscope.validate import load_config, validate_config

from conftest import REPO


@pytest.fixture()
def paper():
    return yaml.safe_load((REPO / "config.yaml").read_text())


def test_paper_config_is_valid_and_gets_defaults(paper):
    config = validate_config(copy.deepcopy(paper))
    assert len(seed_blocks(config)) == 64
    assert seed_blocks(config)[-1] == (1008, 1023)
    assert config["models"]["sd2"]["prompt_sets"] is None  # default filled: all sets
    assert config["prompt_sets"]["parti"]["sha256"].startswith("fab29e41")
    assert config["seed_swap"]["steps"] == 40


def test_demo_config_is_valid():
    config = load_config(REPO / "profiles" / "demo" / "demo.yaml")
    assert config["models"]["sd2"]["weights"] == "results/demo/models/sd2"


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (
            lambda c: c["models"]["sd2"]["scheduler"].update(name="ddimm"),
            ["models.sd2.scheduler.name", "'ddimm'", "euler_ancestral"],
        ),
        (
            lambda c: c["models"]["sd2"].update(stepz=3),
            ["models.sd2", "stepz", "allowed keys", "steps"],
        ),
        (lambda c: c["models"]["sd2"].update(steps="50"), ["models.sd2.steps", "'50'", "integer"]),
        (
            lambda c: c["models"]["sd2"].update(resolution=500),
            ["models.sd2.resolution", "multiple of 8"],
        ),
        (lambda c: c.update(run="my run"), ["config key run", "letters, digits"]),
        (lambda c: c["seeds"].update(count=1000), ["seeds.count", "multiple of seeds.block_size"]),
        (
            lambda c: c["models"]["sd2"].update(prompt_sets=["cocoa"]),
            ["models.sd2.prompt_sets", "'cocoa'"],
        ),
        (
            lambda c: c["prompt_sets"]["parti"].update(kind="partii"),
            ["prompt_sets.parti.kind", "synthetic"],
        ),
        (lambda c: c["coco"].update(n_images=10), ["coco.parts", "coco.n_images"]),
        (lambda c: c["prompt_sets"]["coco2"].update(part=5), ["prompt_sets.coco2.part", "0 to 1"]),
        (lambda c: c["seed_swap"].update(model="sd3"), ["seed_swap.model", "'sd3'"]),
        (lambda c: c["models"]["sd2"].pop("weights"), ["models.sd2.weights", "missing"]),
        (
            lambda c: c["classifier"].update(backbone="resnet5O"),
            ["classifier.backbone", "resnet50"],
        ),
        (
            lambda c: c["classifier"].update(split={"train": 20000}),
            ["classifier.split", "22000", "hold 20000"],
        ),
        (
            lambda c: c["classifier"].update(prompt_sets=["parti", "nope"]),
            ["classifier.prompt_sets", "nope"],
        ),
        (
            lambda c: c["classifier"].update(gradcam={"seeds": [5000]}),
            ["classifier.gradcam.seeds", "5000"],
        ),
        (
            lambda c: c["quality"].update(fid_set="parti"),
            ["config key quality", "'parti'", "COCO prompt set", "HPS only"],
        ),
        (
            lambda c: c["quality"]["table1"].update(hps_sets=["partiprompts"]),
            ["config key quality", "'partiprompts'", "choose from"],
        ),
        (
            lambda c: (
                c["models"]["sdxl-turbo"].update(prompt_sets=["coco1", "parti"]),
                c["classifier"].update(models=["sd2"]),
                c["quality"].update(models=["sd2", "sdxl-turbo"]),
            ),
            ["quality.models", "'sdxl-turbo'", "coco2"],
        ),
        (
            lambda c: c["features"]["inception"].update(weights="/nowhere/inception.pt"),
            ["features.inception.weights", "/nowhere/inception.pt", "local copy"],
        ),
        (
            lambda c: c["quality"]["golden"].update(metrics=["fid", "clip"]),
            ["quality.golden.metrics", "'clip'"],
        ),
    ],
)
def test_bad_values_name_the_key(paper, mutate, expected):
    mutate(paper)
    with pytest.raises(ConfigError) as err:
        validate_config(paper)
    for fragment in expected:
        assert fragment in str(err.value)


def test_missing_local_weights_folder_is_caught_at_validation(paper, tmp_path):
    paper["models"]["sd2"]["weights"] = str(tmp_path / "no-such-model")
    with pytest.raises(ModelNotFoundError) as err:
        validate_config(paper)
    assert "no-such-model" in str(err.value) and "model_index.json" in str(err.value)


def test_block_names_sort_and_parse():
    assert block_name(0, 15) == "seeds-0000-0015"
    assert block_name(1008, 1023) == "seeds-1008-1023"
