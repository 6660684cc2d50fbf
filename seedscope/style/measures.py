"""Interpretable per-image style measures and the flags they raise (paper section 4.3).

Every measure reads an RGB ``uint8`` image; values are on ``[0, 1]`` (pixel values divided by
255) except ``colourfulness``, which keeps its published 0-255 scale. :func:`measure_batch` works
on a whole batch ``(N, H, W, 3)`` at once and returns the columns an extractor writes, one value
per image: the raw measures and the boolean flags.

**Grayscale.** ``chroma`` is the mean over pixels of ``(max(R, G, B) - min(R, G, B)) / 255``
(HSV chroma): 0 exactly when every pixel is gray, 1 for saturated primaries. An image is
``grayscale`` when ``chroma <= grayscale_max_chroma`` (default 0.04, about 10 of 255 levels: a
black-and-white photo with a faint warm or cool cast, as diffusion models make them, stays
below it; a muted colour photo does not). Chroma is used rather than colourfulness because it is
per pixel, bounded and zero only for gray pixels, while colourfulness mixes a spread and a mean
term. ``colourfulness`` (Hasler and Suesstrunk, 2003: with ``rg = R - G`` and
``yb = (R + G) / 2 - B``, ``sqrt(std(rg)^2 + std(yb)^2) + 0.3 sqrt(mean(rg)^2 + mean(yb)^2)``;
below about 15 reads "not colourful") is reported beside it for reference.

**Sky.** The top band is the first ``ceil(sky_band * H)`` rows (default a quarter). A pixel is
bright when its luma ``Y = (0.299 R + 0.587 G + 0.114 B) / 255 >= sky_min_brightness`` (0.7: white
and pale-blue sky, not mid-tones) and flat when the luma step to its right and lower neighbours
is at most ``sky_max_gradient`` (0.03, about 8 levels; the last column and row compare with
themselves). ``sky_fraction`` is the fraction of the band's pixels that are both, and an image
is ``sky`` when it reaches ``sky_min_fraction`` (0.5): most of the top is a bright, featureless
area. The step is per pixel, so measure images at the resolution they were generated at.

**Border.** With ``S = min(H, W)``, the outer band is every pixel within
``w = max(1, round(border_outer * S))`` pixels of an edge (default 2 %), and the inset band the
pixels whose distance to the nearest edge lies in ``[a, a + w)`` with
``a = max(w, round(border_inset * S))`` (default 12 %: inside any frame narrower than that).
``border_std`` is the standard deviation of the outer band's pixels, averaged over channels: a
painted frame is uniform, a photograph's edge is not. ``border_step`` is the mean over the
inset band's pixels of their mean absolute channel difference from the outer band's mean colour:
the frame differs from what it encloses. An image is ``border`` when
``border_std <= border_max_std`` (0.03) and ``border_step >= border_min_step`` (0.1): a plain
studio background is uniform at the edge but shows no step, and a frame matching the content's
average colour still shows one because the step is measured per pixel.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

import numpy as np

from seedscope.errors import ConfigError, FeatureError

LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)
FLAGS = ("grayscale", "sky", "border")
MEASURES = ("chroma", "colourfulness", "sky_fraction", "border_std", "border_step")
# Thresholds fields that set how a measure reads the pixels (features.style.measure); the others
# only turn measures into flags (style.thresholds).
MEASURE_FIELDS = (
    "sky_band",
    "sky_min_brightness",
    "sky_max_gradient",
    "border_outer",
    "border_inset",
)
FLAG_FIELDS = ("grayscale_max_chroma", "sky_min_fraction", "border_max_std", "border_min_step")


@dataclass(frozen=True)
class Thresholds:
    """The thresholds of the three flags (module docstring: what each means and why its
    default). Construct from a config mapping with ``Thresholds(**mapping)``."""

    grayscale_max_chroma: float = 0.04
    sky_band: float = 0.25
    sky_min_brightness: float = 0.7
    sky_max_gradient: float = 0.03
    sky_min_fraction: float = 0.5
    border_outer: float = 0.02
    border_inset: float = 0.12
    border_max_std: float = 0.03
    border_min_step: float = 0.1

    def __post_init__(self) -> None:
        for item in fields(self):
            value = getattr(self, item.name)
            if not isinstance(value, int | float) or isinstance(value, bool):
                raise ConfigError(
                    f"style threshold {item.name} is {value!r}; it must be a number in [0, 1]"
                )
            upper = 0.5 if item.name in ("border_outer", "border_inset") else 1.0
            if not 0 <= value <= upper:
                raise ConfigError(
                    f"style threshold {item.name} = {value} is outside [0, {upper}]; "
                    "set it to a fraction in that range"
                )
        if self.sky_band == 0:
            raise ConfigError("style threshold sky_band is 0: the top band must hold some rows")

    def as_dict(self) -> dict[str, float]:
        """The thresholds as a plain mapping (for a feature table's ``meta``)."""
        return asdict(self)


def measure_batch(
    images: np.ndarray, thresholds: Thresholds | None = None
) -> dict[str, np.ndarray]:
    """The style measures and flags of a batch of RGB ``uint8`` images ``(N, H, W, 3)``.

    Returns ``{name: array of N}`` for every name in :data:`MEASURES` (float32) and
    :data:`FLAGS` (bool). The batch is converted to float32 at once: pass a few hundred images
    at a time.
    """
    t = thresholds or Thresholds()
    _check_images(images)
    pixels = images.astype(np.float32) / 255
    out = {"chroma": (pixels.max(-1) - pixels.min(-1)).mean(axis=(1, 2))}
    out["colourfulness"] = _colourfulness(pixels * 255)
    out["sky_fraction"] = _sky_fraction(pixels, t)
    out["border_std"], out["border_step"] = _border(pixels, t)
    out = {name: value.astype(np.float32) for name, value in out.items()}
    return out | flags(out, t)


def flags(measures: dict[str, np.ndarray], thresholds: Thresholds | None = None):
    """The boolean :data:`FLAGS` of images from their raw :data:`MEASURES` (arrays of N).

    Feature tables store the measures, not the flags, so that a changed threshold needs no
    image read again.
    """
    t = thresholds or Thresholds()
    return {
        "grayscale": measures["chroma"] <= t.grayscale_max_chroma,
        "sky": measures["sky_fraction"] >= t.sky_min_fraction,
        "border": (measures["border_std"] <= t.border_max_std)
        & (measures["border_step"] >= t.border_min_step),
    }


def _check_images(images: np.ndarray) -> None:
    if not isinstance(images, np.ndarray) or images.ndim != 4 or images.shape[-1] != 3:
        shape = getattr(images, "shape", type(images).__name__)
        raise FeatureError(
            f"style measures take RGB images as an array (N, H, W, 3), got {shape}; "
            "convert images to RGB and stack them"
        )
    if images.dtype != np.uint8:
        raise FeatureError(
            f"style measures take uint8 pixels (0-255), got {images.dtype}; "
            "decode the PNGs to uint8 RGB without rescaling"
        )


def _colourfulness(rgb: np.ndarray) -> np.ndarray:
    rg = rgb[..., 0] - rgb[..., 1]
    yb = 0.5 * (rgb[..., 0] + rgb[..., 1]) - rgb[..., 2]
    spread = np.hypot(rg.std(axis=(1, 2)), yb.std(axis=(1, 2)))
    return spread + 0.3 * np.hypot(rg.mean(axis=(1, 2)), yb.mean(axis=(1, 2)))


def _sky_fraction(pixels: np.ndarray, t: Thresholds) -> np.ndarray:
    luma = pixels @ LUMA
    step_right = np.abs(np.diff(luma, axis=2, append=luma[:, :, -1:]))
    step_down = np.abs(np.diff(luma, axis=1, append=luma[:, -1:, :]))
    band = math.ceil(t.sky_band * luma.shape[1])
    sky = (luma[:, :band] >= t.sky_min_brightness) & (
        np.maximum(step_right, step_down)[:, :band] <= t.sky_max_gradient
    )
    return sky.mean(axis=(1, 2))


def _border(pixels: np.ndarray, t: Thresholds) -> tuple[np.ndarray, np.ndarray]:
    height, width = pixels.shape[1:3]
    size = min(height, width)
    outer_width = max(1, round(t.border_outer * size))
    inset_start = max(outer_width, round(t.border_inset * size))
    if inset_start + outer_width > (size + 1) // 2:
        raise FeatureError(
            f"the border bands (outer {outer_width} px, inset from {inset_start} px) do not fit "
            f"{height}x{width} images; lower border_outer and border_inset"
        )
    rows, cols = np.arange(height)[:, None], np.arange(width)[None, :]
    depth = np.minimum(np.minimum(rows, height - 1 - rows), np.minimum(cols, width - 1 - cols))
    outer = pixels[:, depth < outer_width]  # (N, pixels in band, 3)
    inset = pixels[:, (depth >= inset_start) & (depth < inset_start + outer_width)]
    frame = outer.mean(axis=1, keepdims=True)
    return outer.std(axis=1).mean(-1), np.abs(inset - frame).mean(axis=(1, 2))
