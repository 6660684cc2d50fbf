"""Paper Table 2, extended: random seeds, Particle Guidance at every coefficient and its
same-seeds control, diverse (FPS) seeds; diversity (cosine, Vendi, DINO) and quality (HPS) on
the evaluation prompts of every compared model.

Reads:  snakemake.input.seeds, .style, .layout, .evaluation, .particle, .prompts
        (Dag.table2_inputs; every path is found again with Dag.path)
        snakemake.params.models, .pg_models, .pg_notes, .coeffs, .diverse
Writes: snakemake.output.csv, .md, .tex
"""

import json

from seedscope.dag import EVALUATION_EXTRACTORS, Dag
from seedscope.diverse.cubes import ImageRows
from seedscope.diverse.settings import coeff_name
from seedscope.diverse.stage import evaluation_prompts, paper_rows, table2_rows
from seedscope.diverse.table2 import write_table2
from seedscope.features.table import read_tables
from seedscope.jobs import start_job
from seedscope.layout.tables import read_layout_tables
from seedscope.prompts.rows import read_prompts
from seedscope.style.tables import read_style_tables

params, inputs = snakemake.params, snakemake.input
log = start_job(snakemake, f"Table 2 of {params.models}")
dag = Dag(snakemake.config)
sets_of = dag.evaluation_sets()  # group -> its prompt set
style_rows, layout_rows = (
    read_prompts(dag.path("prompts", set=sets_of[group])) for group in sets_of
)
prompts = evaluation_prompts(style_rows, layout_rows, params.diverse)
readers = {"style": read_style_tables, "layout": read_layout_tables}


def rows_of(extractor, paths):
    """The image rows of ``extractor``'s tables ``paths``: the paper's feature or any other."""
    if extractor in readers:
        return paper_rows(readers[extractor](paths))
    return ImageRows.of_tables(read_tables(paths, extractor))


def particle_rows(model):
    """{coeff: {group: {feature: rows}}} of ``model``'s Particle Guidance shards."""
    out = {}
    for coeff in params.coeffs:
        out[coeff] = {}
        for group, prompt_set in sets_of.items():
            out[coeff][group] = {}
            for extractor in dag.evaluation_extractors(prompt_set):
                feature = "paper" if extractor in readers else extractor
                if extractor in readers and extractor != group:
                    continue
                wildcards = {"model": model, "set": prompt_set, "coeff": coeff_name(coeff)}
                path = dag.path("particle_features", extractor=extractor, **wildcards)
                out[coeff][group][feature] = rows_of(extractor, [path])
    return out


rows = {}
for model in params.models:
    with open(dag.path("diverse_seeds", model=model)) as handle:
        sets = json.load(handle)
    evaluation = {
        group: {
            extractor: rows_of(
                extractor,
                [
                    dag.path("evaluation_features", **job)
                    for job in dag.evaluation_feature_jobs()
                    if (job["model"], job["set"], job["extractor"])
                    == (model, prompt_set, extractor)
                ],
            )
            for extractor in EVALUATION_EXTRACTORS
        }
        for group, prompt_set in sets_of.items()
    }
    rows[model] = table2_rows(
        sets,
        read_style_tables(dag.feature_tables("style", model, sets_of["style"])),
        read_layout_tables(dag.layout_tables(model)),
        prompts,
        params.diverse,
        evaluation=evaluation,
        particles=particle_rows(model) if model in params.pg_models else None,
        coeffs=params.coeffs,
        pg_note=params.pg_notes.get(model),
    )
write_table2(rows, snakemake.output.csv, snakemake.output.md, snakemake.output.tex)
log.info("Table 2 of %d models", len(rows))
