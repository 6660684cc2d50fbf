"""The 80 COCO 2017 instance categories, and the COCO label of a configured object name.

The layout extractor finds a prompt's object by this label among the classes of a COCO-instance
Mask2Former (``config.id2label``); the config check uses it too, without importing torch.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from seedscope.errors import ConfigError

# config.id2label of facebook/mask2former-swin-*-coco-instance: the COCO 2017 names, in order
COCO_LABELS = (
    "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat",
    "traffic light", "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat", "dog",
    "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe", "backpack", "umbrella",
    "handbag", "tie", "suitcase", "frisbee", "skis", "snowboard", "sports ball", "kite",
    "baseball bat", "baseball glove", "skateboard", "surfboard", "tennis racket", "bottle",
    "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple", "sandwich",
    "orange", "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "couch",
    "potted plant", "bed", "dining table", "toilet", "tv", "laptop", "mouse", "remote",
    "keyboard", "cell phone", "microwave", "oven", "toaster", "sink", "refrigerator", "book",
    "clock", "vase", "scissors", "teddy bear", "hair drier", "toothbrush",
)  # fmt: skip
LABELS_KEY = "features.layout.labels"


def coco_label(
    object_name: str, aliases: Mapping[str, str] | None = None, key: str = LABELS_KEY
) -> str:
    """The COCO label of ``object_name``: ``aliases[object_name]`` if given, else the name.

    Raises :class:`ConfigError` when that is not a COCO class; ``key`` is the config key of
    ``aliases`` that the message tells to extend."""
    label = (aliases or {}).get(object_name, object_name)
    if label not in COCO_LABELS:
        via = f" (mapped by {key} to {label!r})" if label != object_name else ""
        raise ConfigError(
            f"object {object_name!r}{via} is not a COCO class, so the layout segmenter cannot "
            f"find it; add `{key}: {{{object_name}: <COCO label>}}` to the config "
            f"(e.g. {{sofa: couch}}) or choose an object among the 80 COCO classes "
            f"({', '.join(COCO_LABELS[:6])}, ..., {COCO_LABELS[-1]})"
        )
    return label


def check_objects(
    objects: Sequence[str], aliases: Mapping[str, str] | None = None, key: str = LABELS_KEY
) -> None:
    """Raise :class:`ConfigError` for the first object that has no COCO label."""
    for name in objects:
        coco_label(name, aliases, key)
