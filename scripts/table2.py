"""Paper Table 2: random seeds, Particle Guidance and diverse (FPS) seeds, style and layout
similarity on evaluation prompts, every compared model.

Reads:  snakemake.input.seeds, .style, .layout, .particle, .prompts (Dag.table2_inputs)
        snakemake.params.models, .pg_models, .pg_notes, .diverse
Writes: snakemake.output.csv, .md, .tex
"""

import json

from seedscope.diverse.stage import evaluation_prompts, table2_rows
from seedscope.diverse.table2 import write_table2
from seedscope.jobs import start_job
from seedscope.layout.tables import read_layout_tables
from seedscope.prompts.rows import read_prompts
from seedscope.style.tables import read_style_tables

p, i = snakemake.params, snakemake.input
log = start_job(snakemake, f"Table 2 of {p.models}")
style_rows, layout_rows = (read_prompts(f) for f in i.prompts)
prompts = evaluation_prompts(style_rows, layout_rows, p.diverse)


def of(model, paths):
    """The files of ``model`` among ``paths`` (``.../<extractor>/<model>/<set>/...``)."""
    return [f for f in paths if f"/{model}/" in f]


rows = {}
for model, sets_file in zip(p.models, i.seeds, strict=True):
    with open(sets_file) as f:
        sets = json.load(f)
    pg = {}
    if model in p.pg_models:
        particle = of(model, i.particle)
        pg = {
            "pg_style": read_style_tables([f for f in particle if "/style/" in f]),
            "pg_layout": read_layout_tables([f for f in particle if "/layout/" in f]),
        }
    rows[model] = table2_rows(
        sets,
        read_style_tables(of(model, i.style)),
        read_layout_tables(of(model, i.layout)),
        prompts,
        p.diverse,
        pg_note=p.pg_notes.get(model),
        **pg,
    )
write_table2(rows, snakemake.output.csv, snakemake.output.md, snakemake.output.tex)
log.info("Table 2 of %d models", len(rows))
