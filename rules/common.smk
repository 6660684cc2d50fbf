from pathlib import Path

from seedscope.plan import classifier_cost
from seedscope.config import (
    block_name,
    canonical,
    classifier_models,
    captioner_path,
    model_prompt_sets,
    run_dir,
    seed_blocks,
    validate_config,
)

# Jobs on a cluster start Snakemake again: the main process has already checked the config
# against timm and diffusers (the classifier backbone, each model's scheduler and speed-ups).
validate_config(
    config,
    Path(workflow.basedir) / "schemas" / "config.schema.yaml",
    check_libraries=workflow.is_main_process,
)

RUN = run_dir(config)
GPU = 0 if config["device"] == "cpu" else 1


wildcard_constraints:
    model="[A-Za-z0-9_-]+",
    set="[A-Za-z0-9_-]+",
    first="[0-9]+",
    last="[0-9]+",


def generation_jobs():
    """(model, prompt set, block name) of every generation job: models x their sets x blocks."""
    return [
        (model, prompt_set, block_name(first, last))
        for model in config["models"]
        for prompt_set in model_prompt_sets(config, model)
        for first, last in seed_blocks(config)
    ]


def all_shards():
    """Every shard of the run."""
    return [f"{RUN}/images/{m}/{s}/{block}.tar" for m, s, block in generation_jobs()]


def all_generation_benchmarks():
    """The benchmark file of every generation job, in the order of ``all_shards()``."""
    return [
        f"{RUN}/benchmarks/generate/{m}/{s}/{block}.tsv"
        for m, s, block in generation_jobs()
    ]


def model_inputs(model):
    """The tiny model's folder when a rule builds it; nothing for hub ids or given folders."""
    spec = config["models"][model]
    return {"weights": spec["weights"]} if spec["tiny"] else {}


def model_weights_input(wildcards):
    return model_inputs(wildcards.model)


def captioner_input(wildcards):
    return (
        {"captioner": captioner_path(config)}
        if config["coco"]["captioner"]["tiny"]
        else {}
    )


def prompt_set_input(wildcards):
    spec = config["prompt_sets"][wildcards.set]
    return {"captions": f"{RUN}/coco/captions.jsonl"} if spec["kind"] == "coco" else {}


def coco_parts_param(prompt_set):
    """The COCO part sizes, for COCO prompt sets only (other sets do not depend on them)."""
    is_coco = config["prompt_sets"][prompt_set]["kind"] == "coco"
    return config["coco"]["parts"] if is_coco else None


def output_params(section):
    """A config section without the keys that change speed but not outputs."""
    return canonical(
        {k: v for k, v in config[section].items() if k != "encoder_threads"}
    )


def coco_images_input(wildcards):
    """The COCO image source that the captioning rule reads (none with a captions file)."""
    coco = config["coco"]
    if coco["captions_file"]:
        return {"captions_file": coco["captions_file"]}
    if coco["images"] == "download":
        return {"images": f"{config['results_dir']}/downloads/train2017.zip"}
    if coco["images"] == "demo":
        return {"images": f"{RUN}/coco/demo-images"}
    return {"images": coco["path"]}


def tiny_model_folders():
    """The folders of every tiny model that a rule builds (the demo's models)."""
    return [spec["weights"] for spec in config["models"].values() if spec["tiny"]]


def seed_swap_model():
    return config["seed_swap"]["model"] or next(iter(config["models"]))


def seed_swap_input(wildcards):
    return model_inputs(seed_swap_model())


def seed_swap_outputs():
    return [f"{RUN}/figures/fig2_seed_swap.pdf", f"{RUN}/figures/fig2_seed_swap.png"]


def seed_list():
    """Every studied seed, ascending (classifier labels index this list)."""
    first, count = config["seeds"]["first"], config["seeds"]["count"]
    return list(range(first, first + count))


def model_shards(model, prompt_sets):
    """Every shard of ``model`` for ``prompt_sets``, in the order of ``all_shards()``."""
    return [
        f"{RUN}/images/{m}/{s}/{b}.tar"
        for m, s, b in generation_jobs()
        if m == model and s in prompt_sets
    ]


def classifier_shards(model):
    """Every shard of ``model`` for the classifier's prompt sets."""
    return model_shards(model, config["classifier"]["prompt_sets"])


def classifier_train_params():
    """Classifier settings that change the trained weights (not the figure or the estimate)."""
    skip = {"gradcam", "images_per_second", "models", "enabled"}
    return canonical({k: v for k, v in config["classifier"].items() if k not in skip})


def classifier_cost_message():
    """The dry run's cost estimate of one classifier training job."""
    cost = classifier_cost(config)
    rate = "assumed" if cost["throughput_assumed"] else "configured"
    return (
        f"reads {cost['images_per_epoch']:,} images per epoch, {cost['images_total']:,} in all; "
        f"about {cost['hours_per_model']:.1f} GPU-hours at {cost['images_per_second']:,.0f} "
        f"images/s ({rate})"
    )


def classifier_outputs():
    """Weights, test report and Grad-CAM figure of every classifier model."""
    return [
        path
        for model in classifier_models(config)
        for path in (
            f"{RUN}/classifier/{model}/test_report.json",
            f"{RUN}/figures/fig4_gradcam_{model}.png",
        )
    ]


# -------------------------------------------------------------------------------------------------
# Cluster resources and the jobs' environment (profiles/slurm; README "Running on a SLURM cluster")
# -------------------------------------------------------------------------------------------------
# Every rule declares mem_mb, runtime=runtime_minutes(<minutes>) and cpus_per_task (its threads);
# a GPU rule also gpu=GPU and gpu_model=gpu_model(). The SLURM executor plugin turns these into
# sbatch's --mem, -t, --cpus-per-task and --gpus=[<model>:]<n>; the partition and account come
# from the command line or the profile, never from the workflow.

import os
import re

from seedscope.errors import ConfigError

# the GPU model names that the SLURM executor plugin accepts
GPU_MODEL_NAME = re.compile(r"[A-Za-z0-9_.]+")


def runtime_minutes(minutes):
    """A runtime resource: ``minutes`` on the first attempt, twice that on the second, ...

    With ``retries`` in the profile, a job killed at its time limit is resubmitted with more
    time (generation resumes from its last completed chunk).
    """

    def runtime(wildcards, attempt):
        return minutes * attempt

    return runtime


def gpu_model(gpus=GPU):
    """``cluster.gpu_model`` for a job of ``gpus`` GPUs; None (no gpu_model resource) otherwise.

    None leaves the resource unset, so the plugin asks for ``--gpus=<n>`` (any model), or for no
    GPU when ``gpus`` is 0: a model with 0 GPUs would become ``--gpus=<model>:0``. Rules whose
    GPU count is not GPU pass theirs: ``gpu=N, gpu_model=gpu_model(N)``.
    """
    model = config["cluster"]["gpu_model"]
    if not gpus or not model:
        return None
    if not GPU_MODEL_NAME.fullmatch(model):
        raise ConfigError(
            f"config key cluster.gpu_model: {model!r} is not a GPU model name the SLURM plugin "
            "accepts (letters, digits, '_' and '.', as in the cluster's gres names, e.g. a100)"
        )
    return model


# Jobs import seedscope from this checkout, also in conda environments that do not install it.
# Snakemake puts the workflow folder on the job process's sys.path, and its script preamble
# appends that sys.path to the script's (tests/test_envs.py checks this); PYTHONPATH also carries
# the folder to shell commands, containers and sbatch jobs (the plugin submits with --export=ALL).
# Inside conda environments Snakemake drops PYTHONPATH unless given
# --conda-not-block-search-path-envvars.
_search_path = [workflow.basedir, *os.environ.get("PYTHONPATH", "").split(os.pathsep)]
os.environ.update(
    PYTHONPATH=os.pathsep.join(dict.fromkeys(p for p in _search_path if p))
)
