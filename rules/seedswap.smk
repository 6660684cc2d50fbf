rule seed_swap:
    input:
        unpack(seed_swap_input),
    output:
        study=f"{RUN}/seed_swap/study.npz",
        table=report(
            f"{RUN}/tables/seed_swap_distances.csv",
            caption="../report/seed_swap_distances.rst",
            category="2. Seeds and noise",
            subcategory="Seed swap (fig. 2)",
        ),
    log:
        f"{RUN}/logs/seed_swap.log",
    benchmark:
        f"{RUN}/benchmarks/seed_swap.tsv"
    conda:
        "../envs/generation.yaml"
    threads: config["threads"]
    resources:
        gpu=GPU,
        gpu_model=gpu_model(),
        mem_mb=16000,
        runtime=runtime_minutes(60),
        cpus_per_task=lambda wildcards, threads: threads,
    params:
        swap=canonical(config["seed_swap"]),
        model=seed_swap_model(),
        spec=canonical(config["models"][seed_swap_model()]),
        device=config["device"],
    script:
        "../scripts/seed_swap.py"


rule plot_seed_swap:
    input:
        study=f"{RUN}/seed_swap/study.npz",
    output:
        pdf=f"{RUN}/figures/fig2_seed_swap.pdf",
        png=report(
            f"{RUN}/figures/fig2_seed_swap.png",
            caption="../report/fig2_seed_swap.rst",
            category="2. Seeds and noise",
            subcategory="Seed swap (fig. 2)",
        ),
    log:
        f"{RUN}/logs/plot_seed_swap.log",
    conda:
        "../envs/plots.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=runtime_minutes(10),
        cpus_per_task=lambda wildcards, threads: threads,
    params:
        plots=canonical(config["plots"]),
    script:
        "../scripts/plot_seed_swap.py"
