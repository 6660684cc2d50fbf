"""Paper fig. 8: one model's seed style map with thumbnails of seeds spread over it.

Reads:  snakemake.input.map, snakemake.input.table - the style map and per-seed style table
        snakemake.input.prompts, snakemake.input.shards - the first style set's prompts, shards
        snakemake.params.fig8 {seed_count, prompts}; .sample {prompts, sample_seed}; .plots
Writes: snakemake.output.pdf, snakemake.output.png
"""

import pandas as pd

from seedscope.jobs import start_job
from seedscope.prompts.rows import read_prompts
from seedscope.style.figures import plot_style_map
from seedscope.style.sample import sample_prompts

params = snakemake.params
log = start_job(snakemake, f"figure {snakemake.output.png}")
rows = {row["id"]: row for row in read_prompts(snakemake.input.prompts)}
analysed = sample_prompts(list(rows), params.sample["prompts"], params.sample["sample_seed"])
plot_style_map(
    pd.read_csv(snakemake.input.map),
    pd.read_csv(snakemake.input.table, keep_default_na=False),
    list(snakemake.input.shards),
    [rows[index] for index in analysed[: params.fig8["prompts"]]],
    snakemake.wildcards.model,
    snakemake.output.pdf,
    snakemake.output.png,
    n_seeds=params.fig8["seed_count"],
    dpi=params.plots["dpi"],
    font_size=params.plots["font_size"],
)
