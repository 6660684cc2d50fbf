"""OCR of inpainted images: detected text polygons, the fraction of a mask they cover, and the
``ocr`` feature extractor.

One interface, two backends, both running the PP-OCR text detector, angle classifier and
recogniser:

- ``rapidocr`` (the default): ``rapidocr`` 3.10, whose wheel bundles the PP-OCRv6 (small)
  detection and recognition models and the PP-OCR mobile v2.0 angle classifier as ONNX files
  (:data:`BUNDLED`), run by ``onnxruntime``. The three files are passed to it by path, so its
  model registry and downloader are never consulted; their sha256 are checked against the
  ones its ``default_models.yaml`` lists. It runs offline, so the tests and the demo run the
  real models.
- ``paddleocr``: optional. It needs the package and a local ``model_dir`` holding the PP-OCR
  detection and recognition inference models in ``det/`` and ``rec/`` (it is never left to
  download them). A missing package or model is a :class:`FeatureError` that names the config
  key (``features.ocr.backend`` / ``features.ocr.model_dir``) and how to fix it.

**Confidence** is the recogniser's score of a box: the mean probability of the characters it
read, in [0, 1]. A detected region whose text reads with low confidence is usually texture, not
writing, so only boxes with ``confidence >= min_confidence`` count as text. ``detect`` returns
every recognised box; the threshold is applied in :func:`text_mask` (hence :func:`text_ratio`
and :func:`measure`).

**Feature row** (:class:`OCRExtractor`, columns :data:`COLUMNS`): ``text_ratio``, the area of
the union of the text polygons (above the threshold) inside the mask over the mask's area;
``has_text``, 1 when a text polygon overlaps the mask, else 0 (so ``has_text == (text_ratio >
0)``); ``n_boxes``, how many do. The recognised strings are not in the row; :func:`measure`
returns them for figures.

**Time** (CPU, rapidocr): the detector scales every image so that its short side is 736
pixels (``Det.limit_type: min``, PaddleOCR's setting for PP-OCRv6), so an image costs the same
at 64 and at 512 pixels: about 0.66 CPU seconds without text and 1.0 with a line of text
(measured with 2 threads: about 1.5 images/s without text and 0.8 with, on 2 idle cores).
Loading the three models takes about 2 s, the imports as much again.
"""

from __future__ import annotations

import importlib
import importlib.metadata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import cv2
import numpy as np

from seedscope.errors import FeatureError, error_line
from seedscope.files import file_sha256

KEY = "features.ocr"
COLUMNS = ("text_ratio", "has_text", "n_boxes")
BUNDLED = {  # rapidocr 3.10's models, in its wheel's rapidocr/models/
    "det": "PP-OCRv6_det_small.onnx",
    "cls": "ch_ppocr_mobile_v2.0_cls_mobile.onnx",
    "rec": "PP-OCRv6_rec_small.onnx",
}
RAPIDOCR_PIN = "rapidocr==3.10.0 onnxruntime==1.32.0"
PADDLE_FIX = (
    f"set {KEY}.backend: rapidocr (its models come in its wheel, nothing to download), or "
    "pip install paddleocr paddlepaddle and set "
    f"{KEY}.model_dir to a folder with the PP-OCR detection inference model in det/ and the "
    "recognition model in rec/ (downloaded on a machine with internet)"
)


@dataclass(frozen=True)
class TextBox:
    """A detected text region: ``points`` (k x 2 float, x then y, in pixels), the recognised
    ``text`` and its ``confidence`` in [0, 1]."""

    points: np.ndarray
    text: str
    confidence: float


class OCR(Protocol):
    """What every backend offers: ``min_confidence``, ``meta`` and ``detect``."""

    min_confidence: float
    meta: dict[str, Any]

    def detect(self, image: np.ndarray) -> list[TextBox]: ...


def load_ocr(settings: dict[str, Any], device: str = "cpu") -> OCR:
    """An OCR engine with ``detect(image) -> list[TextBox]`` for an RGB uint8 H x W x 3 image.

    ``settings`` is the ``features.ocr`` section of a validated config (the schema,
    ``schemas/config.schema.yaml``, fills in every key's default and checks its range; e.g.
    ``seedscope.validate.load_config(path)["features"]["ocr"]``): ``backend`` is
    ``"rapidocr"`` (bundled ONNX models, offline) or ``"paddleocr"`` (optional package;
    ``model_dir`` holds its ``det/`` and ``rec/`` models). ``threads`` caps the CPU threads of
    the rapidocr runtime (None: all cores). ``device`` ``cuda[:i]`` runs rapidocr on that GPU
    only where onnxruntime has the CUDA provider (the ``onnxruntime-gpu`` build), else on CPU;
    ``meta["providers"]`` says which ran. ``det_limit_side_len`` replaces rapidocr's 736 px:
    its detector scales every image so that its short side is at least that (a cost that does
    not depend on the image's own size); None keeps the library's value.
    """
    min_confidence = float(settings["min_confidence"])
    if settings["backend"] == "rapidocr":
        return _RapidOCR(
            min_confidence, settings["threads"], str(device), settings["det_limit_side_len"]
        )
    return _PaddleOCR(min_confidence, settings["model_dir"])


def _check_image(image: np.ndarray, name: str = "image") -> np.ndarray:
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise FeatureError(
            f"OCR needs an RGB uint8 H x W x 3 image, got dtype {image.dtype} and shape "
            f"{image.shape} for {name}; decode the PNG with PIL and convert('RGB')"
        )
    return image


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


class _RapidOCR:
    """rapidocr 3.10 on onnxruntime with its bundled models, passed by path."""

    def __init__(
        self, min_confidence: float, threads: int | None, device: str, limit: int | None = None
    ) -> None:
        try:
            import onnxruntime
            import rapidocr
            from rapidocr import EngineType, RapidOCR
        except ImportError as err:
            raise FeatureError(
                f"{KEY}.backend 'rapidocr' needs the rapidocr and onnxruntime packages "
                f"({error_line(err)}); pip install {RAPIDOCR_PIN} (the wheel bundles its models)"
            ) from err
        folder = Path(rapidocr.__file__).resolve().parent / "models"
        expected = _registry_sha256(folder.parent / "default_models.yaml")
        self.models: dict[str, dict[str, str]] = {}
        for task, file in BUNDLED.items():
            path = folder / file
            if not path.is_file():
                raise FeatureError(
                    f"{KEY}.backend 'rapidocr': the bundled model {path} is missing; this "
                    f"rapidocr ({_version('rapidocr')}) does not ship it: "
                    f"pip install --force-reinstall {RAPIDOCR_PIN}"
                )
            digest = file_sha256(path)
            if file in expected and expected[file] != digest:
                raise FeatureError(
                    f"{KEY}.backend 'rapidocr': the bundled model {path} has sha256 {digest}, "
                    f"not the {expected[file]} rapidocr lists for it (a damaged install); "
                    f"pip install --force-reinstall {RAPIDOCR_PIN}"
                )
            self.models[task] = {"file": file, "sha256": digest, "path": str(path)}
        onnx = EngineType.ONNXRUNTIME
        params: dict[str, Any] = {
            "Global.log_level": "error",  # no log line per image without text
            "Global.text_score": 0.0,  # every box comes back; min_confidence applies here
            "Det.engine_type": onnx,
            "Cls.engine_type": onnx,
            "Rec.engine_type": onnx,
            "Det.model_path": self.models["det"]["path"],
            "Cls.model_path": self.models["cls"]["path"],
            "Rec.model_path": self.models["rec"]["path"],
        }
        if limit is not None:
            params["Det.limit_side_len"] = limit
        if threads:
            params["EngineConfig.onnxruntime.intra_op_num_threads"] = threads
            params["EngineConfig.onnxruntime.inter_op_num_threads"] = 1
        cuda = device.startswith("cuda") and (
            "CUDAExecutionProvider" in onnxruntime.get_available_providers()
        )
        if cuda:
            params["EngineConfig.onnxruntime.use_cuda"] = True
            index = device.partition(":")[2]
            params["EngineConfig.onnxruntime.cuda_ep_cfg.device_id"] = int(index or 0)
        try:
            self.engine = RapidOCR(params=params)
            # load the three sessions now (rapidocr loads them at first use): errors surface here
            sessions = [
                self.engine._load_det_model().session.session,
                self.engine._load_cls_model().session.session,
                self.engine._load_rec_model().session.session,
            ]
        except Exception as err:  # onnxruntime and omegaconf raise many kinds
            raise FeatureError(
                f"{KEY}.backend 'rapidocr' could not load its bundled models from {folder} "
                f"({error_line(err)}); pip install --force-reinstall {RAPIDOCR_PIN}"
            ) from err
        det = self.engine.cfg.Det
        self.min_confidence = min_confidence
        self.meta: dict[str, Any] = {
            "backend": "rapidocr",
            "rapidocr_version": _version("rapidocr"),
            "onnxruntime_version": onnxruntime.__version__,
            "providers": sessions[0].get_providers(),
            "models": {t: {k: m[k] for k in ("file", "sha256")} for t, m in self.models.items()},
            "min_confidence": min_confidence,
            "det_limit_side_len": int(det.limit_side_len),
            "det_limit_type": str(det.limit_type),
            "det_box_thresh": float(det.box_thresh),
            "det_unclip_ratio": float(det.unclip_ratio),
            "use_cls": bool(self.engine.cfg.Global.use_cls),
        }

    def detect(self, image: np.ndarray, name: str = "image") -> list[TextBox]:
        """Every recognised text box of ``image`` (RGB uint8), whatever its confidence."""
        bgr = np.ascontiguousarray(_check_image(image, name)[..., ::-1])  # the engine reads BGR
        result = self.engine(bgr)
        boxes, txts, scores = (getattr(result, k, None) for k in ("boxes", "txts", "scores"))
        if boxes is None or txts is None or scores is None:  # nothing found, or not read
            return []
        return [
            TextBox(np.asarray(points, dtype=float).reshape(-1, 2), str(text), float(score))
            for points, text, score in zip(boxes, txts, scores, strict=True)
        ]


def _registry_sha256(registry: Path) -> dict[str, str]:
    """``{file name: sha256}`` of the onnxruntime models rapidocr's ``default_models.yaml``
    lists (empty when it is unreadable: then the models are used unchecked)."""
    import yaml

    try:
        tree = yaml.safe_load(registry.read_text()).get("onnxruntime", {})
    except (OSError, AttributeError, yaml.YAMLError):
        return {}
    found: dict[str, str] = {}

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            url, digest = node.get("model_dir"), node.get("SHA256")
            if isinstance(url, str) and isinstance(digest, str):
                found.setdefault(url.rsplit("/", 1)[-1], digest)
            for value in node.values():
                walk(value)

    walk(tree)
    return found


class _PaddleOCR:
    """PaddleOCR (2.x or 3.x) with local det/ and rec/ models, no angle or document models."""

    def __init__(self, min_confidence: float, model_dir: str | Path | None) -> None:
        try:
            paddleocr = importlib.import_module("paddleocr")
        except ImportError as err:
            raise FeatureError(
                f"{KEY}.backend is 'paddleocr' but the paddleocr package is not installed "
                f"({error_line(err)}); {PADDLE_FIX}"
            ) from err
        if model_dir is None:
            raise FeatureError(
                f"{KEY}.backend is 'paddleocr' but {KEY}.model_dir is not set, and seedscope "
                f"never leaves PaddleOCR to download its models at first use; {PADDLE_FIX}"
            )
        model_dir = Path(model_dir).expanduser()
        folders = {"det": model_dir / "det", "rec": model_dir / "rec"}
        missing = [str(p) for p in folders.values() if not _has_files(p)]
        if missing:
            raise FeatureError(
                f"{KEY}.model_dir: PaddleOCR models are missing: {', '.join(missing)} (empty or "
                f"absent); put the PP-OCR detection inference model in {folders['det']} and the "
                f"recognition model in {folders['rec']}, or set {KEY}.model_dir to the folder "
                f"that holds det/ and rec/, or set {KEY}.backend: rapidocr"
            )
        version = str(getattr(paddleocr, "__version__", None) or _version("paddleocr") or "3")
        if version.startswith("2."):
            options: dict[str, Any] = {
                "det_model_dir": str(folders["det"]),
                "rec_model_dir": str(folders["rec"]),
                "use_angle_cls": False,
                "show_log": False,
            }
        else:
            options = {
                "text_detection_model_dir": str(folders["det"]),
                "text_recognition_model_dir": str(folders["rec"]),
                "use_doc_orientation_classify": False,
                "use_doc_unwarping": False,
                "use_textline_orientation": False,
                "text_rec_score_thresh": 0.0,
            }
            for task, option in (("det", "text_detection"), ("rec", "text_recognition")):
                name = _paddle_model_name(folders[task])
                if name:
                    options[f"{option}_model_name"] = name
        try:
            self.engine = paddleocr.PaddleOCR(**options)
        except Exception as err:  # model loading fails in many ways
            raise FeatureError(
                f"{KEY}.model_dir: PaddleOCR {version} could not load the models in {model_dir} "
                f"({error_line(err)}); put PP-OCR inference models for paddleocr {version} in "
                f"{folders['det']} and {folders['rec']}, or set {KEY}.backend: rapidocr"
            ) from err
        self.min_confidence = min_confidence
        self.meta = {
            "backend": "paddleocr",
            "paddleocr_version": version,
            "paddlepaddle_version": _version("paddlepaddle") or _version("paddlepaddle-gpu"),
            "model_dir": str(model_dir),
            "models": {
                task: {p.name: file_sha256(p) for p in sorted(folder.iterdir()) if p.is_file()}
                for task, folder in folders.items()
            },
            "min_confidence": min_confidence,
            "use_cls": False,
        }

    def detect(self, image: np.ndarray, name: str = "image") -> list[TextBox]:
        """Every recognised text box of ``image`` (RGB uint8), whatever its confidence."""
        bgr = np.ascontiguousarray(_check_image(image, name)[..., ::-1])
        if hasattr(self.engine, "predict"):  # paddleocr 3
            boxes = []
            for page in self.engine.predict(bgr):
                boxes += zip(page["rec_polys"], page["rec_texts"], page["rec_scores"], strict=True)
        else:  # paddleocr 2: [[points, (text, score)], ...] per page, None when empty
            pages = self.engine.ocr(bgr, cls=False) or []
            boxes = [(p, t, s) for page in pages for p, (t, s) in page or []]
        return [
            TextBox(np.asarray(p, dtype=float).reshape(-1, 2), str(t), float(s))
            for p, t, s in boxes
        ]


def _has_files(folder: Path) -> bool:
    return folder.is_dir() and any(p.is_file() for p in folder.iterdir())


def _paddle_model_name(folder: Path) -> str | None:
    """``Global.model_name`` of a PaddleX-style ``inference.yml`` in ``folder``, if any."""
    import yaml

    try:
        config = yaml.safe_load((folder / "inference.yml").read_text())
        return str(config["Global"]["model_name"])
    except (OSError, KeyError, TypeError, yaml.YAMLError):
        return None


def text_mask(boxes: Sequence[TextBox], shape: tuple[int, int], min_confidence: float):
    """Boolean H x W raster of the union of the polygons of ``boxes`` with
    ``confidence >= min_confidence``."""
    canvas = np.zeros(shape, dtype=np.uint8)
    polygons = [
        np.round(b.points).astype(np.int32).reshape(-1, 1, 2)
        for b in boxes
        if b.confidence >= min_confidence and len(b.points) >= 3
    ]
    for polygon in polygons:  # one at a time: fillPoly of several overlapping ones is no union
        cv2.fillPoly(canvas, [polygon], 1)
    return canvas.astype(bool)


def text_ratio(
    boxes: Sequence[TextBox], mask: np.ndarray, min_confidence: float, name: str = "the mask"
) -> float:
    """Area of the union of the text polygons (``confidence >= min_confidence``) inside
    ``mask`` (bool H x W), divided by the mask's area: 0 without text, 1 when text covers it.
    ``name`` labels the mask in errors (e.g. ``"the mask of pair 12"``)."""
    mask = check_mask(mask, name)
    text = text_mask(boxes, mask.shape, min_confidence)
    return float(np.count_nonzero(text & mask) / np.count_nonzero(mask))


def check_mask(mask: np.ndarray, name: str = "the mask") -> np.ndarray:
    """``mask`` as a boolean H x W array; a :class:`FeatureError` when it is not one (0/1 or
    bool values) or covers no pixel."""
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise FeatureError(f"{name} has shape {mask.shape}; a mask is one boolean H x W array")
    if mask.dtype != bool:
        if not np.isin(mask, (0, 1)).all():
            raise FeatureError(
                f"{name} holds values other than 0/1 (dtype {mask.dtype}); "
                "threshold the mask PNG (e.g. png > 127) before OCR"
            )
        mask = mask.astype(bool)
    if not mask.any():
        raise FeatureError(
            f"{name} is empty (covers no pixel), so its text ratio is undefined; the pair's "
            "mask must cover its region (an object mask its object): rebuild the pair set"
        )
    return mask


def measure(
    ocr: OCR,
    images: Sequence[np.ndarray],
    masks: Sequence[np.ndarray],
    names: Sequence[str] | None = None,
) -> dict[str, np.ndarray]:
    """OCR every image and measure the text in its mask, with ``ocr.min_confidence``.

    Returns one value per image: ``text_ratio`` (float32, see :func:`text_ratio`),
    ``has_text`` (any box above the confidence overlaps the mask), ``n_boxes`` (such boxes)
    and ``text`` (their recognised strings joined by newlines, "" when none; for figures).
    ``names`` label the images in errors (e.g. ``"pair 12"``). Every mask is checked before
    the first image is read.
    """
    if len(images) != len(masks):
        raise FeatureError(f"OCR got {len(images)} images but {len(masks)} masks; pair them")
    labels = [f"image {i}" for i in range(len(masks))] if names is None else list(names)
    if len(labels) != len(masks):
        raise FeatureError(f"OCR got {len(labels)} names for {len(masks)} images")
    checked = []
    for image, mask, label in zip(images, masks, labels, strict=True):
        mask = check_mask(mask, f"the mask of {label}")
        shape = np.shape(image)[:2]
        if shape != mask.shape:
            raise FeatureError(
                f"the mask of {label} is {mask.shape} but its image is {shape}; bring image "
                "and mask to the same resolution"
            )
        checked.append(mask)
    ratios, has_text, counts, texts = [], [], [], []
    for image, mask, label in zip(images, checked, labels, strict=True):
        inside = [
            box
            for box in ocr.detect(image, label)
            if text_mask([box], mask.shape, ocr.min_confidence)[mask].any()
        ]
        ratios.append(text_ratio(inside, mask, ocr.min_confidence))
        has_text.append(bool(inside))
        counts.append(len(inside))
        texts.append("\n".join(b.text for b in inside))
    return {
        "text_ratio": np.asarray(ratios, dtype=np.float32),
        "has_text": np.asarray(has_text, dtype=bool),
        "n_boxes": np.asarray(counts, dtype=np.int32),
        "text": np.asarray(texts, dtype=str),
    }


class OCRExtractor:
    """``extractor(images, masks)`` -> ``(N, 3)`` float32 rows ``text_ratio, has_text,
    n_boxes`` (:data:`COLUMNS`); the protocol of
    :class:`seedscope.extractors.Extractor`, with masks where others take prompts."""

    name = "ocr"
    dim = len(COLUMNS)
    needs_prompts = False
    needs_masks = True

    def __init__(self, ocr: OCR, batch_size: int) -> None:
        self.ocr = ocr
        self.batch_size = batch_size
        self.meta: dict[str, Any] = {
            "extractor": "ocr",
            **ocr.meta,
            "dim": self.dim,
            "columns": list(COLUMNS),
        }

    def __call__(
        self,
        images: Sequence[np.ndarray],
        masks: Sequence[np.ndarray] | None = None,
        names: Sequence[str] | None = None,
    ) -> np.ndarray:
        """Rows of RGB uint8 ``images`` (H x W x 3) with their boolean ``masks`` (H x W, the
        inpainted region); ``names`` (e.g. pair ids) label them in errors."""
        if masks is None:
            raise FeatureError(
                "the ocr extractor measures text inside each image's mask; pass "
                "extractor(images, masks) with the inpainting mask of every image"
            )
        found = self.measure(images, masks, names)
        if len(images) == 0:
            return np.zeros((0, self.dim), np.float32)
        return np.stack([found[c].astype(np.float32) for c in COLUMNS], axis=1)

    def measure(
        self,
        images: Sequence[np.ndarray],
        masks: Sequence[np.ndarray],
        names: Sequence[str] | None = None,
    ) -> dict[str, np.ndarray]:
        """:func:`measure` with this extractor's OCR: the row's columns and the ``text``."""
        return measure(self.ocr, images, masks, names)


def load_ocr_extractor(settings: dict[str, Any], device: str = "cpu") -> OCRExtractor:
    """The ``ocr`` extractor from the validated ``features.ocr`` section (see :func:`load_ocr`;
    ``batch_size`` images per batch)."""
    return OCRExtractor(load_ocr(settings, device), settings["batch_size"])
