# Seed style (paper section 4.3, figs 8-9): per-seed grayscale/sky/border rates with their tags,
# and the seed style map, all from the style feature tables (rules/features.smk extracts them
# on a seeded sample of style.prompts prompts of each set in style.prompt_sets).
rule style_table:
    input:
        tables=lambda wildcards: JOBS.style_tables(wildcards.model),
    output:
        table=in_report(
            JOBS.pattern("style_table"),
            "style_table.rst",
            "5. Seed style and layout",
            "Per-seed style rates",
        ),
    log:
        f"{RUN}/logs/style/style_table_{{model}}.log",
    benchmark:
        f"{RUN}/benchmarks/style/style_table_{{model}}.tsv"
    conda:
        "../envs/features.yaml"
    threads: 1
    resources:
        **cluster_resources(mem_mb=4000, minutes=20),
    params:
        thresholds=style_thresholds(),
        confidence=STYLE["confidence"],
        margin=STYLE["margin"],
    script:
        "../scripts/style_table.py"


rule style_map:
    input:
        tables=lambda wildcards: JOBS.style_tables(wildcards.model),
    output:
        table=JOBS.pattern("style_map"),
    log:
        f"{RUN}/logs/style/style_map_{{model}}.log",
    benchmark:
        f"{RUN}/benchmarks/style/style_map_{{model}}.tsv"
    conda:
        "../envs/features.yaml"
    threads: config["threads"]
    resources:
        **cluster_resources(mem_mb=16000, minutes=2 * 60),
    params:
        map=canonical(STYLE["map"]),
    script:
        "../scripts/style_map.py"


rule fig8_style_map:
    input:
        map=JOBS.pattern("style_map"),
        table=JOBS.pattern("style_table"),
        prompts=JOBS.path("prompts", set=STYLE["prompt_sets"][0]),
        shards=lambda wildcards: JOBS.shards(wildcards.model, STYLE["prompt_sets"][:1]),
    output:
        **figure_outputs(
            "fig8",
            "fig8_style_map.rst",
            "5. Seed style and layout",
            "Style map (fig. 8)",
        ),
    log:
        f"{RUN}/logs/plots/fig8_style_map_{{model}}.log",
    benchmark:
        f"{RUN}/benchmarks/plots/fig8_style_map_{{model}}.tsv"
    conda:
        "../envs/plots.yaml"
    threads: 1
    resources:
        **cluster_resources(mem_mb=4000, minutes=20),
    params:
        **figure_params(),
        fig8=canonical(STYLE["fig8"]),
        sample=style_sample_settings(),
    script:
        "../scripts/plot_style_map.py"


rule fig9_style_seeds:
    input:
        table=JOBS.pattern("style_table"),
        features=lambda wildcards: JOBS.style_tables(wildcards.model),
        shards=style_shards,
    output:
        **figure_outputs(
            "fig9",
            "fig9_style_seeds.rst",
            "5. Seed style and layout",
            "Grayscale, sky and border seeds (fig. 9)",
        ),
    log:
        f"{RUN}/logs/plots/fig9_style_seeds_{{model}}.log",
    benchmark:
        f"{RUN}/benchmarks/plots/fig9_style_seeds_{{model}}.tsv"
    conda:
        "../envs/plots.yaml"
    threads: 1
    resources:
        **cluster_resources(mem_mb=4000, minutes=20),
    params:
        **figure_params(),
        fig9=canonical(STYLE["fig9"]),
        thresholds=style_thresholds(),
        margin=STYLE["margin"],
    script:
        "../scripts/plot_style_seeds.py"
