"""Calibrating the simulation's cheap model of per-seed FID on real Frechet distances.

The screening simulation (:mod:`seedscope.screening.simulate`) cannot afford 2,048-d features
for 1,024 seeds x 10,000 prompts in every simulated study. It models the per-seed FID at ``n``
prompts instead (its :class:`~seedscope.screening.simulate.FidModel`): the seed's exhaustive
value, a per-seed bias that shrinks with ``n``, and noise of variance ``L / n + Q / n**2`` (the
linear and pairwise terms of :mod:`seedscope.quality.intervals`). This module measures those
constants with :func:`seedscope.quality.frechet.frechet_to_reference` on Gaussian features:

* ``d`` = 2,048 dimensions with a power-law spectrum (eigenvalue ``i`` proportional to
  ``1 / i``), ``trace`` 100, against a fixed reference population (its exact mean and
  covariance: the paper's reference is a fixed set of real images);
* a generated image of seed ``s`` and prompt ``p`` is ``mean + P_p + E_sp``: ``P_p`` the prompt's
  content, shared by every seed (``prompt_share`` of the generated variance), ``E_sp`` the seed's
  own variation, whose variance a seed may scale by ``1 + eta`` (seeds that make more or less
  varied images; this is what makes the FID bias differ between seeds);
* the generated covariance is ``g0**2`` times the reference's and the mean is ``mean_norm`` away,
  so the exhaustive FID is about 20 and FID at 10,000 images about 21.4, as the paper's best
  seeds.

Two seeds (``eta`` 0 and ``eta``) are drawn on the same prompts at each ``n``: the mean of each
seed's FID minus its exact FID at infinitely many images is the bias, half the variance of their
difference is a seed's own noise (the shared prompt noise cancels in a difference), and the
jackknife estimate of :func:`seedscope.screening.inputs.jackknife_fid` (the point value
extrapolated with the mean of half-sample replicates) shows how much of the two seeds' bias
difference survives the correction.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch

from seedscope.quality.frechet import Reference, frechet_to_reference
from seedscope.quality.intervals import subsample_weights


@dataclass(frozen=True)
class GaussianFeatures:
    """Gaussian stand-ins for Inception features of generated and real images."""

    d: int = 2048
    trace: float = 100.0
    alpha: float = 1.0
    g0: float = 0.8
    prompt_share: float = 0.5
    mean_norm: float = 4.0

    def spectrum(self) -> np.ndarray:
        values = np.arange(1, self.d + 1, dtype=float) ** -self.alpha
        return values * self.trace / values.sum()

    def reference(self) -> Reference:
        """The reference population's exact statistics (the mean at 0, diagonal covariance)."""
        lam = torch.tensor(self.spectrum(), dtype=torch.float64)
        zeros = torch.zeros(self.d, dtype=torch.float64)
        return Reference(zeros, torch.diag(lam), torch.diag(lam.sqrt()), zeros[None], 0.0)

    def scale(self, eta: float) -> float:
        """``g`` with generated covariance ``g**2`` times the reference's, for own scale eta."""
        share = self.prompt_share
        return self.g0 * float(np.sqrt(share + (1 - share) * (1 + eta)))

    def exact_fid(self, eta: float) -> float:
        """FID at infinitely many images: ``|mean|**2 + trace * (1 - g)**2``."""
        return self.mean_norm**2 + self.trace * (1 - self.scale(eta)) ** 2

    def draw(self, rng: np.random.Generator, n: int, etas: list[float]) -> list[np.ndarray]:
        """``n`` images of each seed (own scale ``etas[i]``), all on the same ``n`` prompts."""
        root = np.sqrt(self.spectrum())
        direction = np.random.default_rng(12345).normal(size=self.d)
        mean = direction * self.mean_norm / np.linalg.norm(direction)
        shared = rng.normal(size=(n, self.d)) * root * (self.g0 * np.sqrt(self.prompt_share))
        own = self.g0 * np.sqrt(1 - self.prompt_share)
        return [
            mean + shared + rng.normal(size=(n, self.d)) * root * own * np.sqrt(1 + eta)
            for eta in etas
        ]


def measure(
    population: GaussianFeatures,
    sizes: dict[int, int],
    budget: int = 10_000,
    eta: float = 0.05,
    halves: int = 6,
    seed: int = 0,
) -> list[dict[str, float]]:
    """FIDs of two seeds (own scales 0 and ``eta``) on shared prompts at each ``n`` of
    ``sizes`` (``n -> repetitions``); one row per ``n`` with the measured bias, own noise and
    jackknife residual (``budget`` is the ``N`` the jackknife extrapolates to)."""
    from seedscope.screening.inputs import jackknife_fid

    rng = np.random.default_rng(seed)
    reference = population.reference()
    exact = np.array([population.exact_fid(0.0), population.exact_fid(eta)])
    rows = []
    for n, reps in sizes.items():
        start = time.perf_counter()
        weights = subsample_weights(n, halves, seed)[0] if halves and n < budget else None
        points, jack, monte_carlo = [], [], []
        for _ in range(reps):
            sets = population.draw(rng, n, [0.0, eta])
            point = np.array([frechet_to_reference(x, reference)[0] for x in sets])
            points.append(point)
            if weights is None:
                jack.append(point)
            else:
                reps_half = np.array([frechet_to_reference(x, reference, weights) for x in sets])
                jack.append(jackknife_fid(point, reps_half.mean(1), n, budget))
                # the part of the jackknife's variance from averaging only ``halves`` subsets
                rho = 1 - n / budget
                monte_carlo.append(rho**2 * reps_half.var(1, ddof=1).sum() / halves / 2)
        points, jack = np.array(points), np.array(jack)
        difference = points[:, 1] - points[:, 0]
        rows.append(
            {
                "n": n,
                "reps": reps,
                "bias": float(points[:, 0].mean() - exact[0]),
                "bias_eta": float(points[:, 1].mean() - exact[1]),
                "own_var": float(np.var(difference, ddof=1) / 2),
                "total_sd": float(points[:, 0].std(ddof=1)),
                "jack_bias": float(jack[:, 0].mean() - exact[0]),
                "jack_bias_eta": float(jack[:, 1].mean() - exact[1]),
                "jack_own_var": float(
                    np.var(jack[:, 1] - jack[:, 0], ddof=1) / 2 - np.mean(monte_carlo or [0.0])
                ),
                "seconds": time.perf_counter() - start,
            }
        )
    return rows


def fit_noise(rows: list[dict[str, float]]) -> tuple[float, float]:
    """``L, Q >= 0`` of ``own_var = L / n + Q / n**2`` by least squares on relative errors."""
    n = np.array([r["n"] for r in rows], dtype=float)
    var = np.array([r["own_var"] for r in rows])
    design = np.stack([1 / n, 1 / n**2], axis=1) / var[:, None]
    (lin, quad), *_ = np.linalg.lstsq(design, np.ones_like(n), rcond=None)
    if lin < 0 or quad < 0:  # one term alone
        fits = [(float(np.mean(var * n)), 0.0), (0.0, float(np.mean(var * n**2)))]
        errors = [np.sum((1 - (a / n + b / n**2) / var) ** 2) for a, b in fits]
        return fits[int(np.argmin(errors))]
    return float(lin), float(quad)
