rule coco_download:
    output:
        f"{config['results_dir']}/downloads/train2017.zip",
    log:
        f"{config['results_dir']}/logs/coco_download.log",
    benchmark:
        f"{config['results_dir']}/benchmarks/coco_download.tsv"
    retries: 3
    conda:
        "../envs/prompts.yaml"
    threads: 1
    resources:
        **cluster_resources(mem_mb=1000, minutes=24 * 60),
    script:
        "../scripts/download_coco.py"


rule coco_demo_images:
    output:
        directory(f"{RUN}/coco/demo-images"),
    log:
        f"{RUN}/logs/coco_demo_images.log",
    benchmark:
        f"{RUN}/benchmarks/coco_demo_images.tsv"
    conda:
        "../envs/prompts.yaml"
    threads: 1
    resources:
        **cluster_resources(mem_mb=1000, minutes=5),
    params:
        n_images=config["coco"]["n_images"],
        seed=config["coco"]["selection_seed"],
    script:
        "../scripts/make_demo_images.py"


rule coco_captions:
    input:
        unpack(captioner_input),
        unpack(coco_images_input),
    output:
        f"{RUN}/coco/captions.jsonl",
    log:
        f"{RUN}/logs/coco_captions.log",
    benchmark:
        f"{RUN}/benchmarks/coco_captions.tsv"
    conda:
        "../envs/prompts.yaml"
    threads: config["threads"]
    resources:
        **cluster_resources(mem_mb=32000, minutes=12 * 60, gpus=GPU),
    params:
        coco=canonical({k: v for k, v in config["coco"].items() if k != "parts"}),
        captioner=captioner_path(config),
        device=config["device"],
    script:
        "../scripts/caption_coco.py"


rule prompt_set:
    input:
        unpack(prompt_set_input),
    output:
        JOBS.pattern("prompts"),
    log:
        f"{RUN}/logs/prompts/{{set}}.log",
    benchmark:
        f"{RUN}/benchmarks/prompts/{{set}}.tsv"
    conda:
        "../envs/prompts.yaml"
    threads: 1
    resources:
        **cluster_resources(mem_mb=1000, minutes=10),
    params:
        spec=lambda wildcards: canonical(config["prompt_sets"][wildcards.set]),
        parts=lambda wildcards: coco_parts_param(wildcards.set),
        removal_prompt=lambda wildcards: inpaint_prompt_param(wildcards.set),
        cache=f"{config['results_dir']}/downloads",
    script:
        "../scripts/make_prompt_set.py"
