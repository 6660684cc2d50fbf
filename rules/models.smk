rule tiny_model:
    output:
        directory(f"{RUN}/models/{{model}}"),
    log:
        f"{RUN}/logs/tiny_model/{{model}}.log",
    benchmark:
        f"{RUN}/benchmarks/tiny_model/{{model}}.tsv"
    conda:
        "../envs/generation.yaml"
    threads: 1
    resources:
        **cluster_resources(mem_mb=2000, minutes=10),
    params:
        kind=lambda wildcards: config["models"][wildcards.model]["tiny"],
    script:
        "../scripts/build_tiny_model.py"


rule tiny_captioner:
    output:
        directory(f"{RUN}/models/captioner"),
    log:
        f"{RUN}/logs/tiny_captioner.log",
    benchmark:
        f"{RUN}/benchmarks/tiny_captioner.tsv"
    conda:
        "../envs/prompts.yaml"
    threads: 1
    resources:
        **cluster_resources(mem_mb=2000, minutes=10),
    script:
        "../scripts/build_tiny_captioner.py"


ruleorder: tiny_captioner > tiny_model
