"""Golden and inferior seeds of one model, their counts against chance, and set-2 carry-over."""

import pandas as pd

from seedscope.jobs import start_job
from seedscope.quality.golden import generalisation, golden_and_inferior, golden_vs_chance

params = snakemake.params
log = start_job(snakemake, f"golden seeds of {snakemake.wildcards.model}")
main = pd.read_csv(snakemake.input.main)
golden, inferior = golden_and_inferior(main, params.golden["metrics"], params.golden["top_k"])
tags = pd.DataFrame(
    [{"seed": seed, "tag": "golden"} for seed in golden]
    + [{"seed": seed, "tag": "inferior"} for seed in inferior]
)
tags.to_csv(snakemake.output.seeds, index=False)
log.info("%d golden seeds %s, %d inferior %s", len(golden), golden, len(inferior), inferior)
chance = golden_vs_chance(
    main,
    params.golden["metrics"],
    params.golden["top_k"],
    params.golden.get("permutations", 10_000),
    params.golden.get("seed", 0),
)
chance.to_csv(snakemake.output.chance, index=False, float_format="%.6g")
log.info("against chance:\n%s", chance.to_string())
if hasattr(snakemake.input, "second"):
    summary = generalisation(
        main,
        pd.read_csv(snakemake.input.second),
        params.golden["metrics"],
        params.golden["top_k"],
        params.bootstrap,
    )
else:
    summary = pd.DataFrame()
summary.to_csv(snakemake.output.generalisation, index=False, float_format="%.4f")
log.info("generalisation:\n%s", summary.to_string())
