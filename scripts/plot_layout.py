"""Paper fig. 10: one model's object centroids and size against depth, per seed.

Reads:  snakemake.input.tables  - the model's layout feature tables
        snakemake.input.prompts - the synthetic prompt set (each prompt's object)
        snakemake.params.fig10 {centroid_object, size_object, seeds}; .plots
Writes: snakemake.output.pdf, snakemake.output.png
"""

from seedscope.jobs import start_job
from seedscope.layout.figures import plot_layout
from seedscope.layout.tables import read_layout_tables
from seedscope.prompts.rows import read_prompts

params = snakemake.params
log = start_job(snakemake, f"figure {snakemake.output.png}")
objects = {row["id"]: row["meta"]["object"] for row in read_prompts(snakemake.input.prompts)}
plot_layout(
    read_layout_tables(list(snakemake.input.tables)),
    objects,
    params.fig10["centroid_object"],
    params.fig10["size_object"],
    params.fig10["seeds"],
    snakemake.wildcards.model,
    snakemake.output.pdf,
    snakemake.output.png,
    dpi=params.plots["dpi"],
    font_size=params.plots["font_size"],
)
