"""One model's diverse seed sets: FPS on its style and layout seed features (analysis prompts).

Reads:  snakemake.input.style   - the model's style feature tables of style.prompt_sets
        snakemake.input.layout  - its layout feature tables of the synthetic set
        snakemake.input.prompts - the synthetic prompt set (the analysis half is chosen from it)
        snakemake.params.diverse - diverse settings (c, repeats, seed, split_seed, ...)
Writes: snakemake.output.sets   - JSON: seeds, analysis prompts, sets {style, layout}
"""

import json

from seedscope.diverse.split import layout_split
from seedscope.diverse.stage import seed_sets
from seedscope.jobs import start_job
from seedscope.layout.tables import read_layout_tables
from seedscope.prompts.rows import read_prompts
from seedscope.style.tables import read_style_tables

diverse = snakemake.params.diverse
log = start_job(snakemake, f"diverse seeds of {snakemake.wildcards.model}")
analysis, _ = layout_split(read_prompts(snakemake.input.prompts), diverse["split_seed"])
sets = seed_sets(
    read_style_tables(list(snakemake.input.style)),
    read_layout_tables(list(snakemake.input.layout)),
    analysis,
    diverse,
)
with open(snakemake.output.sets, "w") as out:
    json.dump(sets, out, indent=1)
log.info("style sets %s; layout sets %s", sets["sets"]["style"][:2], sets["sets"]["layout"][:2])
