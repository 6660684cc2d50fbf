"""Paper Table 1: FID and HPS of random vs golden seeds on held-out prompt sets, every model."""

from pathlib import Path

import pandas as pd

from seedscope.features.table import read_table
from seedscope.jobs import start_job
from seedscope.quality import table1
from seedscope.quality.frechet import reference_stats
from seedscope.quality.perseed import prompt_order
from seedscope.tables import to_latex, to_markdown

params = snakemake.params
log = start_job(snakemake, "Table 1: random vs golden seeds")
hps = f"HPS {params.hps_version}"
prompts_of = {
    job["prompts"]: table1.held_out_prompts(
        prompt_order(job["prompts"]), params.table1["prompts"], job
    )
    for job in params.jobs  # every count is checked before any work
}
rows = []
for job in params.jobs:  # model, set, metric, feature tables, prompts, golden table, reference
    prompts = prompts_of[job["prompts"]]
    if job["metric"] == "hps":
        metric = table1.hps_metric
    else:
        metric = table1.fid_metric(
            reference_stats(read_table(job["reference"]).features, params.device)
        )
    tags = pd.read_csv(job["golden"])
    golden = sorted(tags.loc[tags.tag == "golden", "seed"].astype(int))
    results = table1.random_vs_golden(
        lambda job=job: map(read_table, job["tables"]),
        prompts,
        params.seeds,
        golden,
        metric,
        params.table1,
        params.bootstrap,
    )
    for result in results:
        name = hps if job["metric"] == "hps" else job["metric"].upper()
        row = {"model": job["model"], "prompt_set": job["set"], "metric": name}
        rows.append(row | {"prompts": len(prompts)} | result)
        log.info("%s", rows[-1])
table = pd.DataFrame(rows)
table.to_csv(snakemake.output.csv, index=False, float_format="%.6g")
Path(snakemake.output.md).write_text(to_markdown(table))
caption = (
    f"FID and {hps} of random vs golden seeds (mean over draws, "
    f"{params.bootstrap['confidence']:.0%} bootstrap CI over draws and prompts)"
)
Path(snakemake.output.tex).write_text(to_latex(table, caption))
