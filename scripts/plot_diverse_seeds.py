"""Paper fig. 11: a few style evaluation prompts, the C images of each method side by side.

Reads:  snakemake.input.sets    - the model's diverse seed sets (JSON)
        snakemake.input.shards  - its shards of diverse.style_set (every seed's image)
        snakemake.input.prompts - that prompt set
        snakemake.input.particle - its Particle Guidance shard of that set (absent if none)
        snakemake.params.diverse, .fig11 {prompts}, .plots
Writes: snakemake.output.pdf, snakemake.output.png
"""

import json

import numpy as np

from seedscope.diverse.figures import fig11_examples, plot_fig11
from seedscope.diverse.split import style_evaluation
from seedscope.diverse.table2 import FPS_METHODS, RANDOM, random_sets
from seedscope.jobs import start_job
from seedscope.prompts.rows import read_prompts
from seedscope.quality.figures import drawn_images
from seedscope.shards import ShardReader, image_key

p = snakemake.params
d = p.diverse
log = start_job(snakemake, f"figure {snakemake.output.png}")
with open(snakemake.input.sets) as f:
    sets = json.load(f)
rows = {r["id"]: r for r in read_prompts(snakemake.input.prompts)}
shown = style_evaluation(list(rows), d["style_prompts"], d["seed"])[: p.fig11["prompts"]]
seeds = sets["seeds"]
random = [seeds[i] for i in random_sets(len(seeds), d["c"], d["random_draws"], d["seed"])[0]]
methods = {RANDOM: random} | {FPS_METHODS[k]: sets["sets"][k][0] for k in ("style", "layout")}
used = sorted({s for chosen in methods.values() for s in chosen})
images = drawn_images(list(snakemake.input.shards), used, shown)
pg_images = None
if hasattr(snakemake.input, "particle"):
    with ShardReader(snakemake.input.particle) as reader:
        pg_images = {
            pid: [np.asarray(reader.image(image_key(pid, s)).convert("RGB")) for s in reader.seeds]
            for pid in shown
        }
examples = fig11_examples([rows[i] for i in shown], methods, images, pg_images)
plot_fig11(
    examples,
    snakemake.wildcards.model,
    snakemake.output.pdf,
    snakemake.output.png,
    dpi=p.plots["dpi"],
    font_size=p.plots["font_size"],
)
