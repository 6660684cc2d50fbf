"""Build a tiny random-weight feature extractor (Inception, HPS, style, layout) for the demo.

Reads:  snakemake.params.name  - "inception", "hps", "style" or "layout"
        snakemake.params.proposes - layout: the COCO labels its segmenter proposes
Writes: snakemake.output[0]    - the extractor folder (config.json + weights), loaded with
                                 features.<name>.weights: tiny by the extraction scripts
"""

from seedscope.jobs import start_job
from seedscope.tiny.extractors import build_tiny_extractor

start_job(snakemake, f"tiny {snakemake.params.name} extractor into {snakemake.output[0]}")
build_tiny_extractor(snakemake.params.name, snakemake.output[0], proposes=snakemake.params.proposes)
