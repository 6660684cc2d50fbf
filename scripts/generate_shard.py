"""Render one shard: every prompt of a prompt set x every seed of a seed block.

An inpainting prompt set also reads its pair set (snakemake.input.pairs): each image is
rendered with its own pair's image and mask.
"""

from seedscope.generate import render_shard
from seedscope.jobs import progress, start_job
from seedscope.models import load_pipeline
from seedscope.prompts.rows import read_prompts

w = snakemake.wildcards
first, last = int(w.first), int(w.last)
log = start_job(
    snakemake, f"shard {snakemake.output.shard}: model {w.model}, set {w.set}, seeds {first}-{last}"
)
spec = snakemake.params.spec
generation = snakemake.params.generation
prompts = read_prompts(snakemake.input.prompts)
pipe = load_pipeline(w.model, spec, snakemake.params.device)
seeds = list(range(first, last + 1))
conditioning = None
if hasattr(snakemake.input, "pairs"):
    from seedscope.inpainting.render import PairConditioning

    conditioning = PairConditioning(snakemake.input.pairs, prompts, spec["resolution"])
with progress(len(prompts) * len(seeds), f"{w.model}/{w.set}/seeds-{first}-{last}") as bar:
    summary = render_shard(
        pipe,
        w.model,
        spec,
        w.set,
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
