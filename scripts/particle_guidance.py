"""Particle Guidance shard: the C images of every evaluation prompt of one set, rendered jointly
at one coefficient (0: the same particle seeds without guidance, the control).

Reads:  snakemake.input.prompts, .weights (tiny model folder, optional)
        snakemake.wildcards.model, .set, .coeff
        snakemake.params.spec, .generation, .device, .pg (ParticleGuidance settings, the
        coefficient included), .draw (particle_seeds' draw: first, count, c, seed),
        .evaluation ({style_prompts, seed, layout_set, split_seed}: which prompts of the set
        are evaluation prompts)
Writes: snakemake.output.shard (and its manifest beside it)
"""

from seedscope.diverse.particle import ParticleGuidance
from seedscope.diverse.particle_shard import render_particle_shard
from seedscope.diverse.settings import particle_seeds
from seedscope.diverse.split import evaluation_ids
from seedscope.jobs import progress, start_job
from seedscope.models import load_pipeline
from seedscope.prompts.rows import read_prompts

wildcards, params = snakemake.wildcards, snakemake.params
log = start_job(snakemake, f"Particle Guidance shard {snakemake.output.shard}")
rows = read_prompts(snakemake.input.prompts)
chosen = set(evaluation_ids(rows, wildcards.set, params.evaluation))
prompts = [row for row in rows if row["id"] in chosen]
particles = {row["id"]: particle_seeds(params.draw, row["id"]) for row in prompts}
pipe = load_pipeline(wildcards.model, params.spec, params.device)
set_size = params.draw["c"]
with progress(
    len(prompts) * set_size, f"PG {wildcards.model}/{wildcards.set}/{wildcards.coeff}"
) as bar:
    summary = render_particle_shard(
        pipe,
        wildcards.model,
        params.spec,
        wildcards.set,
        prompts,
        particles,
        snakemake.output.shard,
        ParticleGuidance.from_settings(params.pg),
        chunk_prompts=max(1, params.generation["chunk_size"] // set_size),
        png_compress_level=params.generation["png_compress_level"],
        encoder_threads=snakemake.config["generation"]["encoder_threads"],  # speed only
        progress=bar,
    )
log.info("done: %s", summary)
