"""A tiny random-weight LLaVA 1.5 (CLIP vision tower + Llama language model) for demo and tests.

It has LLaVA 1.5's structure (CLIP ViT features from the second-to-last layer without the CLS
token, a two-layer GELU projector, a Llama decoder, the "USER: <image>\\n... ASSISTANT:" chat
format) at a size that captions a 64 px image in milliseconds. The tokenizer is a BPE trained
in memory on a small caption corpus. Everything is saved with ``save_pretrained`` and loaded
back by :func:`seedscope.prompts.captioning.load_captioner`, the path of the real model.
"""

from __future__ import annotations

import string
from pathlib import Path

SPECIAL_TOKENS = ["<unk>", "<s>", "</s>", "<pad>", "<image>"]

# LLaVA 1.5's chat format, as in llava-hf/llava-1.5-*-hf: "USER: <image>\n{text} ASSISTANT:".
CHAT_TEMPLATE = (
    "{% for message in messages %}{{ message['role'].upper() + ': ' }}"
    "{% for c in message['content'] | selectattr('type', 'equalto', 'image') %}"
    "{{ '<image>\n' }}{% endfor %}"
    "{% for c in message['content'] | selectattr('type', 'equalto', 'text') %}"
    "{{ c['text'] + ' ' }}{% endfor %}{% endfor %}"
    "{% if add_generation_prompt %}{{ 'ASSISTANT:' }}{% endif %}"
)

_SUBJECTS = [
    "a man", "a woman", "a young boy", "a little girl", "a group of people", "two dogs",
    "a black cat", "a brown horse", "a large elephant", "a red bus", "a white truck",
    "a small boat", "a green bicycle", "a yellow train", "a plate of food", "a slice of pizza",
    "a bowl of fruit", "a wooden table", "a teddy bear", "a tall giraffe",
]  # fmt: skip
_SCENES = [
    "sitting on a bench in a park", "standing next to a building", "riding down a busy street",
    "lying on a bed in a bedroom", "parked near the ocean", "walking across a grassy field",
    "on top of a kitchen counter", "in front of a blue sky with clouds",
    "under a large umbrella", "beside a window with white curtains",
]  # fmt: skip
_INSTRUCTIONS = [
    "USER: <image>\nDescribe this image in one detailed sentence. ASSISTANT:",
    "Describe this image in detail.",
    "What is shown in this picture? The image shows colourful shapes.",
]


def caption_corpus() -> list[str]:
    """The small built-in corpus of English caption-like sentences the tokenizer learns."""
    sentences = [
        f"{subject.capitalize()} {scene}." for subject in _SUBJECTS for scene in _SCENES[:5]
    ] + [f"The image shows {subject} {scene}." for subject in _SUBJECTS[:10] for scene in _SCENES]
    return sentences + _INSTRUCTIONS


def build_tokenizer(vocab_size: int = 512):
    """A Llama-style (metaspace BPE, ``<s>`` prepended) fast tokenizer trained in memory."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.decoder = decoders.Metaspace()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=list(string.ascii_letters + string.digits + string.punctuation + "\n"),
        show_progress=False,
    )
    tok.train_from_iterator(caption_corpus(), trainer)
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A", pair="<s> $A <s> $B", special_tokens=[("<s>", tok.token_to_id("<s>"))]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<s>",
        eos_token="</s>",
        unk_token="<unk>",
        pad_token="<pad>",
        extra_special_tokens={"image_token": "<image>"},
        padding_side="left",
        model_max_length=1024,
    )


def build_tiny_llava(out_dir: str | Path, seed: int = 0, image_size: int = 32) -> Path:
    """Build a tiny LLaVA 1.5 with weights initialised from ``seed`` and save it to ``out_dir``.

    Writes the model (safetensors), tokenizer, CLIP image processor and ``LlavaProcessor``
    (with LLaVA 1.5's chat template) so that ``from_pretrained(out_dir)`` loads it back.
    Returns ``out_dir``.
    """
    import torch
    from transformers import (
        CLIPImageProcessor,
        CLIPVisionConfig,
        LlamaConfig,
        LlavaConfig,
        LlavaForConditionalGeneration,
        LlavaProcessor,
    )

    out_dir = Path(out_dir)
    patch_size = 8
    tokenizer = build_tokenizer()
    ids = {token: tokenizer.convert_tokens_to_ids(token) for token in SPECIAL_TOKENS}
    image_processor = CLIPImageProcessor(
        size={"shortest_edge": image_size}, crop_size={"height": image_size, "width": image_size}
    )
    # LLaVA 1.5 drops the CLS feature ("default"); the processor must count it as an extra
    # token (num_additional_image_tokens=1) or image features and image tokens mismatch.
    processor = LlavaProcessor(
        image_processor=image_processor,
        tokenizer=tokenizer,
        patch_size=patch_size,
        vision_feature_select_strategy="default",
        num_additional_image_tokens=1,
        image_token="<image>",
        chat_template=CHAT_TEMPLATE,
    )
    # The vision tower and the language model have the same (tiny) transformer sizes.
    layers = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4)
    vision = CLIPVisionConfig(
        image_size=image_size, patch_size=patch_size, projection_dim=32, **layers
    )
    special = dict(bos_token_id=ids["<s>"], eos_token_id=ids["</s>"], pad_token_id=ids["<pad>"])
    text = LlamaConfig(
        vocab_size=len(tokenizer),
        num_key_value_heads=2,
        max_position_embeddings=512,
        **layers,
        **special,
    )
    config = LlavaConfig(
        vision_config=vision,
        text_config=text,
        image_token_id=ids["<image>"],
        vision_feature_select_strategy="default",
        vision_feature_layer=-2,
        projector_hidden_act="gelu",
    )
    torch.manual_seed(seed)  # weight initialisation only; images never use the global RNG
    model = LlavaForConditionalGeneration(config).eval()
    for name, token_id in special.items():
        setattr(model.generation_config, name, token_id)
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_dir, safe_serialization=True)
    processor.save_pretrained(out_dir)
    return out_dir
