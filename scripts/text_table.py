"""One inpainting model's per-seed text statistics over both tasks, and the text tag.

Reads:  snakemake.input.tables  - the model's OCR feature tables (every task x seed block)
        snakemake.input.prompts - the inpaint prompt sets (each prompt's pair and task)
        snakemake.params.settings - inpainting.{confidence, margin, resamples}
Writes: snakemake.output.table  - CSV, one row per seed (seedscope.inpainting.perseed)
"""

from seedscope.inpainting.tables import read_text_tables, text_table
from seedscope.jobs import start_job

settings = snakemake.params.settings
log = start_job(snakemake, f"text table of {snakemake.wildcards.model}")
features = read_text_tables(list(snakemake.input.tables), list(snakemake.input.prompts))
table = text_table(features, settings["confidence"], settings["margin"], settings["resamples"])
table.to_csv(snakemake.output.table, index=False)
log.info("%d seeds; tagged text: %s", len(table), table.loc[table["text_tag"], "seed"].tolist())
