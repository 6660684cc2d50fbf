"""FID and KID of many image sets against one reference, from features, with subsample replicates.

The Frechet distance needs ``tr sqrtm(S_r S_g)``. With ``R = sqrtm(S_r)`` (computed once per
reference, symmetric), ``S_r S_g`` is similar to ``R S_g R``, a symmetric PSD matrix, so the trace
is the sum of the square roots of its eigenvalues: one symmetric eigendecomposition per image set
(or per replicate, batched), in float64, on the GPU where there is one. With fewer images than
dimensions, the same eigenvalues come from the smaller Gram matrix ``(Y R)(Y R)'``, where
``S_g = Y'Y``. This agrees with ``cleanfid.fid.frechet_distance`` (which takes
``scipy.linalg.sqrtm`` of the non-symmetric product) to about 1e-9 relative on well conditioned
features; the tests hold it to 1e-6.

KID is the unbiased squared MMD with clean-fid's kernel ``k(x, y) = (x.y / d + 1) ** 3``, on the
full sets rather than clean-fid's random subsets (the estimator of
``cleanfid.fid.kernel_distance`` with one subset that takes every image; subsets only bound its
memory). Subsample replicates (for the confidence intervals of
:mod:`seedscope.quality.intervals`) reweight the generated images' kernel matrix, so they cost
one matrix product.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from seedscope.errors import FeatureError


@dataclass
class Reference:
    """Statistics of the real images that every image set is compared with."""

    mu: torch.Tensor
    sigma: torch.Tensor
    sqrt_sigma: torch.Tensor
    features: torch.Tensor
    kernel_mean: float  # mean of k(x, x') over distinct reference pairs

    @property
    def trace(self) -> float:
        return float(torch.trace(self.sigma))


def pick_device(device: str) -> torch.device:
    """``auto`` is CUDA where available; statistics are float64 either way."""
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(device)


def _kernel(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return (x @ y.T / x.shape[1] + 1) ** 3


def _offdiag_mean(kernel: torch.Tensor) -> float:
    n = kernel.shape[0]
    return float((kernel.sum() - torch.diagonal(kernel).sum()) / (n * (n - 1)))


def symmetric_sqrt(matrix: torch.Tensor) -> torch.Tensor:
    """The PSD square root of a symmetric matrix (negative eigenvalues from rounding clipped)."""
    values, vectors = torch.linalg.eigh(matrix)
    return (vectors * values.clamp(min=0).sqrt()) @ vectors.T


def reference_stats(features: np.ndarray, device: str = "auto") -> Reference:
    """Mean, covariance (ddof 1, like clean-fid), its square root and kernel mean of real images."""
    if len(features) < 2:
        raise FeatureError(f"reference statistics need at least 2 images, got {len(features)}")
    x = torch.as_tensor(np.asarray(features), dtype=torch.float64, device=pick_device(device))
    mu = x.mean(0)
    centred = x - mu
    sigma = centred.T @ centred / (len(x) - 1)
    kernel_mean = _offdiag_mean(_kernel(x, x))
    return Reference(mu, sigma, symmetric_sqrt(sigma), x, kernel_mean)


def _trace_sqrt(y: torch.Tensor, root: torch.Tensor) -> torch.Tensor:
    """``tr sqrtm(R Y'Y R)`` = the sum of the singular values of ``Y R``, for ``Y`` with fewer
    rows than columns: the eigenvalues of the small Gram matrix ``(Y R)(Y R)'``."""
    projected = y @ root
    return torch.linalg.eigvalsh(projected @ projected.T).clamp(min=0).sqrt().sum()


def _set_and_weights(
    features: np.ndarray | torch.Tensor, reference: Reference, weights, what: str
) -> tuple[torch.Tensor, torch.Tensor]:
    """The image set as float64 on the reference's device, and its replicate weights (ones for
    the point estimate)."""
    x = torch.as_tensor(features, dtype=torch.float64, device=reference.mu.device)
    if len(x) < 2:
        raise FeatureError(f"{what} needs at least 2 images per set, got {len(x)}")
    if weights is None:
        weights = np.ones((1, len(x)))
    return x, torch.as_tensor(np.asarray(weights), dtype=torch.float64, device=x.device)


def _covariance_divisor(w: torch.Tensor) -> torch.Tensor:
    """``W - sum(w**2) / W`` (reliability weights): ``n - 1`` for ones, ``m - 1`` for ``n / m``
    on a subset of ``m``, so a subsample's covariance is that subset's, with ddof 1."""
    total = w.sum(-1)
    return total - (w * w).sum(-1) / total


# Replicates of FID are computed this many float64 elements at a time (256 MiB): at the paper's
# size (10,000 images, 2,048-d) one replicate per step, at small sizes all at once.
BATCH_ELEMENTS = 1 << 25


def frechet_to_reference(
    features: np.ndarray | torch.Tensor,
    reference: Reference,
    weights: np.ndarray | None = None,
) -> np.ndarray:
    """FID of one image set against ``reference``, for each row of replicate ``weights``.

    ``features`` has one row per image (n x d). ``weights`` (b x n) gives each image's weight in
    a replicate (``n / m`` on a subsample of ``m`` images, see
    :func:`seedscope.quality.intervals.subsample_weights`); ``None`` gives the point estimate
    (a length-1 result). Replicates are batched (``BATCH_ELEMENTS`` at a time) into one
    covariance product and one batched eigendecomposition.
    """
    x, weights = _set_and_weights(features, reference, weights, "FID")
    n, d = x.shape
    if n < d:  # fewer images than dimensions: the n x n Gram matrix, one replicate at a time
        return np.array([_frechet_few_images(x, w, reference) for w in weights])
    root, results = reference.sqrt_sigma, []
    step = max(1, BATCH_ELEMENTS // (n * d + 3 * d * d))
    for start in range(0, len(weights), step):
        w = weights[start : start + step]  # b x n
        mu = (w @ x) / w.sum(1, keepdim=True)
        centred = x[None] - mu[:, None]
        scatter = (centred * w[..., None]).transpose(1, 2) @ centred
        covariance = scatter / _covariance_divisor(w)[:, None, None]
        trace_sqrt = torch.linalg.eigvalsh(root @ covariance @ root).clamp(min=0).sqrt().sum(-1)
        diff = mu - reference.mu
        trace_g = torch.diagonal(covariance, dim1=1, dim2=2).sum(-1)
        results.append((diff * diff).sum(-1) + reference.trace + trace_g - 2 * trace_sqrt)
    return torch.cat(results).cpu().numpy()


def _frechet_few_images(x: torch.Tensor, w: torch.Tensor, reference: Reference) -> float:
    """FID of one replicate (weights ``w``) when there are fewer images than dimensions."""
    mu = (w @ x) / w.sum()
    rows = w > 0
    y = (x[rows] - mu) * (w[rows] / _covariance_divisor(w)).sqrt()[:, None]
    diff = mu - reference.mu
    trace_sqrt = _trace_sqrt(y, reference.sqrt_sigma)
    return float(diff @ diff + reference.trace + (y * y).sum() - 2 * trace_sqrt)


def kid_to_reference(
    features: np.ndarray | torch.Tensor,
    reference: Reference,
    weights: np.ndarray | None = None,
) -> np.ndarray:
    """Unbiased squared MMD (KID) of one image set against ``reference``, per replicate row.

    A replicate with weights ``c`` averages the kernel over pairs of distinct images of its
    subset, ``(c'Kc - sum(c**2 diag K)) / ((sum c)**2 - sum(c**2))``: for a subsample this is
    the unbiased KID of that subsample, for ones the full set's.
    """
    x, c = _set_and_weights(features, reference, weights, "KID")
    k_gg = _kernel(x, x)
    cross = _kernel(x, reference.features).mean(1)  # per generated image
    total, squares = c.sum(1), (c * c).sum(1)
    within = (((c @ k_gg) * c).sum(1) - (c * c) @ torch.diagonal(k_gg)) / (total**2 - squares)
    between = (c @ cross) / total
    return (within + reference.kernel_mean - 2 * between).cpu().numpy()
