"""Dense captions of the selected COCO images (LLaVA 1.5), or the user's captions file."""

from seedscope.jobs import progress, start_job
from seedscope.models import resolve_device
from seedscope.prompts.captioning import caption_rows, load_captioner, read_captions_file
from seedscope.prompts.coco import list_images, select_images
from seedscope.prompts.rows import write_prompts

coco = snakemake.params.coco
log = start_job(snakemake, f"captions of {coco['n_images']} COCO images -> {snakemake.output[0]}")
if coco["captions_file"]:
    rows = read_captions_file(coco["captions_file"], "coco")
else:
    names = select_images(
        list_images(snakemake.input.images), coco["n_images"], coco["selection_seed"]
    )
    device = resolve_device(snakemake.params.device)
    captioner = load_captioner(
        snakemake.params.captioner, device=str(device), dtype=coco["captioner"]["dtype"]
    )
    with progress(len(names), "captions") as bar:
        rows = caption_rows(
            snakemake.input.images,
            names,
            captioner,
            "coco",
            batch_size=coco["captioner"]["batch_size"],
            max_new_tokens=coco["captioner"]["max_new_tokens"],
            progress=bar,
        )
write_prompts(rows, snakemake.output[0])
log.info("wrote %d captions", len(rows))
