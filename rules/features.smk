# Feature extraction, once per image per extractor (DESIGN decision 4): Inception for FID/KID,
# HPS v2 scores; and the real-image reference features that FID compares with.
from seedscope.config import quality_models, quality_sets

EXTRACTOR_OF = {"fid": "inception", "hps": "hps"}


wildcard_constraints:
    extractor="inception|hps",
    metric="fid|hps",


def extractor_weights_input(wildcards):
    """The tiny extractor's folder when a rule builds it (the demo); nothing otherwise."""
    tiny = config["features"][wildcards.extractor]["weights"] == "tiny"
    return {"weights": f"{RUN}/models/extractors/{wildcards.extractor}"} if tiny else {}


def extractor_settings(wildcards):
    return canonical(config["features"][wildcards.extractor])


def feature_tables(extractor, model, prompt_set):
    """Every seed block's feature table of one (extractor, model, prompt set)."""
    return [
        f"{RUN}/features/{extractor}/{model}/{prompt_set}/{block_name(first, last)}.npz"
        for first, last in seed_blocks(config)
    ]


def reference_images_input(wildcards):
    """The COCO images (zip, folder or demo folder) whose captions formed the prompt set."""
    return coco_images_input(wildcards) | {
        "prompts": f"{RUN}/prompts/{wildcards.set}.jsonl"
    }


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
