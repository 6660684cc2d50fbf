"""Table 1b's figure: quality against renders per prompt for each method."""

import pandas as pd

from seedscope.jobs import start_job
from seedscope.quality.figures import plot_quality_per_render

params = snakemake.params
log = start_job(snakemake, f"figure {snakemake.output.png}")
plot_quality_per_render(
    pd.read_csv(snakemake.input.table),
    params.figure_set,
    snakemake.output.pdf,
    snakemake.output.png,
    hps_version=params.hps_version,
    dpi=params.plots["dpi"],
    font_size=params.plots["font_size"],
)
