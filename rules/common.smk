from pathlib import Path

from seedscope.config import canonical, captioner_path
from seedscope.validate import validate_config
from seedscope.dag import Dag
from seedscope.plan import classifier_cost
from seedscope.shards import BLOCK

# Jobs on a cluster start Snakemake again: the main process has already checked the config
# against timm and diffusers (the classifier backbone, each model's scheduler and speed-ups).
validate_config(
    config,
    Path(workflow.basedir) / "schemas" / "config.schema.yaml",
    check_libraries=workflow.is_main_process,
)

# every job list, target and shared path of the DAG (seedscope/dag.py; seedscope plan counts it)
JOBS = Dag(config)  # "DAG" would shadow Snakemake's own class
RUN = JOBS.run
GPU = 0 if config["device"] == "cpu" else 1


wildcard_constraints:
    model="[A-Za-z0-9_-]+",
    set="[A-Za-z0-9_-]+",
    first="[0-9]+",
    last="[0-9]+",


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
    """COCO sets read the captions; inpaint sets the pair set; the others nothing."""
    kind = config["prompt_sets"][wildcards.set]["kind"]
    if kind == "coco":
        return {"captions": f"{RUN}/coco/captions.jsonl"}
    return {"pairs": JOBS.path("pairs")} if kind == "inpaint" else {}


def pairs_input(wildcards):
    """The pair set, for jobs of an inpaint prompt set (their images carry its masks)."""
    inpaint = config["prompt_sets"][wildcards.set]["kind"] == "inpaint"
    return {"pairs": JOBS.path("pairs")} if inpaint else {}


def inpaint_prompt_param(prompt_set):
    """The removal prompt, for removal sets only (other sets do not depend on it)."""
    spec = config["prompt_sets"][prompt_set]
    removal = spec["kind"] == "inpaint" and spec["task"] == "removal"
    return config["inpainting"]["removal_prompt"] if removal else None


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
    return JOBS.coco_input()


def seed_swap_input(wildcards):
    return model_inputs(JOBS.seed_swap_model())


def classifier_params():
    """Every classifier job's parameters: the settings that change the trained weights, and
    the studied seeds that its labels index."""
    skip = {"gradcam", "images_per_second", "models", "enabled"}
    settings = {k: v for k, v in config["classifier"].items() if k not in skip}
    return {"settings": canonical(settings), "seeds": JOBS.seeds()}


def trained_classifier_input(wildcards):
    """What evaluating a trained seed classifier reads: its shards, weights and split."""
    return {
        "shards": JOBS.classifier_shards(wildcards.model),
        "weights": JOBS.path("classifier_weights", model=wildcards.model),
        "split": JOBS.path("classifier_split", model=wildcards.model),
    }


def classifier_cost_message():
    """The dry run's cost estimate of one classifier training job."""
    cost = classifier_cost(config)
    rate = "assumed" if cost["throughput_assumed"] else "configured"
    return (
        f"reads {cost['images_per_epoch']:,} images per epoch, {cost['images_total']:,} in all; "
        f"about {cost['hours_per_model']:.1f} GPU-hours at {cost['images_per_second']:,.0f} "
        f"images/s ({rate})"
    )


def figure_params():
    """What every figure of per-seed scores draws with: the plot settings and the HPS version
    that its labels name."""
    return {
        "plots": canonical(config["plots"]),
        "hps_version": config["features"]["hps"]["version"],
    }


def figure_outputs(name, caption, category, subcategory):
    """A figure rule's outputs: the PDF, and the PNG of ``PATHS[name]`` in the report under
    ``category``/``subcategory`` with the caption ``report/<caption>``."""
    png = JOBS.pattern(name)
    return {
        "pdf": png.removesuffix(".png") + ".pdf",
        "png": in_report(png, caption, category, subcategory),
    }


def in_report(path, caption, category, subcategory=None):
    """``path`` as a file of the Snakemake report, captioned by ``report/<caption>``."""
    return report(
        path,
        caption=f"../report/{caption}",
        category=category,
        subcategory=subcategory,
    )


# -------------------------------------------------------------------------------------------------
# Cluster resources and the jobs' environment (profiles/slurm; README "Running on a SLURM cluster")
# -------------------------------------------------------------------------------------------------
# Every rule's resources are **cluster_resources(mem_mb=..., minutes=...[, gpus=GPU]): mem_mb,
# a runtime that grows with the attempt, cpus_per_task (its threads), and for a GPU rule gpu and
# gpu_model. The SLURM executor plugin turns these into sbatch's --mem, -t, --cpus-per-task and
# --gpus=[<model>:]<n>; the partition and account come from the command line or the profile,
# never from the workflow.

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
    GPU when ``gpus`` is 0: a model with 0 GPUs would become ``--gpus=<model>:0``.
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


def cluster_resources(mem_mb, minutes, gpus=None):
    """A rule's resources: ``mem_mb``, ``runtime_minutes(minutes)``, its threads as
    cpus_per_task, and for a GPU rule (``gpus`` given, 0 on a CPU run, or a function of the
    wildcards) gpu and gpu_model.
    """
    resources = {
        "mem_mb": mem_mb,
        "runtime": runtime_minutes(minutes),
        "cpus_per_task": lambda wildcards, threads: threads,
    }
    if callable(gpus):  # a function of the job's wildcards
        resources |= {
            "gpu": gpus,
            "gpu_model": lambda wildcards: gpu_model(gpus(wildcards)),
        }
    elif gpus is not None:
        resources |= {"gpu": gpus, "gpu_model": gpu_model(gpus)}
    return resources


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
