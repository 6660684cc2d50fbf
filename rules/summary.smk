rule run_summary:
    input:
        shards=all_shards(),
    output:
        report(
            f"{RUN}/tables/run_summary.csv",
            caption="../report/run_summary.rst",
            category="1. Run",
        ),
    log:
        f"{RUN}/logs/run_summary.log",
    conda:
        "../envs/plots.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=runtime_minutes(10),
        cpus_per_task=lambda wildcards, threads: threads,
    params:
        benchmarks=all_generation_benchmarks(),
        gpu=bool(GPU),
    script:
        "../scripts/run_summary.py"
