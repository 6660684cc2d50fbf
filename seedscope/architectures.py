"""Full-size SD 2.0-base and SDXL(-Turbo) architectures built from configuration, random weights.

Speed does not depend on weight values, so these measure GPU throughput where the real weights
cannot be downloaded. The configurations are those of the published checkpoints'
``unet/config.json``, ``vae/config.json`` and ``text_encoder*/config.json``; the tokenizer is the
tiny offline one (token ids stay far below the vocabulary size, which only sets the embedding
table's size).
"""

from __future__ import annotations

import string
from typing import Any

import torch

_SD_UNET = dict(in_channels=4, out_channels=4, layers_per_block=2, use_linear_projection=True)
SD2_UNET = dict(
    _SD_UNET,
    sample_size=64,
    block_out_channels=(320, 640, 1280, 1280),
    down_block_types=("CrossAttnDownBlock2D",) * 3 + ("DownBlock2D",),
    up_block_types=("UpBlock2D",) + ("CrossAttnUpBlock2D",) * 3,
    attention_head_dim=(5, 10, 20, 20),
    cross_attention_dim=1024,
)
SDXL_UNET = dict(
    _SD_UNET,
    sample_size=128,
    block_out_channels=(320, 640, 1280),
    down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
    up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
    transformer_layers_per_block=(1, 2, 10),
    attention_head_dim=(5, 10, 20),
    cross_attention_dim=2048,
    addition_embed_type="text_time",
    addition_time_embed_dim=256,
    projection_class_embeddings_input_dim=2816,
)
VAE = dict(
    in_channels=3,
    out_channels=3,
    latent_channels=4,
    block_out_channels=(128, 256, 512, 512),
    layers_per_block=2,
    down_block_types=("DownEncoderBlock2D",) * 4,
    up_block_types=("UpDecoderBlock2D",) * 4,
)


def _clip_text(width: int, layers: int, act: str, projection: int) -> dict[str, Any]:
    """A published CLIP text encoder's config: heads of 64 channels, an MLP of 4 x ``width``."""
    return dict(
        hidden_size=width,
        intermediate_size=4 * width,
        num_attention_heads=width // 64,
        num_hidden_layers=layers,
        hidden_act=act,
        projection_dim=projection,
    )


OPENCLIP_H_TEXT = _clip_text(1024, 23, "gelu", 512)
CLIP_L_TEXT = _clip_text(768, 12, "quick_gelu", 768)
OPENCLIP_BIGG_TEXT = _clip_text(1280, 32, "gelu", 1280)
FULL_KINDS = ("sd2-base", "sdxl-turbo")


def clip_text_encoder(
    config: dict[str, Any], with_projection: bool = False, vocab_size: int = 49408
):
    """A random-weight CLIP text encoder of ``config`` (77 positions), projection head optional."""
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    cfg = CLIPTextConfig(vocab_size=vocab_size, max_position_embeddings=77, **config)
    return CLIPTextModelWithProjection(cfg) if with_projection else CLIPTextModel(cfg)


def build_full_pipeline(kind: str, device: str = "cuda", dtype: torch.dtype = torch.float16):
    """SD 2.0-base (``sd2-base``) or SDXL-Turbo (``sdxl-turbo``) with random weights on ``device``.

    Modules are initialised directly on ``device`` (seconds on a GPU instead of minutes).
    """
    from diffusers import (
        AutoencoderKL,
        EulerAncestralDiscreteScheduler,
        StableDiffusionPipeline,
        StableDiffusionXLPipeline,
        UNet2DConditionModel,
    )

    if kind not in FULL_KINDS:
        raise ValueError(f"unknown architecture {kind!r}; choose one of {FULL_KINDS}")
    tokenizer = char_tokenizer()
    # Schedulers are built outside the device context: they keep their tables on the CPU
    # (EulerAncestral converts them with numpy, which fails on a CUDA or meta tensor).
    scheduler = sd_scheduler()
    if kind == "sdxl-turbo":
        scheduler = EulerAncestralDiscreteScheduler.from_config(
            scheduler.config, timestep_spacing="trailing"
        )
    with torch.device(device):
        if kind == "sd2-base":
            pipe = StableDiffusionPipeline(
                vae=AutoencoderKL(sample_size=512, scaling_factor=0.18215, **VAE),
                text_encoder=clip_text_encoder(OPENCLIP_H_TEXT),
                tokenizer=tokenizer,
                unet=UNet2DConditionModel(**SD2_UNET),
                scheduler=scheduler,
                safety_checker=None,
                feature_extractor=None,
                requires_safety_checker=False,
            )
        else:
            pipe = StableDiffusionXLPipeline(
                vae=AutoencoderKL(
                    sample_size=1024, scaling_factor=0.13025, force_upcast=False, **VAE
                ),
                text_encoder=clip_text_encoder(CLIP_L_TEXT),
                text_encoder_2=clip_text_encoder(OPENCLIP_BIGG_TEXT, with_projection=True),
                tokenizer=tokenizer,
                tokenizer_2=tokenizer,
                unet=UNet2DConditionModel(**SDXL_UNET),
                scheduler=scheduler,
            )
    pipe.set_progress_bar_config(disable=True)
    return pipe.to(device=device, dtype=dtype)


def unet_inputs(unet, batch: int, latent: int) -> tuple[tuple, dict]:
    """Zero inputs of one UNet forward: (sample, timestep, text context) and added kwargs."""
    device, dtype = unet.device, unet.dtype
    sample = torch.zeros(batch, unet.config.in_channels, latent, latent, device=device, dtype=dtype)
    context = torch.zeros(batch, 77, unet.config.cross_attention_dim, device=device, dtype=dtype)
    kwargs = {}
    if unet.config.addition_embed_type == "text_time":
        pooled = (
            unet.config.projection_class_embeddings_input_dim
            - 6 * unet.config.addition_time_embed_dim
        )
        kwargs["added_cond_kwargs"] = {
            "text_embeds": torch.zeros(batch, pooled, device=device, dtype=dtype),
            "time_ids": torch.zeros(batch, 6, device=device, dtype=dtype),
        }
    return (sample, torch.tensor(500, device=device), context), kwargs


def unet_flops(pipe, batch: int, resolution: int) -> float:
    """FLOPs of one UNet forward at ``batch`` latents of ``resolution`` px (torch's counter)."""
    from torch.utils.flop_counter import FlopCounterMode

    args, kwargs = unet_inputs(pipe.unet, batch, resolution // pipe.vae_scale_factor)
    counter = FlopCounterMode(display=False)
    with torch.inference_mode(), counter:
        pipe.unet(*args, **kwargs)
    return float(counter.get_total_flops())


def sd3_config(depth: int, heads: int = 0, head_dim: int = 64, **extra: Any) -> dict[str, Any]:
    """SD 3's ``SD3Transformer2DModel`` config: ``depth`` MMDiT blocks of ``heads`` (0: ``depth``)
    heads of ``head_dim``, the caption projected to their width. Input and text sizes are the
    published models' unless ``extra`` replaces them (or adds settings)."""
    heads = heads or depth
    config = dict(
        sample_size=128,
        patch_size=2,
        in_channels=16,
        out_channels=16,
        num_layers=depth,
        num_attention_heads=heads,
        attention_head_dim=head_dim,
        caption_projection_dim=heads * head_dim,
        joint_attention_dim=4096,
        pooled_projection_dim=2048,
        pos_embed_max_size=192,
    )
    return config | extra


def flux_config(
    layers: int, single_layers: int, heads: int, rope: tuple[int, int, int], **extra: Any
) -> dict[str, Any]:
    """FLUX's ``FluxTransformer2DModel`` config: ``layers`` double- and ``single_layers``
    single-stream blocks of ``heads`` heads (their width the sum of the ``rope`` axes), guidance
    embedding. Input and text sizes are FLUX.1-dev's unless ``extra`` replaces them."""
    config = dict(
        patch_size=1,
        in_channels=64,  # 16 latent channels packed 2 x 2
        num_layers=layers,
        num_single_layers=single_layers,
        num_attention_heads=heads,
        attention_head_dim=sum(rope),
        axes_dims_rope=rope,
        joint_attention_dim=4096,
        pooled_projection_dim=768,
        guidance_embeds=True,
    )
    return config | extra


def pixart_config(layers: int, heads: int, head_dim: int, **extra: Any) -> dict[str, Any]:
    """PixArt's ``PixArtTransformer2DModel`` config: ``layers`` DiT blocks of ``heads`` heads of
    ``head_dim``, cross-attending at their width, on 4-channel latents (8 out: the learned
    variance). Input and text sizes are PixArt-Sigma's unless ``extra`` replaces them (or adds
    settings)."""
    config = dict(
        sample_size=128,
        num_attention_heads=heads,
        attention_head_dim=head_dim,
        in_channels=4,
        out_channels=8,
        num_layers=layers,
        cross_attention_dim=heads * head_dim,
        caption_channels=4096,
    )
    return config | extra


# The denoising transformers of the published SD 3.5 Large, SD 3 Medium, FLUX.1-dev and
# PixArt-Sigma checkpoints (their ``transformer/config.json``), with the text length each
# pipeline feeds them; for ``transformer_flops`` (the plan's FLOP counts).
TRANSFORMERS: dict[str, tuple[str, dict[str, Any], int]] = {
    "sd3.5-large": ("SD3Transformer2DModel", sd3_config(38, qk_norm="rms_norm"), 77 + 256),
    "sd3-medium": ("SD3Transformer2DModel", sd3_config(24), 77 + 256),
    "flux-dev": ("FluxTransformer2DModel", flux_config(19, 38, 24, rope=(16, 56, 56)), 512),
    "pixart-sigma": (
        "PixArtTransformer2DModel",
        pixart_config(28, 16, 72, use_additional_conditions=False, interpolation_scale=2),
        300,
    ),
}


def _transformer_forward(kind: str, model, resolution: int, text: int):
    """Zero inputs of one forward of ``model`` (a ``TRANSFORMERS`` kind), batch 1."""
    zeros, latent = torch.zeros, resolution // 8
    config = model.config
    if kind == "flux-dev":
        tokens = (latent // 2) ** 2  # 2 x 2 packed latents
        return lambda: model(
            hidden_states=zeros(1, tokens, config.in_channels),
            encoder_hidden_states=zeros(1, text, config.joint_attention_dim),
            pooled_projections=zeros(1, config.pooled_projection_dim),
            timestep=torch.ones(1),
            img_ids=zeros(tokens, 3),
            txt_ids=zeros(text, 3),
            guidance=torch.ones(1),
        )
    sample = zeros(1, config.in_channels, latent, latent)
    if kind == "pixart-sigma":
        return lambda: model(
            sample,
            encoder_hidden_states=zeros(1, text, config.caption_channels),
            timestep=torch.ones(1),
            added_cond_kwargs={"resolution": None, "aspect_ratio": None},
        )
    return lambda: model(
        hidden_states=sample,
        encoder_hidden_states=zeros(1, text, config.joint_attention_dim),
        pooled_projections=zeros(1, config.pooled_projection_dim),
        timestep=torch.ones(1),
    )


def transformer_flops(kind: str, resolution: int) -> float:
    """FLOPs of one forward of the ``TRANSFORMERS`` kind at ``resolution`` px, batch 1.

    Built and run on the meta device (no memory, no arithmetic), counted by torch's
    FlopCounterMode like ``unet_flops``.
    """
    import diffusers
    from torch.utils.flop_counter import FlopCounterMode

    name, config, text = TRANSFORMERS[kind]
    with torch.device("meta"):
        model = getattr(diffusers, name)(**config)
        forward = _transformer_forward(kind, model, resolution, text)
        counter = FlopCounterMode(display=False)
        with torch.inference_mode(), counter:
            forward()
    return float(counter.get_total_flops())


SYMBOLS = list(string.ascii_lowercase + string.digits + ".,'-!?&()")  # the tokenizers' alphabet


def char_tokenizer():
    """A CLIP tokenizer over single characters, built offline from an in-memory vocabulary."""
    from transformers import CLIPTokenizer

    tokens = ["<|startoftext|>", "<|endoftext|>"] + SYMBOLS + [s + "</w>" for s in SYMBOLS]
    vocab = {token: index for index, token in enumerate(tokens)}
    return CLIPTokenizer(vocab=vocab, merges=[], pad_token="<|endoftext|>", model_max_length=77)


def sd_scheduler():
    """Stable Diffusion 2's DDIM scheduler (its betas and timestep offset), built offline."""
    from diffusers import DDIMScheduler

    return DDIMScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        clip_sample=False,
        set_alpha_to_one=False,
        steps_offset=1,
    )
