"""Download COCO's 2017 train/val annotations (resumable, md5-checked): the inpainting pairs."""

from seedscope.inpainting.pairs import COCO_ANNOTATIONS_MD5, COCO_ANNOTATIONS_URL
from seedscope.jobs import start_job
from seedscope.prompts.coco import download_file

start_job(snakemake, f"download {COCO_ANNOTATIONS_URL} to {snakemake.output[0]}")
download_file(COCO_ANNOTATIONS_URL, snakemake.output[0], md5=COCO_ANNOTATIONS_MD5)
