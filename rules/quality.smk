# Per-seed quality (paper section 4.2): FID, KID, HPS and the other scores per seed with their
# intervals, golden and inferior seeds, figs 5-7, Table 1, and the seed bank; beyond the paper,
# golden seeds chosen by one metric and judged by the others, and Table 1b (best-of-N).
rule perseed_block:
    input:
        unpack(perseed_block_input),
    output:
        JOBS.pattern("perseed_block"),
    log:
        f"{RUN}/logs/quality/{{metric}}/{{model}}/{{set}}/{BLOCK}.log",
    benchmark:
        f"{RUN}/benchmarks/quality/{{metric}}/{{model}}/{{set}}/{BLOCK}.tsv"
    wildcard_constraints:
        metric="fid",
    conda:
        "../envs/features.yaml"
    threads: config["threads"]
    resources:
        **cluster_resources(mem_mb=16000, minutes=60, gpus=QUALITY_GPU),
    params:
        bootstrap=canonical(QUALITY["bootstrap"]),
        device=QUALITY["device"],
    script:
        "../scripts/perseed_block.py"


rule perseed_table:
    input:
        unpack(perseed_table_input),
    output:
        table=in_report(
            JOBS.pattern("perseed_table"),
            "perseed_table.rst",
            "4. Seed quality",
            "Per-seed tables",
        ),
        replicates=JOBS.pattern("perseed_replicates"),
    log:
        f"{RUN}/logs/quality/perseed_{{model}}_{{set}}.log",
    benchmark:
        f"{RUN}/benchmarks/quality/perseed_{{model}}_{{set}}.tsv"
    conda:
        "../envs/features.yaml"
    threads: 1
    resources:
        **cluster_resources(mem_mb=4000, minutes=10),
    params:
        bootstrap=canonical(QUALITY["bootstrap"]),
        score_prompts=QUALITY["score_prompts"],
    script:
        "../scripts/perseed_table.py"


rule golden_seeds:
    input:
        unpack(golden_input),
    output:
        seeds=in_report(
            JOBS.pattern("golden"),
            "golden_seeds.rst",
            "4. Seed quality",
            "Golden and inferior seeds",
        ),
        generalisation=in_report(
            JOBS.pattern("generalisation"),
            "generalisation.rst",
            "4. Seed quality",
            "Generalisation (figs 6-7)",
        ),
        chance=in_report(
            f"{RUN}/tables/golden_vs_chance_{{model}}.csv",
            "golden_vs_chance.rst",
            "4. Seed quality",
            "Golden and inferior seeds",
        ),
    log:
        f"{RUN}/logs/quality/golden_{{model}}.log",
    benchmark:
        f"{RUN}/benchmarks/quality/golden_seeds_{{model}}.tsv"
    conda:
        "../envs/features.yaml"
    threads: 1
    resources:
        **cluster_resources(mem_mb=2000, minutes=10),
    params:
        golden=canonical(QUALITY["golden"]),
        bootstrap=canonical(QUALITY["bootstrap"]),
    script:
        "../scripts/golden_seeds.py"


rule table1:
    input:
        JOBS.table1_inputs(),
    output:
        csv=in_report(
            JOBS.pattern("table1"),
            "table1.rst",
            "4. Seed quality",
            "Random vs golden seeds (Table 1)",
        ),
        md=f"{RUN}/tables/table1_random_vs_golden.md",
        tex=f"{RUN}/tables/table1_random_vs_golden.tex",
    log:
        f"{RUN}/logs/quality/table1.log",
    benchmark:
        f"{RUN}/benchmarks/quality/table1.tsv"
    conda:
        "../envs/features.yaml"
    threads: config["threads"]
    resources:
        **cluster_resources(mem_mb=16000, minutes=4 * 60, gpus=QUALITY_GPU),
    params:
        jobs=JOBS.table1_jobs(),
        seeds=JOBS.seeds(),
        table1=canonical(QUALITY["table1"]),
        bootstrap=canonical(QUALITY["bootstrap"]),
        hps_version=config["features"]["hps"]["version"],
        device=QUALITY["device"],
    script:
        "../scripts/table1.py"


# Golden seeds chosen by each metric on the FID set, judged by every metric on held-out sets.
rule golden_matrix:
    input:
        **JOBS.golden_matrix_inputs(),
    output:
        csv=in_report(
            JOBS.pattern("golden_matrix"),
            "golden_matrix.rst",
            "4. Seed quality",
            "Golden seeds by one judge, judged by the others",
        ),
        md=f"{RUN}/tables/golden_matrix.md",
    log:
        f"{RUN}/logs/quality/golden_matrix.log",
    benchmark:
        f"{RUN}/benchmarks/quality/golden_matrix.tsv"
    conda:
        "../envs/features.yaml"
    threads: 1
    resources:
        **cluster_resources(mem_mb=4000, minutes=30),
    params:
        models=JOBS.quality_models(),
        held_out=JOBS.held_out_sets(),
        golden=canonical(QUALITY["golden"]),
        confidence=QUALITY["bootstrap"]["confidence"],
    script:
        "../scripts/golden_matrix.py"


# Table 1b: golden seeds against best-of-N by a verifier, from the images already rendered.
rule table1b:
    input:
        tables=[
            table
            for sets in JOBS.table1b_tables().values()
            for scores in sets.values()
            for tables in scores.values()
            for table in tables
        ],
        prompts=[JOBS.path("prompts", set=s) for s in QUALITY["best_of_n"]["sets"]],
        golden=[JOBS.path("golden", model=m) for m in JOBS.quality_models()],
    output:
        csv=in_report(
            JOBS.pattern("table1b"),
            "table1b.rst",
            "4. Seed quality",
            "Quality per render (Table 1b)",
        ),
        md=f"{RUN}/tables/table1b_quality_per_render.md",
        tex=f"{RUN}/tables/table1b_quality_per_render.tex",
    log:
        f"{RUN}/logs/quality/table1b.log",
    benchmark:
        f"{RUN}/benchmarks/quality/table1b.tsv"
    conda:
        "../envs/features.yaml"
    threads: 1
    resources:
        **cluster_resources(mem_mb=16000, minutes=60),
    params:
        models=JOBS.quality_models(),
        seeds=JOBS.seeds(),
        tables=JOBS.table1b_tables(),
        prompts=[JOBS.path("prompts", set=s) for s in QUALITY["best_of_n"]["sets"]],
        best_of_n=canonical(QUALITY["best_of_n"]),
        confidence=QUALITY["bootstrap"]["confidence"],
    script:
        "../scripts/table1b.py"


rule fig_best_of_n:
    input:
        table=JOBS.path("table1b"),
    output:
        **figure_outputs(
            "fig_best_of_n",
            "fig_best_of_n.rst",
            "4. Seed quality",
            "Quality per render (Table 1b)",
        ),
    log:
        f"{RUN}/logs/plots/fig_best_of_n.log",
    benchmark:
        f"{RUN}/benchmarks/plots/fig_best_of_n.tsv"
    conda:
        "../envs/plots.yaml"
    threads: 1
    resources:
        **cluster_resources(mem_mb=2000, minutes=10),
    params:
        **figure_params(),
        figure_set=QUALITY["best_of_n"]["figure_set"] or QUALITY["best_of_n"]["sets"][0],
    script:
        "../scripts/plot_best_of_n.py"


# Fig. 5 (best and worst seeds by FID and by HPS) depends on every shard of the FID set (the
# seeds it draws come from the per-seed table)
# but opens only the shards of the seeds it draws, one at a time: one manifest in memory.
rule fig5_best_worst_seeds:
    input:
        table=lambda wildcards: JOBS.path(
            "perseed_table", model=wildcards.model, set=QUALITY["fid_set"]
        ),
        shards=lambda wildcards: JOBS.shards(wildcards.model, [QUALITY["fid_set"]]),
        prompts=JOBS.path("prompts", set=QUALITY["fid_set"]),
    output:
        **figure_outputs(
            "fig5",
            "fig5_best_worst_seeds.rst",
            "4. Seed quality",
            "Best and worst seeds (fig. 5)",
        ),
    log:
        f"{RUN}/logs/plots/fig5_best_worst_seeds_{{model}}.log",
    benchmark:
        f"{RUN}/benchmarks/plots/fig5_best_worst_seeds_{{model}}.tsv"
    conda:
        "../envs/plots.yaml"
    threads: 1
    resources:
        **cluster_resources(mem_mb=2000, minutes=10),
    params:
        **figure_params(),
        fig5=canonical(QUALITY["fig5"]),
    script:
        "../scripts/plot_best_worst.py"


# Figs 6 (FID) and 7 (HPS): one job per metric, each pooling every model.
rule fig_generalisation:
    input:
        unpack(generalisation_input),
    output:
        **figure_outputs(
            "fig_generalisation",
            "figs6_7_generalisation.rst",
            "4. Seed quality",
            "Generalisation (figs 6-7)",
        ),
    log:
        f"{RUN}/logs/plots/fig{{number}}_{{metric}}_generalisation.log",
    benchmark:
        f"{RUN}/benchmarks/plots/fig{{number}}_{{metric}}_generalisation.tsv"
    wildcard_constraints:
        number="6|7",
        metric="|".join(GENERALISATION_FIGURE),
    conda:
        "../envs/plots.yaml"
    threads: 1
    resources:
        **cluster_resources(mem_mb=2000, minutes=10),
    params:
        **figure_params(),
        models=JOBS.quality_models(),
        sets=[QUALITY["fid_set"], QUALITY["generalisation_set"]],
    script:
        "../scripts/plot_generalisation.py"


rule seedbank:
    input:
        unpack(lambda wildcards: JOBS.seedbank_inputs(wildcards.model)),
    output:
        bank=JOBS.pattern("seedbank"),
    log:
        f"{RUN}/logs/seedbank/{{model}}.log",
    benchmark:
        f"{RUN}/benchmarks/seedbank/{{model}}.tsv"
    conda:
        "../envs/features.yaml"
    threads: 1
    resources:
        **cluster_resources(mem_mb=2000, minutes=10),
    params:
        spec=lambda wildcards: canonical(config["models"][wildcards.model]),
        sets=lambda wildcards: quality_bank_param(wildcards, JOBS.scored_sets()),
        fid_set=lambda wildcards: quality_bank_param(wildcards, QUALITY["fid_set"]),
        golden=lambda wildcards: quality_bank_param(
            wildcards, canonical(QUALITY["golden"])
        ),
    script:
        "../scripts/seedbank.py"
