"""Extract one feature table (Inception or HPS) from one image shard.

Reads:  snakemake.input.shard     - the shard .tar (its manifest .json lies beside it)
        snakemake.input.prompts   - the prompt set's .jsonl (HPS scores image-prompt pairs)
        snakemake.input.weights   - optional: the tiny extractor folder (features.<name>.weights
                                    is "tiny") or another local weights path
        snakemake.params.extractor - "inception" or "hps"
        snakemake.params.settings  - the config section features.<extractor>
        snakemake.params.device    - "auto", "cpu" or "cuda"
        snakemake.threads, snakemake.log[0]
Writes: snakemake.output.table    - the feature table (.npz), one row per image of the shard
"""

from pathlib import Path

from seedscope.features.extract import extract_shard
from seedscope.features.extractors import load_extractor
from seedscope.features.table import write_table
from seedscope.jobs import progress, start_job
from seedscope.models import resolve_device
from seedscope.prompts.rows import read_prompts
from seedscope.shards import ShardReader

name = snakemake.params.extractor
shard = Path(snakemake.input.shard)
block = f"{shard.parent.parent.name}/{shard.parent.name}/{shard.stem}"  # model/set/seeds-a-b
log = start_job(
    snakemake, f"{name} features of shard {shard} ({block}) -> {snakemake.output.table}"
)
weights = getattr(snakemake.input, "weights", None)
device = resolve_device(snakemake.params.device)
extractor = load_extractor(name, dict(snakemake.params.settings), device, weights=weights)
prompts = {row["id"]: row["text"] for row in read_prompts(snakemake.input.prompts)}
with progress(len(ShardReader(shard)), f"{name} {block}") as bar:
    table = extract_shard(shard, extractor, prompts, progress=bar)
write_table(snakemake.output.table, table)
log.info("wrote %d rows of dimension %d", len(table), table.features.shape[1])
