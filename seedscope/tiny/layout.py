"""A tiny layout extractor: a Mask2Former (tiny Swin backbone) with the 80 COCO labels and a
Depth Anything (tiny DINOv2 backbone), random weights from a fixed seed, saved with
``save_pretrained`` so that :func:`seedscope.layout.extractor.load_layout` loads them exactly as
it loads the real checkpoints. Both process images at 64 px (the segmenter) and 56 px (the depth
model: a multiple of its 14 px patches). Random weights rarely score an instance above the
threshold, so most images are *not found*. Given ``proposes`` (COCO labels, e.g. the demo's
objects), the segmenter's class head instead proposes only those labels, each query equally
likely to be any of them, so its (random) masks come back as detections of the prompt's object
and the layout stage has numbers to work with; the masks still mean nothing.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import torch

from seedscope.tiny.extractors import CONFIG_FILE, FORMAT

TINY_SWIN = {
    "image_size": 64,
    "patch_size": 4,
    "embed_dim": 16,
    "depths": [1, 1, 1, 1],
    "num_heads": [1, 1, 2, 2],
    "window_size": 4,
    "out_features": ["stage1", "stage2", "stage3", "stage4"],
}
TINY_MASK2FORMER = {
    "feature_size": 32,
    "mask_feature_size": 32,
    "hidden_dim": 32,
    "encoder_feedforward_dim": 64,
    "dim_feedforward": 64,
    "encoder_layers": 1,
    "decoder_layers": 2,
    "num_attention_heads": 2,
    "num_queries": 8,
}
TINY_DINOV2 = {
    "image_size": 56,
    "patch_size": 14,
    "hidden_size": 16,
    "num_hidden_layers": 4,
    "num_attention_heads": 2,
    "intermediate_size": 32,
    "out_indices": [1, 2, 3, 4],
    "reshape_hidden_states": False,
}
TINY_DEPTH_ANYTHING = {
    "reassemble_hidden_size": 16,
    "neck_hidden_sizes": [8, 16, 16, 16],
    "fusion_hidden_size": 16,
    "head_hidden_size": 8,
}
PROPOSAL_LOGIT = 10.0  # favoured labels' class logits, the others' negated: softmax ~ uniform
IMAGENET = {"image_mean": [0.485, 0.456, 0.406], "image_std": [0.229, 0.224, 0.225]}


def build_tiny_layout(
    folder: str | Path, seed: int = 0, proposes: Sequence[str] | None = None
) -> Path:
    """Build the tiny layout models into ``folder`` (``segmenter/``, ``depth/``,
    ``config.json``) with weights from ``torch.manual_seed(seed)``; returns the folder.
    ``proposes``: COCO labels the segmenter's class head proposes (module docstring)."""
    from transformers import (
        DepthAnythingConfig,
        DepthAnythingForDepthEstimation,
        Dinov2Config,
        DPTImageProcessor,
        Mask2FormerConfig,
        Mask2FormerForUniversalSegmentation,
        Mask2FormerImageProcessor,
        SwinConfig,
    )

    from seedscope.layout.labels import COCO_LABELS, coco_label

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)  # model initialisation only
    labels = dict(enumerate(COCO_LABELS))
    seg_config = Mask2FormerConfig(
        backbone_config=SwinConfig(**TINY_SWIN), id2label=labels, **TINY_MASK2FORMER
    )
    segmenter = Mask2FormerForUniversalSegmentation(seg_config)
    if proposes:
        favoured = [COCO_LABELS.index(coco_label(name)) for name in proposes]
        head = segmenter.class_predictor  # num_labels + 1 logits, the last "no object"
        with torch.no_grad():
            head.weight.zero_()
            head.bias.fill_(-PROPOSAL_LOGIT)
            head.bias[favoured] = PROPOSAL_LOGIT
    segmenter.save_pretrained(folder / "segmenter")
    Mask2FormerImageProcessor(
        size={"height": 64, "width": 64}, size_divisor=32, ignore_index=255, **IMAGENET
    ).save_pretrained(folder / "segmenter")
    depth_config = DepthAnythingConfig(
        backbone_config=Dinov2Config(**TINY_DINOV2), **TINY_DEPTH_ANYTHING
    )
    DepthAnythingForDepthEstimation(depth_config).save_pretrained(folder / "depth")
    DPTImageProcessor(
        size={"height": 56, "width": 56},
        keep_aspect_ratio=True,
        ensure_multiple_of=14,
        resample=3,  # bicubic, as Depth Anything's processor
        **IMAGENET,
    ).save_pretrained(folder / "depth")
    arch = {
        "swin": TINY_SWIN,
        "mask2former": TINY_MASK2FORMER,
        "dinov2": TINY_DINOV2,
        "depth_anything": TINY_DEPTH_ANYTHING,
    }
    config = {"format": FORMAT, "extractor": "layout", "seed": seed, "arch": arch}
    config["proposes"] = sorted(proposes or [])
    (folder / CONFIG_FILE).write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
    return folder
