"""Paper fig. 9: one model's per-seed grayscale, sky and border rates, and example images.

Reads:  snakemake.input.table    - the per-seed style table
        snakemake.input.features - the model's style feature tables (which images are flagged)
        snakemake.input.shards   - the shards of the style sets (example images)
        snakemake.params.fig9 {examples}; .thresholds; .margin; .plots
Writes: snakemake.output.pdf, snakemake.output.png
"""

import pandas as pd

from seedscope.jobs import start_job
from seedscope.style.figures import plot_style_seeds
from seedscope.style.tables import flagged_examples, read_style_tables

params = snakemake.params
log = start_job(snakemake, f"figure {snakemake.output.png}")
table = pd.read_csv(snakemake.input.table, keep_default_na=False)
features = read_style_tables(list(snakemake.input.features))
examples = flagged_examples(features, table, dict(params.thresholds), params.fig9["examples"])
plot_style_seeds(
    table,
    examples,
    list(snakemake.input.shards),
    snakemake.wildcards.model,
    params.margin,
    snakemake.output.pdf,
    snakemake.output.png,
    dpi=params.plots["dpi"],
    font_size=params.plots["font_size"],
)
