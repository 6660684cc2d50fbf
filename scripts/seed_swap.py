"""The seed-swap study (paper fig. 2): images and distances."""

import csv

from seedscope.jobs import start_job
from seedscope.models import load_pipeline
from seedscope.seedswap import save_study, seed_swap_study

params = snakemake.params
log = start_job(snakemake, f"seed swap {params.swap['seeds']} on model {params.model}")
pipe = load_pipeline(params.model, params.spec, params.device)
study = seed_swap_study(pipe, params.spec, params.swap)
save_study(study, snakemake.output.study)
with open(snakemake.output.table, "w", newline="") as handle:
    writer = csv.DictWriter(handle, fieldnames=list(study["distances"][0]))
    writer.writeheader()
    writer.writerows(study["distances"])
log.info("swap steps %s; distances %s", study["steps"], study["distances"])
