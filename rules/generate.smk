rule generate:
    input:
        unpack(model_weights_input),
        prompts=f"{RUN}/prompts/{{set}}.jsonl",
    output:
        shard=f"{RUN}/images/{{model}}/{{set}}/seeds-{{first}}-{{last}}.tar",
        manifest=f"{RUN}/images/{{model}}/{{set}}/seeds-{{first}}-{{last}}.json",
    log:
        f"{RUN}/logs/generate/{{model}}/{{set}}/seeds-{{first}}-{{last}}.log",
    benchmark:
        f"{RUN}/benchmarks/generate/{{model}}/{{set}}/seeds-{{first}}-{{last}}.tsv"
    conda:
        "../envs/generation.yaml"
    threads: config["threads"]
    resources:
        gpu=GPU,
        gpu_model=gpu_model(),
        mem_mb=16000,
        runtime=runtime_minutes(12 * 60),
        cpus_per_task=lambda wildcards, threads: threads,
    params:
        spec=lambda wildcards: canonical(config["models"][wildcards.model]),
        generation=output_params("generation"),
        device=config["device"],
    script:
        "../scripts/generate_shard.py"
