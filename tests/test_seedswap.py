"""The seed-swap study: the noise switch is exact, and the figure is written."""

import numpy as np

from seedscope.generate import Item, PromptEmbeddings
from seedscope.models import configure_scheduler, load_pipeline
from seedscope.seedswap import (
    _trajectory_states,
    load_study,
    plot_seed_swap,
    render_swapped,
    save_study,
    seed_swap_study,
    swap_spec,
    swap_steps,
)

from conftest import model_spec

SWAP = {
    "seeds": [0, 1],
    "steps": 10,
    "eta": 1.0,
    "swap_fractions": [0.1, 0.5, 0.9],
    "prompts": ["a dog"],
}


def setup(tiny_models):
    spec = swap_spec(model_spec("sd2", tiny_models["sd2"]), SWAP["steps"], SWAP["eta"])
    pipe = load_pipeline("sd2", spec, "cpu")
    configure_scheduler(pipe, spec["scheduler"])
    return pipe, spec, PromptEmbeddings(pipe, "", spec["guidance"])


def test_swapping_to_the_same_seed_changes_nothing(tiny_models):
    pipe, spec, emb = setup(tiny_models)
    item = Item("p", "a dog", 0)
    pure, states = _trajectory_states(pipe, emb, item, spec)
    for step in (1, 5, 9):
        assert np.array_equal(render_swapped(pipe, emb, item, spec, states, step), pure)


def test_swapping_to_another_seed_changes_the_image_less_the_later_it_happens(tiny_models):
    pipe, spec, emb = setup(tiny_models)
    item = Item("p", "a dog", 0)
    pure, _ = _trajectory_states(pipe, emb, item, spec)
    _, other = _trajectory_states(pipe, emb, Item("p", "a dog", 1), spec)
    early = np.abs(render_swapped(pipe, emb, item, spec, other, 1).astype(int) - pure).mean()
    late = np.abs(render_swapped(pipe, emb, item, spec, other, 9).astype(int) - pure).mean()
    assert early > late > 0


def test_study_writes_figure_and_distances(tiny_models, tmp_path):
    pipe, _, _ = setup(tiny_models)
    study = seed_swap_study(pipe, model_spec("sd2", tiny_models["sd2"]), SWAP)
    assert study["steps"] == swap_steps(10, SWAP["swap_fractions"]) == [1, 5, 9]
    assert len(study["distances"]) == 3
    save_study(study, tmp_path / "study.npz")
    loaded = load_study(tmp_path / "study.npz")
    assert loaded["distances"] == study["distances"] and loaded["steps"] == study["steps"]
    assert np.array_equal(loaded["rows"][0]["swapped"][5], study["rows"][0]["swapped"][5])
    plot_seed_swap(loaded, tmp_path / "f.pdf", tmp_path / "f.png", dpi=80)
    assert (tmp_path / "f.pdf").stat().st_size > 1000 and (tmp_path / "f.png").stat().st_size > 1000
