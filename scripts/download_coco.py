"""Download COCO train2017 (resumable, md5-checked)."""

from seedscope.jobs import start_job
from seedscope.prompts.coco import COCO_TRAIN2017_MD5, COCO_TRAIN2017_URL, download_file

start_job(snakemake, f"download {COCO_TRAIN2017_URL} to {snakemake.output[0]}")
download_file(COCO_TRAIN2017_URL, snakemake.output[0], md5=COCO_TRAIN2017_MD5)
