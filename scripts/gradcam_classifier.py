"""Paper fig. 4: Grad-CAM heatmaps of the seed classifier, per seed, on test images."""

import json
from pathlib import Path

from seedscope.classifier import (
    SeedShardDataset,
    gradcam_by_seed,
    image_transform,
    load_classifier,
    plot_gradcam,
)
from seedscope.jobs import start_job

settings = snakemake.params.settings
gradcam = snakemake.params.gradcam
model_name = snakemake.wildcards.model
start_job(snakemake, f"Grad-CAM of the {model_name} seed classifier, seeds {gradcam['seeds']}")
split = json.loads(Path(snakemake.input.split).read_text())
test = SeedShardDataset(
    list(snakemake.input.shards),
    split["test"],
    snakemake.params.seeds,
    image_transform(settings["image_size"]),
    shuffle=False,
)
model = load_classifier(snakemake.input.weights, "cpu")
images, maps = gradcam_by_seed(model, test, gradcam["seeds"], gradcam["per_seed"])
plot_gradcam(
    images,
    maps,
    snakemake.output.pdf,
    snakemake.output.png,
    title=f"Grad-CAM of the {model_name} seed classifier ({settings['backbone']}), test prompts",
)
