# seedscope: the random-seed study of "Good Seed Makes a Good Crop" (arXiv 2405.14828).
# Its data flow and decisions are described in docs/architecture.md; every rule's work lives in the
# seedscope package and its config is validated against schemas/config.schema.yaml.


if not config:

    configfile: "config.yaml"


report: "report/workflow.rst"


include: "rules/common.smk"
include: "rules/models.smk"
include: "rules/prompts.smk"
include: "rules/generate.smk"
include: "rules/seedswap.smk"
include: "rules/summary.smk"
include: "rules/classifier.smk"
include: "rules/common_analysis.smk"
include: "rules/features.smk"
include: "rules/quality.smk"
include: "rules/style.smk"
include: "rules/layout.smk"
include: "rules/inpainting.smk"
include: "rules/diverse.smk"


rule all:
    default_target: True
    input:
        JOBS.targets(),
