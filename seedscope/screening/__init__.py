"""Adaptive seed screening: the paper's golden and inferior seeds for a fraction of the renders.

Seeds are rendered in rounds on the same new prompts; after each round the seeds that are
surely outside the target set (:mod:`.rule`) stop being rendered, with a guarantee that no seed
of the exhaustive target set is eliminated except with probability at most ``delta``.
:mod:`.settings` checks the target and the plan, :mod:`.inputs` turns the per-seed block files
into the rule's estimates and standard errors, :mod:`.simulate` measures the guarantee and the
saving on studies with a known truth, and :mod:`.fidmodel` calibrates its FID model on real
Frechet distances. docs/screening.md has the argument and the measured figures.
"""
