"""The workflow's DAG, described once: which jobs a config schedules and where their files lie.

The rules (``rules/*.smk``) take their inputs, outputs and targets from this module, and
``seedscope plan`` counts its jobs, and adds up the images each job renders, extracts or reads
(``Dag.images``), from the same lists, so the plan and ``snakemake -n`` cannot disagree. Pure
Python over a validated config: no Snakemake, no torch.

Paths are written once, in ``PATHS``, relative to the run folder and with the rules' wildcard
names: ``Dag.pattern`` gives a rule its output pattern, ``Dag.path`` fills it for one job.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

from seedscope.config import run_dir
from seedscope.diverse.settings import coeff_name, pg_coeffs, pg_models
from seedscope.diverse.split import layout_split, style_evaluation
from seedscope.prompts.synthetic import make_synthetic_prompts
from seedscope.shards import BLOCK, block_name
from seedscope.study import (
    classifier_models,
    diverse_models,
    inpaint_sets,
    inpainting_models,
    layout_models,
    model_prompt_sets,
    prompt_set_sizes,
    quality_models,
    quality_sets,
    seed_blocks,
    seed_range,
    style_models,
)

# Table 1's metrics, the paper's, and the extractor each reads: FID and HPS
TABLE1_METRICS = {"fid": "inception", "hps": "hps"}
# the paper's figure number of each generalisation figure: fig. 6 is FID's, fig. 7 HPS's
GENERALISATION_FIGURE = {"fid": "6", "hps": "7"}
# Table 2's held-out measures, read on every image of the evaluation prompts: the quality
# column (HPS) and the image embedding no seed selection uses (DINO)
EVALUATION_EXTRACTORS = ("hps", "dino")
# The rules whose jobs render images, extract features from them, or read them (captioning):
# ``Dag.image_jobs`` lists a rule's jobs and ``Dag.images`` counts each job's images.
IMAGE_RULES = (
    "generate",
    "particle_guidance",
    "extract_features",
    "extract_evaluation_features",
    "extract_particle_features",
    "coco_captions",
)

PATHS = {
    "prompts": "prompts/{set}.jsonl",
    "shard": f"images/{{model}}/{{set}}/{BLOCK}.tar",
    "manifest": f"images/{{model}}/{{set}}/{BLOCK}.json",
    "generate_benchmark": f"benchmarks/generate/{{model}}/{{set}}/{BLOCK}.tsv",
    "features": f"features/{{extractor}}/{{model}}/{{set}}/{BLOCK}.npz",
    "reference": "reference/{extractor}/{set}.npz",
    "perseed_block": f"quality/{{metric}}/{{model}}/{{set}}/{BLOCK}.npz",
    "perseed_table": "tables/perseed_{model}_{set}.csv",
    "perseed_replicates": "quality/perseed_{model}_{set}.npz",
    "golden": "tables/golden_{model}.csv",
    "generalisation": "tables/generalisation_{model}.csv",
    "fig5": "figures/fig5_best_worst_seeds_{model}.png",
    "fig_generalisation": "figures/fig{number}_{metric}_generalisation.png",
    "table1": "tables/table1_random_vs_golden.csv",
    "golden_matrix": "tables/golden_matrix.csv",
    "table1b": "tables/table1b_quality_per_render.csv",
    "fig_best_of_n": "figures/fig_best_of_n.png",
    "seedbank": "seedbank/{model}.json",
    "classifier_weights": "classifier/{model}/model.safetensors",
    "classifier_split": "classifier/{model}/split.json",
    "classifier_report": "classifier/{model}/test_report.json",
    "fig4": "figures/fig4_gradcam_{model}.png",
    "fig2": "figures/fig2_seed_swap.png",
    "run_summary": "tables/run_summary.csv",
    "style_table": "tables/style_rates_{model}.csv",
    "style_map": "tables/style_map_{model}.csv",
    "fig8": "figures/fig8_style_map_{model}.png",
    "fig9": "figures/fig9_style_seeds_{model}.png",
    "layout_table": "tables/layout_means_{model}.csv",
    "layout_variance": "tables/layout_variance_{model}.csv",
    "fig10": "figures/fig10_layout_{model}.png",
    "pairs": "inpainting/pairs",
    "text_table": "tables/text_{model}.csv",
    "text_task_table": "tables/text_{model}_{set}.csv",
    "fig12": "figures/fig12_inpainting_text_{model}.png",
    "particle_shard": "particle/{model}/{set}/coeff-{coeff}.tar",
    "particle_manifest": "particle/{model}/{set}/coeff-{coeff}.json",
    "particle_features": "particle/features/{extractor}/{model}/{set}/coeff-{coeff}.npz",
    "evaluation_features": f"diverse/features/{{extractor}}/{{model}}/{{set}}/{BLOCK}.npz",
    "diverse_seeds": "tables/diverse_seeds_{model}.json",
    "table2": "tables/table2_diverse_seeds.csv",
    "fig11": "figures/fig11_diverse_seeds_{model}.png",
    "fig_diversity_quality": "figures/diversity_quality.png",
}


def block_bounds(config: dict[str, Any]) -> list[dict[str, str]]:
    """The ``first``/``last`` wildcards of every seed block, as the block names spell them."""
    return [
        dict(zip(("first", "last"), block_name(first, last).split("-")[1:], strict=True))
        for first, last in seed_blocks(config)
    ]


class Dag:
    """The jobs and files of one validated config."""

    def __init__(self, config: dict[str, Any]):
        self.config = config
        self.run = run_dir(config)
        self.quality = config["quality"]
        self.blocks = block_bounds(config)
        self._style_evaluation_sizes: dict[str, int] = {}

    # -- paths ------------------------------------------------------------------------------
    def pattern(self, name: str) -> str:
        """The path pattern of ``PATHS[name]`` with its wildcards left for Snakemake."""
        return f"{self.run}/{PATHS[name]}"

    def path(self, name: str, **wildcards: str) -> str:
        """The path of ``PATHS[name]`` for one job's wildcards."""
        return f"{self.run}/{PATHS[name].format(**wildcards)}"

    def seeds(self) -> list[int]:
        """Every studied seed, ascending (the seed classifier's labels index this list)."""
        return list(seed_range(self.config))

    # -- models, prompts, generation -----------------------------------------------------
    def tiny_model_folders(self) -> list[str]:
        """The folders of the tiny models that a rule builds (the demo's models)."""
        return [spec["weights"] for spec in self.config["models"].values() if spec["tiny"]]

    def prompt_sets(self) -> list[str]:
        """Every prompt set some model renders, in config order."""
        models = self.config["models"]
        return list(dict.fromkeys(s for m in models for s in model_prompt_sets(self.config, m)))

    def coco_input(self) -> dict[str, str]:
        """What captioning (and the FID reference) reads: a captions file when one is given,
        else the COCO images (the downloaded zip, the demo's folder, or the configured path)."""
        coco = self.config["coco"]
        if coco["captions_file"]:
            return {"captions_file": coco["captions_file"]}
        if coco["images"] == "download":
            return {"images": f"{self.config['results_dir']}/downloads/train2017.zip"}
        if coco["images"] == "demo":
            return {"images": f"{self.run}/coco/demo-images"}
        return {"images": coco["path"]}

    def coco_source(self) -> str | None:
        """Where the COCO captions come from: captions_file, download, demo or path; None
        when no rendered prompt set is a COCO set."""
        kinds = {self.config["prompt_sets"][s]["kind"] for s in self.prompt_sets()}
        if "coco" not in kinds:
            return None
        coco = self.config["coco"]
        return "captions_file" if coco["captions_file"] else coco["images"]

    def generation_jobs(self) -> list[dict[str, str]]:
        """The wildcards of every generation job: models x their prompt sets x seed blocks."""
        return [
            {"model": model, "set": prompt_set, **block}
            for model in self.config["models"]
            for prompt_set in model_prompt_sets(self.config, model)
            for block in self.blocks
        ]

    def shards(self, model: str | None = None, prompt_sets: list[str] | None = None) -> list[str]:
        """The shards of ``model`` (all models when None) for ``prompt_sets`` (all when None)."""
        return [
            self.path("shard", **job)
            for job in self.generation_jobs()
            if model in (None, job["model"]) and (prompt_sets is None or job["set"] in prompt_sets)
        ]

    def generation_benchmarks(self) -> list[str]:
        """The benchmark file of every generation job, in the order of ``shards()``."""
        return [self.path("generate_benchmark", **job) for job in self.generation_jobs()]

    def seed_swap_model(self) -> str:
        """The model of the seed-swap study (fig. 2): the configured one, else the first."""
        return self.config["seed_swap"]["model"] or next(iter(self.config["models"]))

    # -- seed classifier ---------------------------------------------------------------------
    def classifier_models(self) -> list[str]:
        """The models that get a seed classifier."""
        return classifier_models(self.config)

    def classifier_shards(self, model: str) -> list[str]:
        """Every shard of ``model`` for the classifier's prompt sets."""
        return self.shards(model, self.config["classifier"]["prompt_sets"])

    # -- features and per-seed quality -----------------------------------------------------
    def quality_models(self) -> list[str]:
        """The models scored per seed (those that render the FID set)."""
        return quality_models(self.config)

    def extractor_sets(self) -> dict[str, list[str]]:
        """extractor -> the prompt sets whose images it reads (none without scored models)."""
        sets = quality_sets(self.config)
        return sets if self.quality_models() else {name: [] for name in sets}

    def scored_sets(self) -> list[str]:
        """Every prompt set with a per-seed table (the union of the extractors' sets)."""
        return list(dict.fromkeys(s for names in self.extractor_sets().values() for s in names))

    def feature_tables(self, extractor: str, model: str, prompt_set: str) -> list[str]:
        """Every seed block's feature table of one (extractor, model, prompt set)."""
        wildcards = {"extractor": extractor, "model": model, "set": prompt_set}
        return [self.path("features", **wildcards, **block) for block in self.blocks]

    def perseed_block_jobs(self) -> list[dict[str, str]]:
        """The wildcards of every per-seed FID block job (the expensive statistic, one job per
        seed block); each reads one Inception feature table. The scores' per-seed means cost
        seconds and are computed by the per-seed table job itself."""
        return [
            {"metric": "fid", "model": model, "set": prompt_set, **block}
            for model in self.quality_models()
            for prompt_set in self.extractor_sets()["inception"]
            for block in self.blocks
        ]

    def score_feature_jobs(self) -> list[dict[str, str]]:
        """The wildcards of every score's extraction job: each of ``quality.scores`` on its
        sets, every seed block of every scored model."""
        sets = self.extractor_sets()
        return [
            {"extractor": score, "model": model, "set": prompt_set, **block}
            for model in self.quality_models()
            for score in self.quality["scores"]
            for prompt_set in sets[score]
            for block in self.blocks
        ]

    def feature_jobs(self) -> list[dict[str, str]]:
        """The wildcards of every ``extract_features`` job: the Inception table of each FID
        block and each score's tables, then the style and layout jobs, then OCR."""
        inception = [
            {"extractor": "inception"} | {k: v for k, v in job.items() if k != "metric"}
            for job in self.perseed_block_jobs()
        ]
        return inception + self.score_feature_jobs() + self.appearance_jobs() + self.ocr_jobs()

    def perseed_blocks(self, model: str, prompt_set: str) -> list[str]:
        """Every seed block's per-seed FID and KID of one (model, prompt set)."""
        wildcards = {"metric": "fid", "model": model, "set": prompt_set}
        return [self.path("perseed_block", **wildcards, **block) for block in self.blocks]

    def perseed_table_metrics(self, prompt_set: str) -> list[str]:
        """The metrics measured on ``prompt_set``: FID (and KID) where Inception runs, each
        score where it runs."""
        sets = self.extractor_sets()
        fid = ["fid"] if prompt_set in sets["inception"] else []
        return fid + [s for s in self.quality["scores"] if prompt_set in sets[s]]

    def perseed_table_inputs(self, model: str, prompt_set: str) -> dict[str, list[str]]:
        """What one per-seed table reads: the FID blocks where FID is measured, and each
        score's feature tables (its per-seed means are computed there)."""
        return {
            metric: (
                self.perseed_blocks(model, prompt_set)
                if metric == "fid"
                else self.feature_tables(metric, model, prompt_set)
            )
            for metric in self.perseed_table_metrics(prompt_set)
        }

    def perseed_tables(self, model: str) -> list[str]:
        """The per-seed table of every scored prompt set of ``model``."""
        return [self.path("perseed_table", model=model, set=s) for s in self.scored_sets()]

    def generalisation_figures(self) -> list[str]:
        """Figs 6 (FID) and 7 (HPS) when a generalisation set is configured."""
        if not (self.quality_models() and self.quality["generalisation_set"]):
            return []
        return [
            self.path("fig_generalisation", number=number, metric=metric)
            for metric, number in GENERALISATION_FIGURE.items()
        ]

    def table1_jobs(self) -> list[dict[str, Any]]:
        """One entry per (model, prompt set, metric) row pair of Table 1, with its input files."""
        table1 = self.quality["table1"]
        jobs = []
        for model in self.quality_models():
            for metric, extractor in TABLE1_METRICS.items():
                for prompt_set in table1[f"{metric}_sets"]:
                    reference = self.path("reference", extractor="inception", set=prompt_set)
                    jobs.append(
                        {
                            "model": model,
                            "set": prompt_set,
                            "metric": metric,
                            "tables": self.feature_tables(extractor, model, prompt_set),
                            "prompts": self.path("prompts", set=prompt_set),
                            "golden": self.path("golden", model=model),
                            "reference": reference if metric == "fid" else None,
                        }
                    )
        return jobs

    def table1_inputs(self) -> list[str]:
        """Every file Table 1 reads, once each, sorted."""
        files = set()
        for job in self.table1_jobs():
            files.update(job["tables"] + [job["prompts"], job["golden"]])
            files.update([job["reference"]] if job["reference"] else [])
        return sorted(files)

    def held_out_sets(self) -> list[str]:
        """The scored prompt sets other than the FID set, on which golden seeds are chosen:
        where the golden-seed matrix judges them."""
        return [s for s in self.scored_sets() if s != self.quality["fid_set"]]

    def golden_matrix_inputs(self) -> dict[str, list[str]]:
        """What the golden-seed matrix reads: each model's per-seed table on the FID set (the
        selection) and its per-seed replicates on every held-out set (the evaluation)."""
        models, fid_set = self.quality_models(), self.quality["fid_set"]
        return {
            "selection": [self.path("perseed_table", model=m, set=fid_set) for m in models],
            "replicates": [
                self.path("perseed_replicates", model=m, set=s)
                for m in models
                for s in self.held_out_sets()
            ],
        }

    def table1b_tables(self) -> dict[str, dict[str, dict[str, list[str]]]]:
        """model -> Table 1b's set -> score -> its feature tables (one per seed block)."""
        best = self.quality["best_of_n"]
        return {
            model: {
                prompt_set: {
                    score: self.feature_tables(score, model, prompt_set)
                    for score in self.quality["scores"]
                }
                for prompt_set in best["sets"]
            }
            for model in self.quality_models()
        }

    # -- style and layout (paper section 4.3) ------------------------------------------------
    def style_models(self) -> list[str]:
        """The models whose seeds get style rates, a style map and figs 8-9."""
        return style_models(self.config)

    def layout_models(self) -> list[str]:
        """The models whose seeds get layout statistics and fig 10."""
        return layout_models(self.config)

    def appearance_jobs(self) -> list[dict[str, str]]:
        """The wildcards of every style and layout extraction job (one per shard read)."""
        style, layout = self.config["style"], self.config["layout"]
        stages = [("style", m, s) for m in self.style_models() for s in style["prompt_sets"]]
        stages += [("layout", m, layout["prompt_set"]) for m in self.layout_models()]
        stages += [("style", m, self.config["diverse"]["style_set"]) for m in self.diverse_models()]
        return [
            {"extractor": extractor, "model": model, "set": prompt_set, **block}
            for extractor, model, prompt_set in stages
            for block in self.blocks
        ]

    def style_tables(self, model: str) -> list[str]:
        """Every style feature table of ``model``: its analysis sets x seed blocks."""
        sets = self.config["style"]["prompt_sets"]
        return [t for s in sets for t in self.feature_tables("style", model, s)]

    def layout_tables(self, model: str) -> list[str]:
        """Every layout feature table of ``model``: the synthetic set x seed blocks."""
        return self.feature_tables("layout", model, self.config["layout"]["prompt_set"])

    def appearance_outputs(self) -> list[str]:
        """The per-seed style and layout tables and figs 8-10 of every studied model."""
        style = ("style_table", "style_map", "fig8", "fig9")
        layout = ("layout_table", "layout_variance", "fig10")
        return [self.path(n, model=m) for m in self.style_models() for n in style] + [
            self.path(n, model=m) for m in self.layout_models() for n in layout
        ]

    def seedbank_inputs(self, model: str) -> dict[str, Any]:
        """What ``model``'s seed bank reads: per-seed tables, golden seeds, and the style and
        layout tables where the model is studied there."""
        if model in self.inpainting_models():
            return {"text": self.path("text_table", model=model)}
        inputs: dict[str, Any] = {
            "tables": self.perseed_tables(model),
            "golden": self.path("golden", model=model),
        }
        if model in self.style_models():
            inputs["style"] = self.path("style_table", model=model)
            inputs["style_map"] = self.path("style_map", model=model)
        if model in self.layout_models():
            inputs["layout"] = self.path("layout_table", model=model)
        if model in self.diverse_models():
            inputs["diverse"] = self.path("diverse_seeds", model=model)
        return inputs

    # -- inpainting text artifacts (paper section 4.5) ----------------------------------------
    def inpainting_models(self) -> list[str]:
        """The inpainting models whose seeds get text statistics, fig. 12 and a seed bank."""
        return inpainting_models(self.config)

    def annotations_input(self) -> dict[str, str]:
        """The COCO instance annotations the pair set reads (none for the demo's masks)."""
        annotations = self.config["inpainting"]["annotations"]
        if annotations == "demo":
            return {}
        if annotations == "download":
            downloads = f"{self.config['results_dir']}/downloads"
            return {"annotations": f"{downloads}/annotations_trainval2017.zip"}
        return {"annotations": annotations}

    def pair_images_input(self) -> dict[str, str]:
        """The images the pairs are cut from: COCO train2017 (zip or folder) or the demo's."""
        images = self.coco_input().get("images")
        return {"images": images if images else self.config["coco"]["path"]}

    def ocr_jobs(self) -> list[dict[str, str]]:
        """The wildcards of every OCR job: inpainting models x their tasks x seed blocks."""
        return [
            {"extractor": "ocr", "model": model, "set": task, **block}
            for model in self.inpainting_models()
            for task in inpaint_sets(self.config, model)
            for block in self.blocks
        ]

    def text_feature_tables(self, model: str) -> list[str]:
        """Every OCR feature table of ``model``: its tasks x seed blocks."""
        return [
            t
            for s in inpaint_sets(self.config, model)
            for t in self.feature_tables("ocr", model, s)
        ]

    def inpainting_outputs(self) -> list[str]:
        """The per-seed text tables (both tasks, and one per task), fig. 12 and seed bank of
        every inpainting model."""
        names = ("text_table", "fig12", "seedbank")
        return [self.path(n, model=m) for m in self.inpainting_models() for n in names] + [
            self.path("text_task_table", model=m, set=task)
            for m in self.inpainting_models()
            for task in inpaint_sets(self.config, m)
        ]

    # -- diverse seeds (paper section 4.4) ------------------------------------------------------
    def diverse_models(self) -> list[str]:
        """The models compared in Table 2."""
        return diverse_models(self.config)

    def pg_models(self) -> list[str]:
        """The compared models that Particle Guidance renders."""
        return pg_models(self.config)

    def evaluation_sets(self) -> dict[str, str]:
        """extractor -> the prompt set of its evaluation prompts (style: a sample of
        diverse.style_set; layout: the evaluation half of the synthetic set)."""
        return {
            "style": self.config["diverse"]["style_set"],
            "layout": self.config["layout"]["prompt_set"],
        }

    def particle_jobs(self) -> list[dict[str, str]]:
        """The wildcards of every Particle Guidance shard: PG models x evaluation sets x
        coefficients (the control, 0, first)."""
        sets = list(dict.fromkeys(self.evaluation_sets().values()))
        coeffs = [coeff_name(c) for c in pg_coeffs(self.config)]
        return [
            {"model": m, "set": s, "coeff": c}
            for m in self.pg_models()
            for s in sets
            for c in coeffs
        ]

    def evaluation_extractors(self, prompt_set: str) -> list[str]:
        """The extractors Table 2 reads on ``prompt_set``'s evaluation images: its paper feature
        (style on the style set, layout on the layout set), HPS and DINO."""
        own = [e for e, s in self.evaluation_sets().items() if s == prompt_set]
        return own + list(EVALUATION_EXTRACTORS)

    def particle_feature_jobs(self) -> list[dict[str, str]]:
        """Each PG shard's features: every extractor Table 2 reads on its set."""
        return [
            {"extractor": e} | job
            for job in self.particle_jobs()
            for e in self.evaluation_extractors(job["set"])
        ]

    def evaluation_feature_jobs(self) -> list[dict[str, str]]:
        """HPS and DINO on every seed's images of the evaluation prompts (one job per shard)."""
        sets = list(dict.fromkeys(self.evaluation_sets().values()))
        return [
            {"extractor": e, "model": m, "set": s, **block}
            for m in self.diverse_models()
            for s in sets
            for e in EVALUATION_EXTRACTORS
            for block in self.blocks
        ]

    def table2_inputs(self) -> dict[str, list[str]]:
        """What Table 2 reads, per kind, for every compared model in order."""
        models, style_set = self.diverse_models(), self.config["diverse"]["style_set"]
        return {
            "seeds": [self.path("diverse_seeds", model=m) for m in models],
            "style": [t for m in models for t in self.feature_tables("style", m, style_set)],
            "layout": [t for m in models for t in self.layout_tables(m)],
            "evaluation": [
                self.path("evaluation_features", **j)
                for j in self.evaluation_feature_jobs()
                if j["model"] in models
            ],
            "particle": [self.path("particle_features", **j) for j in self.particle_feature_jobs()],
            "prompts": [self.path("prompts", set=s) for s in self.evaluation_sets().values()],
        }

    def diverse_outputs(self) -> list[str]:
        """Table 2, fig. 11 and the diverse seed sets of every compared model."""
        models = self.diverse_models()
        if not models:
            return []
        return [self.path("table2"), self.path("fig_diversity_quality")] + [
            self.path(n, model=m) for m in models for n in ("diverse_seeds", "fig11")
        ]

    # -- images per job ----------------------------------------------------------------------
    @cached_property
    def set_sizes(self) -> dict[str, int]:
        """prompt set -> its number of prompts."""
        return prompt_set_sizes(self.config)

    def image_jobs(self, rule: str) -> list[dict[str, str]]:
        """The wildcards of every job of ``rule``, one of ``IMAGE_RULES``."""
        if rule == "coco_captions":
            return [{}] if self.coco_source() else []
        return {
            "generate": self.generation_jobs,
            "particle_guidance": self.particle_jobs,
            "extract_features": self.feature_jobs,
            "extract_evaluation_features": self.evaluation_feature_jobs,
            "extract_particle_features": self.particle_feature_jobs,
        }[rule]()

    def images(self, rule: str, job: dict[str, str]) -> int:
        """The images that one job of ``rule`` (its wildcards ``job``) renders (generate,
        particle_guidance), extracts features from (the extract rules) or reads (coco_captions:
        the COCO images it captions, none from a captions file)."""
        if rule == "coco_captions":
            coco = self.config["coco"]
            return 0 if coco["captions_file"] else coco["n_images"]
        if rule in ("particle_guidance", "extract_particle_features"):
            return self.config["diverse"]["c"] * self.evaluation_prompts[job["set"]]
        seeds = int(job["last"]) - int(job["first"]) + 1
        return seeds * self.job_prompts(rule, job)

    def job_prompts(self, rule: str, job: dict[str, str]) -> int:
        """The prompts of its set whose images one seed-block job renders or reads: all of
        them, but a style job reads a sample (``style.prompts`` on the style stage's sets, the
        style evaluation sample on ``diverse.style_set``) and an evaluation job the evaluation
        prompts."""
        prompt_set = job["set"]
        if rule == "extract_evaluation_features":
            return self.evaluation_prompts[prompt_set]
        if rule == "extract_features" and job["extractor"] == "style":
            style = self.config["style"]
            if prompt_set in style["prompt_sets"]:
                return style["prompts"]
            return self.style_evaluation_prompts(prompt_set)
        return self.set_sizes[prompt_set]

    def style_evaluation_prompts(self, prompt_set: str) -> int:
        """The size of ``seedscope.diverse.split.style_evaluation``'s sample of ``prompt_set``
        (computed once per set: the plan asks for it for every job)."""
        if prompt_set not in self._style_evaluation_sizes:
            ids = [str(i) for i in range(self.set_sizes[prompt_set])]
            diverse = self.config["diverse"]
            sample = style_evaluation(ids, diverse["style_prompts"], diverse["seed"])
            self._style_evaluation_sizes[prompt_set] = len(sample)
        return self._style_evaluation_sizes[prompt_set]

    @cached_property
    def evaluation_prompts(self) -> dict[str, int]:
        """prompt set -> its number of evaluation prompts, chosen as ``evaluation_ids``
        (``seedscope.diverse.split``) chooses them: the evaluation half of ``layout_split`` on
        the layout set's (object, modifier) grid, built as the prompt_set rule builds it; the
        style evaluation sample on the other set."""
        name = self.config["layout"]["prompt_set"]
        spec = self.config["prompt_sets"][name]
        # a set that is not synthetic names no objects: layout_split refuses it, as the run would
        rows = [{"id": name}]
        if spec["kind"] == "synthetic":
            rows = make_synthetic_prompts(
                name, spec["objects"], spec["modifiers"], spec["template"]
            )
        layout = {name: len(layout_split(rows, self.config["diverse"]["split_seed"])[1])}
        others = [s for s in self.evaluation_sets().values() if s != name]
        return {s: self.style_evaluation_prompts(s) for s in others} | layout

    # -- targets and counts -----------------------------------------------------------------
    def quality_outputs(self) -> list[str]:
        """Every per-seed table, figure, Table 1 and seed bank of the run."""
        models = self.quality_models()
        outputs = [table for m in models for table in self.perseed_tables(m)]
        outputs += [self.path("fig5", model=m) for m in models]
        outputs += [self.path("seedbank", model=m) for m in models]
        outputs += self.generalisation_figures()
        outputs += [self.path("table1")] if self.table1_jobs() else []
        if models and self.held_out_sets():
            outputs.append(self.path("golden_matrix"))
        outputs += [self.path("table1b"), self.path("fig_best_of_n")] if models else []
        return outputs

    def classifier_outputs(self) -> list[str]:
        """The test report and Grad-CAM figure of every classifier model."""
        return [
            path
            for m in self.classifier_models()
            for path in (self.path("classifier_report", model=m), self.path("fig4", model=m))
        ]

    def targets(self) -> list[str]:
        """What ``rule all`` asks for: every end product of the run."""
        return [
            *self.tiny_model_folders(),
            *self.shards(),
            self.path("fig2"),
            self.path("run_summary"),
            *self.classifier_outputs(),
            *self.quality_outputs(),
            *self.appearance_outputs(),
            *self.inpainting_outputs(),
            *self.diverse_outputs(),
        ]

    def job_counts(self) -> dict[str, int]:
        """Jobs per rule for a fresh run (what ``snakemake -n`` lists), from the lists above."""
        coco = self.coco_source()
        models = self.quality_models()
        extractors = [name for name, sets in self.extractor_sets().items() if sets]
        extractors += [
            e for e, ms in (("style", self.style_models()), ("layout", self.layout_models())) if ms
        ]
        if self.diverse_models():
            extractors = list(dict.fromkeys(extractors + list(EVALUATION_EXTRACTORS)))
        features = self.config["features"]
        classifiers = len(self.classifier_models())
        inpainters = self.inpainting_models()
        counts = {
            "tiny_model": len(self.tiny_model_folders()),
            "tiny_captioner": int(
                coco not in (None, "captions_file") and self.config["coco"]["captioner"]["tiny"]
            ),
            "coco_download": int(coco == "download"),
            "coco_demo_images": int(coco == "demo"),
            "coco_captions": int(coco is not None),
            "prompt_set": len(self.prompt_sets()),
            "generate": len(self.generation_jobs()),
            "seed_swap": 1,
            "plot_seed_swap": 1,
            "run_summary": 1,
            "train_classifier": classifiers,
            "evaluate_classifier": classifiers,
            "gradcam_classifier": classifiers,
            "tiny_extractor": sum(features[e]["weights"] == "tiny" for e in extractors),
            "extract_features": len(self.feature_jobs()),
            "reference_features": len(self.extractor_sets()["inception"]),
            "perseed_block": len(self.perseed_block_jobs()),
            "perseed_table": sum(len(self.perseed_tables(m)) for m in models),
            "golden_seeds": len(models),
            "fig5_best_worst_seeds": len(models),
            "fig_generalisation": len(self.generalisation_figures()),
            "table1": int(bool(self.table1_jobs())),
            "golden_matrix": int(bool(models and self.held_out_sets())),
            "table1b": int(bool(models)),
            "fig_best_of_n": int(bool(models)),
            "seedbank": len(models) + len(inpainters),
            "coco_annotations_download": int(
                bool(inpainters) and self.config["inpainting"]["annotations"] == "download"
            ),
            "inpaint_pairs": int(bool(inpainters)),
            "text_table": len(inpainters),
            "text_task_table": sum(len(inpaint_sets(self.config, m)) for m in inpainters),
            "particle_guidance": len(self.particle_jobs()),
            "extract_particle_features": len(self.particle_feature_jobs()),
            "extract_evaluation_features": len(self.evaluation_feature_jobs()),
            "fig_diversity_quality": int(bool(self.diverse_models())),
            "diverse_seeds": len(self.diverse_models()),
            "table2": int(bool(self.diverse_models())),
            "fig11_diverse_seeds": len(self.diverse_models()),
            "fig12_inpainting_text": len(inpainters),
            "style_table": len(self.style_models()),
            "style_map": len(self.style_models()),
            "fig8_style_map": len(self.style_models()),
            "fig9_style_seeds": len(self.style_models()),
            "layout_table": len(self.layout_models()),
            "fig10_layout": len(self.layout_models()),
            "all": 1,
        }
        return {rule: n for rule, n in counts.items() if n}
