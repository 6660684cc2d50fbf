"""Diverse seeds: farthest point sampling on seed features and the paper's diversity score."""
