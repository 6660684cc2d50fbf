# Diverse seeds (paper section 4.4, Table 2, fig 11): FPS seed sets from the analysis prompts'
# style and layout features, scored on disjoint evaluation prompts against random seeds and
# Particle Guidance (rendered here; its shards' features extracted like every shard's).
rule particle_guidance:
    input:
        unpack(particle_input),
    output:
        shard=JOBS.pattern("particle_shard"),
        manifest=JOBS.pattern("particle_manifest"),
    log:
        f"{RUN}/logs/particle/{{model}}/{{set}}.log",
    benchmark:
        f"{RUN}/benchmarks/particle/{{model}}/{{set}}.tsv"
    conda:
        "../envs/generation.yaml"
    threads: config["threads"]
    resources:
        **cluster_resources(mem_mb=16000, minutes=12 * 60, gpus=GPU),
    params:
        spec=lambda wildcards: canonical(config["models"][wildcards.model]),
        generation=output_params("generation"),
        device=config["device"],
        pg=canonical(pg_settings(config)),
        particles=particle_seeds(config),
        evaluation=canonical(
            {
                "style_prompts": DIVERSE["style_prompts"],
                "seed": DIVERSE["seed"],
                "layout_set": LAYOUT["prompt_set"],
                "split_seed": DIVERSE["split_seed"],
            }
        ),
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
        f"{RUN}/logs/particle/features/{{extractor}}/{{model}}/{{set}}.log",
    benchmark:
        f"{RUN}/benchmarks/particle/features/{{extractor}}/{{model}}/{{set}}.tsv"
    conda:
        "../envs/features.yaml"
    threads: config["threads"]
    resources:
        **cluster_resources(mem_mb=16000, minutes=2 * 60, gpus=GPU),
    params:
        **extractor_params(),
        sample=None,
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
        diverse=diverse_params(),
    script:
        "../scripts/table2.py"


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
        fig11=canonical(DIVERSE["fig11"]),
    script:
        "../scripts/plot_diverse_seeds.py"
