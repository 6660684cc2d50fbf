# Text artifacts of inpainting (paper section 4.5, fig 12): COCO image-mask pairs, rendered by
# the inpainting model for object removal and completion (rules/generate.smk, prompt sets of
# kind inpaint), OCR per image (rules/features.smk), per-seed text statistics and the text tag.
rule coco_annotations_download:
    output:
        f"{config['results_dir']}/downloads/annotations_trainval2017.zip",
    log:
        f"{config['results_dir']}/logs/coco_annotations_download.log",
    benchmark:
        f"{config['results_dir']}/benchmarks/coco_annotations_download.tsv"
    retries: 3
    conda:
        "../envs/prompts.yaml"
    threads: 1
    resources:
        **cluster_resources(mem_mb=1000, minutes=4 * 60),
    script:
        "../scripts/download_annotations.py"


rule inpaint_pairs:
    input:
        **JOBS.annotations_input(),
        **JOBS.pair_images_input(),
    output:
        directory(JOBS.pattern("pairs")),
    log:
        f"{RUN}/logs/inpainting/pairs.log",
    benchmark:
        f"{RUN}/benchmarks/inpainting/pairs.tsv"
    conda:
        "../envs/prompts.yaml"
    threads: 1
    resources:
        **cluster_resources(mem_mb=16000, minutes=60),
    params:
        settings=canonical(
            {
                k: INPAINTING[k]
                for k in (
                    "annotations",
                    "pairs",
                    "area_bounds",
                    "dilate",
                    "selection_seed",
                )
            }
        ),
        resolution=inpainting_resolution(),
    script:
        "../scripts/make_pairs.py"


rule text_table:
    input:
        tables=lambda wildcards: JOBS.text_feature_tables(wildcards.model),
        prompts=lambda wildcards: [
            JOBS.path("prompts", set=s) for s in inpaint_tasks(wildcards)
        ],
    output:
        table=in_report(
            JOBS.pattern("text_table"),
            "text_table.rst",
            "6. Inpainting text artifacts",
            "Per-seed text",
        ),
    log:
        f"{RUN}/logs/inpainting/text_table_{{model}}.log",
    benchmark:
        f"{RUN}/benchmarks/inpainting/text_table_{{model}}.tsv"
    wildcard_constraints:
        model=INPAINTERS,
    conda:
        "../envs/features.yaml"
    threads: 1
    resources:
        **cluster_resources(mem_mb=4000, minutes=30),
    params:
        settings=canonical(
            {k: INPAINTING[k] for k in ("confidence", "margin", "resamples")}
        ),
    script:
        "../scripts/text_table.py"


rule text_task_table:
    input:
        table=JOBS.pattern("text_table"),
    output:
        table=in_report(
            JOBS.pattern("text_task_table"),
            "text_task_table.rst",
            "6. Inpainting text artifacts",
            "Per-seed text, per task",
        ),
    log:
        f"{RUN}/logs/inpainting/text_task_table_{{model}}_{{set}}.log",
    benchmark:
        f"{RUN}/benchmarks/inpainting/text_task_table_{{model}}_{{set}}.tsv"
    wildcard_constraints:
        model=INPAINTERS,
    conda:
        "../envs/features.yaml"
    threads: 1
    resources:
        **cluster_resources(mem_mb=2000, minutes=10),
    script:
        "../scripts/text_task_table.py"


rule fig12_inpainting_text:
    input:
        table=JOBS.pattern("text_table"),
        shards=lambda wildcards: JOBS.shards(wildcards.model, inpaint_tasks(wildcards)),
        prompts=lambda wildcards: [
            JOBS.path("prompts", set=s) for s in inpaint_tasks(wildcards)
        ],
        pairs=JOBS.path("pairs"),
    output:
        **figure_outputs(
            "fig12",
            "fig12_inpainting_text.rst",
            "6. Inpainting text artifacts",
            "Text-prone seeds (fig. 12)",
        ),
    log:
        f"{RUN}/logs/plots/fig12_inpainting_text_{{model}}.log",
    benchmark:
        f"{RUN}/benchmarks/plots/fig12_inpainting_text_{{model}}.tsv"
    conda:
        "../envs/features.yaml"
    threads: 1
    resources:
        **cluster_resources(mem_mb=4000, minutes=20),
    params:
        **figure_params(),
        tasks=inpaint_tasks,
        fig12=canonical(INPAINTING["fig12"]),
        ocr=canonical(config["features"]["ocr"]),
    script:
        "../scripts/plot_inpainting_text.py"
