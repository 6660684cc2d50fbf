rule train_classifier:
    input:
        shards=lambda wildcards: classifier_shards(wildcards.model),
        prompts=[
            f"{RUN}/prompts/{s}.jsonl" for s in config["classifier"]["prompt_sets"]
        ],
    output:
        weights=f"{RUN}/classifier/{{model}}/model.safetensors",
        split=f"{RUN}/classifier/{{model}}/split.json",
        metrics=report(
            f"{RUN}/classifier/{{model}}/metrics.csv",
            caption="../report/classifier_metrics.rst",
            category="3. Seed classifier",
            subcategory="{model}",
        ),
    log:
        f"{RUN}/logs/classifier/{{model}}/train.log",
    benchmark:
        f"{RUN}/benchmarks/classifier/{{model}}/train.tsv"
    conda:
        "../envs/classifier.yaml"
    threads: config["threads"]
    resources:
        gpu=GPU,
        gpu_model=gpu_model(),
        mem_mb=32000,
        runtime=runtime_minutes(24 * 60),
        cpus_per_task=lambda wildcards, threads: threads,
    params:
        settings=classifier_train_params(),
        seeds=seed_list(),
    message:
        f"train the {{wildcards.model}} seed classifier ({{resources.gpu}} GPU, {{threads}} threads): {classifier_cost_message()}"
    script:
        "../scripts/train_classifier.py"


rule evaluate_classifier:
    input:
        shards=lambda wildcards: classifier_shards(wildcards.model),
        weights=f"{RUN}/classifier/{{model}}/model.safetensors",
        split=f"{RUN}/classifier/{{model}}/split.json",
    output:
        report=f"{RUN}/classifier/{{model}}/test_report.json",
        table=report(
            f"{RUN}/tables/classifier_{{model}}.csv",
            caption="../report/classifier_test.rst",
            category="3. Seed classifier",
            subcategory="{model}",
        ),
    log:
        f"{RUN}/logs/classifier/{{model}}/evaluate.log",
    conda:
        "../envs/classifier.yaml"
    threads: config["threads"]
    resources:
        gpu=GPU,
        gpu_model=gpu_model(),
        mem_mb=16000,
        runtime=runtime_minutes(120),
        cpus_per_task=lambda wildcards, threads: threads,
    params:
        settings=classifier_train_params(),
        seeds=seed_list(),
    script:
        "../scripts/evaluate_classifier.py"


rule gradcam_classifier:
    input:
        shards=lambda wildcards: classifier_shards(wildcards.model),
        weights=f"{RUN}/classifier/{{model}}/model.safetensors",
        split=f"{RUN}/classifier/{{model}}/split.json",
    output:
        pdf=f"{RUN}/figures/fig4_gradcam_{{model}}.pdf",
        png=report(
            f"{RUN}/figures/fig4_gradcam_{{model}}.png",
            caption="../report/fig4_gradcam.rst",
            category="3. Seed classifier",
            subcategory="{model}",
        ),
    log:
        f"{RUN}/logs/classifier/{{model}}/gradcam.log",
    conda:
        "../envs/classifier.yaml"
    threads: config["threads"]
    resources:
        mem_mb=8000,
        runtime=runtime_minutes(60),
        cpus_per_task=lambda wildcards, threads: threads,
    params:
        settings=classifier_train_params(),
        gradcam=canonical(config["classifier"]["gradcam"]),
        seeds=seed_list(),
    script:
        "../scripts/gradcam_classifier.py"
