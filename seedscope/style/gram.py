"""Gram-matrix style vectors and the seeded random projection they are stored under.

**Gram vector (the paper's definition).** For a feature map ``(B, C, H, W)`` each channel is a
vector over the ``H W`` positions; the layer's Gram matrix holds the cosine similarity of every
pair of channels. Its strict upper triangle (the diagonal is always 1), flattened row by row,
is the layer's part; the parts of several layers are concatenated. For VGG-19's relu1_1 ...
relu5_1 (64, 128, 256, 512, 512 channels) that is 304,416 numbers per image.

**Projection.** :class:`GramProjection` maps that vector to ``dim`` numbers (default 1024)
with a sparse Johnson-Lindenstrauss transform (Kane and Nelson, 2014): every input coordinate
is added, with a random sign and weight ``1 / sqrt(nonzeros)``, to ``nonzeros`` output
coordinates, one in each of ``nonzeros`` equal blocks of the output. Every column of the
implied ``dim x D`` matrix therefore has norm 1, and for any vectors ``x, y`` the projection
keeps ``E <Px, Py> = <x, y>`` and ``E |Px|^2 = |x|^2``; the spread around them matches a dense
Gaussian projection's for vectors whose mass is spread over many coordinates, as Gram vectors'
is. Each layer is projected separately and the results are summed, which equals projecting
the concatenation. Only the sign and bucket of each coordinate are stored (``nonzeros x D``
small integers per layer, about 30 MB for VGG-19 at 8 nonzeros), never a dense matrix, and
they are drawn from ``SeedSequence([seed, layer])`` through PCG64's raw output, whose streams
NumPy keeps stable across versions: the same seed regenerates the same projection.

**How far geometry moves** (measured with ``tests/test_style.py``'s vectors: Gram vectors of
24 varied images through a random-weight VGG-shaped network, relu1_1 ... relu5_1 widths;
``dim = 1024``, 8 nonzeros, 10 projection seeds x 276 pairs). Raw pairwise cosines (0.82 to
0.97: ReLU features make every Gram vector alike) move by at most 0.03, mean 0.005. Cosines
after removing the mean vector (what PCA and t-SNE see; -0.35 to 0.46) move by at most 0.12,
mean 0.023 (99 % of pairs within 0.08), and keep a correlation of at least 0.987 with the
originals. Pairwise distances change by at most 8 %, mean 1.8 %. The errors are those of a dense
Gaussian projection on the same vectors and follow the theory: a cosine ``c`` moves with
standard deviation about ``(1 - c^2) / sqrt(dim)``, a distance by about ``1 / sqrt(2 dim)``, so
each fourfold ``dim`` halves them (mean centred-cosine error 0.096, 0.046, 0.025, 0.012 at
``dim`` 64, 256, 1024, 4096). The test asserts: raw cosines within 0.04, centred cosines within
0.15 (mean 0.04), distances within 10 %. On a GPU ``index_add_`` sums in no fixed order, so
projections there agree with the CPU's to float32 rounding, not bit for bit.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np
import torch

from seedscope.errors import ConfigError, FeatureError


def gram_layers(features: Sequence[torch.Tensor], eps: float = 1e-8) -> list[torch.Tensor]:
    """Each layer's flattened upper triangle of channel cosines: ``(B, C (C - 1) / 2)``, float32.

    A channel that is zero everywhere (a dead ReLU) has cosine 0 with every other channel.
    """
    parts = []
    for i, feature in enumerate(features):
        if feature.ndim != 4 or feature.shape[1] < 2:
            raise FeatureError(
                f"Gram features take maps (B, C, H, W) with C >= 2; layer {i} has shape "
                f"{tuple(feature.shape)}; pass the convolutional layers' outputs"
            )
        flat = feature.detach().float().flatten(2)
        unit = flat / flat.norm(dim=2, keepdim=True).clamp_min(eps)
        gram = unit @ unit.transpose(1, 2)
        rows, cols = torch.triu_indices(*gram.shape[1:], offset=1, device=gram.device)
        parts.append(gram[:, rows, cols])
    return parts


class GramProjection:
    """Seeded sparse random projection of Gram vectors to ``dim`` numbers (module docstring).

    ``channels`` are the layers' channel counts, in the order their Gram parts are passed.
    Calling it on :func:`gram_layers`'s output gives ``(B, dim)`` float32.
    """

    def __init__(self, channels: Sequence[int], dim: int = 1024, seed: int = 0, nonzeros: int = 8):
        if nonzeros < 1 or dim < 1 or dim % nonzeros:
            raise ConfigError(
                f"style projection dim {dim} is not a positive multiple of its nonzeros "
                f"({nonzeros}); use e.g. dim 1024 with 8 nonzeros"
            )
        if not channels or min(channels) < 2:
            raise ConfigError(f"Gram layers need at least 2 channels each, got {list(channels)}")
        self.channels, self.dim, self.seed, self.nonzeros = list(channels), dim, seed, nonzeros
        self._tables = [self._draw(i, c * (c - 1) // 2) for i, c in enumerate(self.channels)]
        self._on: dict[torch.device, list[tuple[torch.Tensor, torch.Tensor]]] = {}

    def _draw(self, layer: int, size: int) -> tuple[np.ndarray, np.ndarray]:
        """Output coordinate (``nonzeros x size``, int64) and sign (+-1, int8) per input."""
        seeds = np.random.SeedSequence([self.seed, layer])
        raw = np.random.PCG64(seeds).random_raw(self.nonzeros * size).reshape(self.nonzeros, -1)
        block = self.dim // self.nonzeros
        buckets = ((raw >> np.uint64(1)) % np.uint64(block)).astype(np.int64)
        buckets += block * np.arange(self.nonzeros, dtype=np.int64)[:, None]
        signs = (raw & np.uint64(1)).astype(np.int8) * 2 - 1
        return buckets, signs

    def __call__(self, layers: Sequence[torch.Tensor]) -> torch.Tensor:
        sizes = [c * (c - 1) // 2 for c in self.channels]
        if [part.shape[-1] for part in layers] != sizes:
            raise FeatureError(
                f"Gram parts of sizes {[part.shape[-1] for part in layers]} do not match the "
                f"projection's layers {sizes} (channels {self.channels}); build the projection "
                "with the extractor's layer channel counts"
            )
        device = layers[0].device
        if device not in self._on:
            scale = self.nonzeros**-0.5
            self._on[device] = [
                (torch.from_numpy(b).to(device), torch.from_numpy(s).to(device).float() * scale)
                for b, s in self._tables
            ]
        out = torch.zeros(layers[0].shape[0], self.dim, device=device)
        for part, (buckets, signs) in zip(layers, self._on[device], strict=True):
            part = part.float()
            for k in range(self.nonzeros):
                out.index_add_(1, buckets[k], part * signs[k])
        return out

    @property
    def meta(self) -> dict[str, object]:
        """What identifies the projection, for a feature table's ``meta``; ``fingerprint``
        (sha256 of every bucket and sign) tells whether two jobs used the same one."""
        digest = hashlib.sha256()
        for buckets, signs in self._tables:
            digest.update(buckets.tobytes())
            digest.update(signs.tobytes())
        return {
            "projection": "sparse-jl",
            "dim": self.dim,
            "seed": self.seed,
            "nonzeros": self.nonzeros,
            "channels": self.channels,
            "fingerprint": digest.hexdigest(),
        }
