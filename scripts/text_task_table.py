"""One task's per-seed text table, from the model's table over both tasks.

Reads:  snakemake.input.table   - tables/text_<model>.csv (seedscope.inpainting.perseed)
Writes: snakemake.output.table  - CSV, one row per seed: the task's ratio, rate, intervals,
                                  ranks and tag, and the text tag of either task
"""

import pandas as pd

from seedscope.inpainting.tables import task_table
from seedscope.jobs import start_job

task = snakemake.wildcards.set
log = start_job(snakemake, f"{task} text table of {snakemake.wildcards.model}")
table = task_table(pd.read_csv(snakemake.input.table), task)
table.to_csv(snakemake.output.table, index=False)
log.info("%d seeds; tagged in %s: %s", len(table), task, table.loc[table["tag"], "seed"].tolist())
