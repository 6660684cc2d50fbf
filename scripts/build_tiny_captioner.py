"""Build a tiny random-weight LLaVA for the demo and the tests."""

from seedscope.jobs import start_job
from seedscope.tiny.llava import build_tiny_llava

start_job(snakemake, f"tiny LLaVA into {snakemake.output[0]}")
build_tiny_llava(snakemake.output[0])
