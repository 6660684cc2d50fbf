"""Tiny diffusers pipelines built from configuration: Stable Diffusion 2, SDXL-Turbo,
SD2-inpainting, Stable Diffusion 3, FLUX and PixArt-Sigma.

They have the real architectures' structure (a UNet or diffusion transformer, a KL autoencoder
with an 8x downsampling factor, CLIP and T5 text encoders, the real schedulers) at a size that
renders a 64 px image on a CPU in milliseconds. Weights are random with a fixed initialisation
seed. Each is saved with ``save_pretrained`` and read back by the same ``from_pretrained`` path
that loads the real models, so the demo and the tests exercise the user's loading code.
"""

from __future__ import annotations

from pathlib import Path

import torch

from seedscope.architectures import (
    SYMBOLS,
    VAE,
    char_tokenizer,
    clip_text_encoder,
    flux_config,
    pixart_config,
    sd3_config,
    sd_scheduler,
)

TINY_KINDS = ("sd2", "sdxl-turbo", "sd2-inpaint", "sd3", "flux", "pixart")

_TEXT_WIDTH = 32
_TEXT_CONFIG = dict(
    hidden_size=_TEXT_WIDTH,
    intermediate_size=37,
    num_attention_heads=4,
    num_hidden_layers=2,
    projection_dim=_TEXT_WIDTH,
    bos_token_id=0,
    eos_token_id=1,
    pad_token_id=1,
)


def _tiny_text_encoder(vocab_size: int, with_projection: bool = False):
    return clip_text_encoder(_TEXT_CONFIG, with_projection, vocab_size)


def _tiny_t5(width: int):
    """A T5 tokenizer over single characters and a one-layer T5 encoder of ``width``."""
    from transformers import T5Config, T5EncoderModel, T5TokenizerFast

    vocab = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0)] + [(s, -1.0) for s in SYMBOLS]
    vocab += [("\u2581" + s, -1.0) for s in SYMBOLS]
    tokenizer = T5TokenizerFast(
        vocab=vocab, eos_token="</s>", pad_token="<pad>", unk_token="<unk>", extra_ids=0
    )
    config = T5Config(
        vocab_size=len(vocab),
        d_model=width,
        d_kv=8,
        d_ff=37,
        num_layers=1,
        num_heads=4,
        decoder_start_token_id=tokenizer.pad_token_id,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    return tokenizer, T5EncoderModel(config)


def _tiny_vae(**extra):
    """The SD VAE's layout (``VAE``) with narrow blocks of one layer each."""
    from diffusers import AutoencoderKL

    small = dict(block_out_channels=(8, 16, 16, 16), norm_num_groups=8, layers_per_block=1)
    return AutoencoderKL(**extra, **(VAE | small), sample_size=64)


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
    tokenizer = char_tokenizer()
    vocab_size = len(tokenizer)
    if kind in _TRANSFORMER_KINDS:
        pipe = _TRANSFORMER_KINDS[kind](tokenizer)
    elif kind == "sdxl-turbo":
        pipe = StableDiffusionXLPipeline(
            vae=_tiny_vae(),
            text_encoder=_tiny_text_encoder(vocab_size),
            text_encoder_2=_tiny_text_encoder(vocab_size, with_projection=True),
            tokenizer=tokenizer,
            tokenizer_2=tokenizer,
            unet=_tiny_unet(sdxl=True),
            scheduler=EulerAncestralDiscreteScheduler.from_config(
                sd_scheduler().config, timestep_spacing="trailing"
            ),
        )
    else:
        cls = StableDiffusionInpaintPipeline if kind == "sd2-inpaint" else StableDiffusionPipeline
        pipe = cls(
            vae=_tiny_vae(),
            text_encoder=_tiny_text_encoder(vocab_size),
            tokenizer=tokenizer,
            unet=_tiny_unet(in_channels=9 if kind == "sd2-inpaint" else 4),
            scheduler=sd_scheduler(),
            safety_checker=None,
            feature_extractor=None,
            requires_safety_checker=False,
        )
    out_dir = Path(out_dir)
    pipe.save_pretrained(out_dir, safe_serialization=True)
    return out_dir


def _tiny_sd3(tokenizer):
    """Stable Diffusion 3: two CLIP encoders with projection, T5, an MMDiT, flow matching."""
    from diffusers import (
        FlowMatchEulerDiscreteScheduler,
        SD3Transformer2DModel,
        StableDiffusion3Pipeline,
    )

    t5_tokenizer, t5 = _tiny_t5(64)
    config = sd3_config(
        depth=1,
        heads=4,
        head_dim=8,
        sample_size=8,
        in_channels=4,
        out_channels=4,
        joint_attention_dim=64,
        pooled_projection_dim=2 * _TEXT_WIDTH,
        pos_embed_max_size=16,
    )
    return StableDiffusion3Pipeline(
        transformer=SD3Transformer2DModel(**config),
        scheduler=FlowMatchEulerDiscreteScheduler(shift=3.0),
        vae=_tiny_vae(shift_factor=0.0609, scaling_factor=1.5035),
        text_encoder=_tiny_text_encoder(len(tokenizer), with_projection=True),
        tokenizer=tokenizer,
        text_encoder_2=_tiny_text_encoder(len(tokenizer), with_projection=True),
        tokenizer_2=tokenizer,
        text_encoder_3=t5,
        tokenizer_3=t5_tokenizer,
    )


def _tiny_flux(tokenizer):
    """FLUX.1-dev: CLIP and T5, a double- and single-stream transformer, guidance embedding."""
    from diffusers import FlowMatchEulerDiscreteScheduler, FluxPipeline, FluxTransformer2DModel

    t5_tokenizer, t5 = _tiny_t5(32)
    return FluxPipeline(
        transformer=FluxTransformer2DModel(
            **flux_config(
                layers=1,
                single_layers=1,
                heads=2,
                rope=(4, 4, 8),
                in_channels=16,  # 4 latent channels packed 2 x 2
                joint_attention_dim=32,
                pooled_projection_dim=_TEXT_WIDTH,
            )
        ),
        scheduler=FlowMatchEulerDiscreteScheduler(shift=3.0),
        vae=_tiny_vae(shift_factor=0.1159, scaling_factor=0.3611),
        text_encoder=_tiny_text_encoder(len(tokenizer)),
        tokenizer=tokenizer,
        text_encoder_2=t5,
        tokenizer_2=t5_tokenizer,
    )


def _tiny_pixart(tokenizer):
    """PixArt-Sigma: T5 (with attention masks), a DiT with cross-attention, DPM-Solver."""
    from diffusers import (
        DPMSolverMultistepScheduler,
        PixArtSigmaPipeline,
        PixArtTransformer2DModel,
    )

    t5_tokenizer, t5 = _tiny_t5(32)
    return PixArtSigmaPipeline(
        tokenizer=t5_tokenizer,
        text_encoder=t5,
        vae=_tiny_vae(),
        transformer=PixArtTransformer2DModel(
            # sample_size 32: PixArt's 256 px aspect-ratio bins
            **pixart_config(1, 2, 8, sample_size=32, caption_channels=32, norm_num_groups=8)
        ),
        scheduler=DPMSolverMultistepScheduler(
            beta_start=0.0001, beta_end=0.02, beta_schedule="linear"
        ),
    )


_TRANSFORMER_KINDS = {"sd3": _tiny_sd3, "flux": _tiny_flux, "pixart": _tiny_pixart}
