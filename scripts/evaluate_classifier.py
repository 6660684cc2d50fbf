"""Test accuracy of one model's seed classifier, with a Wilson CI and the most confused seeds."""

import csv
import json
from pathlib import Path

from seedscope.classifier import SeedShardDataset, evaluate, image_transform, load_classifier
from seedscope.jobs import start_job
from seedscope.models import resolve_device

settings = snakemake.params.settings
seeds = snakemake.params.seeds
log = start_job(snakemake, f"evaluate the seed classifier of {snakemake.wildcards.model}")
device = str(resolve_device(snakemake.config["device"]))
split = json.loads(Path(snakemake.input.split).read_text())
test = SeedShardDataset(
    list(snakemake.input.shards),
    split["test"],
    seeds,
    image_transform(settings["image_size"]),
    shuffle=False,
)
model = load_classifier(snakemake.input.weights, device)
result = evaluate(model, test, seeds, num_workers=settings["num_workers"], device=device)
with open(snakemake.output.report, "w") as handle:
    json.dump(result, handle, indent=1)
low, high = result["ci95"]
row = {
    "model": snakemake.wildcards.model,
    "backbone": settings["backbone"],
    "seeds": len(seeds),
    "test_images": result["images"],
    "top1": result["accuracy"],
    "top1_ci95_low": low,
    "top1_ci95_high": high,
    "top5": result["top5"],
    "chance": result["chance"],
}
with open(snakemake.output.table, "w", newline="") as handle:
    writer = csv.DictWriter(handle, fieldnames=list(row))
    writer.writeheader()
    writer.writerow(row)
log.info(
    "test accuracy %.4f (95%% CI %.4f-%.4f), chance %.4f",
    result["accuracy"],
    low,
    high,
    result["chance"],
)
