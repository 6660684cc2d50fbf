# Diverse seeds (paper section 4.4, Table 2, fig 11): FPS seed sets from the analysis prompts'
# style and layout features, scored on disjoint evaluation prompts against random seeds and
# Particle Guidance (rendered here at every coefficient and at 0, the control; its shards'
# features extracted like every shard's), with HPS and DINO on every evaluation image.
rule particle_guidance:
    input:
        unpack(particle_input),
    output:
        shard=JOBS.pattern("particle_shard"),
        manifest=JOBS.pattern("particle_manifest"),
    log:
        f"{RUN}/logs/particle/{{model}}/{{set}}/coeff-{{coeff}}.log",
    benchmark:
        f"{RUN}/benchmarks/particle/{{model}}/{{set}}/coeff-{{coeff}}.tsv"
    conda:
        "../envs/generation.yaml"
    threads: config["threads"]
    resources:
        **cluster_resources(mem_mb=16000, minutes=12 * 60, gpus=GPU),
    params:
        spec=lambda wildcards: canonical(config["models"][wildcards.model]),
        generation=output_params("generation"),
        device=config["device"],
        pg=lambda wildcards: canonical(pg_settings(config, float(wildcards.coeff))),
        draw=canonical(particle_draw(config)),
        evaluation=evaluation_params(),
    script:
        "../scripts/particle_guidance.py"


rule extract_particle_features:
    input:
        unpack(extractor_weights_input),
        shard=JOBS.pattern("particle_shard"),
        manifest=JOBS.pattern("particle_manifest"),
        prompts=JOBS.pattern("prompts"),
    output:
        table=JOBS.pattern("particle_features"),
    log:
        f"{RUN}/logs/particle/features/{{extractor}}/{{model}}/{{set}}/coeff-{{coeff}}.log",
    benchmark:
        f"{RUN}/benchmarks/particle/features/{{extractor}}/{{model}}/{{set}}/coeff-{{coeff}}.tsv"
    conda:
        "../envs/features.yaml"
    threads: config["threads"]
    resources:
        **cluster_resources(mem_mb=16000, minutes=2 * 60, gpus=GPU),
    params:
        **extractor_params(),
        sample=None,
        evaluation=None,
    script:
        "../scripts/extract_features.py"


rule extract_evaluation_features:
    input:
        unpack(extractor_weights_input),
        shard=JOBS.pattern("shard"),
        manifest=JOBS.pattern("manifest"),
        prompts=JOBS.pattern("prompts"),
    output:
        table=JOBS.pattern("evaluation_features"),
    log:
        f"{RUN}/logs/diverse/features/{{extractor}}/{{model}}/{{set}}/{BLOCK}.log",
    benchmark:
        f"{RUN}/benchmarks/diverse/features/{{extractor}}/{{model}}/{{set}}/{BLOCK}.tsv"
    conda:
        "../envs/features.yaml"
    threads: config["threads"]
    resources:
        **cluster_resources(mem_mb=16000, minutes=2 * 60, gpus=GPU),
    params:
        **extractor_params(),
        sample=None,
        evaluation=evaluation_params(),
    script:
        "../scripts/extract_features.py"


rule diverse_seeds:
    input:
        style=lambda wildcards: JOBS.style_tables(wildcards.model),
        layout=lambda wildcards: JOBS.layout_tables(wildcards.model),
        prompts=JOBS.path("prompts", set=LAYOUT["prompt_set"]),
    output:
        sets=JOBS.pattern("diverse_seeds"),
    log:
        f"{RUN}/logs/diverse/diverse_seeds_{{model}}.log",
    benchmark:
        f"{RUN}/benchmarks/diverse/diverse_seeds_{{model}}.tsv"
    conda:
        "../envs/features.yaml"
    threads: 1
    resources:
        **cluster_resources(mem_mb=8000, minutes=60),
    params:
        diverse=diverse_params(),
    script:
        "../scripts/diverse_seeds.py"


rule table2:
    input:
        **JOBS.table2_inputs(),
    output:
        csv=in_report(
            JOBS.pattern("table2"),
            "table2.rst",
            "7. Diverse seeds",
            "Random vs diverse seeds vs Particle Guidance (Table 2)",
        ),
        md=JOBS.pattern("table2").removesuffix(".csv") + ".md",
        tex=JOBS.pattern("table2").removesuffix(".csv") + ".tex",
    log:
        f"{RUN}/logs/diverse/table2.log",
    benchmark:
        f"{RUN}/benchmarks/diverse/table2.tsv"
    conda:
        "../envs/features.yaml"
    threads: 1
    resources:
        **cluster_resources(mem_mb=16000, minutes=2 * 60),
    params:
        models=JOBS.diverse_models(),
        pg_models=JOBS.pg_models(),
        pg_notes={m: pg_support(config, m) for m in JOBS.diverse_models()},
        coeffs=pg_coeffs(config),
        diverse=diverse_params(),
    script:
        "../scripts/table2.py"


rule fig_diversity_quality:
    input:
        table=JOBS.pattern("table2"),
    output:
        **figure_outputs(
            "fig_diversity_quality",
            "fig_diversity_quality.rst",
            "7. Diverse seeds",
            "Diversity against quality",
        ),
    log:
        f"{RUN}/logs/plots/fig_diversity_quality.log",
    benchmark:
        f"{RUN}/benchmarks/plots/fig_diversity_quality.tsv"
    conda:
        "../envs/plots.yaml"
    threads: 1
    resources:
        **cluster_resources(mem_mb=2000, minutes=10),
    params:
        **figure_params(),
    script:
        "../scripts/plot_diversity_quality.py"


rule fig11_diverse_seeds:
    input:
        unpack(fig11_input),
    output:
        **figure_outputs(
            "fig11",
            "fig11_diverse_seeds.rst",
            "7. Diverse seeds",
            "Four images (fig. 11)",
        ),
    log:
        f"{RUN}/logs/plots/fig11_diverse_seeds_{{model}}.log",
    benchmark:
        f"{RUN}/benchmarks/plots/fig11_diverse_seeds_{{model}}.tsv"
    conda:
        "../envs/plots.yaml"
    threads: 1
    resources:
        **cluster_resources(mem_mb=2000, minutes=10),
    params:
        **figure_params(),
        diverse=diverse_params(),
        fig11=canonical(DIVERSE["fig11"] | {"coeff": fig11_coeff(config)}),
    script:
        "../scripts/plot_diverse_seeds.py"
