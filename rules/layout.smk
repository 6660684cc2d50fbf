# Seed layout (paper section 4.3, fig 10): where each seed puts the prompt's object, how large
# and how deep, from the layout feature tables of the synthetic set (rules/features.smk).
rule layout_table:
    input:
        tables=lambda wildcards: JOBS.layout_tables(wildcards.model),
    output:
        table=in_report(
            JOBS.pattern("layout_table"),
            "layout_table.rst",
            "5. Seed style and layout",
            "Per-seed layout",
        ),
        variance=in_report(
            JOBS.pattern("layout_variance"),
            "layout_variance.rst",
            "5. Seed style and layout",
            "Per-seed layout",
        ),
    log:
        f"{RUN}/logs/layout/layout_table_{{model}}.log",
    benchmark:
        f"{RUN}/benchmarks/layout/layout_table_{{model}}.tsv"
    conda:
        "../envs/features.yaml"
    threads: 1
    resources:
        **cluster_resources(mem_mb=8000, minutes=60),
    params:
        bootstrap=canonical(LAYOUT["bootstrap"]),
    script:
        "../scripts/layout_table.py"


rule fig10_layout:
    input:
        tables=lambda wildcards: JOBS.layout_tables(wildcards.model),
        prompts=JOBS.path("prompts", set=LAYOUT["prompt_set"]),
    output:
        **figure_outputs(
            "fig10", "fig10_layout.rst", "5. Seed style and layout", "Layout (fig. 10)"
        ),
    log:
        f"{RUN}/logs/plots/fig10_layout_{{model}}.log",
    benchmark:
        f"{RUN}/benchmarks/plots/fig10_layout_{{model}}.tsv"
    conda:
        "../envs/plots.yaml"
    threads: 1
    resources:
        **cluster_resources(mem_mb=2000, minutes=10),
    params:
        **figure_params(),
        fig10=canonical(LAYOUT["fig10"]),
    script:
        "../scripts/plot_layout.py"
