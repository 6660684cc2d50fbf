"""The seed classifier of section 4.1: which of N seeds made this image? (and its Grad-CAM).

Its names load on first use: the config checks (``seedscope.classifier.settings``) run in every
Snakemake start, which must not pay for importing torch. Heavy imports (timm,
pytorch-grad-cam, matplotlib) happen inside the functions that need them.
"""

from importlib import import_module

_HOMES = {
    "SeedShardDataset": "data",
    "image_transform": "data",
    "gradcam_by_seed": "gradcam",
    "gradcam_maps": "gradcam",
    "plot_gradcam": "gradcam",
    "build_classifier": "model",
    "load_classifier": "model",
    "normalise_text": "split",
    "split_prompts": "split",
    "evaluate": "train",
    "train_classifier": "train",
}

__all__ = sorted(_HOMES)


def __getattr__(name: str):
    """``seedscope.classifier.<name>``, imported from its module on first use."""
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{_HOMES[name]}"), name)
