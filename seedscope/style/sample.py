"""The analysis prompts of the style stage: a seeded sample of each prompt set.

Every model and every seed is measured on the same prompts, so per-seed rates and the seed
style map compare seeds on equal terms. The sample depends only on the set's prompt ids (in
file order), the number asked for and the seed, never on which shard is being read.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from seedscope.errors import ConfigError


def sample_prompts(prompt_ids: Sequence[str], count: int, seed: int) -> list[str]:
    """``count`` prompt ids drawn without replacement with ``numpy.random.default_rng(seed)``,
    returned in file order. Asking for more prompts than the set holds is a ``ConfigError``."""
    ids = list(prompt_ids)
    if count > len(ids):
        raise ConfigError(
            f"config key style.prompts: {count} analysis prompts asked for but the set holds "
            f"{len(ids)}; lower style.prompts to at most {len(ids)}"
        )
    chosen = np.random.default_rng(seed).choice(len(ids), size=count, replace=False)
    return [ids[i] for i in sorted(chosen)]
