"""Build a tiny random-weight pipeline for the demo and the tests."""

from seedscope.jobs import start_job
from seedscope.tiny.diffusion import build_tiny_pipeline

start_job(snakemake, f"tiny {snakemake.params.kind} model into {snakemake.output[0]}")
build_tiny_pipeline(snakemake.params.kind, snakemake.output[0])
