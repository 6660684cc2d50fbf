# Feature extraction, once per image per extractor (docs/architecture.md): Inception for FID/KID,
# HPS v2 scores, style (measures and Gram vectors) and layout (object position, size, depth);
# and the real-image reference features that FID compares with.
rule tiny_extractor:
    output:
        directory(f"{RUN}/models/extractors/{{extractor}}"),
    log:
        f"{RUN}/logs/tiny_extractor/{{extractor}}.log",
    benchmark:
        f"{RUN}/benchmarks/tiny_extractor/{{extractor}}.tsv"
    conda:
        "../envs/features.yaml"
    threads: 1
    resources:
        **cluster_resources(mem_mb=2000, minutes=10),
    params:
        name=lambda wildcards: wildcards.extractor,
        proposes=tiny_layout_proposals,
    script:
        "../scripts/build_tiny_extractor.py"


rule extract_features:
    input:
        unpack(extractor_weights_input),
        unpack(pairs_input),
        shard=JOBS.pattern("shard"),
        manifest=JOBS.pattern("manifest"),
        prompts=JOBS.pattern("prompts"),
    output:
        table=JOBS.pattern("features"),
    log:
        f"{RUN}/logs/features/{{extractor}}/{{model}}/{{set}}/{BLOCK}.log",
    benchmark:
        f"{RUN}/benchmarks/features/{{extractor}}/{{model}}/{{set}}/{BLOCK}.tsv"
    conda:
        "../envs/features.yaml"
    threads: config["threads"]
    resources:
        **cluster_resources(mem_mb=16000, minutes=2 * 60, gpus=extractor_gpus),
    params:
        **extractor_params(),
        sample=style_sample,
    script:
        "../scripts/extract_features.py"


rule reference_features:
    input:
        unpack(extractor_weights_input),
        unpack(reference_images_input),
    output:
        table=JOBS.pattern("reference"),
    log:
        f"{RUN}/logs/reference/{{extractor}}/{{set}}.log",
    benchmark:
        f"{RUN}/benchmarks/reference/{{extractor}}/{{set}}.tsv"
    conda:
        "../envs/features.yaml"
    threads: config["threads"]
    resources:
        **cluster_resources(mem_mb=16000, minutes=2 * 60, gpus=GPU),
    params:
        **extractor_params(),
        coco=canonical({k: config["coco"][k] for k in ("images", "path", "n_images")}),
    script:
        "../scripts/reference_features.py"
