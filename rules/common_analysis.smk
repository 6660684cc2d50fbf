# Input functions and parameters of the analysis stages, the rules that read image shards: feature
# extraction, per-seed quality, style, layout, inpainting and diverse seeds (rules/features.smk,
# quality.smk, style.smk, layout.smk, inpainting.smk, diverse.smk); their job lists and paths are
# seedscope/dag.py's.
from seedscope.study import inpaint_sets
from seedscope.diverse.settings import (
    coeff_name,
    fig11_coeff,
    particle_draw,
    pg_coeffs,
    pg_settings,
    pg_support,
)
from seedscope.dag import GENERALISATION_FIGURE
from seedscope.extractors import EXTRACTORS


wildcard_constraints:
    extractor="|".join(EXTRACTORS),
    coeff="[0-9][0-9.e+-]*",


QUALITY = config["quality"]
# per-seed statistics use a GPU where the run has one, unless quality.device is cpu
QUALITY_GPU = GPU if QUALITY["device"] != "cpu" else 0


def extractor_weights_input(wildcards):
    """The tiny extractor's folder when a rule builds it (the demo); nothing otherwise."""
    tiny = config["features"][wildcards.extractor].get("weights") == "tiny"
    return {"weights": f"{RUN}/models/extractors/{wildcards.extractor}"} if tiny else {}


def style_sample(wildcards):
    """The prompts a style job reads (count and seed): the style stage's analysis sample, or on
    diverse.style_set the diverse seeds' evaluation sample; None for other extractors.
    """
    if wildcards.extractor != "style":
        return None
    if wildcards.set in config["style"]["prompt_sets"]:
        return style_sample_settings()
    diverse = config["diverse"]
    return {"prompts": diverse["style_prompts"], "sample_seed": diverse["seed"]}


# OCR runs on onnxruntime's CPU build (envs/features.yaml): its jobs ask for no GPU.
CPU_EXTRACTORS = {"ocr"}


def extractor_device(wildcards):
    """The device an extractor job runs on: the config's, or cpu for a CPU-only extractor."""
    return "cpu" if wildcards.extractor in CPU_EXTRACTORS else config["device"]


def extractor_gpus(wildcards):
    """The GPUs an extractor job asks for: GPU, or none for a CPU-only extractor."""
    return 0 if wildcards.extractor in CPU_EXTRACTORS else GPU


def extractor_params():
    """The parameters of a job that runs an extractor: its name, settings and device."""
    return {
        "extractor": lambda wildcards: wildcards.extractor,
        "settings": lambda wildcards: canonical(
            config["features"][wildcards.extractor]
        ),
        "device": extractor_device,
    }


def reference_images_input(wildcards):
    """The COCO images (zip, folder or demo folder) whose captions formed the prompt set."""
    return coco_images_input(wildcards) | {
        "prompts": JOBS.path("prompts", set=wildcards.set)
    }


def perseed_block_input(wildcards):
    """One shard's Inception feature table, its prompts and the set's reference features."""
    return {
        "features": JOBS.path("features", extractor="inception", **wildcards),
        "prompts": JOBS.path("prompts", set=wildcards.set),
        "reference": JOBS.path("reference", extractor="inception", set=wildcards.set),
    }


def perseed_table_input(wildcards):
    """The FID blocks where FID is measured on this set, each score's feature tables, and
    the prompts (the scores average the first quality.score_prompts of them)."""
    return JOBS.perseed_table_inputs(wildcards.model, wildcards.set) | {
        "prompts": JOBS.path("prompts", set=wildcards.set)
    }


def golden_input(wildcards):
    inputs = {
        "main": JOBS.path(
            "perseed_table", model=wildcards.model, set=QUALITY["fid_set"]
        )
    }
    if QUALITY["generalisation_set"]:
        second = QUALITY["generalisation_set"]
        inputs["second"] = JOBS.path("perseed_table", model=wildcards.model, set=second)
    return inputs


def generalisation_input(wildcards):
    """Rule fig_generalisation's inputs; refuses a figure number that is not its metric's."""
    if GENERALISATION_FIGURE[wildcards.metric] != wildcards.number:
        raise ValueError(
            f"fig{wildcards.number}_{wildcards.metric}_generalisation is not a figure of this "
            "workflow: the generalisation figures are "
            + ", ".join(
                f"fig{n}_{m}_generalisation" for m, n in GENERALISATION_FIGURE.items()
            )
        )
    models = JOBS.quality_models()
    table = lambda model, prompt_set: JOBS.path(
        "perseed_table", model=model, set=prompt_set
    )
    return {
        "first": [table(m, QUALITY["fid_set"]) for m in models],
        "second": [table(m, QUALITY["generalisation_set"]) for m in models],
        "generalisation": [JOBS.path("generalisation", model=m) for m in models],
        "golden": [JOBS.path("golden", model=m) for m in models],
    }


# -- style, layout and inpainting (rules/style.smk, layout.smk, inpainting.smk) --
STYLE = config["style"]
LAYOUT = config["layout"]
INPAINTING = config["inpainting"]
# the inpainting models' names, exactly: tables/text_<model>.csv and text_<model>_<task>.csv
# split only one way ("(?!)" matches nothing)
INPAINTERS = "|".join(re.escape(m) for m in JOBS.inpainting_models()) or "(?!)"


def style_thresholds():
    """Every Thresholds field: how the measures were taken, and the flag thresholds."""
    return canonical(config["features"]["style"]["measure"] | STYLE["thresholds"])


def style_shards(wildcards):
    """The shards of the style sets of ``model`` (figures read example images from them)."""
    return JOBS.shards(wildcards.model, STYLE["prompt_sets"])


def inpainting_resolution():
    """The resolution the pairs are stored at: the inpainting models' (checked equal)."""
    models = JOBS.inpainting_models()
    return config["models"][models[0]]["resolution"] if models else None


def inpaint_tasks(wildcards):
    """The inpaint prompt sets (tasks) that this model renders, by name (params must not
    depend on the order a config file lists its keys in)."""
    return sorted(inpaint_sets(config, wildcards.model))


DIVERSE = config["diverse"]


def diverse_params():
    """The settings of the diverse-seed tables: FPS, the evaluation prompts, the intervals."""
    keys = ("c", "repeats", "seed", "random_draws", "style_prompts", "split_seed")
    keys += ("style_features",)
    return canonical(
        {k: DIVERSE[k] for k in (*keys, "confidence", "resamples", "style_set")}
        | {"layout_set": LAYOUT["prompt_set"], "style_sample": style_sample_settings()}
        | ({"map": STYLE["map"]} if DIVERSE["style_features"] == "map" else {})
    )


def style_sample_settings():
    """The style stage's analysis prompts: how many, and the seed of the sample."""
    return {k: STYLE[k] for k in ("prompts", "sample_seed")}


def evaluation_params():
    """Which prompts of a set are the diverse study's evaluation prompts
    (seedscope.diverse.split.evaluation_ids)."""
    return canonical(
        {
            "style_prompts": DIVERSE["style_prompts"],
            "seed": DIVERSE["seed"],
            "layout_set": LAYOUT["prompt_set"],
            "split_seed": DIVERSE["split_seed"],
        }
    )


def particle_input(wildcards):
    """The model (tiny folder) and the prompts of a Particle Guidance shard; a coefficient
    that is not configured is refused."""
    configured = [coeff_name(c) for c in pg_coeffs(config)]
    if wildcards.coeff not in configured:
        raise ValueError(
            f"particle/{wildcards.model}/{wildcards.set}/coeff-{wildcards.coeff}: coefficient "
            f"{wildcards.coeff} is not in diverse.particle_guidance.coeffs (or 0, the control); "
            f"configured: {configured}"
        )
    return model_inputs(wildcards.model) | {
        "prompts": JOBS.path("prompts", set=wildcards.set)
    }


def fig11_input(wildcards):
    """The diverse seed sets, every seed's image of both evaluation sets (style rows show the
    style set's prompts, layout rows the layout set's), and the model's Particle Guidance
    shards of both at fig 11's coefficient where Particle Guidance renders the model."""
    sets = JOBS.evaluation_sets()
    inputs = {
        "sets": JOBS.path("diverse_seeds", model=wildcards.model),
        "style_shards": JOBS.shards(wildcards.model, [sets["style"]]),
        "layout_shards": JOBS.shards(wildcards.model, [sets["layout"]]),
        "prompts": [JOBS.path("prompts", set=sets[g]) for g in ("style", "layout")],
    }
    if wildcards.model in JOBS.pg_models():
        coeff = coeff_name(fig11_coeff(config))
        inputs["particle"] = [
            JOBS.path("particle_shard", model=wildcards.model, set=sets[g], coeff=coeff)
            for g in ("style", "layout")
        ]
    return inputs


def tiny_layout_proposals(wildcards):
    """The tiny segmenter proposes the layout set's objects (so the demo finds them)."""
    if wildcards.extractor != "layout":
        return None
    spec = config["prompt_sets"].get(LAYOUT["prompt_set"], {})
    labels = config["features"]["layout"]["labels"]
    return sorted({labels.get(o, o) for o in spec.get("objects", [])})


def quality_bank_param(wildcards, value):
    """A quality setting of a seed bank; None for an inpainting model's bank, which has text
    statistics only (so quality settings do not rebuild it)."""
    return None if wildcards.model in JOBS.inpainting_models() else value
