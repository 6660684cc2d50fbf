"""One (model, prompt set)'s per-seed table: each metric's value, interval, rank and rank
interval. FID and KID come from their block files; each score's per-seed means are computed
here from its feature tables. The replicates of every metric are kept for the golden-seed
matrix."""

import numpy as np

from seedscope.features.table import read_table
from seedscope.jobs import start_job
from seedscope.quality import perseed

params = snakemake.params
log = start_job(snakemake, f"per-seed table {snakemake.output.table}")
prompts = perseed.prompt_order(snakemake.input.prompts)
groups = []
for metric in ("fid", *perseed.LOWER_IS_BETTER):
    if metric == "kid" or not hasattr(snakemake.input, metric):
        continue
    if metric == "fid":
        groups.append(perseed.load_blocks(list(snakemake.input.fid)))
        continue
    scored = prompts[: params.score_prompts]
    parts = [
        perseed.score_block(read_table(path), scored, params.bootstrap, metric)
        for path in snakemake.input[metric]
    ]
    groups.append(perseed.merge_blocks(parts))
blocks = perseed.join_metrics(groups)
table = perseed.summarise(blocks, params.bootstrap["confidence"])
table.to_csv(snakemake.output.table, index=False, float_format="%.6g")
np.savez(snakemake.output.replicates, **blocks)
log.info("%d seeds, columns %s", len(table), list(table.columns))
