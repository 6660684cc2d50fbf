"""The layout extractor: Mask2Former instance segmentation finds the prompt's object, Depth
Anything estimates depth, and :func:`seedscope.layout.measures.layout_batch` measures them.

Config section ``features.layout`` (keys, defaults and ranges: ``schemas/config.schema.yaml``):
``segmenter`` and ``depth`` (Hugging Face ids or local folders), ``score_threshold`` (the least
instance score that counts as a detection), ``batch_size``, ``labels`` (``{object: COCO label}``
for objects whose name is not a COCO class, e.g. ``{"sofa": "couch"}``) and ``weights``
(``"hub"``: the two models as given; ``"tiny"`` needs a folder from
:func:`seedscope.tiny.layout.build_tiny_layout`, whose ``segmenter/`` and ``depth/`` replace the
two models).

Post-processing as transformers 5.24 does it (``Mask2FormerImageProcessor``): each query's
mask logits are resized to 384x384, a (query, class) pair scores its class probability times
the mean sigmoid over its mask, the top ``num_queries`` pairs above the threshold are kept and
their binary masks resized (nearest) to the image. Images are therefore resized to a square of
the processor's size (no padding, so masks cover the whole image at every aspect ratio). The
object's mask is the highest-scoring kept instance of its COCO label (:func:`pick_instance`);
an image without one is *not found* and keeps its row. Depth maps are resized (bicubic) to the
image by the depth processor's ``post_process_depth_estimation``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import torch

from seedscope.errors import ConfigError, FeatureError, error_line
from seedscope.files import file_sha256, json_sha256
from seedscope.layout.labels import check_objects, coco_label
from seedscope.layout.measures import DEPTH_CONVENTION, LAYOUT_COLUMNS, layout_batch
from seedscope.models import pretrained_source


def pick_instance(
    masks: Sequence[np.ndarray] | np.ndarray,
    scores: Sequence[float],
    labels: Sequence[int],
    wanted_label: int,
    threshold: float,
) -> np.ndarray | None:
    """The mask of the highest-scoring instance with label ``wanted_label``, score at least
    ``threshold`` and a non-empty mask (the first on ties), or ``None`` when there is none."""
    best, best_score = None, -np.inf
    for mask, score, label in zip(masks, scores, labels, strict=True):
        mask = np.asarray(mask, dtype=bool)
        if label == wanted_label and score >= threshold and score > best_score and mask.any():
            best, best_score = mask, score
    return best


def _describe(source: str | Path) -> dict[str, Any]:
    """Where a model came from: its folder (as given, or a hub id's cached snapshot, named by
    its commit) and a sha256 over its JSON files and its weight files' names and sizes
    (cheap: weights are not read)."""
    path = Path(source).expanduser()
    described: dict[str, Any] = {"source": str(source)}
    snapshot = not path.is_dir()
    if snapshot:
        from huggingface_hub import try_to_load_from_cache

        cached = try_to_load_from_cache(str(source), "config.json")
        if not isinstance(cached, str):
            return described
        path = Path(cached).parent
        described["revision"] = path.name
    files = {f.name: file_sha256(f) for f in sorted(path.glob("*.json"))}
    for pattern in ("*.safetensors", "*.bin"):
        files |= {f.name: f.stat().st_size for f in sorted(path.glob(pattern))}
    # a local folder is named as given (the same run's tables agree wherever it runs)
    folder = str(path.resolve()) if snapshot else str(path)
    return described | {"folder": folder, "sha256": json_sha256(files)}


def _load(key: str, source: str | Path, loaders: tuple) -> tuple[Any, Any]:
    """Load (model, processor) from ``source`` with ``loaders``' ``from_pretrained``; a model
    whose checkpoint lacks weights (transformers would initialise them at random) is an error."""
    where = pretrained_source(
        source,
        f"features.layout.{key}",
        folder=f"point features.layout.{key} at a local folder that holds the saved model",
        holds="its config.json, weights and preprocessor_config.json",
        path_fix=f"point features.layout.{key} at a folder with its preprocessor_config.json",
    )
    try:
        model, info = loaders[0].from_pretrained(where.name, output_loading_info=True)
        processor = loaders[1].from_pretrained(where.name)
    except (OSError, ValueError) as err:
        raise FeatureError(
            f"features.layout.{key}: could not load {source!r} {where.tried} ({error_line(err)}); "
            f"{where.fix}"
        ) from err
    missing = sorted(k for k in info["missing_keys"] if not k.startswith("criterion."))
    missing += sorted(k for k, *_ in info["mismatched_keys"])
    if missing:
        raise FeatureError(
            f"features.layout.{key}: {source!r} is not a {loaders[0].__name__} checkpoint: "
            f"{len(missing)} weights are missing or mismatched (e.g. {missing[0]}); {where.fix}"
        )
    return model.eval(), processor


class LayoutExtractor:
    """``extractor(images, objects)`` -> (N, 5) float32 :data:`LAYOUT_COLUMNS` per image."""

    name = "layout"
    dim = len(LAYOUT_COLUMNS)
    needs_prompts = False
    needs_objects = True

    def __init__(self, segmenter, seg_processor, depth, depth_processor, settings, meta, device):
        self.segmenter, self.seg_processor = segmenter, seg_processor
        self.depth, self.depth_processor = depth, depth_processor
        self.device = torch.device(device)
        self.batch_size = int(settings["batch_size"])
        self.threshold = float(settings["score_threshold"])
        self.aliases = dict(settings["labels"])
        self.label2id = {v: int(k) for k, v in segmenter.config.id2label.items()}
        self.larger_is_nearer = getattr(depth.config, "depth_estimation_type", "") != "metric"
        size = seg_processor.size
        side = size.get("height") or size.get("shortest_edge") or 384
        self.seg_size = {"height": int(side), "width": int(side)}
        self.meta = meta

    def _wanted(self, obj: str) -> int:
        label = coco_label(obj, self.aliases)
        if label not in self.label2id:
            raise FeatureError(
                f"the layout segmenter has no class {label!r} (its labels: "
                f"{sorted(self.label2id)[:5]}...); use a COCO instance checkpoint"
            )
        return self.label2id[label]

    @torch.no_grad()
    def _masks(self, images: Sequence[np.ndarray], objects: Sequence[str]) -> np.ndarray:
        inputs = self.seg_processor(images=list(images), size=self.seg_size, return_tensors="pt")
        out = self.segmenter(**inputs.to(self.device))
        masks = np.zeros((len(images), *images[0].shape[:2]), dtype=bool)
        for i, (image, obj) in enumerate(zip(images, objects, strict=True)):
            one = SimpleNamespace(  # on the CPU: the post-processor builds CPU tensors
                class_queries_logits=out.class_queries_logits[i : i + 1].float().cpu(),
                masks_queries_logits=out.masks_queries_logits[i : i + 1].float().cpu(),
            )
            result = self.seg_processor.post_process_instance_segmentation(
                one, self.threshold, target_sizes=[image.shape[:2]], return_binary_maps=True
            )[0]
            info = result["segments_info"]
            if info:
                maps = result["segmentation"].numpy()
                scores = [s["score"] for s in info]
                labels = [s["label_id"] for s in info]
                mask = pick_instance(maps, scores, labels, self._wanted(obj), self.threshold)
                if mask is not None:
                    masks[i] = mask
        return masks

    @torch.no_grad()
    def _depths(self, images: Sequence[np.ndarray]) -> np.ndarray:
        inputs = self.depth_processor(images=list(images), return_tensors="pt").to(self.device)
        out = self.depth(**inputs)
        out.predicted_depth = out.predicted_depth.float().cpu()
        sizes = [image.shape[:2] for image in images]
        maps = self.depth_processor.post_process_depth_estimation(out, target_sizes=sizes)
        return np.stack([m["predicted_depth"].reshape(sizes[0]).numpy() for m in maps])

    def __call__(
        self, images: Sequence[np.ndarray], objects: Sequence[str] | None = None
    ) -> np.ndarray:
        """Layout vectors of ``images`` (HxWx3 uint8, one size per call) showing ``objects``."""
        if objects is None or len(objects) != len(images):
            raise FeatureError(
                f"layout needs one object name per image: got {len(images)} images and "
                f"{None if objects is None else len(objects)} objects"
            )
        for obj in dict.fromkeys(objects):
            self._wanted(obj)
        if len({np.shape(image) for image in images}) > 1:
            raise FeatureError("layout images of one call must share a size; split the batch")
        rows = [np.zeros((0, self.dim), dtype=np.float32)]
        for s in range(0, len(images), self.batch_size):
            chunk = [np.asarray(im) for im in images[s : s + self.batch_size]]
            masks = self._masks(chunk, objects[s : s + self.batch_size])
            rows.append(layout_batch(masks, self._depths(chunk), self.larger_is_nearer))
        return np.concatenate(rows).astype(np.float32)


def load_layout(
    settings: Mapping[str, Any],
    device: str | torch.device = "cpu",
    weights: str | Path | None = None,
) -> LayoutExtractor:
    """The layout extractor from the validated ``features.layout`` section (module docstring;
    the schema gives every key, its default and its range).

    ``weights``, when given, is a tiny layout folder (``config.json``, ``segmenter/``,
    ``depth/``) that replaces both models; ``settings["weights"] == "tiny"`` requires it.
    """
    from transformers import (
        AutoImageProcessor,
        AutoModelForDepthEstimation,
        Mask2FormerForUniversalSegmentation,
        Mask2FormerImageProcessor,
    )

    segmenter, depth, extra = settings["segmenter"], settings["depth"], {}
    if weights is not None:
        from seedscope.tiny_nets import read_tiny_config

        extra = {"tiny": read_tiny_config(weights, "layout")}
        segmenter, depth = Path(weights) / "segmenter", Path(weights) / "depth"
    elif settings["weights"] == "tiny":
        raise FeatureError(
            "features.layout.weights is 'tiny' but no tiny layout folder was given; build one "
            "with seedscope.tiny.layout.build_tiny_layout(folder) and pass it as weights"
        )
    elif settings["weights"] != "hub":  # the schema takes any string here
        raise ConfigError(
            f"features.layout.weights is {settings['weights']!r}; use hub (segmenter and depth "
            "as given) or tiny"
        )
    # every alias must name a COCO class; validation checks only the layout set's objects
    check_objects(list(settings["labels"]), settings["labels"])
    seg = _load(
        "segmenter", segmenter, (Mask2FormerForUniversalSegmentation, Mask2FormerImageProcessor)
    )
    dep = _load("depth", depth, (AutoModelForDepthEstimation, AutoImageProcessor))
    meta = {
        "extractor": "layout",
        "segmenter": _describe(segmenter),
        "depth": _describe(depth),
        "score_threshold": float(settings["score_threshold"]),
        "labels": dict(settings["labels"]),
        "columns": list(LAYOUT_COLUMNS),
        "depth_convention": DEPTH_CONVENTION,
        "dim": len(LAYOUT_COLUMNS),
        **extra,
    }
    seg_model, dep_model = seg[0].to(device), dep[0].to(device)
    extractor = LayoutExtractor(seg_model, seg[1], dep_model, dep[1], settings, meta, device)
    meta["depth_output"] = "disparity" if extractor.larger_is_nearer else "metric depth"
    return extractor
