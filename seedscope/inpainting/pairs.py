"""Image-mask pairs of the inpainting text-artifact study (paper section 4.5).

Each pair is one COCO train2017 image and the mask of one non-crowd object in it, for two
tasks with SD 2 inpainting: object removal (every pair with one background prompt) and object
completion (every pair with its category name).

Selection (:func:`select_pairs`): an image is eligible when it has at least one non-crowd
object whose area fraction (annotation ``area`` / image ``width * height``) lies within the
bounds and whose bounding box lies inside the image's centre square (the part the model
sees, see below). The eligible image ids are sorted, permuted with
``numpy.random.default_rng(seed)`` and the first ``n_pairs`` taken, so a smaller set is a
prefix of a larger one with the same seed. The object of a chosen image is drawn from its
eligible objects (sorted by annotation id) with ``numpy.random.default_rng([seed, image_id])``.

Geometry (:func:`make_pair`): the mask is dilated at the image's own resolution by ``dilate``
pixels with a disk (every pixel within Euclidean distance ``dilate`` of the object), then the
image and the mask are centre-cropped to the same square and resized to the model's
resolution with the same pixel grid: the image with Lanczos, the mask as a float image with
bilinear interpolation (PIL antialiases it when shrinking, so a pixel's value is the covered
fraction of its footprint) and thresholded at 0.5.

A pair set on disk is a folder of ``<id>.png`` (RGB image), ``<id>.mask.png`` (L mode, 0 or
255; 255 is the region to inpaint) and ``pairs.jsonl`` (one row per pair), written last so
that its presence means the folder is complete.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from seedscope.errors import ConfigError, DataError, error_line
from seedscope.files import atomic_output, read_jsonl, replace_atomically
from seedscope.prompts.coco import list_images, open_image
from seedscope.prompts.rows import ID_PATTERN, prompt_id

COCO_ANNOTATIONS_URL = "http://images.cocodataset.org/annotations/annotations_trainval2017.zip"
COCO_ANNOTATIONS_MD5 = "f4bbac642086de4f52a3fdda2de5fa2c"  # 252,907,541 bytes
ANNOTATIONS_MEMBER = "annotations/instances_train2017.json"

PAIRS_FILE = "pairs.jsonl"
PAIR_KEYS = (
    "id",
    "coco_image_id",
    "coco_annotation_id",
    "file_name",
    "category",
    "area_fraction",
    "bbox",
)
TASKS = ("removal", "completion")
DEMO_CATEGORIES = ("dog", "cup", "chair", "cat", "bottle", "teddy bear", "vase", "clock")

_ANNOTATIONS_FIX = (
    "set the config key inpainting.annotations to the path of instances_train2017.json (or of "
    f"annotations_trainval2017.zip, read without extracting; download it from "
    f"{COCO_ANNOTATIONS_URL}, see cocodataset.org), or let the download rule fetch it"
)


def pair_id(index: int) -> str:
    """The id of pair ``index``: ``f"pair-{index:05d}"``."""
    return f"pair-{index:05d}"


# ---------------------------------------------------------------------------- selection


def _read_annotations_json(path: Path) -> Any:
    """The parsed JSON of an instances file, or of its member in annotations_trainval2017.zip."""
    if not path.exists():
        raise DataError(f"COCO annotations file {path} does not exist; {_ANNOTATIONS_FIX}")
    redownload = "delete it and download annotations_trainval2017.zip again"
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                names = archive.namelist()
                member = ANNOTATIONS_MEMBER if ANNOTATIONS_MEMBER in names else None
                if member is None:
                    raise DataError(
                        f"{path} is a zip file without {ANNOTATIONS_MEMBER}; point "
                        "inpainting.annotations at annotations_trainval2017.zip or at "
                        "instances_train2017.json"
                    )
                with archive.open(member) as f:
                    return json.load(f)
        with open(path, "rb") as f:
            return json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise DataError(
            f"COCO annotations file {path} is not valid JSON ({error_line(err)}); it is "
            f"corrupt or truncated: {redownload}"
        ) from err
    except (OSError, zipfile.BadZipFile, EOFError) as err:
        raise DataError(
            f"cannot read COCO annotations file {path} ({error_line(err)}); {redownload}"
        ) from err


def load_coco(annotations_path: str | Path):
    """A ``pycocotools.coco.COCO`` index of an instances annotation file (JSON, or
    annotations_trainval2017.zip read without extracting). Raises ``DataError`` for a missing,
    unreadable or corrupt file, or one that is not in COCO instances format."""
    from pycocotools.coco import COCO

    path = Path(annotations_path)
    data = _read_annotations_json(path)
    if not isinstance(data, dict) or not all(
        isinstance(data.get(key), list) for key in ("images", "annotations", "categories")
    ):
        raise DataError(
            f"{path} is valid JSON but not a COCO instances annotation file (it needs lists "
            "'images', 'annotations' and 'categories'); point inpainting.annotations at "
            "instances_train2017.json, or delete the file and download it again"
        )
    coco = COCO()
    coco.dataset = data
    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints progress
        try:
            coco.createIndex()
        except (KeyError, TypeError) as err:
            raise DataError(
                f"{path} is not in COCO instances format ({error_line(err)}); delete it and "
                "download annotations_trainval2017.zip again"
            ) from err
    return coco


def _check_bounds(area_bounds: Sequence[float]) -> tuple[float, float]:
    try:
        low, high = (float(b) for b in area_bounds)
    except (TypeError, ValueError) as err:
        raise ConfigError(
            f"inpainting.area_bounds must be two numbers [low, high], got {area_bounds!r}"
        ) from err
    if not 0.0 <= low < high <= 1.0:
        raise ConfigError(
            f"inpainting.area_bounds must satisfy 0 <= low < high <= 1, got {[low, high]}"
        )
    return low, high


def center_square(width: int, height: int) -> tuple[int, int, int, int]:
    """The centre square crop box ``(left, top, right, bottom)`` of a ``width x height``
    image, the crop :func:`make_pair` takes."""
    side = min(width, height)
    left, top = (width - side) // 2, (height - side) // 2
    return left, top, left + side, top + side


def _inside(bbox: Sequence[float], box: tuple[int, int, int, int]) -> bool:
    x, y, w, h = bbox
    left, top, right, bottom = box
    return x >= left and y >= top and x + w <= right and y + h <= bottom


def select_pairs(
    annotations_path: str | Path,
    n_pairs: int,
    area_bounds: Sequence[float] = (0.05, 0.5),
    seed: int = 0,
    image_ids: Iterable[int] | None = None,
    inside_crop: bool = True,
) -> list[dict[str, Any]]:
    """``n_pairs`` seeded (image, object) pairs from a COCO instances annotation file.

    One non-crowd object per image, with ``low <= area / (width * height) <= high`` and (with
    ``inside_crop``) its bounding box inside the image's centre square. ``image_ids`` limits
    the choice to those images. See the module docstring for the seeded order.

    Each row: ``id`` (``pair-00000``, ...), ``coco_image_id``, ``coco_annotation_id``,
    ``file_name``, ``category``, ``area_fraction``, ``bbox`` (COCO ``[x, y, w, h]`` in
    original pixels), and for :func:`write_pair_set` ``width``, ``height`` and
    ``segmentation`` (the COCO polygon or RLE; not written to ``pairs.jsonl``).
    """
    if isinstance(n_pairs, bool) or not isinstance(n_pairs, int) or n_pairs < 1:
        raise ConfigError(f"inpainting.pairs must be a positive integer, got {n_pairs!r}")
    low, high = _check_bounds(area_bounds)
    path = Path(annotations_path)
    coco = load_coco(path)
    if image_ids is not None:
        wanted = sorted({int(i) for i in image_ids})
        unknown = [i for i in wanted if i not in coco.imgs]
        if unknown:
            raise DataError(
                f"{len(unknown)} of the given image ids are not in {path} (first: "
                f"{unknown[:5]}); give train2017 image ids"
            )
    else:
        wanted = sorted(coco.imgs)
    eligible: dict[int, list[dict]] = {}
    for image_id in wanted:
        image = coco.imgs[image_id]
        width, height = int(image["width"]), int(image["height"])
        crop = center_square(width, height)
        objects = []
        for ann in coco.imgToAnns.get(image_id, []):
            if ann.get("iscrowd", 0):
                continue
            fraction = float(ann["area"]) / (width * height)
            if not low <= fraction <= high:
                continue
            if inside_crop and not _inside(ann["bbox"], crop):
                continue
            objects.append(ann)
        if objects:
            eligible[image_id] = sorted(objects, key=lambda a: a["id"])
    if len(eligible) < n_pairs:
        crop_rule = " and bounding box inside the centre square" if inside_crop else ""
        raise DataError(
            f"{n_pairs} pairs requested but only {len(eligible)} images of {path} have a "
            f"non-crowd object with area fraction in [{low}, {high}]{crop_rule}; lower "
            "inpainting.pairs, or widen inpainting.area_bounds"
        )
    ids = sorted(eligible)
    order = np.random.default_rng(seed).permutation(len(ids))[:n_pairs]
    pairs = []
    for index, position in enumerate(order):
        image_id = ids[int(position)]
        objects = eligible[image_id]
        ann = objects[int(np.random.default_rng([seed, image_id]).integers(len(objects)))]
        image = coco.imgs[image_id]
        width, height = int(image["width"]), int(image["height"])
        category = coco.cats.get(ann["category_id"])
        if category is None:
            raise DataError(
                f"annotation {ann['id']} of {path} has category id {ann['category_id']}, which "
                "is not among its categories; the file is corrupt: download it again"
            )
        pairs.append(
            {
                "id": pair_id(index),
                "coco_image_id": int(image_id),
                "coco_annotation_id": int(ann["id"]),
                "file_name": image["file_name"],
                "category": category["name"],
                "area_fraction": float(ann["area"]) / (width * height),
                "bbox": [float(v) for v in ann["bbox"]],
                "width": width,
                "height": height,
                "segmentation": ann["segmentation"],
            }
        )
    return pairs


def decode_segmentation(segmentation: Any, height: int, width: int) -> np.ndarray:
    """The ``height x width`` bool mask of a COCO segmentation (polygons, uncompressed or
    compressed RLE), decoded with pycocotools as ``COCO.annToMask`` does."""
    from pycocotools import mask as mask_utils

    try:
        if isinstance(segmentation, list):
            rle = mask_utils.merge(mask_utils.frPyObjects(segmentation, height, width))
        elif isinstance(segmentation, dict) and isinstance(segmentation.get("counts"), list):
            rle = mask_utils.frPyObjects(segmentation, height, width)
        elif isinstance(segmentation, dict):
            rle = dict(segmentation)
            if isinstance(rle["counts"], str):
                rle["counts"] = rle["counts"].encode("ascii")
        else:
            raise TypeError(f"unknown segmentation type {type(segmentation).__name__}")
        mask = mask_utils.decode(rle)
    except (TypeError, ValueError, KeyError, IndexError) as err:
        raise DataError(f"cannot decode COCO segmentation ({error_line(err)})") from err
    if mask.shape != (height, width):
        raise DataError(
            f"COCO segmentation decodes to shape {mask.shape}, expected {(height, width)}"
        )
    return mask.astype(bool)


# ---------------------------------------------------------------------------- geometry


def dilate_mask(mask: np.ndarray, dilate: int) -> np.ndarray:
    """``mask`` grown by ``dilate`` pixels with a disk: every pixel whose centre lies within
    Euclidean distance ``dilate`` of a mask pixel's centre."""
    if isinstance(dilate, bool) or not isinstance(dilate, int | np.integer) or dilate < 0:
        raise ConfigError(f"inpainting.dilate must be an integer >= 0, got {dilate!r}")
    mask = np.asarray(mask, dtype=bool)
    if dilate == 0 or not mask.any():
        return mask.copy()
    from scipy.ndimage import distance_transform_edt

    return distance_transform_edt(~mask) <= dilate


def make_pair(
    image,
    mask: np.ndarray,
    resolution: int,
    dilate: int,
    name: str = "pair",
):
    """``(RGB PIL image, bool mask)``, both ``resolution x resolution``, from an image and the
    bool mask of its object (same height and width).

    The mask is dilated by ``dilate`` pixels (disk, at the image's own resolution); then both
    are centre-cropped to a square and resized: the image with Lanczos, the mask as float with
    bilinear (antialiased) interpolation, thresholded at >= 0.5. Raises ``DataError`` naming
    ``name`` if the mask covers no pixel after that.
    """
    from PIL import Image

    if isinstance(resolution, bool) or not isinstance(resolution, int) or resolution < 8:
        raise ConfigError(f"inpainting resolution must be an integer >= 8, got {resolution!r}")
    mask = np.asarray(mask)
    if mask.dtype != bool:
        raise DataError(f"{name}: the mask must be a bool array, got dtype {mask.dtype}")
    if mask.shape != (image.height, image.width):
        raise DataError(
            f"{name}: mask shape {mask.shape} does not match the image's "
            f"{(image.height, image.width)} (height, width)"
        )
    grown = dilate_mask(mask, dilate)
    box = center_square(image.width, image.height)
    size = (resolution, resolution)
    out_image = image.convert("RGB").crop(box).resize(size, Image.Resampling.LANCZOS)
    soft = Image.fromarray(grown.astype(np.float32)).crop(box)
    out_mask = np.asarray(soft.resize(size, Image.Resampling.BILINEAR)) >= 0.5
    if not out_mask.any():
        raise DataError(
            f"{name}: the object mask covers no pixel at {resolution}x{resolution} (it covers "
            f"{int(mask.sum())} pixels of the {image.width}x{image.height} image, "
            f"{int(grown[box[1] : box[3], box[0] : box[2]].sum())} inside the centre square "
            "after dilation); change inpainting.area_bounds (raise the lower bound) so that "
            "such small objects are not chosen"
        )
    return out_image, out_mask


# ---------------------------------------------------------------------------- pair sets


def _image_names(images_source: str | Path) -> dict[str, str]:
    """COCO file name (``000000000009.jpg``) -> name in ``images_source`` (the member
    ``train2017/000000000009.jpg`` of the zip, or the file name in a folder)."""
    return {name.rsplit("/", 1)[-1]: name for name in list_images(images_source)}


def prepare_pairs(
    pairs: Iterable[dict[str, Any]],
    images_source: str | Path,
    resolution: int,
    dilate: int = 0,
) -> Iterator[tuple[dict[str, Any], Any, np.ndarray]]:
    """``(row, image, mask)`` of each pair of :func:`select_pairs`, read from the train2017
    zip or folder ``images_source`` and made by :func:`make_pair` (one at a time)."""
    names = _image_names(images_source)
    for row in pairs:
        file_name = row["file_name"]
        if file_name not in names:
            raise DataError(
                f"{row['id']}: image {file_name} is not in {images_source}; point coco.path at "
                "the train2017 zip or folder the annotations belong to"
            )
        image = open_image(images_source, names[file_name])
        height, width = int(row["height"]), int(row["width"])
        if image.size != (width, height):
            raise DataError(
                f"{row['id']}: image {file_name} of {images_source} is {image.width}x"
                f"{image.height} but the annotations say {width}x{height}; the images and "
                "the annotations are not of the same COCO release"
            )
        mask = decode_segmentation(row["segmentation"], height, width)
        out_image, out_mask = make_pair(image, mask, resolution, dilate, name=row["id"])
        yield row | {"dilate": dilate}, out_image, out_mask


def _stored_row(row: dict[str, Any], resolution: int, dilate: int, mask: np.ndarray) -> dict:
    stored = {key: row[key] for key in PAIR_KEYS}
    stored["width"], stored["height"] = int(row["width"]), int(row["height"])
    stored.update(resolution=resolution, dilate=dilate, mask_fraction=float(mask.mean()))
    return stored


def _save_png(image, path: Path) -> None:
    with atomic_output(path, tmp=path.with_name(f".{path.name}.tmp-{os.getpid()}")) as tmp:
        image.save(tmp, format="PNG")


def write_pairs(
    folder: str | Path, items: Iterable[tuple[dict[str, Any], Any, np.ndarray]]
) -> Path:
    """Write ``(row, image, mask)`` items (from :func:`prepare_pairs` or :func:`demo_pairs`:
    rows with :data:`PAIR_KEYS`, ``width``, ``height`` and ``dilate``; square images with
    masks of their size) as a pair set in ``folder``. Each image and mask file is replaced
    atomically; ``pairs.jsonl`` (returned) is written last, atomically, and holds
    :data:`PAIR_KEYS` plus ``width``, ``height`` (of the original image), ``resolution``,
    ``dilate`` and ``mask_fraction`` (the share of the stored mask's pixels that are set)."""
    from PIL import Image

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / PAIRS_FILE
    path.unlink(missing_ok=True)  # an old index must not describe the files rewritten below
    lines, seen = [], set()
    for row, image, mask in items:
        ident = row["id"]
        if not isinstance(ident, str) or not ID_PATTERN.match(ident) or ident in seen:
            raise DataError(f"pair id {ident!r} is not a unique id of letters, digits, _ and -")
        seen.add(ident)
        mask = np.asarray(mask, dtype=bool)
        if image.size != mask.shape[::-1] or image.width != image.height:
            raise DataError(f"{ident}: image {image.size} and mask {mask.shape} do not match")
        _save_png(image.convert("RGB"), folder / f"{ident}.png")
        _save_png(Image.fromarray(mask.astype(np.uint8) * 255), folder / f"{ident}.mask.png")
        stored = _stored_row(row, image.width, int(row["dilate"]), mask)
        lines.append(json.dumps(stored, sort_keys=True) + "\n")
    if not lines:
        raise DataError(f"no pairs to write to {folder}")
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    replace_atomically(path, "".join(lines).encode("utf-8"), durable=True, tmp=tmp)
    return path


def write_pair_set(
    folder: str | Path,
    pairs: Iterable[dict[str, Any]],
    images_source: str | Path,
    resolution: int = 512,
    dilate: int = 0,
) -> Path:
    """Store each pair of :func:`select_pairs` once in ``folder`` as ``<id>.png``,
    ``<id>.mask.png`` and a row of ``pairs.jsonl`` (returned), at ``resolution``."""
    items = prepare_pairs(pairs, images_source, resolution, dilate)
    return write_pairs(folder, items)


def read_pair_set(folder: str | Path) -> list[dict[str, Any]]:
    """The rows of ``<folder>/pairs.jsonl``, checked: keys, unique ids, and each pair's image
    and mask file present. Raises ``DataError`` naming the file, line or pair."""
    folder = Path(folder)
    path = folder / PAIRS_FILE
    lines = read_jsonl(
        path, "pair set", "the inpainting pairs rule", "delete the folder and rebuild the pair set"
    )
    rows, seen = [], set()
    for number, row in lines:
        missing = [key for key in PAIR_KEYS if not isinstance(row, dict) or key not in row]
        if missing:
            raise DataError(f"{path}, line {number}: missing key(s) {missing}")
        ident = row["id"]
        if not isinstance(ident, str) or not ID_PATTERN.match(ident) or ident in seen:
            raise DataError(f"{path}, line {number}: bad or duplicate pair id {ident!r}")
        seen.add(ident)
        for file in (folder / f"{ident}.png", folder / f"{ident}.mask.png"):
            if not file.is_file():
                raise DataError(
                    f"{path}, line {number}: {file} is missing; delete the folder and "
                    "rebuild the pair set"
                )
        rows.append(row)
    if not rows:
        raise DataError(f"{path} holds no pairs; delete it and rebuild the pair set")
    return rows


def load_pair(
    folder: str | Path, pair_id: str, resolution: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """``(uint8 H x W x 3 image, bool H x W mask)`` of pair ``pair_id`` of a pair set.

    Checks that both files exist and can be read, that the image is RGB and the mask L mode
    holding only 0 and 255, that they have the same square size (``resolution`` if given) and
    that the mask is not empty. Raises ``DataError`` naming the file otherwise.
    """
    from PIL import Image

    folder = Path(folder)
    arrays = []
    for file, mode in ((folder / f"{pair_id}.png", "RGB"), (folder / f"{pair_id}.mask.png", "L")):
        if not file.is_file():
            raise DataError(
                f"pair {pair_id}: {file} does not exist; build the pair set first or check the id"
            )
        try:
            with Image.open(file) as opened:
                opened.load()
                if opened.mode != mode:
                    raise DataError(f"pair {pair_id}: {file} is {opened.mode}, expected {mode}")
                arrays.append(np.asarray(opened))
        except OSError as err:
            raise DataError(
                f"pair {pair_id}: cannot read {file} ({error_line(err)}); rebuild the pair set"
            ) from err
    image, mask = arrays
    if image.shape[:2] != mask.shape or image.shape[0] != image.shape[1]:
        raise DataError(
            f"pair {pair_id} in {folder}: image {image.shape} and mask {mask.shape} are not "
            "the same square size; rebuild the pair set"
        )
    if resolution is not None and image.shape[0] != resolution:
        raise DataError(
            f"pair {pair_id} in {folder} is {image.shape[0]} px, the model wants {resolution}; "
            "rebuild the pair set at the model's resolution"
        )
    if not np.isin(mask, (0, 255)).all():
        raise DataError(
            f"pair {pair_id}: mask {folder / pair_id}.mask.png holds values other than 0 and 255"
        )
    if not (mask == 255).any():
        raise DataError(f"pair {pair_id}: mask {folder / pair_id}.mask.png is empty")
    return image.astype(np.uint8), mask == 255


# ---------------------------------------------------------------------------- demo


def _ellipse_mask(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    """A seeded axis-aligned ellipse covering 10-30 % of a ``width x height`` image, inside it."""
    fraction = rng.uniform(0.10, 0.30)
    aspect = rng.uniform(0.7, 1.4)
    area = fraction * width * height
    a = min(np.sqrt(area * aspect / np.pi), 0.45 * width)  # semi-axis along x
    b = min(area / (np.pi * a), 0.45 * height)
    cx = rng.uniform(a, width - a)
    cy = rng.uniform(b, height - b)
    y, x = np.mgrid[0:height, 0:width]
    return ((x + 0.5 - cx) / a) ** 2 + ((y + 0.5 - cy) / b) ** 2 <= 1.0


def demo_pairs(
    images: Sequence[tuple[str, Any]],
    n_pairs: int,
    resolution: int,
    seed: int = 0,
    dilate: int = 0,
) -> list[tuple[dict[str, Any], Any, np.ndarray]]:
    """``(row, image, mask)`` items of ``n_pairs`` demo pairs (for :func:`write_pairs`).

    The demo has no COCO annotations: ``n_pairs`` distinct images of ``images`` (``(name,
    PIL image)``) are drawn with ``numpy.random.default_rng(seed)``, each with a seeded
    ellipse "object" covering 10-30 % of it and a category from :data:`DEMO_CATEGORIES`; the
    rows have the COCO rows' keys with ``coco_image_id`` and ``coco_annotation_id`` None.
    """
    if isinstance(n_pairs, bool) or not isinstance(n_pairs, int) or n_pairs < 1:
        raise ConfigError(f"inpainting.pairs must be a positive integer, got {n_pairs!r}")
    named = sorted(images, key=lambda item: item[0])
    if len(named) < n_pairs:
        raise ConfigError(
            f"the demo has {len(named)} images but inpainting.pairs asks for {n_pairs}; lower "
            "inpainting.pairs or make more demo images (coco.n_images)"
        )
    rng = np.random.default_rng(seed)
    items = []
    for index, position in enumerate(rng.permutation(len(named))[:n_pairs]):
        name, image = named[int(position)]
        mask = _ellipse_mask(rng, image.width, image.height)
        category = DEMO_CATEGORIES[int(rng.integers(len(DEMO_CATEGORIES)))]
        ys, xs = np.nonzero(mask)
        row = {
            "id": pair_id(index),
            "coco_image_id": None,
            "coco_annotation_id": None,
            "file_name": name,
            "category": category,
            "area_fraction": float(mask.mean()),
            "bbox": [
                float(xs.min()),
                float(ys.min()),
                float(np.ptp(xs) + 1),
                float(np.ptp(ys) + 1),
            ],
            "width": image.width,
            "height": image.height,
            "dilate": dilate,
        }
        out_image, out_mask = make_pair(image, mask, resolution, dilate, name=row["id"])
        items.append((row, out_image, out_mask))
    return items


# ---------------------------------------------------------------------------- prompts


def inpainting_prompts(
    pairs: Sequence[dict[str, Any]],
    task: str,
    removal_prompt: str = "clear background",
    set_name: str | None = None,
) -> list[dict[str, Any]]:
    """Prompt rows of one task over ``pairs`` (rows of :func:`read_pair_set` or
    :func:`select_pairs`), in pair order: ``removal`` gives every pair ``removal_prompt``,
    ``completion`` its category name. The set is ``set_name`` (default ``inpaint-<task>``);
    ``meta`` holds ``pair_id``, ``task`` and ``category``."""
    if task not in TASKS:
        raise ConfigError(f"inpainting task must be one of {list(TASKS)}, got {task!r}")
    if task == "removal" and (not isinstance(removal_prompt, str) or not removal_prompt.strip()):
        raise ConfigError(
            f"inpainting.removal_prompt must be a non-empty string, got {removal_prompt!r}"
        )
    name = set_name or f"inpaint-{task}"
    rows = []
    for index, pair in enumerate(pairs):
        text = removal_prompt if task == "removal" else pair["category"]
        rows.append(
            {
                "id": prompt_id(name, index),
                "text": text,
                "set": name,
                "meta": {"pair_id": pair["id"], "task": task, "category": pair["category"]},
            }
        )
    return rows
