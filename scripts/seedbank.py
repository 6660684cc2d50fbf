"""One model's seed bank: each seed's statistics and tags, the model's settings, the config hash."""

import pandas as pd

from seedscope.jobs import start_job
from seedscope.seedbank import build_bank, config_hash, save_bank

p = snakemake.params
model = snakemake.wildcards.model
log = start_job(snakemake, f"seed bank of {model}")
per_set = {
    name: pd.read_csv(path) for name, path in zip(p.sets, snakemake.input.tables, strict=True)
}
tags = pd.read_csv(snakemake.input.golden)
bank = build_bank(
    model,
    p.spec,
    per_set,
    {tag: group["seed"].astype(int).tolist() for tag, group in tags.groupby("tag")},
    {"set": p.fid_set, "metrics": p.golden["metrics"], "top_k": p.golden["top_k"]},
    config_hash(snakemake.config),
    device=snakemake.config.get("device", "auto"),  # what the model's dtype "auto" meant
)
save_bank(bank, snakemake.output.bank)
log.info("%d seeds, tags %s", len(bank["seeds"]), {t: len(s) for t, s in bank["tags"].items()})
