"""Diversity against quality (Table 2): for every compared model, the style cosine (style
evaluation prompts), the layout cosine (layout evaluation prompts) and the DINO cosine (style
evaluation prompts) of each method against its mean HPS on the same prompts, with intervals;
Particle Guidance's coefficients and its same-seeds control joined in coefficient order.

Reads:  snakemake.input.table - Table 2's long form (CSV, seedscope.diverse.table2.COLUMNS)
        snakemake.params.plots, .hps_version
Writes: snakemake.output.pdf, snakemake.output.png
"""

import pandas as pd

from seedscope.diverse.figures import plot_diversity_quality
from seedscope.jobs import start_job

params = snakemake.params
log = start_job(snakemake, f"figure {snakemake.output.png}")
table = pd.read_csv(snakemake.input.table)
plot_diversity_quality(
    table,
    snakemake.output.pdf,
    snakemake.output.png,
    dpi=params.plots["dpi"],
    font_size=params.plots["font_size"],
    hps_version=params.hps_version,
)
log.info("diversity-quality figure of %d models", table["model"].nunique())
