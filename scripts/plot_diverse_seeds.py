"""Paper fig. 11: one model's images of random seeds, Particle Guidance and diverse (FPS) seeds,
on a few style evaluation prompts (style FPS seeds) and a few layout evaluation prompts (layout
FPS seeds).

Random seeds are Table 2's first random draw, FPS seeds its first FPS run; Particle Guidance's
images are those of fig. 11's coefficient, each prompt with its own particle seeds. Only the
drawn seeds' shards are opened, one at a time.

Reads:  snakemake.input.sets          - the model's diverse seed sets (JSON)
        snakemake.input.style_shards  - its shards of diverse.style_set (every seed's image)
        snakemake.input.layout_shards - its shards of the layout (synthetic) set
        snakemake.input.prompts       - [the style set's prompts, the layout set's prompts]
        snakemake.input.particle      - [its Particle Guidance shard of the style set, of the
                                        layout set] at fig11.coeff (absent if PG cannot render it)
        snakemake.params.diverse, .fig11 {prompts, coeff}, .plots
Writes: snakemake.output.pdf, snakemake.output.png
"""

import json

from seedscope.diverse.figures import plot_fig11, read_fig11_examples
from seedscope.jobs import start_job
from seedscope.prompts.rows import read_prompts

params, inputs = snakemake.params, snakemake.input
log = start_job(snakemake, f"figure {snakemake.output.png}")
with open(inputs.sets) as handle:
    sets = json.load(handle)
groups = ("style", "layout")
rows = {group: read_prompts(path) for group, path in zip(groups, inputs.prompts, strict=True)}
particles = None
if hasattr(inputs, "particle"):
    particles = dict(zip(groups, inputs.particle, strict=True))
coeff = float(params.fig11["coeff"])
examples = read_fig11_examples(
    sets,
    rows,
    {"style": list(inputs.style_shards), "layout": list(inputs.layout_shards)},
    params.diverse,
    params.fig11["prompts"],
    particles,
    coeff,
)
plot_fig11(
    examples,
    snakemake.wildcards.model,
    snakemake.output.pdf,
    snakemake.output.png,
    coeff=coeff if particles else None,
    dpi=params.plots["dpi"],
    font_size=params.plots["font_size"],
)
log.info("fig. 11 of %s: %d example prompts", snakemake.wildcards.model, len(examples))
