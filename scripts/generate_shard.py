"""Render one shard: every prompt of a prompt set x every seed of a seed block.

An inpainting prompt set also reads its pair set (snakemake.input.pairs): each image is
rendered with its own pair's image and mask.
"""

from seedscope.generate import render_shard
from seedscope.jobs import progress, start_job
from seedscope.models import load_pipeline
from seedscope.prompts.rows import read_prompts
from seedscope.shards import block_name

model, prompt_set = snakemake.wildcards.model, snakemake.wildcards.set
first, last = int(snakemake.wildcards.first), int(snakemake.wildcards.last)
log = start_job(
    snakemake,
    f"shard {snakemake.output.shard}: model {model}, set {prompt_set}, seeds {first}-{last}",
)
spec = snakemake.params.spec
generation = snakemake.params.generation
prompts = read_prompts(snakemake.input.prompts)
pipe = load_pipeline(model, spec, snakemake.params.device)
seeds = list(range(first, last + 1))
conditioning = None
if hasattr(snakemake.input, "pairs"):
    from seedscope.inpainting.render import PairConditioning

    conditioning = PairConditioning(snakemake.input.pairs, prompts, spec["resolution"])
with progress(len(prompts) * len(seeds), f"{model}/{prompt_set}/{block_name(first, last)}") as bar:
    summary = render_shard(
        pipe,
        model,
        spec,
        prompt_set,
        prompts,
        seeds,
        snakemake.output.shard,
        chunk_size=generation["chunk_size"],
        png_compress_level=generation["png_compress_level"],
        encoder_threads=snakemake.config["generation"]["encoder_threads"],  # speed only
        progress=bar,
        conditioning=conditioning,
    )
log.info("done: %s", summary)
