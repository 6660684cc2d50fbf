"""What every workflow script does first: threads, logging to the rule's log file, progress;
and a stand-in for the ``snakemake`` object, to run a script outside Snakemake."""

from __future__ import annotations

import logging
import os
import runpy
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from tqdm import tqdm

# what numerical libraries read for their thread count when they load
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def fix_threads(threads: int) -> None:
    """Give torch and the BLAS libraries ``threads`` threads (CPU floats depend on the count).

    torch is set directly when the script has imported it; otherwise the environment tells it
    (and numpy's BLAS, where it loads later) at import, so a job that needs no torch never
    pays the seconds that importing it costs.
    """
    os.environ.update(dict.fromkeys(THREAD_VARIABLES, str(threads)))
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)


def start_job(snakemake: Any, what: str) -> logging.Logger:
    """Set the thread count and send logging and warnings to the rule's log file.

    ``what`` names the job's work (e.g. the shard and seed block) in the log's first line.
    """
    log_path = snakemake.log[0] if snakemake.log else None
    handler = logging.FileHandler(log_path, mode="w") if log_path else logging.StreamHandler()
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        handlers=[handler],
        force=True,
    )
    logging.captureWarnings(True)
    if log_path:
        sys.stderr = open(log_path, "a", buffering=1)  # noqa: SIM115 - libraries print here
    fix_threads(snakemake.threads)
    logger = logging.getLogger("seedscope.job")
    logger.info("%s (rule %s, %d threads)", what, snakemake.rule, snakemake.threads)
    return logger


def progress(total: int, desc: str) -> tqdm:
    """A progress bar with rate and ETA, written to the job's log (stderr)."""
    return tqdm(total=total, desc=desc, file=sys.stderr, mininterval=10, unit="img", ascii=True)


class Named(list):
    """A list whose named parts are also attributes and string keys, like Snakemake's
    ``Namedlist`` (``snakemake.input.shards``, ``snakemake.input["fid"]``, ``output[0]``): the
    list holds a dict's values in order, each item of a list value in its place."""

    def __init__(self, parts: dict[str, Any] | list[Any] | None = None) -> None:
        parts = {} if parts is None else parts
        if isinstance(parts, list):
            super().__init__(parts)
            return
        super().__init__(x for v in parts.values() for x in (v if isinstance(v, list) else [v]))
        for name, value in parts.items():
            setattr(self, name, value)

    def __getitem__(self, key):
        """A part by name (a string) or by position."""
        return getattr(self, key) if isinstance(key, str) else super().__getitem__(key)


class _ScratchOutputs(Named):
    """Named outputs; one that a script writes but the caller does not name gets a file in
    ``scratch``."""

    def __init__(self, parts: dict[str, Any] | list[Any] | None, scratch: Path) -> None:
        super().__init__(parts)
        self._scratch = scratch

    def __getattr__(self, name: str) -> str:  # only for names not set
        if name.startswith("_"):
            raise AttributeError(name)
        return str(self._scratch / name)


def stand_in(
    *,
    input: dict[str, Any] | list[Any] | None = None,
    output: dict[str, Any] | list[Any] | None = None,
    params: dict[str, Any] | None = None,
    wildcards: dict[str, Any] | None = None,
    log: dict[str, Any] | list[Any] | None = None,
    threads: int = 1,
    rule: str = "script",
    config: dict[str, Any] | None = None,
    scratch: str | Path | None = None,
) -> SimpleNamespace:
    """A stand-in for the ``snakemake`` object that Snakemake gives a workflow script: its
    ``input``, ``output``, ``params``, ``wildcards`` and ``log`` as :class:`Named` lists, and
    ``threads``, ``rule`` and ``config``. With ``scratch`` (a folder), an output the script
    asks for by a name not in ``output`` is a file of that name there."""
    outputs = Named(output) if scratch is None else _ScratchOutputs(output, Path(scratch))
    return SimpleNamespace(
        input=Named(input),
        output=outputs,
        params=Named(params),
        wildcards=Named(wildcards),
        log=Named(log),
        threads=threads,
        rule=rule,
        config={} if config is None else config,
    )


def run_script(script: str | Path, snakemake: Any) -> dict[str, Any]:
    """Run the workflow script ``script`` in this process as Snakemake's ``script:`` directive
    does, with ``snakemake`` (e.g. :func:`stand_in`'s) as its global; returns its globals."""
    return runpy.run_path(str(script), init_globals={"snakemake": snakemake})
