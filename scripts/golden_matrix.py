"""Golden seeds chosen by each per-seed metric on the FID set, judged by every metric on the
held-out sets: golden minus random seeds, with intervals, every model."""

from pathlib import Path

import pandas as pd

from seedscope.jobs import start_job
from seedscope.quality.matrix import matrix_rows, selections
from seedscope.quality.perseed import LOWER_IS_BETTER, read_arrays
from seedscope.tables import to_markdown

params = snakemake.params
log = start_job(snakemake, "golden seeds by one metric, judged by the others")
replicates = iter(snakemake.input.replicates)  # models x held-out sets, in that order
rows = []
for model, selection in zip(params.models, snakemake.input.selection, strict=True):
    chosen = selections(pd.read_csv(selection), params.golden["metrics"], params.golden["top_k"])
    held_out = {}
    for prompt_set in params.held_out:
        blocks = read_arrays(next(replicates))
        held_out |= {(prompt_set, m): blocks for m in LOWER_IS_BETTER if m in blocks}
    rows += matrix_rows(model, chosen, held_out, params.confidence)
    log.info("%s: %d selectors x %d held-out cells", model, len(chosen), len(held_out))
table = pd.DataFrame(rows)
table.to_csv(snakemake.output.csv, index=False, float_format="%.6g")
Path(snakemake.output.md).write_text(to_markdown(table))
