"""Figs 6 and 7 (rule fig_generalisation, one job per metric): per-seed FID or HPS on prompt
set 1 and set 2, one row per model: seeds in set-1 rank order with both sets' values, and set 1
vs set 2 with its rank correlations."""

import pandas as pd

from seedscope.jobs import start_job
from seedscope.quality.figures import plot_set_vs_set

params = snakemake.params
metric = snakemake.wildcards.metric
log = start_job(snakemake, f"figure {snakemake.output.png}")
pairs, correlations, golden = {}, {}, {}
for model, first, second, summary, tags in zip(
    params.models,
    snakemake.input.first,
    snakemake.input.second,
    snakemake.input.generalisation,
    snakemake.input.golden,
    strict=True,
):
    pairs[model] = pd.read_csv(first).merge(pd.read_csv(second), on="seed", suffixes=("_1", "_2"))
    correlations[model] = pd.read_csv(summary)
    seeds = pd.read_csv(tags)
    golden[model] = seeds.loc[seeds.tag == "golden", "seed"].tolist()
plot_set_vs_set(
    pairs,
    correlations,
    metric,
    tuple(params.sets),
    snakemake.output.pdf,
    snakemake.output.png,
    golden,
    hps_version=params.hps_version,
    dpi=params.plots["dpi"],
    font_size=params.plots["font_size"],
)
