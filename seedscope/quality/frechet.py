"""FID and KID of many image sets against one reference, from features, with bootstrap replicates.

The Frechet distance needs ``tr sqrtm(S_r S_g)``. With ``R = sqrtm(S_r)`` (computed once per
reference, symmetric), ``S_r S_g`` is similar to ``R S_g R``, a symmetric PSD matrix, so the trace
is the sum of the square roots of its eigenvalues. Writing ``S_g = Y'Y`` with
``Y = diag(sqrt(w)) (X - mu) / sqrt(n - 1)`` (``w`` the bootstrap counts, all ones for the point
estimate), those eigenvalues are the squared singular values of ``Y R``: one symmetric
eigendecomposition of the smaller of ``(Y R)(Y R)'`` and ``(Y R)'(Y R)`` per image set, in float64,
batched on the GPU where there is one. This agrees with ``cleanfid.fid.frechet_distance`` (which
takes ``scipy.linalg.sqrtm`` of the non-symmetric product) to about 1e-9 relative on well
conditioned features; the tests hold it to 1e-6.

KID is the unbiased squared MMD with clean-fid's kernel ``k(x, y) = (x.y / d + 1) ** 3``, on the
full sets rather than clean-fid's random subsets (the estimator of
``cleanfid.fid.kernel_distance`` with one subset that takes every image; subsets only bound its
memory). Bootstrap replicates
reweight the generated images' kernel matrix by their counts, so they cost one matrix product.
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
    """``tr sqrtm(R Y'Y R)`` = the sum of the singular values of ``Y R``.

    Takes the eigenvalues of the smaller Gram matrix: ``(Y R)(Y R)'`` when there are fewer rows
    than dimensions, else ``R (Y'Y) R`` (cheaper than forming ``Y R`` when rows outnumber them).
    """
    if y.shape[0] < y.shape[1]:
        projected = y @ root
        gram = projected @ projected.T
    else:
        gram = root @ (y.T @ y) @ root
    return torch.linalg.eigvalsh(gram).clamp(min=0).sqrt().sum()


def _set_and_counts(
    features: np.ndarray | torch.Tensor, reference: Reference, counts, what: str
) -> tuple[torch.Tensor, torch.Tensor]:
    """The image set as float64 on the reference's device, and its bootstrap counts (ones for
    the point estimate)."""
    x = torch.as_tensor(features, dtype=torch.float64, device=reference.mu.device)
    if len(x) < 2:
        raise FeatureError(f"{what} needs at least 2 images per set, got {len(x)}")
    if counts is None:
        counts = np.ones((1, len(x)))
    return x, torch.as_tensor(np.asarray(counts), dtype=torch.float64, device=x.device)


def frechet_to_reference(
    features: np.ndarray | torch.Tensor,
    reference: Reference,
    counts: np.ndarray | None = None,
) -> np.ndarray:
    """FID of one image set against ``reference``, for each row of bootstrap ``counts``.

    ``features`` has one row per image (n x d). ``counts`` (b x n, each row summing to n) gives
    how often each image appears in a bootstrap replicate; ``None`` gives the point estimate
    (a length-1 result).
    """
    x, weights = _set_and_counts(features, reference, counts, "FID")
    n = len(x)
    results = []
    for w in weights:
        mu = (w @ x) / w.sum()
        rows = w > 0
        y = (x[rows] - mu) * (w[rows] / (n - 1)).sqrt()[:, None]
        trace_g = (y * y).sum()
        trace_sqrt = _trace_sqrt(y, reference.sqrt_sigma)
        diff = mu - reference.mu
        fid = diff @ diff + reference.trace + trace_g - 2 * trace_sqrt
        results.append(float(fid))
    return np.array(results)


def kid_to_reference(
    features: np.ndarray | torch.Tensor,
    reference: Reference,
    counts: np.ndarray | None = None,
) -> np.ndarray:
    """Unbiased squared MMD (KID) of one image set against ``reference``, per bootstrap row.

    A replicate with counts ``c`` sums the kernel over ordered pairs of distinct positions of the
    resampled set: ``c'Kc - c.diag(K)`` over ``n(n-1)`` pairs.
    """
    x, c = _set_and_counts(features, reference, counts, "KID")
    n = len(x)
    k_gg = _kernel(x, x)
    cross = _kernel(x, reference.features).mean(1)  # per generated image
    within = (((c @ k_gg) * c).sum(1) - c @ torch.diagonal(k_gg)) / (n * (n - 1))
    between = (c @ cross) / n
    return (within + reference.kernel_mean - 2 * between).cpu().numpy()


def bootstrap_counts(n: int, resamples: int, seed: int) -> np.ndarray:
    """Multinomial counts of ``resamples`` bootstrap draws of ``n`` items (resamples x n).

    The same ``(n, resamples, seed)`` gives the same counts in every job, so all seeds are
    resampled over the same prompts (a paired bootstrap).
    """
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, n, size=(resamples, n))
    counts = np.zeros((resamples, n), dtype=np.int64)
    np.add.at(counts, (np.arange(resamples)[:, None], draws), 1)
    return counts
