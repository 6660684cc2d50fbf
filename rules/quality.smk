# Per-seed quality (paper section 4.2): FID, KID and HPS per seed with bootstrap CIs, golden and
# inferior seeds, figs 5-7, Table 1, and the seed bank.
rule perseed_block:
    input:
        unpack(perseed_block_input),
    output:
        f"{RUN}/quality/{{metric}}/{{model}}/{{set}}/seeds-{{first}}-{{last}}.npz",
    log:
        f"{RUN}/logs/quality/{{metric}}/{{model}}/{{set}}/seeds-{{first}}-{{last}}.log",
    benchmark:
        f"{RUN}/benchmarks/quality/{{metric}}/{{model}}/{{set}}/seeds-{{first}}-{{last}}.tsv"
    conda:
        "../envs/features.yaml"
    threads: config["threads"]
    resources:
        gpu=QUALITY_GPU,
        gpu_model=gpu_model(QUALITY_GPU),
        mem_mb=16000,
        runtime=runtime_minutes(60),
        cpus_per_task=lambda wildcards, threads: threads,
    params:
        bootstrap=canonical(QUALITY["bootstrap"]),
        hps_prompts=lambda wildcards: (
            QUALITY["hps_prompts"] if wildcards.metric == "hps" else None
        ),
        device=QUALITY["device"],
    script:
        "../scripts/perseed_block.py"


rule perseed_table:
    input:
        unpack(perseed_table_input),
    output:
        table=report(
            f"{RUN}/tables/perseed_{{model}}_{{set}}.csv",
            caption="../report/perseed_table.rst",
            category="4. Seed quality",
            subcategory="Per-seed tables",
        ),
    log:
        f"{RUN}/logs/quality/perseed_{{model}}_{{set}}.log",
    conda:
        "../envs/features.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=runtime_minutes(10),
        cpus_per_task=lambda wildcards, threads: threads,
    params:
        bootstrap=canonical(QUALITY["bootstrap"]),
    script:
        "../scripts/perseed_table.py"


rule golden_seeds:
    input:
        unpack(golden_input),
    output:
        seeds=report(
            f"{RUN}/tables/golden_{{model}}.csv",
            caption="../report/golden_seeds.rst",
            category="4. Seed quality",
            subcategory="Golden and inferior seeds",
        ),
        generalisation=report(
            f"{RUN}/tables/generalisation_{{model}}.csv",
            caption="../report/generalisation.rst",
            category="4. Seed quality",
            subcategory="Generalisation (figs 6-7)",
        ),
        chance=report(
            f"{RUN}/tables/golden_vs_chance_{{model}}.csv",
            caption="../report/golden_vs_chance.rst",
            category="4. Seed quality",
            subcategory="Golden and inferior seeds",
        ),
    log:
        f"{RUN}/logs/quality/golden_{{model}}.log",
    conda:
        "../envs/features.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=runtime_minutes(10),
        cpus_per_task=lambda wildcards, threads: threads,
    params:
        golden=canonical(QUALITY["golden"]),
        bootstrap=canonical(QUALITY["bootstrap"]),
    script:
        "../scripts/golden_seeds.py"


rule table1:
    input:
        table1_input,
    output:
        csv=report(
            f"{RUN}/tables/table1_random_vs_golden.csv",
            caption="../report/table1.rst",
            category="4. Seed quality",
            subcategory="Random vs golden seeds (Table 1)",
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
        gpu=QUALITY_GPU,
        gpu_model=gpu_model(QUALITY_GPU),
        mem_mb=16000,
        runtime=runtime_minutes(4 * 60),
        cpus_per_task=lambda wildcards, threads: threads,
    params:
        jobs=table1_jobs(),
        seeds=seed_list(),
        table1=canonical(QUALITY["table1"]),
        bootstrap=canonical(QUALITY["bootstrap"]),
        hps_version=config["features"]["hps"]["version"],
        device=QUALITY["device"],
    script:
        "../scripts/table1.py"


# Fig. 5 (best and worst seeds by FID and by HPS) depends on every shard of the FID set (the
# seeds it draws come from the per-seed table)
# but opens only the shards of the seeds it draws, one at a time: one manifest in memory.
rule fig5_best_worst_seeds:
    input:
        table=lambda wildcards: perseed_table(wildcards.model, QUALITY["fid_set"]),
        shards=lambda wildcards: model_shards(wildcards.model, [QUALITY["fid_set"]]),
        prompts=f"{RUN}/prompts/{QUALITY['fid_set']}.jsonl",
    output:
        pdf=f"{RUN}/figures/fig5_best_worst_seeds_{{model}}.pdf",
        png=report(
            f"{RUN}/figures/fig5_best_worst_seeds_{{model}}.png",
            caption="../report/fig5_best_worst_seeds.rst",
            category="4. Seed quality",
            subcategory="Best and worst seeds (fig. 5)",
        ),
    log:
        f"{RUN}/logs/plots/fig5_best_worst_seeds_{{model}}.log",
    conda:
        "../envs/plots.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=runtime_minutes(10),
        cpus_per_task=lambda wildcards, threads: threads,
    params:
        fig5=canonical(QUALITY["fig5"]),
        hps_version=config["features"]["hps"]["version"],
        plots=canonical(config["plots"]),
    script:
        "../scripts/plot_best_worst.py"


# Figs 6 (FID) and 7 (HPS): one job per metric, each pooling every model.
rule fig_generalisation:
    input:
        unpack(generalisation_input),
    output:
        pdf=f"{RUN}/figures/fig{{number}}_{{metric}}_generalisation.pdf",
        png=report(
            f"{RUN}/figures/fig{{number}}_{{metric}}_generalisation.png",
            caption="../report/figs6_7_generalisation.rst",
            category="4. Seed quality",
            subcategory="Generalisation (figs 6-7)",
        ),
    log:
        f"{RUN}/logs/plots/fig{{number}}_{{metric}}_generalisation.log",
    wildcard_constraints:
        number="6|7",
    conda:
        "../envs/plots.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=runtime_minutes(10),
        cpus_per_task=lambda wildcards, threads: threads,
    params:
        models=quality_models(config),
        sets=[QUALITY["fid_set"], QUALITY["generalisation_set"]],
        hps_version=config["features"]["hps"]["version"],
        plots=canonical(config["plots"]),
    script:
        "../scripts/plot_generalisation.py"


rule seedbank:
    input:
        tables=lambda wildcards: [
            perseed_table(wildcards.model, s) for s in scored_sets()
        ],
        golden=f"{RUN}/tables/golden_{{model}}.csv",
    output:
        bank=f"{RUN}/seedbank/{{model}}.json",
    log:
        f"{RUN}/logs/seedbank/{{model}}.log",
    conda:
        "../envs/features.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=runtime_minutes(10),
        cpus_per_task=lambda wildcards, threads: threads,
    params:
        spec=lambda wildcards: canonical(config["models"][wildcards.model]),
        sets=scored_sets(),
        fid_set=QUALITY["fid_set"],
        golden=canonical(QUALITY["golden"]),
    script:
        "../scripts/seedbank.py"
