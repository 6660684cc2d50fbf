"""One model's seed bank: each seed's statistics and tags, the model's settings, the config hash.

Reads:  snakemake.input.tables, .golden - per-seed tables and golden/inferior seeds
        snakemake.input.style, .style_map, .layout - where the model is studied there
        snakemake.input.text - an inpainting model's per-seed text table (its only input)
        snakemake.input.diverse - the model's diverse seed sets (FPS), where it is compared
Writes: snakemake.output.bank
"""

import json
from pathlib import Path

import pandas as pd

from seedscope.jobs import start_job
from seedscope.seedbank import build_bank, config_hash, save_bank

params = snakemake.params
model = snakemake.wildcards.model
log = start_job(snakemake, f"seed bank of {model}")
appearance = {
    name: pd.read_csv(getattr(snakemake.input, name))
    for name in ("style", "style_map", "layout", "text")
    if hasattr(snakemake.input, name)
}
per_set, tags, selection = {}, {}, None  # an inpainting model has text statistics only
if hasattr(snakemake.input, "golden"):
    tables = zip(params.sets, snakemake.input.tables, strict=True)
    per_set = {name: pd.read_csv(path) for name, path in tables}
    golden = pd.read_csv(snakemake.input.golden)
    tags = {tag: group["seed"].astype(int).tolist() for tag, group in golden.groupby("tag")}
    selection = {
        "set": params.fid_set,
        "metrics": params.golden["metrics"],
        "top_k": params.golden["top_k"],
    }
bank = build_bank(
    model,
    params.spec,
    per_set,
    tags,
    selection,
    config_hash(snakemake.config),
    device=snakemake.config.get("device", "auto"),  # what the model's dtype "auto" meant
    appearance=appearance,
    diverse=json.loads(Path(snakemake.input.diverse).read_text())
    if hasattr(snakemake.input, "diverse")
    else None,
)
save_bank(bank, snakemake.output.bank)
log.info(
    "%d seeds, tags %s",
    len(bank["seeds"]),
    {tag: len(seeds) for tag, seeds in bank["tags"].items()},
)
