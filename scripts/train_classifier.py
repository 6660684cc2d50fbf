"""Train the seed classifier of one model on its shards, split by normalised prompt text."""

import json

from seedscope.classifier import SeedShardDataset, image_transform, split_prompts, train_classifier
from seedscope.jobs import start_job
from seedscope.models import resolve_device
from seedscope.prompts.rows import read_prompts

settings = snakemake.params.settings
seeds = snakemake.params.seeds
model = snakemake.wildcards.model
log = start_job(
    snakemake, f"seed classifier for {model}: {len(seeds)} seeds, {settings['backbone']}"
)
prompts = [
    (row["id"], row["text"]) for path in snakemake.input.prompts for row in read_prompts(path)
]
split = split_prompts(prompts, dict(settings["split"]), seed=settings["split_seed"])
log.info("split (prompts, text-disjoint): %s", {key: len(value) for key, value in split.items()})
with open(snakemake.output.split, "w") as handle:
    json.dump(split, handle, indent=1)
transform = image_transform(settings["image_size"])
shards = list(snakemake.input.shards)
train = SeedShardDataset(shards, split["train"], seeds, transform, shuffle_seed=settings["seed"])
val = SeedShardDataset(shards, split["val"], seeds, transform, shuffle=False)
summary = train_classifier(
    train,
    val,
    snakemake.output.weights.rsplit("/", 1)[0],
    settings["backbone"],
    len(seeds),
    settings["epochs"],
    settings["batch_size"],
    settings["lr"],
    settings["weight_decay"],
    settings["seed"],
    num_workers=settings["num_workers"],
    device=str(resolve_device(snakemake.config["device"])),
    pretrained=settings["pretrained"],
)
log.info(
    "trained: %s",
    {
        key: summary[key]
        for key in ("epochs_done", "resumed_from_epoch", "final", "identity_sha256")
    },
)
