"""Per-seed FID and KID of one seed block from its Inception feature table, with the subsample
replicates of their confidence intervals (the scores' per-seed means are computed by the
per-seed table job)."""

from seedscope.features.table import read_table
from seedscope.jobs import start_job
from seedscope.quality import perseed
from seedscope.quality.frechet import reference_stats

params = snakemake.params
log = start_job(snakemake, f"per-seed FID and KID of {snakemake.input.features}")
prompts = perseed.prompt_order(snakemake.input.prompts)
table = read_table(snakemake.input.features)
reference = reference_stats(read_table(snakemake.input.reference).features, params.device)
block = perseed.fid_block(table, prompts, reference, params.bootstrap)
perseed.save_block(snakemake.output[0], block)
log.info("seeds %s, %d prompts", block["seed"].tolist(), len(prompts))
