"""Paper fig. 12: one inpainting model's per-seed text ratios and its most text-prone seeds.

Reads:  snakemake.input.table   - the per-seed text table
        snakemake.input.shards  - the model's shards of the inpaint sets (example images)
        snakemake.input.prompts - the inpaint prompt sets, in the order of params.tasks
        snakemake.input.pairs   - the pair set (each example's mask)
        snakemake.params.tasks, .fig12 {seed_count, pairs}, .ocr (features.ocr), .plots
Writes: snakemake.output.pdf, snakemake.output.png
"""

import pandas as pd

from seedscope.extractors import load_extractor
from seedscope.inpainting.figures import gather_examples, plot_inpainting_text
from seedscope.inpainting.render import PairMasks
from seedscope.jobs import start_job
from seedscope.plotting import drawn_images
from seedscope.prompts.rows import read_prompts
from seedscope.style.figures import shards_of_set

params = snakemake.params
log = start_job(snakemake, f"figure {snakemake.output.png}")
table = pd.read_csv(snakemake.input.table)
prompts = {
    task: read_prompts(path)
    for task, path in zip(params.tasks, snakemake.input.prompts, strict=True)
}
masks = PairMasks(snakemake.input.pairs, [row for rows in prompts.values() for row in rows])
ocr = load_extractor("ocr", dict(params.ocr))
shards = list(snakemake.input.shards)

examples = gather_examples(
    table, params.tasks, params.fig12["seed_count"], params.fig12["pairs"],
    lambda task, seeds, ids: drawn_images(shards_of_set(shards, task), seeds, ids),
    prompts, masks.get, lambda image: ocr.ocr.detect(image),
)  # fmt: skip
plot_inpainting_text(
    table,
    params.tasks,
    examples,
    snakemake.wildcards.model,
    snakemake.output.pdf,
    snakemake.output.png,
    dpi=params.plots["dpi"],
    font_size=params.plots["font_size"],
)
