# Feature extraction, once per image per extractor (docs/architecture.md): Inception for FID/KID,
# HPS v2 scores; and the real-image reference features that FID compares with.
rule tiny_extractor:
    output:
        directory(f"{RUN}/models/extractors/{{extractor}}"),
    log:
        f"{RUN}/logs/tiny_extractor/{{extractor}}.log",
    conda:
        "../envs/features.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=runtime_minutes(10),
        cpus_per_task=lambda wildcards, threads: threads,
    params:
        name=lambda wildcards: wildcards.extractor,
    script:
        "../scripts/build_tiny_extractor.py"


rule extract_features:
    input:
        unpack(extractor_weights_input),
        shard=f"{RUN}/images/{{model}}/{{set}}/seeds-{{first}}-{{last}}.tar",
        manifest=f"{RUN}/images/{{model}}/{{set}}/seeds-{{first}}-{{last}}.json",
        prompts=f"{RUN}/prompts/{{set}}.jsonl",
    output:
        table=f"{RUN}/features/{{extractor}}/{{model}}/{{set}}/seeds-{{first}}-{{last}}.npz",
    log:
        f"{RUN}/logs/features/{{extractor}}/{{model}}/{{set}}/seeds-{{first}}-{{last}}.log",
    benchmark:
        f"{RUN}/benchmarks/features/{{extractor}}/{{model}}/{{set}}/seeds-{{first}}-{{last}}.tsv"
    conda:
        "../envs/features.yaml"
    threads: config["threads"]
    resources:
        gpu=GPU,
        gpu_model=gpu_model(),
        mem_mb=16000,
        runtime=runtime_minutes(2 * 60),
        cpus_per_task=lambda wildcards, threads: threads,
    params:
        extractor=lambda wildcards: wildcards.extractor,
        settings=extractor_settings,
        device=config["device"],
    script:
        "../scripts/extract_features.py"


rule reference_features:
    input:
        unpack(extractor_weights_input),
        unpack(reference_images_input),
    output:
        table=f"{RUN}/reference/{{extractor}}/{{set}}.npz",
    log:
        f"{RUN}/logs/reference/{{extractor}}/{{set}}.log",
    benchmark:
        f"{RUN}/benchmarks/reference/{{extractor}}/{{set}}.tsv"
    conda:
        "../envs/features.yaml"
    threads: config["threads"]
    resources:
        gpu=GPU,
        gpu_model=gpu_model(),
        mem_mb=16000,
        runtime=runtime_minutes(2 * 60),
        cpus_per_task=lambda wildcards, threads: threads,
    params:
        extractor=lambda wildcards: wildcards.extractor,
        settings=extractor_settings,
        device=config["device"],
        coco=canonical({k: config["coco"][k] for k in ("images", "path", "n_images")}),
    script:
        "../scripts/reference_features.py"
