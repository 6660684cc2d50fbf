"""Style of seeds: interpretable per-image measures (grayscale, sky, border), per-seed rates with
intervals and tags, and Gram-matrix style vectors with a seeded random projection."""
