"""Write one prompt set as JSONL (id, text, set, meta)."""

from seedscope.jobs import start_job
from seedscope.prompt_sets import build_prompt_set
from seedscope.prompts.rows import write_prompts

name = snakemake.wildcards.set
log = start_job(snakemake, f"prompt set {name} -> {snakemake.output[0]}")
rows = build_prompt_set(
    name,
    snakemake.params.spec,
    coco_parts=snakemake.params.parts,
    captions=snakemake.input.get("captions"),
    pairs=snakemake.input.get("pairs"),
    removal_prompt=snakemake.params.removal_prompt,
    cache_dir=snakemake.params.cache,
)
write_prompts(rows, snakemake.output[0])
log.info("wrote %d prompts", len(rows))
