"""Transformer pipelines (SD 3, FLUX, PixArt) and unknown ones render shards that plain diffusers
renders too: precomputed embeddings give the pipeline's own images."""

import diffusers
import numpy as np
import pytest
import torch
import yaml

from seedscope.errors import ConfigError
from seedscope.families import GENERIC, family_of
from seedscope.generate import (
    Item,
    PromptEmbeddings,
    render_batch,
    render_shard,
    run_context,
    sampler_kwargs,
)
from seedscope.models import apply_speedups, check_model_fit, load_pipeline
from seedscope.seedbank import MODEL_KEYS, pipeline_settings
from seedscope.seedbank import load_pipeline as load_bank_pipeline
from seedscope.shards import ShardReader, image_key, verify
from seedscope.validate import validate_config

from conftest import REPO

PROMPTS = [{"id": f"t-{i:05d}", "text": t} for i, t in enumerate(["a red dog", "a blue cat"])]
SEEDS = [0, 1]
BANK_LEVELS = 1  # the README's promise between a shard's image and plain diffusers' call
PIPELINES = {
    "sd3": "StableDiffusion3Pipeline",
    "flux": "FluxPipeline",
    "pixart": "PixArtSigmaPipeline",
}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from seedscope.tiny.diffusion import build_tiny_pipeline

    root = tmp_path_factory.mktemp("tiny-transformers")
    return {kind: build_tiny_pipeline(kind, root / kind) for kind in PIPELINES}


def spec_for(kind, weights, **overrides):
    spec = dict(
        pipeline=PIPELINES[kind],
        weights=str(weights),
        tiny=kind,
        dtype="auto",
        resolution=64,
        steps=2,
        guidance=4.0,
        negative_prompt="",
        scheduler={"name": "default", "timestep_spacing": "default", "eta": 0.0},
        batch_size=3,
        revision=None,
        variant=None,
        prompt_sets=None,
    )
    return spec | overrides


def shard_matches_plain_diffusers(pipe, spec, tmp_path, call):
    """Render a shard (batches of 3 across prompts and seeds) and compare it image by image."""
    shard = tmp_path / "seeds-0000-0001.tar"
    render_shard(pipe, "m", spec, "t", PROMPTS, SEEDS, shard, chunk_size=4)
    assert verify(shard) == len(PROMPTS) * len(SEEDS)
    reader = ShardReader(shard)
    for prompt in PROMPTS:
        stored = {s: np.asarray(reader.image(image_key(prompt["id"], s)), int) for s in SEEDS}
        for seed in SEEDS:
            generator = torch.Generator("cpu").manual_seed(seed)
            plain = np.asarray(pipe(prompt["text"], generator=generator, **call).images[0], int)
            assert plain.shape == (64, 64, 3)
            assert np.abs(plain - stored[seed]).max() <= BANK_LEVELS
        # the comparison can fail: another seed is another image
        assert np.abs(stored[0] - stored[1]).max() > 10 * BANK_LEVELS


CASES = {
    # SD 3 with guidance and the default (empty) negative prompt
    "sd3": ("sd3", "sd3", {}, dict(guidance_scale=4.0)),
    # SD 3 with a negative prompt
    "sd3-negative": (
        "sd3",
        "sd3",
        {"negative_prompt": "blurry"},
        dict(guidance_scale=4.0, negative_prompt="blurry"),
    ),
    # FLUX: the guidance scale is an input of the transformer, no negative prompt
    "flux": ("flux", "flux", {"guidance": 3.5}, dict(guidance_scale=3.5)),
    # PixArt-Sigma: T5 embeddings with attention masks, "" as the call's default negative
    "pixart": ("pixart", "pixart", {}, dict(guidance_scale=4.0)),
    "pixart-negative": (
        "pixart",
        "pixart",
        {"negative_prompt": "blurry"},
        dict(guidance_scale=4.0, negative_prompt="blurry"),
    ),
    # PixArt without guidance: no negative embeddings at all
    "pixart-no-guidance": ("pixart", "pixart", {"guidance": 1.0}, dict(guidance_scale=1.0)),
}


@pytest.mark.parametrize("case", list(CASES))
def test_family_renders_what_plain_diffusers_renders(case, tiny, tmp_path):
    kind, family, overrides, call = CASES[case]
    spec = spec_for(kind, tiny[kind], **overrides)
    pipe = load_pipeline("m", spec, "cpu")
    assert family_of(pipe).name == family  # embeddings are precomputed, not prompt strings
    call |= dict(num_inference_steps=2, height=64, width=64)
    shard_matches_plain_diffusers(pipe, spec, tmp_path, call)


def test_pixart_alpha_renders_what_plain_diffusers_renders(tiny, tmp_path):
    sigma = load_pipeline("m", spec_for("pixart", tiny["pixart"]), "cpu")
    pipe = diffusers.PixArtAlphaPipeline(**sigma.components)
    pipe.set_progress_bar_config(disable=True)
    assert family_of(pipe).name == "pixart"
    spec = spec_for("pixart", tiny["pixart"], pipeline="PixArtAlphaPipeline")
    call = dict(num_inference_steps=2, guidance_scale=4.0, height=64, width=64)
    shard_matches_plain_diffusers(pipe, spec, tmp_path, call)


class _OtherSD3(diffusers.StableDiffusion3Pipeline):
    """A pipeline of no known family: its encode_prompt takes an extra argument."""

    def encode_prompt(self, *args, style=None, **kwargs):
        return super().encode_prompt(*args, **kwargs)


def test_unknown_pipeline_gets_prompt_strings_and_renders(tiny, tmp_path):
    sd3 = load_pipeline("m", spec_for("sd3", tiny["sd3"]), "cpu")
    pipe = _OtherSD3(**sd3.components)
    pipe.set_progress_bar_config(disable=True)
    assert family_of(pipe) is GENERIC
    spec = spec_for("sd3", tiny["sd3"], negative_prompt="blurry")
    kwargs = PromptEmbeddings(pipe, "blurry", 4.0).batch(["a red dog"])
    assert kwargs == {"prompt": ["a red dog"], "negative_prompt": ["blurry"]}
    call = dict(num_inference_steps=2, guidance_scale=4.0, height=64, width=64)
    shard_matches_plain_diffusers(pipe, spec, tmp_path, call | {"negative_prompt": "blurry"})


class _Bare:
    """A pipeline-like class whose call takes neither guidance, eta nor a negative prompt."""

    def __call__(self, prompt, num_inference_steps=10, height=None, width=None, generator=None):
        raise NotImplementedError


def test_generic_pipeline_gets_only_the_arguments_its_call_takes():
    spec = {"steps": 3, "guidance": 7.5, "resolution": 64, "scheduler": {"eta": 1.0}}
    assert sampler_kwargs(_Bare, spec) == {"num_inference_steps": 3, "height": 64, "width": 64}
    embeddings = PromptEmbeddings(_Bare(), "blurry", 7.5)
    assert embeddings.family is GENERIC and not embeddings.cfg
    assert embeddings.batch(["a", "b"]) == {"prompt": ["a", "b"]}
    pixart = sampler_kwargs(diffusers.PixArtSigmaPipeline, spec)
    assert pixart["eta"] == 1.0 and pixart["guidance_scale"] == 7.5
    assert "eta" not in sampler_kwargs(diffusers.FluxPipeline, spec)


@pytest.mark.parametrize(
    ("pipeline", "scheduler", "allowed"),
    [
        ("StableDiffusion3Pipeline", "ddim", "['default', 'flow_match_euler']"),
        ("FluxPipeline", "euler_ancestral", "['default', 'flow_match_euler']"),
        ("StableDiffusionXLPipeline", "flow_match_euler", "'euler_ancestral'"),
        ("PixArtSigmaPipeline", "flow_match_euler", "'dpmsolver_multistep'"),
    ],
)
def test_config_check_refuses_a_scheduler_that_does_not_fit(pipeline, scheduler, allowed):
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    config["models"]["sd2"] |= {"pipeline": pipeline, "scheduler": {"name": scheduler}}
    with pytest.raises(ConfigError) as error:
        validate_config(config)
    message = str(error.value)
    assert message.startswith("config key models.sd2.scheduler.name:")
    assert repr(scheduler) in message and pipeline in message and allowed in message
    if "flow_match_euler" in allowed:
        assert "'ddim'" not in message.split("choose one of")[1]
    else:
        assert "flow_match_euler" not in message.split("choose one of")[1]


def test_config_check_accepts_fitting_schedulers_and_refuses_speedups_without_a_denoiser():
    for pipeline, name in [
        ("StableDiffusion3Pipeline", "flow_match_euler"),
        ("FluxPipeline", "default"),
        ("StableDiffusionPipeline", "ddim"),
        ("PixArtAlphaPipeline", "dpmsolver_multistep"),
    ]:
        check_model_fit("m", {"pipeline": pipeline, "scheduler": {"name": name}})
    check_model_fit("m", {"pipeline": "FluxPipeline", "channels_last": True, "compile": True})
    with pytest.raises(ConfigError, match=r"models\.m\.compile: .* no unet or transformer"):
        check_model_fit("m", {"pipeline": "StableCascadeCombinedPipeline", "compile": True})
    with pytest.raises(ConfigError, match=r"config key models\.m\.pipeline: .*NoSuchPipeline"):
        check_model_fit("m", {"pipeline": "NoSuchPipeline"})


def test_flow_match_scheduler_loads_and_speedups_apply_to_the_transformer(tiny, tmp_path):
    spec = spec_for("flux", tiny["flux"], scheduler={"name": "flow_match_euler"})
    plain = load_pipeline("m", spec, "cpu")
    assert type(plain.scheduler).__name__ == "FlowMatchEulerDiscreteScheduler"
    fast = load_pipeline("m", spec | {"channels_last": True}, "cpu")
    items = [Item("t-0", "a red dog", 0), Item("t-1", "a blue cat", 1)]
    a = render_batch(plain, PromptEmbeddings(plain, "", 3.5), items, spec)
    b = render_batch(fast, PromptEmbeddings(fast, "", 3.5), items, spec)
    assert np.abs(a.astype(int) - b.astype(int)).max() <= BANK_LEVELS
    compiled = apply_speedups(load_pipeline("m", spec, "cpu"), spec | {"compile": True})
    assert type(compiled.transformer).__name__ == "OptimizedModule"  # lazy: nothing compiles
    assert run_context(compiled)["dtype"] == "float32"


@pytest.mark.parametrize(
    ("kind", "overrides"),
    [("flux", {"guidance": 3.5}), ("pixart", {"negative_prompt": "blurry"}), ("sd3", {})],
)
def test_seed_bank_settings_render_the_shard_in_plain_diffusers(kind, overrides, tiny, tmp_path):
    spec = spec_for(kind, tiny[kind], **overrides)
    shard = tmp_path / "s.tar"
    render_shard(load_pipeline("m", spec, "cpu"), "m", spec, "t", PROMPTS[:1], SEEDS, shard, 2)
    bank = {"model": {"name": "m", **{k: spec.get(k) for k in MODEL_KEYS}, "device": "cpu"}}
    call = pipeline_settings(bank, "cpu")["call"]
    if kind == "flux":  # no negative prompt, no eta; the guidance scale is an embedding input
        assert call == dict(num_inference_steps=2, guidance_scale=3.5, height=64, width=64)
    assert ("negative_prompt" in call) == ("negative_prompt" in overrides)
    pipe = load_bank_pipeline(bank, "cpu")
    pipe.set_progress_bar_config(disable=True)
    generators = [torch.Generator("cpu").manual_seed(s) for s in SEEDS]
    images = pipe([PROMPTS[0]["text"]] * len(SEEDS), generator=generators, **call).images
    reader = ShardReader(shard)
    for seed, image in zip(SEEDS, images, strict=True):
        stored = np.asarray(reader.image(image_key(PROMPTS[0]["id"], seed)), int)
        assert np.abs(np.asarray(image, int) - stored).max() <= BANK_LEVELS


def test_config_check_refuses_a_negative_prompt_for_flux():
    with pytest.raises(ConfigError, match=r"models\.m\.negative_prompt: FluxPipeline takes no"):
        check_model_fit("m", {"pipeline": "FluxPipeline", "negative_prompt": "blurry"})
    check_model_fit("m", {"pipeline": "PixArtSigmaPipeline", "negative_prompt": "blurry"})
