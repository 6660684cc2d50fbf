rule generate:
    input:
        unpack(model_weights_input),
        unpack(pairs_input),
        prompts=JOBS.pattern("prompts"),
    output:
        shard=JOBS.pattern("shard"),
        manifest=JOBS.pattern("manifest"),
    log:
        f"{RUN}/logs/generate/{{model}}/{{set}}/{BLOCK}.log",
    benchmark:
        JOBS.pattern("generate_benchmark")
    conda:
        "../envs/generation.yaml"
    threads: config["threads"]
    resources:
        **cluster_resources(mem_mb=16000, minutes=12 * 60, gpus=GPU),
    params:
        spec=lambda wildcards: canonical(config["models"][wildcards.model]),
        generation=output_params("generation"),
        device=config["device"],
    script:
        "../scripts/generate_shard.py"
