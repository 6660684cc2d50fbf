"""Tiny Stable Diffusion 2, SDXL-Turbo and SD2-inpainting pipelines built from configuration.

They have the real architectures' structure (UNet with cross-attention, a KL autoencoder with
an 8x downsampling factor, CLIP text encoders, the real schedulers) at a size that renders a
64 px image on a CPU in milliseconds. Weights are random with a fixed initialisation seed. Each
is saved with ``save_pretrained`` and read back by the same ``from_pretrained`` path that loads
the real models, so the demo and the tests exercise the user's loading code.
"""

from __future__ import annotations

import string
from pathlib import Path

import torch

TINY_KINDS = ("sd2", "sdxl-turbo", "sd2-inpaint")

_TEXT_WIDTH = 32


def _tiny_tokenizer():
    """A CLIP tokenizer over single characters, built offline from an in-memory vocabulary."""
    from transformers import CLIPTokenizer

    symbols = list(string.ascii_lowercase + string.digits + ".,'-!?&()")
    tokens = ["<|startoftext|>", "<|endoftext|>"] + symbols + [s + "</w>" for s in symbols]
    vocab = {token: index for index, token in enumerate(tokens)}
    return CLIPTokenizer(vocab=vocab, merges=[], pad_token="<|endoftext|>", model_max_length=77)


def _tiny_text_encoder(vocab_size: int, with_projection: bool = False):
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    config = CLIPTextConfig(
        hidden_size=_TEXT_WIDTH,
        intermediate_size=37,
        num_attention_heads=4,
        num_hidden_layers=2,
        vocab_size=vocab_size,
        projection_dim=_TEXT_WIDTH,
        max_position_embeddings=77,
        bos_token_id=0,
        eos_token_id=1,
        pad_token_id=1,
    )
    return CLIPTextModelWithProjection(config) if with_projection else CLIPTextModel(config)


def _tiny_vae():
    from diffusers import AutoencoderKL

    return AutoencoderKL(
        block_out_channels=(8, 16, 16, 16),
        norm_num_groups=8,
        layers_per_block=1,
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4,
        latent_channels=4,
        sample_size=64,
    )


def _tiny_unet(in_channels: int = 4, sdxl: bool = False):
    from diffusers import UNet2DConditionModel

    extra = {}
    if sdxl:
        extra = dict(
            addition_embed_type="text_time",
            addition_time_embed_dim=8,
            projection_class_embeddings_input_dim=6 * 8 + _TEXT_WIDTH,
            cross_attention_dim=2 * _TEXT_WIDTH,
        )
    return UNet2DConditionModel(
        block_out_channels=(32, 64),
        layers_per_block=1,
        norm_num_groups=8,
        sample_size=8,
        in_channels=in_channels,
        out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        attention_head_dim=(2, 4),
        use_linear_projection=True,
        cross_attention_dim=extra.pop("cross_attention_dim", _TEXT_WIDTH),
        **extra,
    )


def _sd_scheduler():
    from diffusers import DDIMScheduler

    return DDIMScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        clip_sample=False,
        set_alpha_to_one=False,
        steps_offset=1,
    )


def build_tiny_pipeline(kind: str, out_dir: str | Path, seed: int = 0) -> Path:
    """Build the tiny pipeline ``kind`` (one of ``TINY_KINDS``) and save it to ``out_dir``.

    The weights are drawn from ``torch.manual_seed(seed)``, so the same seed gives the same
    model on every machine. Returns the folder, which ``from_pretrained`` loads.
    """
    from diffusers import (
        EulerAncestralDiscreteScheduler,
        StableDiffusionInpaintPipeline,
        StableDiffusionPipeline,
        StableDiffusionXLPipeline,
    )

    if kind not in TINY_KINDS:
        raise ValueError(f"unknown tiny model kind {kind!r}; choose one of {TINY_KINDS}")
    torch.manual_seed(seed)  # model initialisation only, never image generation
    tokenizer = _tiny_tokenizer()
    vocab_size = len(tokenizer)
    if kind == "sdxl-turbo":
        pipe = StableDiffusionXLPipeline(
            vae=_tiny_vae(),
            text_encoder=_tiny_text_encoder(vocab_size),
            text_encoder_2=_tiny_text_encoder(vocab_size, with_projection=True),
            tokenizer=tokenizer,
            tokenizer_2=tokenizer,
            unet=_tiny_unet(sdxl=True),
            scheduler=EulerAncestralDiscreteScheduler.from_config(
                _sd_scheduler().config, timestep_spacing="trailing"
            ),
        )
    else:
        cls = StableDiffusionInpaintPipeline if kind == "sd2-inpaint" else StableDiffusionPipeline
        pipe = cls(
            vae=_tiny_vae(),
            text_encoder=_tiny_text_encoder(vocab_size),
            tokenizer=tokenizer,
            unet=_tiny_unet(in_channels=9 if kind == "sd2-inpaint" else 4),
            scheduler=_sd_scheduler(),
            safety_checker=None,
            feature_extractor=None,
            requires_safety_checker=False,
        )
    out_dir = Path(out_dir)
    pipe.save_pretrained(out_dir, safe_serialization=True)
    return out_dir
