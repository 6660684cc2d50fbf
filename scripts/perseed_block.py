"""Per-seed FID and KID, or HPS, of one seed block from its feature table (with the subsample
replicates of its confidence intervals)."""

from seedscope.features.table import read_table
from seedscope.jobs import start_job
from seedscope.quality import perseed
from seedscope.quality.frechet import reference_stats

metric = snakemake.wildcards.metric
params = snakemake.params
log = start_job(snakemake, f"per-seed {metric} of {snakemake.input.features}")
prompts = perseed.prompt_order(snakemake.input.prompts)
table = read_table(snakemake.input.features)
if metric == "fid":
    reference = reference_stats(read_table(snakemake.input.reference).features, params.device)
    block = perseed.fid_block(table, prompts, reference, params.bootstrap)
else:
    block = perseed.hps_block(table, prompts[: params.hps_prompts], params.bootstrap)
perseed.save_block(snakemake.output[0], block)
log.info("seeds %s, %d prompts", block["seed"].tolist(), len(prompts))
