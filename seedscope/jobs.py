"""What every workflow script does first: threads, logging to the rule's log file, progress."""

from __future__ import annotations

import logging
import sys
from typing import Any

import torch
from tqdm import tqdm


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
    torch.set_num_threads(snakemake.threads)
    logger = logging.getLogger("seedscope.job")
    logger.info("%s (rule %s, %d threads)", what, snakemake.rule, snakemake.threads)
    return logger


def progress(total: int, desc: str) -> tqdm:
    """A progress bar with rate and ETA, written to the job's log (stderr)."""
    return tqdm(total=total, desc=desc, file=sys.stderr, mininterval=10, unit="img", ascii=True)
