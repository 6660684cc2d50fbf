# Helpers of the feature and per-seed quality rules (rules/features.smk, rules/quality.smk).
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


def feature_table(extractor, model, prompt_set, block):
    """The feature table of one shard (rule extract_features)."""
    return f"{RUN}/features/{extractor}/{model}/{prompt_set}/{block}.npz"


def feature_tables(extractor, model, prompt_set):
    """Every seed block's feature table of one (extractor, model, prompt set)."""
    return [
        feature_table(extractor, model, prompt_set, block_name(first, last))
        for first, last in seed_blocks(config)
    ]


def reference_images_input(wildcards):
    """The COCO images (zip, folder or demo folder) whose captions formed the prompt set."""
    return coco_images_input(wildcards) | {
        "prompts": f"{RUN}/prompts/{wildcards.set}.jsonl"
    }


QUALITY = config["quality"]
# per-seed statistics use a GPU where the run has one, unless quality.device is cpu
QUALITY_GPU = GPU if QUALITY["device"] != "cpu" else 0


def perseed_block_input(wildcards):
    extractor = EXTRACTOR_OF[wildcards.metric]
    block = f"seeds-{wildcards.first}-{wildcards.last}"
    inputs = {
        "features": feature_table(extractor, wildcards.model, wildcards.set, block),
        "prompts": f"{RUN}/prompts/{wildcards.set}.jsonl",
    }
    if wildcards.metric == "fid":
        inputs["reference"] = f"{RUN}/reference/inception/{wildcards.set}.npz"
    return inputs


def perseed_blocks(metric, model, prompt_set):
    return [
        f"{RUN}/quality/{metric}/{model}/{prompt_set}/{block_name(first, last)}.npz"
        for first, last in seed_blocks(config)
    ]


def perseed_table_input(wildcards):
    """Block files of the metrics scored on this set: FID/KID where Inception runs, HPS where HPS."""
    sets = quality_sets(config)
    return {
        metric: perseed_blocks(metric, wildcards.model, wildcards.set)
        for metric, extractor in EXTRACTOR_OF.items()
        if wildcards.set in sets[extractor]
    }


def perseed_table(model, prompt_set):
    return f"{RUN}/tables/perseed_{model}_{prompt_set}.csv"


def golden_input(wildcards):
    inputs = {"main": perseed_table(wildcards.model, QUALITY["fid_set"])}
    if QUALITY["generalisation_set"]:
        inputs["second"] = perseed_table(wildcards.model, QUALITY["generalisation_set"])
    return inputs


def scored_sets():
    """Every prompt set with a per-seed table (the union of the extractors' sets)."""
    return list(
        dict.fromkeys(s for names in quality_sets(config).values() for s in names)
    )


def table1_jobs():
    """One entry per (model, prompt set, metric) row pair of Table 1, with its input files."""
    jobs = []
    for model in quality_models(config):
        for metric, sets in (
            ("fid", QUALITY["table1"]["fid_sets"]),
            ("hps", QUALITY["table1"]["hps_sets"]),
        ):
            for prompt_set in sets:
                extractor = EXTRACTOR_OF[metric]
                jobs.append(
                    {
                        "model": model,
                        "set": prompt_set,
                        "metric": metric,
                        "tables": feature_tables(extractor, model, prompt_set),
                        "prompts": f"{RUN}/prompts/{prompt_set}.jsonl",
                        "golden": f"{RUN}/tables/golden_{model}.csv",
                        "reference": (
                            f"{RUN}/reference/inception/{prompt_set}.npz"
                            if metric == "fid"
                            else None
                        ),
                    }
                )
    return jobs


def table1_input(wildcards):
    files = []
    for job in table1_jobs():
        files += job["tables"] + [job["prompts"], job["golden"]]
        files += [job["reference"]] if job["reference"] else []
    return sorted(set(files))


GENERALISATION_FIGURE = {"fid": "6", "hps": "7"}  # paper fig. 6 is FID's, fig. 7 HPS's


def generalisation_figure(metric):
    """The path of the generalisation figure (fig. 6 or 7) of ``metric``."""
    return (
        f"{RUN}/figures/fig{GENERALISATION_FIGURE[metric]}_{metric}_generalisation.png"
    )


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
    models = quality_models(config)
    return {
        "first": [perseed_table(m, QUALITY["fid_set"]) for m in models],
        "second": [perseed_table(m, QUALITY["generalisation_set"]) for m in models],
        "generalisation": [f"{RUN}/tables/generalisation_{m}.csv" for m in models],
        "golden": [f"{RUN}/tables/golden_{m}.csv" for m in models],
    }


def quality_outputs():
    """Every per-seed table, figure, Table 1 and seed bank of the run."""
    models = quality_models(config)
    if not models:
        return []
    outputs = [perseed_table(m, s) for m in models for s in scored_sets()]
    outputs += [f"{RUN}/figures/fig5_best_worst_seeds_{m}.png" for m in models]
    outputs += [f"{RUN}/seedbank/{m}.json" for m in models]
    if QUALITY["generalisation_set"]:
        outputs += [generalisation_figure(m) for m in GENERALISATION_FIGURE]
    if table1_jobs():
        outputs.append(f"{RUN}/tables/table1_random_vs_golden.csv")
    return outputs
