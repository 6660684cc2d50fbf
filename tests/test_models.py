"""Model loading through from_pretrained, and the errors for models that are not there."""

import pytest

from seedscope.errors import ConfigError, ModelNotFoundError
from seedscope.models import load_pipeline, looks_like_path

from conftest import model_spec


def test_tiny_models_load_through_from_pretrained(tiny_models):
    pipe = load_pipeline("sd2", model_spec("sd2", tiny_models["sd2"]), "cpu")
    assert type(pipe).__name__ == "StableDiffusionPipeline"
    assert type(pipe.scheduler).__name__ == "DDIMScheduler"
    assert pipe.scheduler.config.timestep_spacing == "leading"
    turbo = load_pipeline("sdxl-turbo", model_spec("sdxl-turbo", tiny_models["sdxl-turbo"]), "cpu")
    assert type(turbo.scheduler).__name__ == "EulerAncestralDiscreteScheduler"
    assert turbo.scheduler.config.timestep_spacing == "trailing"


def test_hub_id_missing_offline_names_id_and_fixes(tiny_models):
    spec = model_spec("sd2", "nobody/no-such-model-xyz")
    with pytest.raises(ModelNotFoundError) as err:
        load_pipeline("sd2", spec, "cpu")
    message = str(err.value)
    assert "nobody/no-such-model-xyz" in message
    assert "huggingface-cli download nobody/no-such-model-xyz" in message
    assert "HF_HUB_OFFLINE" in message and "local folder" in message


def test_local_folder_without_pipeline(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelNotFoundError) as err:
        load_pipeline("m", model_spec("sd2", tmp_path / "empty"), "cpu")
    assert "model_index.json" in str(err.value)


def test_unknown_pipeline_class(tiny_models):
    with pytest.raises(ConfigError) as err:
        load_pipeline(
            "m", model_spec("sd2", tiny_models["sd2"], pipeline="StableDiffusionPipelin"), "cpu"
        )
    assert "StableDiffusionPipelin" in str(err.value)


def test_hub_ids_and_paths_are_told_apart():
    assert not looks_like_path("stabilityai/sdxl-turbo")
    assert looks_like_path("./models/sd2") and looks_like_path("/data/models/sd2")
    assert looks_like_path("results/demo/models/sd2")
