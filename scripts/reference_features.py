"""Features of the real COCO images whose captions formed a prompt set (FID/KID reference).

Reads:  snakemake.input.prompts   - the COCO prompt set's .jsonl (meta.image names each image)
        snakemake.input.images    - the image source: train2017.zip, a folder, or the demo folder
        snakemake.input.weights   - optional: the tiny extractor folder or other local weights
        snakemake.params.extractor - "inception" (or "hps")
        snakemake.params.settings  - the config section features.<extractor>
        snakemake.params.device    - "auto", "cpu" or "cuda"
        snakemake.params.n_images  - optional: use the first N prompts' images (default all)
        snakemake.threads, snakemake.log[0]
Writes: snakemake.output.table    - the reference feature table (.npz), seeds -1
"""

from seedscope.errors import FeatureError
from seedscope.extractors import load_extractor
from seedscope.features.reference import reference_table
from seedscope.features.table import write_table
from seedscope.jobs import progress, start_job
from seedscope.models import resolve_device
from seedscope.prompts.rows import read_prompts

name = snakemake.params.extractor
rows = read_prompts(snakemake.input.prompts)
n_images = getattr(snakemake.params, "n_images", None) or len(rows)
source = getattr(snakemake.input, "images", None)
log = start_job(
    snakemake,
    f"{name} reference features of {n_images} images of {source} -> {snakemake.output.table}",
)
if source is None:
    raise FeatureError(
        "reference features need the COCO images that were captioned, but the rule gave no "
        "input 'images' (with coco.captions_file set, the images must still be given: "
        "coco.images zip or folder with coco.path)"
    )
weights = getattr(snakemake.input, "weights", None)
device = resolve_device(snakemake.params.device)
extractor = load_extractor(name, dict(snakemake.params.settings), device, weights=weights)
with progress(n_images, f"{name} reference {rows[0]['set']}") as bar:
    table = reference_table(source, rows, extractor, n_images=n_images, progress=bar)
write_table(snakemake.output.table, table)
log.info("wrote %d reference rows of dimension %d", len(table), table.features.shape[1])
