"""Datasets for the seed classifier: images of a split's prompts streamed straight from shards.

The task of section 4.1 of the paper: given an image, say which of the 1,024 seeds made it.
Train, validation and test images come from prompts with disjoint texts (``split.py``), so the
classifier cannot recognise a prompt; it has to recognise the seed.

Shards are never unpacked. The dataset indexes each shard once (through ``ShardReader``,
which checks the tar against its manifest) and keeps only numeric arrays of member offsets,
so that a paper-scale index (9 M images) costs ~44 bytes per image and is shared by DataLoader
workers rather than re-parsing every manifest (~75 MB of JSON per 16-seed shard) in each.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch.utils.data import IterableDataset, get_worker_info

from seedscope.errors import ConfigError, DataError, ShardError
from seedscope.files import json_sha256
from seedscope.shards import ShardReader, content_sha256

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def _ranges(values: Iterable[int], limit: int = 20) -> str:
    """``[0, 1, 2, 5]`` -> ``"0-2, 5"`` (at most ``limit`` runs shown)."""
    runs: list[list[int]] = []
    for v in sorted(values):
        if runs and v == runs[-1][1] + 1:
            runs[-1][1] = v
        else:
            runs.append([v, v])
    text = [f"{a}-{b}" if b > a else str(a) for a, b in runs[:limit]]
    return ", ".join(text) + (f", ... ({len(runs) - limit} more runs)" if len(runs) > limit else "")


def _check_seeds(found: set[int], wanted: set[int], n_shards: int) -> None:
    missing, extra = wanted - found, found - wanted
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"seeds {_ranges(missing)} are configured but in no shard")
        if extra:
            parts.append(f"seeds {_ranges(extra)} are in the shards but not configured")
        raise ConfigError(
            f"{'; '.join(parts)} ({n_shards} shards, {len(wanted)} configured seeds); make "
            "the classifier's seed range match the generated seed blocks"
        )


class ImageTransform:
    """PIL image -> normalised (3, H, W) float tensor, resized (bicubic) to ``size`` if given.

    A class rather than a closure so that it pickles (DataLoader workers under ``spawn``) and
    describes itself: ``identity`` is what a training checkpoint records about it.
    """

    def __init__(self, size: int | None, mean: Sequence[float], std: Sequence[float]):
        self.size = None if size is None else int(size)
        self.mean, self.std = [float(m) for m in mean], [float(s) for s in std]
        self._mean = torch.tensor(self.mean).view(3, 1, 1)
        self._std = torch.tensor(self.std).view(3, 1, 1)

    @property
    def identity(self) -> dict[str, Any]:
        """Everything the output depends on, as plain JSON values."""
        return {
            "transform": "resize_bicubic_normalise",
            "size": self.size,
            "mean": self.mean,
            "std": self.std,
        }

    def __call__(self, image: Image.Image) -> torch.Tensor:
        """The normalised tensor of ``image``."""
        if self.size is not None and image.size != (self.size, self.size):
            image = image.resize((self.size, self.size), Image.Resampling.BICUBIC)
        x = torch.from_numpy(np.asarray(image.convert("RGB"), dtype=np.uint8).copy())
        return (x.permute(2, 0, 1).float() / 255.0 - self._mean) / self._std


def image_transform(
    size: int | None = None,
    mean: Sequence[float] = IMAGENET_MEAN,
    std: Sequence[float] = IMAGENET_STD,
) -> ImageTransform:
    """PIL image -> normalised (3, H, W) float tensor, resized (bicubic) to ``size`` if given.

    No augmentation: a seed shows as where things are in the image, which crops and flips move.
    """
    return ImageTransform(size, mean, std)


def transform_identity(transform: Callable) -> dict[str, Any]:
    """What a checkpoint records about ``transform``: its ``identity`` attribute if it has one,
    else only its qualified name (a change inside such a function goes unnoticed)."""
    identity = getattr(transform, "identity", None)
    if identity is not None:
        return dict(identity)
    name = getattr(transform, "__qualname__", type(transform).__qualname__)
    return {"callable": f"{getattr(transform, '__module__', '?')}.{name}"}


class SeedShardDataset(IterableDataset):
    """Images of the given prompts and seeds, labelled by the index of their seed in ``seeds``.

    ``shards`` must hold exactly ``seeds`` (else ``ConfigError`` names the seeds no shard has
    and the shard seeds outside ``seeds``) and every (prompt, seed) pair exactly once. Iteration
    reads each image and its JSON metadata from the tar by offset, checks the metadata's seed
    and prompt against the manifest (``ShardError`` otherwise), and yields
    ``(transform(image), label)``, plus the image key with ``return_keys``. The order is a
    permutation fixed by ``(shuffle_seed, epoch)`` (index order with ``shuffle=False``); each
    DataLoader worker opens its own files and takes every ``num_workers``-th item of it.
    """

    def __init__(
        self,
        shards: Sequence[str | Path],
        prompt_ids: Iterable[str],
        seeds: Sequence[int],
        transform: Callable[[Image.Image], torch.Tensor] | None = None,
        shuffle_seed: int = 0,
        epoch: int = 0,
        shuffle: bool = True,
        return_keys: bool = False,
    ):
        self.shards = [str(s) for s in shards]
        self.seeds = [int(s) for s in seeds]
        self.prompt_ids = sorted(set(prompt_ids))
        self.transform = transform or image_transform()
        self.shuffle_seed, self.epoch, self.shuffle = shuffle_seed, epoch, shuffle
        self.return_keys = return_keys
        if len(set(self.seeds)) != len(self.seeds):
            raise ConfigError(f"seed list has duplicates: {self.seeds}")
        if not self.shards:
            raise ConfigError("no shards given for the seed classifier; generate images first")
        self._index()

    def _index(self) -> None:
        label_of = {s: i for i, s in enumerate(self.seeds)}
        self._manifest_sha256: list[str] = []
        prompt_of = {p: i for i, p in enumerate(self.prompt_ids)}
        parts, found = [], set()  # per shard: shard, prompt, label, png/json offset and size
        for shard_index, shard in enumerate(self.shards):
            reader = ShardReader(shard)  # checks the manifest and the tar's size
            self._manifest_sha256.append(content_sha256(reader.manifest))
            found.update(reader.seeds)
            rows = [
                (shard_index, prompt_of[e.prompt_id], label_of.get(e.seed, -1))
                + (e.png_offset, e.png_size, e.json_offset, e.json_size)
                for e in reader.entries
                if e.prompt_id in prompt_of
            ]
            parts.append(np.array(rows, dtype=np.int64).reshape(-1, 7))
            del reader, rows
        _check_seeds(found, set(label_of), len(self.shards))
        table = np.concatenate(parts)
        table = table[np.lexsort((table[:, 2], table[:, 1]))]  # prompt-major, then seed
        self._shard, self._prompt, self._label = (table[:, i].astype(np.int32) for i in range(3))
        self._offsets = np.ascontiguousarray(table[:, 3:])
        pairs = self._prompt.astype(np.int64) * len(self.seeds) + self._label
        expected = len(self.prompt_ids) * len(self.seeds)
        if len(pairs) != expected or len(np.unique(pairs)) != expected:
            have = np.zeros(expected, dtype=np.int64)
            np.add.at(have, pairs, 1)
            bad = [
                (self.prompt_ids[i // len(self.seeds)], self.seeds[i % len(self.seeds)], n)
                for i, n in enumerate(have)
                if n != 1
            ]
            raise DataError(
                f"{len(bad)} of {expected} (prompt, seed) pairs are not in the shards exactly "
                f"once, e.g. {bad[:5]} as (prompt, seed, copies); the prompt ids must come from "
                "the prompt set these shards were rendered for, and seed blocks must not overlap"
            )

    def __len__(self) -> int:
        return len(self._label)

    def identity(self) -> dict[str, Any]:
        """What this dataset's items and their order depend on, as plain JSON values.

        The content hash of every shard (``shards.content_sha256``, sorted: the item order does
        not depend on the shards' order or location; it covers the sha256 of every image and a
        hash of the prompt texts but not the render's timings, so a shard re-rendered with other
        images changes it and one rendered again identically does not), the prompts (their
        count and the sha256 of their sorted ids), the seeds, the transform
        (``transform_identity``) and the shuffle. ``train_classifier`` resumes a checkpoint
        only if this is unchanged.
        """
        return {
            "shards_content_sha256": sorted(self._manifest_sha256),
            "prompts": len(self.prompt_ids),
            "prompt_ids_sha256": json_sha256(self.prompt_ids),
            "seeds": self.seeds,
            "transform": transform_identity(self.transform),
            "shuffle": self.shuffle,
            "shuffle_seed": self.shuffle_seed if self.shuffle else None,
        }

    @property
    def labels(self) -> np.ndarray:
        """The label of every item, in index order."""
        return self._label.copy()

    def set_epoch(self, epoch: int) -> None:
        """Use the order of ``epoch`` from the next iteration on."""
        self.epoch = int(epoch)

    def order(self) -> np.ndarray:
        """The item indices of one epoch, in the order this epoch yields them."""
        if not self.shuffle:
            return np.arange(len(self))
        return np.random.default_rng([self.shuffle_seed, self.epoch]).permutation(len(self))

    def worker_indices(self) -> np.ndarray:
        """The slice of ``order()`` that the calling DataLoader worker yields."""
        info = get_worker_info()
        order = self.order()
        return order if info is None else order[info.id :: info.num_workers]

    def read(self, index: int, files: dict | None = None) -> tuple[Image.Image, int, str]:
        """Item ``index`` as (image, label, key), its metadata checked against the manifest."""
        close = files is None
        files = {} if files is None else files
        shard = int(self._shard[index])
        if shard not in files:
            files[shard] = open(self.shards[shard], "rb")  # noqa: SIM115 - closed by the caller
        png_offset, png_size, json_offset, json_size = (int(v) for v in self._offsets[index])
        f = files[shard]
        f.seek(png_offset)
        png = f.read(png_size)
        f.seek(json_offset)
        meta = json.loads(f.read(json_size))
        if close:
            f.close()
        label, prompt_id = int(self._label[index]), self.prompt_ids[self._prompt[index]]
        if meta.get("seed") != self.seeds[label] or meta.get("prompt_id") != prompt_id:
            raise ShardError(
                f"image at byte {png_offset} of {self.shards[shard]} has seed {meta.get('seed')}"
                f" and prompt {meta.get('prompt_id')!r} in its metadata but "
                f"{self.seeds[label]} and {prompt_id!r} in the manifest; delete the shard and "
                "its manifest and render it again"
            )
        return Image.open(io.BytesIO(png)).convert("RGB"), label, meta["key"]

    def __iter__(self) -> Iterator[tuple[torch.Tensor, int]]:
        files: dict[int, object] = {}
        try:
            for index in self.worker_indices():
                image, label, key = self.read(int(index), files)
                x = self.transform(image)
                yield (x, label, key) if self.return_keys else (x, label)
        finally:
            for f in files.values():
                f.close()

    def examples(self, seeds: Iterable[int], per_seed: int) -> dict[int, list[Image.Image]]:
        """The first ``per_seed`` images (by prompt id) of each of ``seeds``, for figures."""
        out = {}
        for seed in seeds:
            if seed not in self.seeds:
                raise ConfigError(f"seed {seed} is not one of this dataset's seeds")
            indices = np.flatnonzero(self._label == self.seeds.index(seed))[:per_seed]
            out[seed] = [self.read(int(i))[0] for i in indices]
        return out
