"""What every workflow script does first: threads, logging to the rule's log file, progress."""

from __future__ import annotations

import logging
import os
import sys
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
