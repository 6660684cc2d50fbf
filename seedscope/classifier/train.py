"""Train and evaluate the seed classifier: resumable, deterministic on CPU, AMP on CUDA."""

from __future__ import annotations

import csv
import json
import logging
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader

from seedscope.classifier.checkpoint import (
    identity_sha256,
    load_checkpoint,
    run_identity,
    save_checkpoint,
)
from seedscope.classifier.model import build_classifier
from seedscope.errors import ConfigError
from seedscope.files import atomic_output
from seedscope.stats import wilson_interval

log = logging.getLogger(__name__)

METRICS = ("epoch", "train_loss", "val_loss", "val_top1", "val_top5", "seconds")


def _amp_dtype(device: torch.device, amp: bool | None) -> torch.dtype | None:
    if amp is None:
        amp = device.type == "cuda"
    if amp and device.type != "cuda":
        raise ConfigError(f"amp=True needs a CUDA device, not {device}; use amp=None or False")
    if not amp:
        return None
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def _loader(ds, batch_size: int, num_workers: int, device: torch.device, seed: int) -> DataLoader:
    # The generator keeps DataLoader from drawing its worker base seed from the global RNG.
    return DataLoader(
        ds,
        batch_size=batch_size,
        num_workers=num_workers,
        pin_memory=device.type == "cuda",
        generator=torch.Generator().manual_seed(seed),
    )


def steps_per_epoch(n_items: int, batch_size: int, num_workers: int) -> int:
    """Optimizer steps in one epoch: each DataLoader worker batches its own slice."""
    workers = max(num_workers, 1)
    sizes = [n_items // workers + (i < n_items % workers) for i in range(workers)]
    return sum(math.ceil(s / batch_size) for s in sizes)


@torch.no_grad()
def _predict(model, ds, batch_size, num_workers, device, amp_dtype) -> dict[str, Any]:
    """Loss, labels, top-1 predictions and top-5 hits over ``ds`` (in ``ds``'s order)."""
    model.eval()
    losses, labels, preds, top5 = 0.0, [], [], []
    for batch in _loader(ds, batch_size, num_workers, device, 0):
        x, y = batch[0].to(device, non_blocking=True), batch[1].to(device)
        with torch.autocast(device.type, amp_dtype, enabled=amp_dtype is not None):
            logits = model(x)
        logits = logits.float()
        losses += F.cross_entropy(logits, y, reduction="sum").item()
        k = min(5, logits.shape[1])
        top = logits.topk(k, dim=1).indices
        labels.append(y.cpu())
        preds.append(top[:, 0].cpu())
        top5.append((top == y[:, None]).any(dim=1).cpu())
    labels, preds, top5 = (torch.cat(t).numpy() for t in (labels, preds, top5))
    return {"loss": losses / max(len(labels), 1), "labels": labels, "preds": preds, "top5": top5}


def _write_metrics(history: list[dict], path: Path) -> None:
    with atomic_output(path) as tmp, open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=METRICS)
        writer.writeheader()
        writer.writerows(history)


def train_classifier(
    train_ds,
    val_ds,
    out_dir: str | Path,
    model_name: str,
    num_classes: int,
    epochs: int,
    batch_size: int,
    lr: float,
    weight_decay: float,
    seed: int,
    num_workers: int = 0,
    device: str = "cpu",
    amp: bool | None = None,
    stop_after: int | None = None,
    pretrained: bool = False,
) -> dict[str, Any]:
    """Train ``model_name`` (from scratch, or from timm's weights with ``pretrained``) to tell
    the ``num_classes`` seeds apart.

    AdamW (no weight decay on biases and norm weights) with a per-step cosine schedule over all
    ``epochs``; mixed precision (bf16, else fp16 with loss scaling) only on CUDA (``amp=None``:
    on when the device is CUDA). ``train_ds`` and ``val_ds`` are ``SeedShardDataset``s (or
    anything with their ``set_epoch`` and ``identity``).

    Each epoch ends with ``out_dir/checkpoint.pt`` (written to a temporary name, then renamed)
    and ``out_dir/metrics.csv`` rewritten from the checkpoint's history, so the two always
    agree. The checkpoint carries the run's identity (``checkpoint.run_identity``: every
    setting here, the device type and AMP dtype, and both datasets' identities, which hold the
    sha256 of each shard manifest, the split's prompt ids, the seeds and the transform with its
    image size). A checkpoint with the same identity is resumed, and at the same thread count
    on CPU the run ends with the same weights as an uninterrupted one. A checkpoint with another
    identity (other settings, a re-rendered shard, another split), an unreadable one or one
    without an identity is ignored with a warning and training starts over. None of these
    raises: a checkpoint holds only compute, never data, so setting it aside loses nothing
    that the new run could use, and a rerun after a config change or a re-render must train
    on what it was given instead of stopping. It is not even deleted until the new run's first
    epoch replaces it.

    ``stop_after`` ends this call after that many epochs in all (what a kill does). Once all
    ``epochs`` are done the final weights go to ``out_dir/model.safetensors`` (their metadata
    holds ``identity_sha256`` and the ``identity`` as JSON) and the checkpoint is deleted, so
    a finished run never resumes. Returns a summary dict.
    """
    from safetensors.torch import save_model

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    dev = torch.device(device)
    amp_dtype = _amp_dtype(dev, amp)
    if epochs < 1 or batch_size < 1:
        raise ConfigError(f"epochs={epochs}, batch_size={batch_size}: both must be at least 1")
    config = dict(
        model_name=model_name,
        num_classes=num_classes,
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        weight_decay=weight_decay,
        seed=seed,
        pretrained=pretrained,
        num_workers=num_workers,
        amp=str(amp_dtype),
        device=dev.type,
        train_images=len(train_ds),
        val_images=len(val_ds),
    )
    identity = run_identity(config, train_ds, val_ds)
    identity_hash = identity_sha256(identity)
    torch.manual_seed(seed)
    model = build_classifier(model_name, num_classes, pretrained=pretrained).to(dev)
    decay = [p for p in model.parameters() if p.ndim > 1]
    no_decay = [p for p in model.parameters() if p.ndim <= 1]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0}],
        lr=lr,
    )
    steps = steps_per_epoch(len(train_ds), batch_size, num_workers)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs * steps)
    scaler = torch.amp.GradScaler(dev.type, enabled=amp_dtype == torch.float16)

    checkpoint, history, start = out / "checkpoint.pt", [], 0
    state = load_checkpoint(checkpoint, identity)
    if state is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        scaler.load_state_dict(state["scaler"])
        torch.set_rng_state(state["rng"]["torch"])
        if dev.type == "cuda" and state["rng"]["cuda"] is not None:
            torch.cuda.set_rng_state(state["rng"]["cuda"], dev)
        history, start = state["history"], state["epoch"]
        log.info("resuming %s from epoch %d of %d", out, start, epochs)

    begin, images = time.perf_counter(), 0
    stop = epochs if stop_after is None else min(stop_after, epochs)
    for epoch in range(start, stop):
        tick = time.perf_counter()
        model.train()
        train_ds.set_epoch(epoch)
        total, count = 0.0, 0
        for batch in _loader(train_ds, batch_size, num_workers, dev, seed * 100_003 + epoch):
            x, y = batch[0].to(dev, non_blocking=True), batch[1].to(dev, non_blocking=True)
            with torch.autocast(dev.type, amp_dtype, enabled=amp_dtype is not None):
                loss = F.cross_entropy(model(x), y)
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            scheduler.step()
            total, count = total + loss.item() * len(y), count + len(y)
        images += count
        val = _predict(model, val_ds, batch_size, num_workers, dev, amp_dtype)
        row = dict(
            epoch=epoch + 1,
            train_loss=round(total / max(count, 1), 6),
            val_loss=round(val["loss"], 6),
            val_top1=round(float(np.mean(val["labels"] == val["preds"])), 6),
            val_top5=round(float(np.mean(val["top5"])), 6),
            seconds=round(time.perf_counter() - tick, 3),
        )
        history.append(row)
        log.info("epoch %d/%d: %s", epoch + 1, epochs, row)
        rng = {
            "torch": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state(dev) if dev.type == "cuda" else None,
        }
        save_checkpoint(
            dict(
                identity=identity,
                epoch=epoch + 1,
                history=history,
                model=model.state_dict(),
                optimizer=optimizer.state_dict(),
                scheduler=scheduler.state_dict(),
                scaler=scaler.state_dict(),
                rng=rng,
            ),
            checkpoint,
        )
        _write_metrics(history, out / "metrics.csv")

    weights = None
    if len(history) == epochs:
        weights = out / "model.safetensors"
        meta = {
            "model_name": model_name,
            "num_classes": str(num_classes),
            "epochs": str(epochs),
            "identity_sha256": identity_hash,
            "identity": json.dumps(identity, sort_keys=True),
        }
        with atomic_output(weights, tmp=out / "model.tmp.safetensors") as tmp:
            save_model(model, str(tmp), metadata=meta)
        checkpoint.unlink(missing_ok=True)
    seconds = time.perf_counter() - begin
    return {
        **config,
        "identity_sha256": identity_hash,
        "epochs_done": len(history),
        "resumed_from_epoch": start,
        "steps_per_epoch": steps,
        "history": history,
        "final": history[-1] if history else None,
        "weights": str(weights) if weights else None,
        "seconds": round(seconds, 3),
        "train_images_per_second": round(images / seconds, 1) if images else None,
    }


def evaluate(
    model,
    ds,
    seeds,
    batch_size: int = 256,
    num_workers: int = 0,
    device: str = "cpu",
    amp: bool | None = None,
    top_pairs: int = 10,
) -> dict[str, Any]:
    """Test accuracy of ``model`` on ``ds`` with a Wilson 95% interval, per seed and vs chance.

    ``seeds`` are the seeds that labels index (``ds.seeds``). Also gives top-5 accuracy and the
    ``top_pairs`` most frequent (true seed, predicted seed) confusions.
    """
    seeds = [int(s) for s in seeds]
    if list(getattr(ds, "seeds", seeds)) != seeds:
        raise ConfigError("evaluate(): seeds differ from the dataset's seeds; pass ds.seeds")
    dev = torch.device(device)
    model = model.to(dev)
    result = _predict(model, ds, batch_size, num_workers, dev, _amp_dtype(dev, amp))
    labels, preds = result["labels"], result["preds"]
    correct = int((labels == preds).sum())
    per_seed_n = np.bincount(labels, minlength=len(seeds))
    per_seed_ok = np.bincount(labels[labels == preds], minlength=len(seeds))
    per_seed = {
        s: float(per_seed_ok[i] / per_seed_n[i]) for i, s in enumerate(seeds) if per_seed_n[i]
    }
    wrong = labels != preds
    pairs, counts = np.unique(labels[wrong] * len(seeds) + preds[wrong], return_counts=True)
    top = sorted(zip(counts.tolist(), pairs.tolist(), strict=True), key=lambda c: (-c[0], c[1]))
    confused = [
        {"true": seeds[p // len(seeds)], "predicted": seeds[p % len(seeds)], "count": c}
        for c, p in top[:top_pairs]
    ]
    return {
        "images": len(labels),
        "correct": correct,
        "accuracy": correct / len(labels) if len(labels) else float("nan"),
        "ci95": list(wilson_interval(correct, len(labels))),
        "top5": float(np.mean(result["top5"])) if len(labels) else float("nan"),
        "loss": result["loss"],
        "chance": 1.0 / len(seeds),
        "per_seed": per_seed,
        "worst_seeds": sorted(per_seed, key=lambda s: (per_seed[s], s))[:top_pairs],
        "confused_pairs": confused,
    }
