"""Paper fig. 2 from the seed-swap study's images."""

from seedscope.jobs import start_job
from seedscope.seedswap import load_study, plot_seed_swap

start_job(snakemake, f"figure {snakemake.output.png}")
plots = snakemake.params.plots
study = load_study(snakemake.input.study)
plot_seed_swap(study, snakemake.output.pdf, snakemake.output.png, plots["dpi"], plots["font_size"])
