rule run_summary:
    input:
        shards=JOBS.shards(),
    output:
        in_report(JOBS.pattern("run_summary"), "run_summary.rst", "1. Run"),
    log:
        f"{RUN}/logs/run_summary.log",
    conda:
        "../envs/plots.yaml"
    threads: 1
    resources:
        **cluster_resources(mem_mb=2000, minutes=10),
    params:
        benchmarks=JOBS.generation_benchmarks(),
        gpu=bool(GPU),
    script:
        "../scripts/run_summary.py"
