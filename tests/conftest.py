"""Shared fixtures: tiny models built once per session, the demo run once per session, offline hub,
fixed threads."""

from __future__ import annotations

import functools
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import torch

os.environ["HF_HUB_OFFLINE"] = "1"
# config checks that passed are remembered (seedscope.check_cache): per session here, not per user
os.environ["SEEDSCOPE_CACHE"] = tempfile.mkdtemp(prefix="seedscope-cache-")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
torch.set_num_threads(1)

REPO = Path(__file__).resolve().parent.parent
DEMO = REPO / "profiles" / "demo" / "demo.yaml"


def snakemake_command(workdir: Path, *args: str, python: tuple[str, ...] = ()) -> list[str]:
    """``python [python flags] -m snakemake`` on this checkout's Snakefile in ``workdir``."""
    snakefile = str(REPO / "Snakefile")
    return [sys.executable, *python, "-m", "snakemake", "-s", snakefile, "-d", str(workdir), *args]


@functools.cache
def _failing_scontrol_folder() -> str:
    folder = Path(tempfile.mkdtemp(prefix="no-scontrol-"))
    (folder / "scontrol").write_text("#!/bin/sh\nexit 1\n")
    (folder / "scontrol").chmod(0o755)
    return str(folder)


def env_without_scontrol() -> dict[str, str]:
    """This process's environment with an ``scontrol`` first on PATH that fails at once.

    The SLURM executor plugin runs ``scontrol show config`` each time Snakemake starts (for a
    help text). Where SLURM is installed but no controller answers (e.g. between SLURM tests),
    that call waits about 10 s. Snakemake runs that submit nothing to SLURM use this
    environment; the SLURM tests run the real ``scontrol``.
    """
    path = os.environ.get("PATH", "")
    return os.environ | {"PATH": f"{_failing_scontrol_folder()}{os.pathsep}{path}"}


def snakemake(*args: str, cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
    """Run Snakemake in ``cwd`` with ``args`` (submitting nothing to SLURM: see
    ``env_without_scontrol``); with ``check``, fail with its output's tail."""
    result = subprocess.run(
        snakemake_command(cwd, *args),
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env_without_scontrol(),
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"snakemake {' '.join(args)} failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
        )
    return result


def model_spec(kind: str, weights: Path, **overrides) -> dict:
    """A validated-looking config entry for a tiny model."""
    base = {
        "sd2": dict(
            pipeline="StableDiffusionPipeline",
            steps=4,
            guidance=7.5,
            scheduler={"name": "ddim", "timestep_spacing": "leading", "eta": 0.0},
        ),
        "sdxl-turbo": dict(
            pipeline="StableDiffusionXLPipeline",
            steps=1,
            guidance=0.0,
            scheduler={"name": "euler_ancestral", "timestep_spacing": "trailing", "eta": 0.0},
        ),
    }[kind]
    spec = (
        dict(
            weights=str(weights),
            tiny=kind,
            dtype="auto",
            resolution=64,
            negative_prompt="",
            batch_size=4,
            revision=None,
            variant=None,
            prompt_sets=None,
        )
        | base
    )
    return spec | overrides


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory) -> dict[str, Path]:
    """Tiny SD2 and SDXL-Turbo pipelines saved to disk (built once per test session)."""
    from seedscope.tiny.diffusion import build_tiny_pipeline

    root = tmp_path_factory.mktemp("tiny-models")
    return {kind: build_tiny_pipeline(kind, root / kind) for kind in ("sd2", "sdxl-turbo")}


@pytest.fixture(scope="session")
def demo(tmp_path_factory) -> Path:
    """The demo DAG, run locally once per session in a fresh folder.

    test_workflow checks and reruns against it; test_slurm compares a SLURM run with it.
    """
    root = tmp_path_factory.mktemp("demo")
    snakemake("--configfile", str(DEMO), "--cores", "2", cwd=root)
    return root


def planned_jobs(output: str) -> dict[str, int]:
    """The 'Job stats' table of a dry run's output: rule -> count."""
    counts, in_table = {}, False
    for line in output.splitlines():
        parts = line.split()
        if parts[:2] == ["job", "count"]:
            in_table = True
        elif in_table and len(parts) == 2 and parts[1].isdigit():
            if parts[0] == "total":
                break
            counts[parts[0]] = int(parts[1])
    return counts
