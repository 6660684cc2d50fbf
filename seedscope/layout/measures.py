"""Where an image puts its object: found flag, centroid, size and relative depth (section 4.3).

Every image gives one vector of :data:`LAYOUT_COLUMNS`:

- ``found``: 1.0 when the object's mask is non-empty, else 0.0 (the other columns are NaN);
- ``x``, ``y``: the mask's centroid over pixel centres, ``(col + 0.5) / W`` and
  ``(row + 0.5) / H``, in ``(0, 1)``: ``x`` grows left to right, ``y`` top to bottom;
- ``size``: the mask's area as a fraction of the image;
- ``depth``: **larger is farther**. With ``d`` the median of the depth model's output over the
  mask, ``depth`` is the fraction of the image's pixels nearer than ``d`` (ties count half):
  0 for an object in front of everything, 1 for one behind everything, 0.5 for a flat map. A
  percentile rank is scale-free, so it needs no metric depth and is unchanged by any monotone
  rescaling of the model's output, which for Depth Anything's relative models is an
  affine-invariant inverse depth (disparity: larger output = nearer, ``larger_is_nearer=True``).
  Metric models (larger output = farther) pass ``larger_is_nearer=False``.
"""

from __future__ import annotations

import numpy as np

from seedscope.errors import FeatureError

LAYOUT_COLUMNS = ("found", "x", "y", "size", "depth")
DEPTH_CONVENTION = (
    "depth = fraction of the image's pixels nearer than the object's median depth-model output "
    "(ties count half): 0 = nearest, 1 = farthest (larger is farther)"
)


def layout_batch(
    masks: np.ndarray, depths: np.ndarray, larger_is_nearer: bool = True
) -> np.ndarray:
    """Layout vectors ``(N, 5)`` (float32, :data:`LAYOUT_COLUMNS`) of boolean ``masks``
    ``(N, H, W)`` (an all-false mask: not found) and depth-model outputs ``depths`` ``(N, H, W)``.
    """
    masks = np.asarray(masks, dtype=bool)
    depths = np.asarray(depths, dtype=np.float64)
    if masks.ndim != 3 or depths.shape != masks.shape:
        raise FeatureError(
            f"layout needs masks and depth maps of one shape (N, H, W), got {masks.shape} "
            f"and {depths.shape}"
        )
    n, h, w = masks.shape
    area = masks.sum(axis=(1, 2))
    found = area > 0
    out = np.full((n, len(LAYOUT_COLUMNS)), np.nan)
    out[:, 0] = found
    if not found.any():
        return out.astype(np.float32)
    m, d, a = masks[found], depths[found], area[found]
    out[found, 1] = (m.sum(axis=1) @ (np.arange(w) + 0.5)) / (a * w)
    out[found, 2] = (m.sum(axis=2) @ (np.arange(h) + 0.5)) / (a * h)
    out[found, 3] = a / (h * w)
    median = np.nanmedian(np.where(m, d, np.nan).reshape(len(m), -1), axis=1)[:, None, None]
    nearer = d > median if larger_is_nearer else d < median
    out[found, 4] = (nearer.sum(axis=(1, 2)) + 0.5 * (d == median).sum(axis=(1, 2))) / (h * w)
    return out.astype(np.float32)
