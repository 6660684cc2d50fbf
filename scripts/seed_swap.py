"""Paper fig. 2: the seed-swap study."""

import csv

from seedscope.jobs import start_job
from seedscope.models import load_pipeline
from seedscope.seedswap import plot_seed_swap, seed_swap_study

p = snakemake.params
log = start_job(snakemake, f"seed swap {p.swap['seeds']} on model {p.model}")
pipe = load_pipeline(p.model, p.spec, p.device)
study = seed_swap_study(pipe, p.spec, p.swap)
plot_seed_swap(study, snakemake.output.pdf, snakemake.output.png)
with open(snakemake.output.table, "w", newline="") as handle:
    writer = csv.DictWriter(handle, fieldnames=list(study["distances"][0]))
    writer.writeheader()
    writer.writerows(study["distances"])
log.info("swap steps %s; distances %s", study["steps"], study["distances"])
