"""One model's per-seed layout table and the share of layout variance that seeds explain.

Reads:  snakemake.input.tables     - the model's layout feature tables (the synthetic set)
        snakemake.params.bootstrap - {resamples, confidence, seed}
Writes: snakemake.output.table     - CSV, one row per seed (seedscope.layout.perseed.seed_layout)
        snakemake.output.variance  - CSV, one row per layout component (variance_shares)
"""

from seedscope.jobs import start_job
from seedscope.layout.perseed import seed_layout, variance_shares
from seedscope.layout.tables import read_layout_tables

bootstrap = snakemake.params.bootstrap
log = start_job(snakemake, f"layout tables of {snakemake.wildcards.model}")
features = read_layout_tables(list(snakemake.input.tables))
args = (features.seeds, features.prompt_ids, features.values)
options = {
    "confidence": bootstrap["confidence"],
    "resamples": bootstrap["resamples"],
    "seed": bootstrap["seed"],
}
table = seed_layout(*args, **options)
table.to_csv(snakemake.output.table, index=False)
shares = variance_shares(*args, **options)
shares.to_csv(snakemake.output.variance, index=False)
found = int(features.values[:, 0].sum())
log.info("%d seeds; object found in %d of %d images", len(table), found, len(features.seeds))
