"""The run summary table of the report."""

from seedscope.jobs import start_job
from seedscope.summary import run_summary, write_summary

start_job(snakemake, f"run summary -> {snakemake.output[0]}")
rows = run_summary(snakemake.input.shards, snakemake.params.benchmarks, snakemake.params.gpu)
write_summary(rows, snakemake.output[0])
