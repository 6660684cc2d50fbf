"""One model's per-seed style table: grayscale, sky and border rates with intervals and tags.

Reads:  snakemake.input.tables      - the model's style feature tables (every analysis set)
        snakemake.params.thresholds - seedscope.style.measures.Thresholds fields
        snakemake.params.confidence, snakemake.params.margin - interval level, tag margin
Writes: snakemake.output.table      - CSV, one row per seed (seedscope.style.tables.style_table)
"""

from seedscope.jobs import start_job
from seedscope.style.tables import read_style_tables, style_table

params = snakemake.params
log = start_job(snakemake, f"style table of {snakemake.wildcards.model}")
features = read_style_tables(list(snakemake.input.tables))
table = style_table(features, dict(params.thresholds), params.confidence, params.margin)
table.to_csv(snakemake.output.table, index=False)
tagged = {tag: int(table[f"{tag}_tag"].sum()) for tag in ("grayscale", "sky", "border")}
log.info("%d seeds, %d images; tagged %s", len(table), len(features.seeds), tagged)
