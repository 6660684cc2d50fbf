"""Table 1b: quality per render - random and golden seeds against best-of-N by a verifier,
drawn from the rendered images, on the held-out sets, every model."""

from pathlib import Path

import pandas as pd

from seedscope.features.table import read_table
from seedscope.jobs import start_job
from seedscope.quality import best_of_n
from seedscope.quality.perseed import prompt_order
from seedscope.quality.table1 import held_out_prompts
from seedscope.tables import to_latex, to_markdown

params = snakemake.params
settings = params.best_of_n
log = start_job(snakemake, "Table 1b: quality per render")
rows = []
for model, tags in zip(params.models, snakemake.input.golden, strict=True):
    seeds = pd.read_csv(tags)
    golden = set(seeds.loc[seeds.tag == "golden", "seed"].astype(int))
    columns = [i for i, s in enumerate(params.seeds) if s in golden]
    for prompt_set, prompts_file in zip(settings["sets"], params.prompts, strict=True):
        job = {"set": prompt_set}
        prompts = held_out_prompts(prompt_order(prompts_file), settings["prompts"], job)
        scores = {
            score: best_of_n.score_matrix(map(read_table, tables), prompts, params.seeds)
            for score, tables in params.tables[model][prompt_set].items()
        }
        found = best_of_n.quality_per_render(scores, columns, settings, params.confidence)
        rows += [{"model": model, "prompt_set": prompt_set} | row for row in found]
        log.info(
            "%s on %s: %d prompts, %d golden seeds", model, prompt_set, len(prompts), len(columns)
        )
table = pd.DataFrame(rows)
table.to_csv(snakemake.output.csv, index=False, float_format="%.6g")
Path(snakemake.output.md).write_text(to_markdown(table))
caption = (
    "Quality per render: random and golden seeds (1 render per prompt) against best-of-N by a "
    f"verifier (N renders), on every other score ({params.confidence:.0%} t intervals over prompts)"
)
Path(snakemake.output.tex).write_text(to_latex(table, caption))
