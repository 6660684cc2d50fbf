"""Paper fig. 5: one model's top and bottom seeds by FID and by HPS, on a few prompts.

The per-seed table is that of the FID set; a metric it lacks (no ``hps`` column) is left out.

Of the prompt set's shards (every seed block is an input, since the seeds drawn depend on the
per-seed table), only the shards of the drawn seeds are opened, one at a time.
"""

import json
from itertools import islice

import pandas as pd

from seedscope.jobs import start_job
from seedscope.quality.figures import plot_best_worst

params = snakemake.params
log = start_job(snakemake, f"figure {snakemake.output.png}")
with open(snakemake.input.prompts) as rows:
    prompts = [json.loads(line) for line in islice(filter(str.strip, rows), params.fig5["prompts"])]
plot_best_worst(
    pd.read_csv(snakemake.input.table),
    list(snakemake.input.shards),
    prompts,
    snakemake.wildcards.model,
    snakemake.output.pdf,
    snakemake.output.png,
    n_seeds=params.fig5["seed_count"],
    hps_version=params.hps_version,
    dpi=params.plots["dpi"],
    font_size=params.plots["font_size"],
)
