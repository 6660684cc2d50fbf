"""seedscope: study and exploit random seeds in text-to-image diffusion models."""

__version__ = "0.1.0"
