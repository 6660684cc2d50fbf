"""One (model, prompt set)'s per-seed table: values, bootstrap CIs, ranks and rank CIs."""

from functools import reduce

from seedscope.jobs import start_job
from seedscope.quality.perseed import load_blocks, summarise

log = start_job(snakemake, f"per-seed table {snakemake.output.table}")
confidence = snakemake.params.bootstrap["confidence"]
parts = [
    summarise(load_blocks(list(snakemake.input[group])), confidence)
    for group in ("fid", "hps")
    if hasattr(snakemake.input, group)
]
table = reduce(lambda left, right: left.merge(right, on="seed", how="outer"), parts)
table.to_csv(snakemake.output.table, index=False, float_format="%.6g")
log.info("%d seeds, columns %s", len(table), list(table.columns))
