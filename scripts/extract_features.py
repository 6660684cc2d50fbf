"""Extract one feature table (Inception, HPS, style or layout) from one image shard.

Reads:  snakemake.input.shard     - the shard .tar (its manifest .json lies beside it)
        snakemake.input.prompts   - the prompt set's .jsonl (HPS scores image-prompt pairs)
        snakemake.input.pairs     - inpaint sets: the pair set (each image's mask, for OCR)
        snakemake.input.weights   - optional: the tiny extractor folder (features.<name>.weights
                                    is "tiny") or another local weights path
        snakemake.params.extractor - "inception", "hps", "style", "layout", "ocr" or "dino"
        snakemake.params.settings  - the config section features.<extractor>
        snakemake.params.sample    - style only: {prompts, sample_seed}, the analysis prompts
        snakemake.params.evaluation - diverse evaluation features only: which prompts of the
                                    set Table 2 evaluates on (seedscope.diverse.split)
        snakemake.params.device    - "auto", "cpu" or "cuda"
        snakemake.threads, snakemake.log[0]
Writes: snakemake.output.table    - the feature table (.npz), one row per image of the shard
"""

from pathlib import Path

from seedscope.diverse.split import evaluation_ids
from seedscope.extractors import load_extractor
from seedscope.features.extract import extract_shard
from seedscope.features.table import write_table
from seedscope.jobs import progress, start_job
from seedscope.models import resolve_device
from seedscope.prompts.rows import read_prompts
from seedscope.shards import ShardReader
from seedscope.style.sample import sample_prompts

name = snakemake.params.extractor
shard = Path(snakemake.input.shard)
block = f"{shard.parent.parent.name}/{shard.parent.name}/{shard.stem}"  # model/set/seeds-a-b
log = start_job(
    snakemake, f"{name} features of shard {shard} ({block}) -> {snakemake.output.table}"
)
weights = getattr(snakemake.input, "weights", None)
device = resolve_device(snakemake.params.device)
settings = dict(snakemake.params.settings)
if name == "ocr" and settings.get("threads") is None:
    settings["threads"] = snakemake.threads  # the job's cores, not the machine's
extractor = load_extractor(name, settings, device, weights=weights)
rows = read_prompts(snakemake.input.prompts)
prompts = {row["id"]: row["text"] for row in rows}
objects = {row["id"]: row["meta"]["object"] for row in rows if "object" in row["meta"]}
keep = None
if snakemake.params.sample:
    sample = snakemake.params.sample
    keep = set(sample_prompts(list(prompts), sample["prompts"], sample["sample_seed"]))
    log.info("%d analysis prompts of %d", len(keep), len(prompts))
if getattr(snakemake.params, "evaluation", None):
    keep = set(evaluation_ids(rows, snakemake.wildcards.set, snakemake.params.evaluation))
    log.info("%d evaluation prompts of %d", len(keep), len(prompts))
masks = None
if hasattr(snakemake.input, "pairs"):
    from seedscope.inpainting.render import PairMasks

    masks = PairMasks(snakemake.input.pairs, rows)
images = len(ShardReader(shard)) * (len(keep) / len(prompts) if keep is not None else 1)
with progress(round(images), f"{name} {block}") as bar:
    table = extract_shard(
        shard,
        extractor,
        prompts,
        progress=bar,
        keep_prompts=keep,
        objects_by_id=objects,
        masks_by_id=masks,
    )
write_table(snakemake.output.table, table)
log.info("wrote %d rows of dimension %d", len(table), table.features.shape[1])
