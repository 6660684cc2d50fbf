"""Particle Guidance shard: the C images of every evaluation prompt of one set, rendered jointly.

Reads:  snakemake.input.prompts, .weights (tiny model folder, optional)
        snakemake.params.spec, .generation, .device, .pg (ParticleGuidance settings),
        .particles (the C seeds), .evaluation ({style_set, style_prompts, seed, layout_set,
        split_seed}: which prompts of the set are evaluation prompts)
Writes: snakemake.output.shard (and its manifest beside it)
"""

from seedscope.diverse.particle import ParticleGuidance
from seedscope.diverse.particle_shard import render_particle_shard
from seedscope.diverse.split import layout_split, style_evaluation
from seedscope.jobs import progress, start_job
from seedscope.models import load_pipeline
from seedscope.prompts.rows import read_prompts

w, p = snakemake.wildcards, snakemake.params
log = start_job(snakemake, f"Particle Guidance shard {snakemake.output.shard}")
rows = read_prompts(snakemake.input.prompts)
e = p.evaluation
if w.set == e["layout_set"]:
    chosen = set(layout_split(rows, e["split_seed"])[1])
else:
    chosen = set(style_evaluation([r["id"] for r in rows], e["style_prompts"], e["seed"]))
prompts = [r for r in rows if r["id"] in chosen]
pipe = load_pipeline(w.model, p.spec, p.device)
with progress(len(prompts) * len(p.particles), f"PG {w.model}/{w.set}") as bar:
    summary = render_particle_shard(
        pipe,
        w.model,
        p.spec,
        w.set,
        prompts,
        p.particles,
        snakemake.output.shard,
        ParticleGuidance.from_settings(p.pg),
        chunk_prompts=max(1, p.generation["chunk_size"] // len(p.particles)),
        png_compress_level=p.generation["png_compress_level"],
        encoder_threads=snakemake.config["generation"]["encoder_threads"],  # speed only
        progress=bar,
    )
log.info("done: %s", summary)
