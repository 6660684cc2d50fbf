"""The inpainting study's image-mask pairs, stored once as a pair set that later rules read.

Reads:  snakemake.input.images      - COCO train2017 (zip or folder), or the demo's images
        snakemake.input.annotations - COCO instance annotations (absent for the demo's masks)
        snakemake.params.settings   - inpainting.{annotations, pairs, area_bounds, dilate,
                                      selection_seed}
        snakemake.params.resolution - the inpainting model's resolution
Writes: snakemake.output[0]         - the pair set folder (<id>.png, <id>.mask.png, pairs.jsonl)
"""

from seedscope.inpainting.pairs import demo_pairs, select_pairs, write_pair_set, write_pairs
from seedscope.jobs import start_job
from seedscope.prompts.coco import list_images, open_image

settings = snakemake.params.settings
log = start_job(snakemake, f"{settings['pairs']} image-mask pairs -> {snakemake.output[0]}")
images = snakemake.input.images
if settings["annotations"] == "demo":
    named = [(name, open_image(images, name)) for name in list_images(images)[: settings["pairs"]]]
    items = demo_pairs(
        named, settings["pairs"], snakemake.params.resolution, settings["selection_seed"]
    )
    write_pairs(snakemake.output[0], items)
else:
    pairs = select_pairs(
        snakemake.input.annotations,
        settings["pairs"],
        settings["area_bounds"],
        settings["selection_seed"],
    )
    write_pair_set(
        snakemake.output[0], pairs, images, snakemake.params.resolution, settings["dilate"]
    )
log.info("wrote %d pairs", settings["pairs"])
