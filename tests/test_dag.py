"""seedscope.dag: the job lists, targets and paths that the rules and ``seedscope plan`` share.

Whether Snakemake schedules exactly these jobs is checked by the dry runs in test_workflow.py
(``test_plan_counts_the_same_jobs_as_a_dry_run``); these tests check the lists themselves.
"""

import copy
import re
import string
from collections import Counter

import pytest

from seedscope.dag import PATHS, Dag, block_bounds
from seedscope.validate import load_config, validate_config

from conftest import DEMO, REPO


@pytest.fixture(scope="module")
def paper():
    return load_config(REPO / "config.yaml")


def changed(config: dict, change) -> dict:
    """A validated copy of ``config`` after ``change(copy)``."""
    config = copy.deepcopy(config)
    change(config)
    return validate_config(config)


def test_seed_blocks_tile_the_seed_range_in_order(paper):
    config = changed(paper, lambda c: c["seeds"].update(first=0, count=96, block_size=32))
    blocks = block_bounds(config)
    assert blocks == [
        {"first": "0000", "last": "0031"},
        {"first": "0032", "last": "0063"},
        {"first": "0064", "last": "0095"},
    ]
    covered = [s for b in blocks for s in range(int(b["first"]), int(b["last"]) + 1)]
    assert covered == Dag(config).seeds() == list(range(96))


def test_paths_fill_the_rules_wildcards_and_match_their_patterns(paper):
    dag = Dag(paper)
    values = {"model": "sd2", "set": "coco1", "first": "0000", "last": "0015"}
    values |= {"extractor": "inception", "metric": "fid", "number": "6", "coeff": "30"}
    for name, template in PATHS.items():
        fields = {f for _, f, _, _ in string.Formatter().parse(template) if f}
        assert fields <= set(values), f"{name}: unknown wildcard in {template}"
        path = dag.path(name, **values)
        # Snakemake reads a pattern's {wildcard} as a regex group; the path must match it
        regex = re.escape(dag.pattern(name))
        regex = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", regex)
        match = re.fullmatch(regex, path)
        assert match and match.groupdict() == {f: values[f] for f in fields}, name


def test_generation_jobs_are_models_times_their_sets_times_blocks(paper):
    def parti_only(config):
        config["models"]["sdxl-turbo"]["prompt_sets"] = ["parti"]
        config["classifier"]["models"] = ["sd2"]
        config["quality"]["models"] = ["sd2"]

    config = changed(paper, parti_only)
    dag = Dag(config)
    blocks = len(block_bounds(config))
    # sd2 renders 4 sets, sdxl-turbo parti, sd2-inpaint its 2 tasks
    assert len(dag.generation_jobs()) == (4 + 1 + 2) * blocks
    assert len(dag.shards()) == len(set(dag.shards())) == (4 + 1 + 2) * blocks
    assert len(dag.shards("sdxl-turbo")) == blocks
    assert dag.shards("sd2", ["parti"]) == [s for s in dag.shards("sd2") if "/parti/" in s]
    assert len(dag.generation_benchmarks()) == len(dag.shards())


def test_fid_blocks_and_per_seed_tables_read_the_feature_tables_the_dag_extracts(paper):
    dag = Dag(paper)
    jobs = dag.perseed_block_jobs()
    scores = paper["quality"]["scores"]
    assert {j["metric"] for j in jobs} == {"fid"}
    tables = {dag.path("features", extractor="inception", **j) for j in jobs}
    assert len(tables) == len(jobs) == 64 * 2 * 2  # blocks x models x the two FID sets
    extraction = Counter(j["extractor"] for j in dag.feature_jobs())
    assert extraction == {
        "inception": 64 * 2 * 2,
        "hps": 64 * 2 * 3,  # coco1, coco2 and Table 1's PartiPrompts
        **{score: 64 * 2 * 3 for score in scores if score != "hps"},  # Table 1b's coco2, parti
        "style": 64 * 2 * 2,  # the analysis set coco1 and the evaluation set coco2
        "layout": 64 * 2,
        "ocr": 64 * 2,  # sd2-inpaint's two tasks
    }
    assert dag.job_counts()["extract_features"] == 64 * (4 + 6 * len(scores) + 8)
    extracted = {dag.path("features", **j) for j in dag.feature_jobs()}
    assert tables <= extracted
    # each per-seed table reads the FID blocks where FID is measured and every score's tables
    for prompt_set, metrics in (("coco1", ["fid", *scores]), ("parti", scores)):
        assert dag.perseed_table_metrics(prompt_set) == metrics
        inputs = dag.perseed_table_inputs("sd2", prompt_set)
        assert list(inputs) == metrics
        for metric in scores:
            assert set(inputs[metric]) <= extracted and len(inputs[metric]) == 64
    assert dag.perseed_table_inputs("sd2", "coco1")["fid"] == dag.perseed_blocks("sd2", "coco1")


def test_table1_reads_feature_tables_that_the_dag_builds(paper):
    dag = Dag(paper)
    built = {dag.path("features", **j) for j in dag.feature_jobs()}
    inputs = dag.table1_inputs()
    assert len(inputs) == len(set(inputs))
    tables = [f for f in inputs if "/features/" in f]
    assert tables and set(tables) <= built
    rows = {(j["model"], j["metric"], j["set"]) for j in dag.table1_jobs()}
    assert rows == {
        (m, metric, s)
        for m in ("sd2", "sdxl-turbo")
        for metric, sets in (("fid", ["coco2"]), ("hps", ["coco2", "parti"]))
        for s in sets
    }


def test_disabled_stages_leave_no_jobs_and_no_targets(paper):
    no_quality = Dag(changed(paper, lambda c: c["quality"].update(enabled=False)))
    assert no_quality.quality_outputs() == [] and no_quality.perseed_block_jobs() == []
    counts = no_quality.job_counts()
    assert not {"perseed_block", "table1"} & set(counts)
    assert counts["seedbank"] == len(no_quality.inpainting_models())  # text statistics only
    # style on coco1 and coco2, and layout, of both models; OCR of both inpainting tasks
    assert counts["extract_features"] == 64 * 2 * 3 + 64 * 2
    neither = Dag(
        changed(
            paper,
            lambda c: [
                c[stage].update(enabled=False)
                for stage in ("quality", "style", "layout", "inpainting")
            ],
        )
    )
    assert neither.appearance_outputs() == [] and "extract_features" not in neither.job_counts()
    no_second = Dag(changed(paper, lambda c: c["quality"].update(generalisation_set=None)))
    assert no_second.generalisation_figures() == []
    assert "fig_generalisation" not in no_second.job_counts()
    assert len(Dag(paper).generalisation_figures()) == 2


def test_targets_are_unique_and_every_count_is_a_rule_of_the_workflow(paper):
    rules = set(
        re.findall(r"^rule (\w+):", "".join(p.read_text() for p in REPO.glob("rules/*.smk")), re.M)
    )
    rules.add("all")
    for config in (paper, load_config(DEMO)):
        dag = Dag(config)
        targets = dag.targets()
        assert len(targets) == len(set(targets))
        assert set(dag.job_counts()) <= rules
        assert all(
            t.startswith(dag.run) or not t.startswith(config["results_dir"]) for t in targets
        )


def test_each_job_knows_the_images_it_renders_extracts_or_reads(paper):
    dag = Dag(paper)
    block = {"model": "sd2", "first": "0016", "last": "0031"}  # 16 seeds

    def features(rule, extractor, prompt_set):
        return dag.images(rule, {"extractor": extractor, "set": prompt_set} | block)

    assert dag.images("generate", {"set": "parti"} | block) == 16 * 1632
    assert dag.images("generate", {"set": "removal"} | block | {"model": "sd2-inpaint"}) == 16 * 500
    assert features("extract_features", "inception", "coco1") == 16 * 10000
    assert features("extract_features", "ocr", "completion") == 16 * 500
    assert features("extract_features", "style", "coco1") == 16 * 100  # the analysis sample
    assert features("extract_features", "style", "coco2") == 16 * 500  # the evaluation sample
    assert features("extract_features", "layout", "synthetic") == 16 * 880
    assert features("extract_evaluation_features", "dino", "coco2") == 16 * 500
    # the evaluation half of the synthetic set: 11 of each object's 22 modifiers, 40 objects
    assert features("extract_evaluation_features", "hps", "synthetic") == 16 * 440
    particle = {"model": "sdxl-turbo", "set": "synthetic", "coeff": "30"}
    assert dag.images("particle_guidance", particle) == 4 * 440  # C = 4 particles per prompt
    particle |= {"extractor": "style", "set": "coco2"}
    assert dag.images("extract_particle_features", particle) == 4 * 500
    # 21 modifiers: each object's odd one goes to the analysis side, 10 to the evaluation side
    odd = Dag(changed(paper, lambda c: c["prompt_sets"]["synthetic"]["modifiers"].pop()))
    assert odd.evaluation_prompts == {"coco2": 500, "synthetic": 40 * 10}
    fewer = Dag(changed(paper, lambda c: c["diverse"].update(style_prompts=300)))
    assert (
        fewer.images("extract_evaluation_features", {"extractor": "hps", "set": "coco2"} | block)
        == 16 * 300
    )


def test_captioning_reads_the_coco_images_unless_captions_are_given(paper):
    def captioned(config):
        dag = Dag(config)
        return [dag.images("coco_captions", job) for job in dag.image_jobs("coco_captions")]

    assert captioned(paper) == [20000]  # coco.n_images, in one job
    given = changed(paper, lambda c: c["coco"].update(captions_file="captions.jsonl"))
    assert captioned(given) == [0]  # the job copies the file

    def parti_only(config):
        for model in ("sd2", "sdxl-turbo"):
            config["models"][model]["prompt_sets"] = ["parti"]
        for stage in ("quality", "style", "layout", "diverse", "classifier"):
            config[stage]["enabled"] = False

    no_coco = changed(paper, parti_only)
    assert captioned(no_coco) == []
