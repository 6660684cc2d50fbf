rule train_classifier:
    input:
        shards=lambda wildcards: JOBS.classifier_shards(wildcards.model),
        prompts=[
            JOBS.path("prompts", set=s) for s in config["classifier"]["prompt_sets"]
        ],
    output:
        weights=JOBS.pattern("classifier_weights"),
        split=JOBS.pattern("classifier_split"),
        metrics=in_report(
            f"{RUN}/classifier/{{model}}/metrics.csv",
            "classifier_metrics.rst",
            "3. Seed classifier",
            "{model}",
        ),
    log:
        f"{RUN}/logs/classifier/{{model}}/train.log",
    benchmark:
        f"{RUN}/benchmarks/classifier/{{model}}/train.tsv"
    conda:
        "../envs/classifier.yaml"
    threads: config["threads"]
    resources:
        **cluster_resources(mem_mb=32000, minutes=24 * 60, gpus=GPU),
    params:
        **classifier_params(),
    message:
        f"train the {{wildcards.model}} seed classifier ({{resources.gpu}} GPU, {{threads}} threads): {classifier_cost_message()}"
    script:
        "../scripts/train_classifier.py"


rule evaluate_classifier:
    input:
        unpack(trained_classifier_input),
    output:
        report=JOBS.pattern("classifier_report"),
        table=in_report(
            f"{RUN}/tables/classifier_{{model}}.csv",
            "classifier_test.rst",
            "3. Seed classifier",
            "{model}",
        ),
    log:
        f"{RUN}/logs/classifier/{{model}}/evaluate.log",
    benchmark:
        f"{RUN}/benchmarks/classifier/{{model}}/evaluate.tsv"
    conda:
        "../envs/classifier.yaml"
    threads: config["threads"]
    resources:
        **cluster_resources(mem_mb=16000, minutes=120, gpus=GPU),
    params:
        **classifier_params(),
    script:
        "../scripts/evaluate_classifier.py"


rule gradcam_classifier:
    input:
        unpack(trained_classifier_input),
    output:
        **figure_outputs("fig4", "fig4_gradcam.rst", "3. Seed classifier", "{model}"),
    log:
        f"{RUN}/logs/classifier/{{model}}/gradcam.log",
    benchmark:
        f"{RUN}/benchmarks/classifier/{{model}}/gradcam.tsv"
    conda:
        "../envs/classifier.yaml"
    threads: config["threads"]
    resources:
        **cluster_resources(mem_mb=8000, minutes=60),
    params:
        **classifier_params(),
        gradcam=canonical(config["classifier"]["gradcam"]),
    script:
        "../scripts/gradcam_classifier.py"
