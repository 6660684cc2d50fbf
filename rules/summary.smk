rule run_summary:
    input:
        # sorted, like the benchmarks (zipped with them): params must not depend on the order
        # a config file lists its models and prompt sets in
        shards=sorted(JOBS.shards()),
    output:
        in_report(JOBS.pattern("run_summary"), "run_summary.rst", "1. Run"),
    log:
        f"{RUN}/logs/run_summary.log",
    benchmark:
        f"{RUN}/benchmarks/run_summary.tsv"
    conda:
        "../envs/plots.yaml"
    threads: 1
    resources:
        **cluster_resources(mem_mb=2000, minutes=10),
    params:
        benchmarks=sorted(JOBS.generation_benchmarks()),
        gpu=bool(GPU),
    script:
        "../scripts/run_summary.py"
