rule seed_swap:
    input:
        unpack(seed_swap_input),
    output:
        study=f"{RUN}/seed_swap/study.npz",
        table=in_report(
            f"{RUN}/tables/seed_swap_distances.csv",
            "seed_swap_distances.rst",
            "2. Seeds and noise",
            "Seed swap (fig. 2)",
        ),
    log:
        f"{RUN}/logs/seed_swap.log",
    benchmark:
        f"{RUN}/benchmarks/seed_swap.tsv"
    conda:
        "../envs/generation.yaml"
    threads: config["threads"]
    resources:
        **cluster_resources(mem_mb=16000, minutes=60, gpus=GPU),
    params:
        swap=canonical(config["seed_swap"]),
        model=JOBS.seed_swap_model(),
        spec=canonical(config["models"][JOBS.seed_swap_model()]),
        device=config["device"],
    script:
        "../scripts/seed_swap.py"


rule plot_seed_swap:
    input:
        study=f"{RUN}/seed_swap/study.npz",
    output:
        **figure_outputs(
            "fig2", "fig2_seed_swap.rst", "2. Seeds and noise", "Seed swap (fig. 2)"
        ),
    log:
        f"{RUN}/logs/plot_seed_swap.log",
    benchmark:
        f"{RUN}/benchmarks/plot_seed_swap.tsv"
    conda:
        "../envs/plots.yaml"
    threads: 1
    resources:
        **cluster_resources(mem_mb=2000, minutes=10),
    params:
        plots=canonical(config["plots"]),
    script:
        "../scripts/plot_seed_swap.py"
