"""One model's seed style map (fig 8): each seed's position from its Gram vectors.

Reads:  snakemake.input.tables - the model's style feature tables (every analysis set)
        snakemake.params.map   - {pca_components, perplexity, seed}
Writes: snakemake.output.table - CSV with columns seed, x, y (seedscope.style.maps.seed_map)
"""

from seedscope.jobs import start_job
from seedscope.style.maps import seed_map
from seedscope.style.tables import read_style_tables

params = snakemake.params
log = start_job(snakemake, f"style map of {snakemake.wildcards.model}")
features = read_style_tables(list(snakemake.input.tables))
positions = seed_map(
    features.gram, features.seeds, features.prompt_ids, **params.map, workers=snakemake.threads
)
positions.to_csv(snakemake.output.table, index=False)
log.info("%d seeds placed from %d images", len(positions), len(features.seeds))
