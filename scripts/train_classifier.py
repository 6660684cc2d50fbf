"""Train the seed classifier of one model on its shards, split by normalised prompt text."""

import json

from seedscope.classifier import SeedShardDataset, image_transform, split_prompts, train_classifier
from seedscope.jobs import start_job
from seedscope.models import resolve_device
from seedscope.prompts.rows import read_prompts

s = snakemake.params.settings
seeds = snakemake.params.seeds
model = snakemake.wildcards.model
log = start_job(snakemake, f"seed classifier for {model}: {len(seeds)} seeds, {s['backbone']}")
prompts = [
    (row["id"], row["text"]) for path in snakemake.input.prompts for row in read_prompts(path)
]
split = split_prompts(prompts, dict(s["split"]), seed=s["split_seed"])
log.info("split (prompts, text-disjoint): %s", {k: len(v) for k, v in split.items()})
with open(snakemake.output.split, "w") as handle:
    json.dump(split, handle, indent=1)
transform = image_transform(s["image_size"])
shards = list(snakemake.input.shards)
train = SeedShardDataset(shards, split["train"], seeds, transform, shuffle_seed=s["seed"])
val = SeedShardDataset(shards, split["val"], seeds, transform, shuffle=False)
summary = train_classifier(
    train,
    val,
    snakemake.output.weights.rsplit("/", 1)[0],
    s["backbone"],
    len(seeds),
    s["epochs"],
    s["batch_size"],
    s["lr"],
    s["weight_decay"],
    s["seed"],
    num_workers=s["num_workers"],
    device=str(resolve_device(snakemake.config["device"])),
    pretrained=s["pretrained"],
)
log.info(
    "trained: %s",
    {k: summary[k] for k in ("epochs_done", "resumed_from_epoch", "final", "identity_sha256")},
)
