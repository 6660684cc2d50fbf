"""A few synthetic COCO-like images so that the demo exercises the captioning path offline."""

from seedscope.jobs import start_job
from seedscope.prompts.coco import make_demo_images

start_job(snakemake, f"{snakemake.params.n_images} demo images into {snakemake.output[0]}")
make_demo_images(snakemake.output[0], snakemake.params.n_images, seed=snakemake.params.seed)
