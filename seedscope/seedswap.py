"""The seed-swap study (paper fig. 2): does the initial latent or the later noise decide the image?

A stochastic sampler (DDIM with eta > 0) draws fresh noise at every step. We start from seed i
and, at an early, a middle and a late step, switch the noise to what seed j would have drawn at
that point of its own trajectory. If the image stays close to seed i's, the initial latent (not
the later noise) decides it.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import numpy as np
import torch

from seedscope.generate import Item, PromptEmbeddings, render_batch, seed_generator
from seedscope.models import configure_scheduler


def swap_spec(spec: dict[str, Any], steps: int, eta: float) -> dict[str, Any]:
    """The model's config entry with the study's sampler: DDIM, ``steps`` steps, ``eta``."""
    spec = copy.deepcopy(spec)
    spec["steps"] = steps
    spec["scheduler"] = {**spec.get("scheduler", {}), "name": "ddim", "eta": eta}
    return spec


def _trajectory_states(pipe, embeddings, item: Item, spec) -> tuple[np.ndarray, list[torch.Tensor]]:
    """Render ``item`` and record its generator's state after every step."""
    generator = seed_generator(item.seed)
    states: list[torch.Tensor] = []

    def record(pipe, step, timestep, kwargs):
        states.append(generator.get_state())
        return kwargs

    image = render_batch(pipe, embeddings, [item], spec, callback=record, generators=[generator])
    return image[0], states


def render_swapped(
    pipe, embeddings, item: Item, spec, states_to: list[torch.Tensor], swap_step: int
):
    """Render ``item`` but draw the noise of steps ``swap_step``.. from the other seed's states."""
    generator = seed_generator(item.seed)

    def swap(pipe, step, timestep, kwargs):
        if step == swap_step - 1:
            generator.set_state(states_to[step])
        return kwargs

    return render_batch(pipe, embeddings, [item], spec, callback=swap, generators=[generator])[0]


def swap_steps(steps: int, fractions: list[float]) -> list[int]:
    """Steps (1..steps-1) at which the noise switches, from fractions of the trajectory."""
    return sorted({min(max(1, round(f * steps)), steps - 1) for f in fractions})


def seed_swap_study(pipe, spec: dict[str, Any], swap: dict[str, Any]) -> dict[str, Any]:
    """Run the study for every configured prompt.

    Returns ``{"steps": [...], "rows": [{"prompt", "start", "end", "swapped": {step: image}}],
    "distances": [...]}``, where distances are mean absolute pixel differences (0-255) of each
    swapped image to the pure start-seed and pure end-seed images.
    """
    spec = swap_spec(spec, swap["steps"], swap["eta"])
    configure_scheduler(pipe, spec["scheduler"])
    seed_i, seed_j = swap["seeds"]
    steps = swap_steps(swap["steps"], swap["swap_fractions"])
    embeddings = PromptEmbeddings(pipe, spec.get("negative_prompt", ""), spec["guidance"])
    rows, distances = [], []
    for index, prompt in enumerate(swap["prompts"]):
        start, _ = _trajectory_states(pipe, embeddings, Item(f"swap-{index}", prompt, seed_i), spec)
        end, states_j = _trajectory_states(
            pipe, embeddings, Item(f"swap-{index}", prompt, seed_j), spec
        )
        swapped = {}
        for step in steps:
            image = render_swapped(
                pipe, embeddings, Item(f"swap-{index}", prompt, seed_i), spec, states_j, step
            )
            swapped[step] = image
            distances.append(
                {
                    "prompt": prompt,
                    "swap_step": step,
                    "distance_to_start_seed": float(np.abs(image.astype(float) - start).mean()),
                    "distance_to_end_seed": float(np.abs(image.astype(float) - end).mean()),
                }
            )
        rows.append({"prompt": prompt, "start": start, "end": end, "swapped": swapped})
    return {"seeds": [seed_i, seed_j], "steps": steps, "rows": rows, "distances": distances}


def save_study(study: dict[str, Any], path) -> None:
    """Write the study's images and distances to one ``.npz`` (read back by ``load_study``)."""
    arrays = {}
    for r, row in enumerate(study["rows"]):
        arrays[f"start_{r}"], arrays[f"end_{r}"] = row["start"], row["end"]
        for step, image in row["swapped"].items():
            arrays[f"swap_{r}_{step}"] = image
    header = {k: study[k] for k in ("seeds", "steps", "distances")}
    header["prompts"] = [row["prompt"] for row in study["rows"]]
    np.savez_compressed(path, header=np.array(json.dumps(header)), **arrays)


def load_study(path) -> dict[str, Any]:
    """The study as ``seed_swap_study`` returned it, from a file of ``save_study``."""
    with np.load(path) as data:
        header = json.loads(str(data["header"]))
        rows = [
            {
                "prompt": prompt,
                "start": data[f"start_{r}"],
                "end": data[f"end_{r}"],
                "swapped": {s: data[f"swap_{r}_{s}"] for s in header["steps"]},
            }
            for r, prompt in enumerate(header["prompts"])
        ]
    return {
        "seeds": header["seeds"],
        "steps": header["steps"],
        "rows": rows,
        "distances": header["distances"],
    }


def plot_seed_swap(
    study: dict[str, Any], pdf: str, png: str, dpi: int = 150, font_size: float = 8
) -> None:
    """Paper fig. 2: per prompt, seed i, i switched to j at each step, and seed j."""
    from seedscope.plotting import plt, save_figure

    seed_i, seed_j = study["seeds"]
    columns = (
        [f"seed {seed_i}"]
        + [f"{seed_i}→{seed_j} at step {s}" for s in study["steps"]]
        + [f"seed {seed_j}"]
    )
    rows = study["rows"]
    distance = {(d["prompt"], d["swap_step"]): d for d in study["distances"]}
    fig, axes = plt.subplots(
        len(rows), len(columns), figsize=(2.2 * len(columns), 2.7 * len(rows)), squeeze=False
    )
    for r, row in enumerate(rows):
        images = [row["start"]] + [row["swapped"][s] for s in study["steps"]] + [row["end"]]
        for c, image in enumerate(images):
            ax = axes[r][c]
            ax.imshow(image)
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(columns[c], fontsize=font_size)
            if 0 < c <= len(study["steps"]):
                d = distance[(row["prompt"], study["steps"][c - 1])]
                ax.set_xlabel(
                    f"|Δ| to {seed_i}: {d['distance_to_start_seed']:.1f}, "
                    f"to {seed_j}: {d['distance_to_end_seed']:.1f}",
                    fontsize=font_size - 1,
                )
        axes[r][0].set_ylabel(row["prompt"][:40], fontsize=font_size - 1)
    fig.suptitle(
        "Switching the sampler's noise to another seed mid-trajectory (DDIM, stochastic)",
        fontsize=font_size + 1,
    )
    save_figure(fig, pdf, png, dpi)
