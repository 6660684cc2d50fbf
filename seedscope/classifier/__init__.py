"""The seed classifier of section 4.1: which of N seeds made this image? (and its Grad-CAM).

Heavy imports (timm, pytorch-grad-cam, matplotlib) happen inside the functions that need them.
"""

from seedscope.classifier.data import SeedShardDataset, image_transform
from seedscope.classifier.gradcam import gradcam_by_seed, gradcam_maps, plot_gradcam
from seedscope.classifier.model import build_classifier, load_classifier
from seedscope.classifier.split import normalise_text, split_prompts
from seedscope.classifier.train import evaluate, train_classifier

__all__ = [
    "SeedShardDataset",
    "build_classifier",
    "evaluate",
    "gradcam_by_seed",
    "gradcam_maps",
    "image_transform",
    "load_classifier",
    "normalise_text",
    "plot_gradcam",
    "split_prompts",
    "train_classifier",
]
