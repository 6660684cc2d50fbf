"""ImageReward v1.0 (Xu et al. 2023): a human-preference reward of (image, prompt) pairs.

Equivalent to ``ImageReward.load("ImageReward-v1.0").score(prompt, image)`` of the package
``image-reward`` 1.5 (THUDM/ImageReward: ``ImageReward/ImageReward.py``, ``utils.py`` and
``models/BLIP/{blip,blip_pretrain,vit,med}.py``), which cannot be imported beside this
project: its BLIP text encoder imports ``apply_chunking_to_forward`` from
``transformers.modeling_utils`` and calls ``get_head_mask`` and ``invert_attention_mask``, all
gone in transformers 5, ``init_tokenizer`` reads ``additional_special_tokens_ids``, also gone,
and the package's ``__init__`` imports OpenAI's ``clip``. The same network is built here from
transformers' BLIP classes, and ImageReward's checkpoint is mapped onto them key by key:

- **Checkpoint.** ``ImageReward.pt`` of the Hugging Face repo ``THUDM/ImageReward``: a flat
  state dict of the package's ``ImageReward`` module, loaded with ``torch.load(weights_only=
  True)``. ``blip.visual_encoder.*`` (BLIP's ViT) maps onto ``BlipVisionModel``
  (:func:`to_ours`: ``cls_token`` -> ``embeddings.class_embedding``, ``pos_embed`` ->
  ``embeddings.position_embedding``, ``patch_embed.proj`` -> ``embeddings.patch_embedding``,
  ``blocks.<i>.{norm1,attn.qkv,attn.proj,norm2,mlp.fc1,mlp.fc2}`` ->
  ``encoder.layers.<i>.{layer_norm1,self_attn.qkv,self_attn.projection,layer_norm2,mlp.fc1,
  mlp.fc2}``, ``norm`` -> ``post_layernorm``); ``blip.text_encoder.*`` (BLIP's ``med.BertModel``)
  keeps its names in ``BlipTextModel`` (which transformers adapted from the same ``med.py``);
  ``mlp.layers.*`` keeps its names. The load is strict: every weight of the network must come
  from the checkpoint with its shape, and every checkpoint key must be used, except
  :data:`IGNORED_KEYS` (BLIP's contrastive projections ``blip.vision_proj`` and
  ``blip.text_proj``, which ``score`` never uses, and the ``position_ids`` buffer, checked to be
  ``0, 1, 2, ...``).
- **Vision encoder.** BLIP's ``create_vit("large", 224)``: ViT-L/16 at 224 px (width 1024, 24
  blocks of 16 heads, MLP 4096, biased qkv, exact GELU, pre-norm, LayerNorm eps 1e-6, final
  LayerNorm), :data:`VIT_LARGE`. Its drop-path and dropouts are off in eval mode.
- **Text encoder.** BERT from ``med_config.json`` (hidden 768, 12 layers, 12 heads, vocabulary
  30524, absolute positions, no token-type embeddings) with a cross-attention to the image
  tokens in every layer (``mode="multimodal"``); its ``encoder_width`` is set to the ViT's width
  (1024), as ``BLIP_Pretrain`` does whatever the file says. The image attention mask is all
  ones (the package passes ``image_atts``), so none is passed.
- **Tokenizer.** ``BertTokenizer.from_pretrained("bert-base-uncased")`` plus the special tokens
  ``[DEC]`` (bos) and ``[ENC]`` that ``init_tokenizer`` adds (ids 30522 and 30523, the
  vocabulary's last two); ``padding="max_length", truncation=True, max_length=35``. ``score``
  keeps ``[CLS]`` as the first token (it does not swap in ``[ENC]`` as BLIP's ITM head does).
- **Preprocessing.** The package's ``_transform(224)`` on a PIL image: ``Resize(224, BICUBIC)``
  of the shorter side, ``CenterCrop(224)``, RGB, ``ToTensor``, ``Normalize`` with CLIP's mean
  and std.
- **Score.** The text encoder's ``[CLS]`` output -> the MLP head (768 -> 1024 -> 128 -> 64 ->
  16 -> 1, linear layers with dropouts between, no activations) -> ``(r - 0.16717362830052426) /
  1.0333394966054072``; float32, also on CUDA, as the package runs.

The package scores one image at a time; batching changes a score by float round-off (about
1e-6). ``features.imagereward.weights`` is ``"hub"`` (the checkpoint from the hub or its
cache), a local ``ImageReward.pt``, or a tiny folder from :mod:`seedscope.tiny.imagereward`
(:data:`TINY_MARKER` beside its own checkpoint, ``med_config.json`` and tokenizer, which load
the same way; its ViT's sizes come from the marker).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from seedscope.errors import FeatureError, error_line
from seedscope.files import file_sha256
from seedscope.models import pretrained_source

KEY = "features.imagereward"
HUB_REPO = "THUDM/ImageReward"
CHECKPOINT_FILE = "ImageReward.pt"
MED_CONFIG_FILE = "med_config.json"
TOKENIZER = "bert-base-uncased"
TINY_MARKER = "seedscope-tiny.json"  # written beside a tiny ImageReward by the tiny builder
# Bumped when the score of the same image and prompt with the same weights would change.
VERSION = 1
MAX_LENGTH = 35  # the package's tokenizer call
REWARD_MEAN = 0.16717362830052426  # ImageReward.mean
REWARD_STD = 1.0333394966054072  # ImageReward.std
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
ADDED_TOKENS = {"bos_token": "[DEC]", "additional_special_tokens": ["[ENC]"]}
# BLIP's create_vit("large", image_size=224): timm-style ViT-L/16 with LayerNorm eps 1e-6.
VIT_LARGE = {
    "image_size": 224,
    "patch_size": 16,
    "hidden_size": 1024,
    "num_hidden_layers": 24,
    "num_attention_heads": 16,
    "intermediate_size": 4096,
}
VIT_LAYER_NORM_EPS = 1e-6
MLP_SIZES = (1024, 128, 64, 16)  # ImageReward's MLP after the text width, then 1
MLP_DROPOUTS = (0.2, 0.2, 0.1)
# In the checkpoint, unused by ``score``: BLIP_Pretrain's contrastive projections and med's
# persistent position_ids buffer (transformers' is not persistent; it is checked instead).
POSITION_IDS = "blip.text_encoder.embeddings.position_ids"
IGNORED_KEYS = (
    "blip.vision_proj.weight",
    "blip.vision_proj.bias",
    "blip.text_proj.weight",
    "blip.text_proj.bias",
    POSITION_IDS,
)
# The med_config.json keys the text encoder is built from (BlipTextConfig has the same names),
# and the defaults of transformers' BertConfig, which med's BertConfig.from_json_file fills in.
MED_KEYS = (
    "vocab_size",
    "hidden_size",
    "num_hidden_layers",
    "num_attention_heads",
    "intermediate_size",
    "max_position_embeddings",
)
MED_DEFAULTS = {"hidden_act": "gelu", "layer_norm_eps": 1e-12, "pad_token_id": 0}

# ImageReward's ViT names (after ``blip.visual_encoder.``) and BlipVisionModel's: ``{i}`` a block
# number, ``{p}`` weight or bias.
VISION_NAMES = (
    ("cls_token", "embeddings.class_embedding"),
    ("pos_embed", "embeddings.position_embedding"),
    ("patch_embed.proj.{p}", "embeddings.patch_embedding.{p}"),
    ("blocks.{i}.norm1.{p}", "encoder.layers.{i}.layer_norm1.{p}"),
    ("blocks.{i}.attn.qkv.{p}", "encoder.layers.{i}.self_attn.qkv.{p}"),
    ("blocks.{i}.attn.proj.{p}", "encoder.layers.{i}.self_attn.projection.{p}"),
    ("blocks.{i}.norm2.{p}", "encoder.layers.{i}.layer_norm2.{p}"),
    ("blocks.{i}.mlp.fc1.{p}", "encoder.layers.{i}.mlp.fc1.{p}"),
    ("blocks.{i}.mlp.fc2.{p}", "encoder.layers.{i}.mlp.fc2.{p}"),
    ("norm.{p}", "post_layernorm.{p}"),
)
# Checkpoint prefixes and ours; the text encoder and the head keep their names below them.
PREFIXES = (
    ("blip.visual_encoder.", "visual_encoder."),
    ("blip.text_encoder.", "text_encoder."),
    ("mlp.", "mlp."),
)


def _translate(name: str, pairs) -> str | None:
    """``name`` rewritten by the first ``(source, target)`` template pair whose source matches
    it whole, or None."""
    for source, target in pairs:
        pattern = re.escape(source).replace(r"\{i\}", r"(?P<i>\d+)")
        pattern = pattern.replace(r"\{p\}", "(?P<p>weight|bias)")
        match = re.fullmatch(pattern, name)
        if match:
            return target.format(**match.groupdict())
    return None


def _convert(name: str, forward: bool) -> str | None:
    for theirs, ours in PREFIXES:
        source, target = (theirs, ours) if forward else (ours, theirs)
        if name.startswith(source):
            rest = name[len(source) :]
            if source.endswith("visual_encoder."):
                pairs = VISION_NAMES if forward else [(b, a) for a, b in VISION_NAMES]
                rest = _translate(rest, pairs)
            return None if rest is None else target + rest
    return None


def to_ours(key: str) -> str | None:
    """The name in :class:`ImageRewardNet` of the checkpoint key ``key``, or None when the key is
    not one of ImageReward's scoring weights."""
    return _convert(key, forward=True)


def to_imagereward(name: str) -> str:
    """The checkpoint key of :class:`ImageRewardNet`'s weight ``name`` (the inverse of
    :func:`to_ours`), for writing checkpoints in ImageReward's format."""
    key = _convert(name, forward=False)
    if key is None:
        raise KeyError(f"{name} has no name in ImageReward's checkpoint")
    return key


class RewardHead(nn.Module):
    """ImageReward's ``MLP``: linear layers with dropouts, no activations (``layers.<i>``)."""

    def __init__(self, width: int):
        super().__init__()
        sizes = (width, *MLP_SIZES)
        layers: list[nn.Module] = []
        for i, (n_in, n_out) in enumerate(zip(sizes, sizes[1:], strict=False)):
            layers.append(nn.Linear(n_in, n_out))
            if i < len(MLP_DROPOUTS):
                layers.append(nn.Dropout(MLP_DROPOUTS[i]))
        layers.append(nn.Linear(sizes[-1], 1))
        self.layers = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


class ImageRewardNet(nn.Module):
    """BLIP's ViT, its cross-attending BERT and the reward head: ``(pixels, ids, mask)`` ->
    the normalised reward, (N, 1)."""

    def __init__(self, vision: dict[str, Any], med: dict[str, Any]):
        from transformers import BlipTextConfig, BlipTextModel, BlipVisionConfig, BlipVisionModel

        super().__init__()
        vision_config = BlipVisionConfig(
            **vision, hidden_act="gelu", layer_norm_eps=VIT_LAYER_NORM_EPS, attention_dropout=0.0
        )
        text = {k: med[k] for k in MED_KEYS} | {k: med.get(k, v) for k, v in MED_DEFAULTS.items()}
        text_config = BlipTextConfig(
            **text,
            encoder_hidden_size=int(vision["hidden_size"]),  # BLIP_Pretrain's encoder_width
            hidden_dropout_prob=float(med.get("hidden_dropout_prob", 0.1)),
            attention_probs_dropout_prob=float(med.get("attention_probs_dropout_prob", 0.1)),
            is_decoder=True,  # builds the cross-attention of every layer
            bos_token_id=None,  # generation's, unused by the encoder
            eos_token_id=None,
            sep_token_id=None,
        )
        self.visual_encoder = BlipVisionModel(vision_config)
        self.text_encoder = BlipTextModel(text_config, add_pooling_layer=False)
        self.mlp = RewardHead(text_config.hidden_size)

    def forward(self, pixels: torch.Tensor, ids: torch.Tensor, mask: torch.Tensor):
        image_embeds = self.visual_encoder(pixel_values=pixels).last_hidden_state
        text = self.text_encoder(
            input_ids=ids, attention_mask=mask, encoder_hidden_states=image_embeds
        ).last_hidden_state[:, 0, :]
        return (self.mlp(text.float()) - REWARD_MEAN) / REWARD_STD


def hub_url(filename: str) -> str:
    """Where the Hugging Face hub serves ImageReward's file ``filename``."""
    return f"https://huggingface.co/{HUB_REPO}/resolve/main/{filename}"


def hub_file(filename: str, source: str | Path, key: str) -> Path:
    """ImageReward's ``filename`` (``ImageReward.pt`` or ``med_config.json``): from the hub (or
    its cache) for ``"hub"``, else the local file ``source``; config key ``key`` names it."""
    fix = (
        f"download it elsewhere (`huggingface-cli download {HUB_REPO} {filename}` or "
        f"{hub_url(filename)}) and either copy the Hugging Face cache here (HF_HOME) or set "
        f"{key} to the file's path"
    )
    if str(source) == "hub":
        from huggingface_hub import hf_hub_download

        try:
            return Path(hf_hub_download(HUB_REPO, filename))
        except (OSError, ValueError) as err:
            raise FeatureError(
                f"{key}: ImageReward's {filename} of the Hugging Face repo {HUB_REPO} is not in "
                f"the local cache and could not be downloaded ({error_line(err)}); {fix}"
            ) from err
    path = Path(source).expanduser()
    if not path.is_file():
        raise FeatureError(f"{key}: ImageReward's {filename} {path} is not a file; {fix}")
    return path


def read_med_config(path: Path, key: str) -> dict[str, Any]:
    """The BERT settings of ``med_config.json``, checked to be a text encoder ``score`` can
    use: absolute positions and cross-attention."""
    fix = f"download {MED_CONFIG_FILE} of {HUB_REPO} again or set {key} to a good copy"
    try:
        med = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise FeatureError(
            f"{key}: {path} is not readable JSON ({error_line(err)}); {fix}"
        ) from err
    if not isinstance(med, dict):
        raise FeatureError(f"{key}: {path} is not a JSON object; {fix}")
    needed = [k for k in MED_KEYS if not isinstance(med.get(k), int)]
    if needed:
        raise FeatureError(f"{key}: {path} lacks the integers {needed}; {fix}")
    if med.get("position_embedding_type", "absolute") != "absolute":
        raise FeatureError(f"{key}: {path} asks for relative positions, not ImageReward's; {fix}")
    if med.get("add_cross_attention") is not True:
        raise FeatureError(f"{key}: {path} has no cross-attention (add_cross_attention); {fix}")
    return med


def load_tokenizer(source: str | Path, key: str, vocab_size: int):
    """BLIP's ``init_tokenizer``: the BERT tokenizer ``source`` (hub id or folder) plus ``[DEC]``
    and ``[ENC]``; its length must be the text encoder's ``vocab_size``."""
    from transformers import BertTokenizer

    where = pretrained_source(
        source,
        key,
        folder=f"set {key} to a local folder holding the tokenizer",
        holds="vocab.txt and tokenizer_config.json, as bert-base-uncased's",
        path_fix="save the tokenizer there again (BertTokenizer.save_pretrained)",
    )
    try:
        tokenizer = BertTokenizer.from_pretrained(where.name)
    except (OSError, ValueError) as err:
        raise FeatureError(
            f"{key}: could not load the tokenizer {str(source)!r} {where.tried} "
            f"({error_line(err)}); {where.fix}"
        ) from err
    for name, value in ADDED_TOKENS.items():
        tokenizer.add_special_tokens({name: value})
    if len(tokenizer) != vocab_size:
        raise FeatureError(
            f"{key}: the tokenizer {str(source)!r} has {len(tokenizer)} tokens with [DEC] and "
            f"[ENC], the text encoder's vocabulary {vocab_size}; use bert-base-uncased's "
            "tokenizer with ImageReward's checkpoint"
        )
    return tokenizer


def load_checkpoint(path: Path, key: str) -> dict[str, torch.Tensor]:
    """ImageReward's state dict in ``path`` (``torch.load(weights_only=True)``), with the names
    of :class:`ImageRewardNet`; a file that does not load, or holds other keys than
    ImageReward's and :data:`IGNORED_KEYS`, is a :class:`FeatureError`."""
    fix = (
        f"delete it and download {CHECKPOINT_FILE} of {HUB_REPO} again "
        f"(`huggingface-cli download {HUB_REPO} {CHECKPOINT_FILE}`), or set {key} to a good copy"
    )
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # truncated zips, pickles and tensors raise many types
        raise FeatureError(
            f"{key}: ImageReward checkpoint {path} does not load ({error_line(err)}); it is "
            f"truncated or corrupt: {fix}"
        ) from err
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise FeatureError(f"{key}: {path} is not a state dict of tensors; {fix}")
    mapped, unknown = {}, []
    for name, tensor in state.items():
        ours = None if name in IGNORED_KEYS else to_ours(name)
        if ours is not None:
            mapped[ours] = tensor
        elif name not in IGNORED_KEYS:
            unknown.append(name)
    if unknown:
        raise FeatureError(
            f"{key}: {path} is not ImageReward's checkpoint: {len(unknown)} keys are neither "
            f"its scoring weights nor ignored (e.g. {sorted(unknown)[0]}); {fix}"
        )
    # the package copies the weights into its float32 parameters
    mapped = {k: v.float() if v.is_floating_point() else v for k, v in mapped.items()}
    position_ids = state.get(POSITION_IDS)
    if position_ids is not None and not torch.equal(
        position_ids.reshape(-1), torch.arange(position_ids.numel(), dtype=position_ids.dtype)
    ):
        raise FeatureError(f"{key}: {path} has position_ids that are not 0, 1, 2, ...; {fix}")
    return mapped


def _misfit(net: nn.Module, state: dict[str, torch.Tensor]) -> str:
    """What keeps ``state`` from a strict load into ``net`` (missing, unexpected or misshapen
    weights, an example of each, in ImageReward's names), or ``""``."""
    ours = net.state_dict()
    missing = sorted(set(ours) - set(state))
    unexpected = sorted(set(state) - set(ours))
    shapes = sorted(k for k in set(ours) & set(state) if ours[k].shape != state[k].shape)
    problems = []
    if missing:
        problems.append(f"{len(missing)} weights missing (e.g. {to_imagereward(missing[0])})")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected (e.g. {to_imagereward(unexpected[0])})")
    if shapes:
        k = shapes[0]
        problems.append(
            f"{len(shapes)} of another shape (e.g. {to_imagereward(k)}: "
            f"{tuple(state[k].shape)}, the network's {tuple(ours[k].shape)})"
        )
    return "; ".join(problems)


def _fill_position_ids(net: ImageRewardNet) -> None:
    """The text encoder's ``position_ids`` (``0, 1, 2, ...``), a buffer outside the state dict
    that a network built on the meta device lacks; no other tensor may be left there."""
    embeddings = net.text_encoder.embeddings
    embeddings.position_ids = torch.arange(embeddings.position_ids.shape[-1]).expand((1, -1))
    left = [name for name, t in (*net.named_parameters(), *net.named_buffers()) if t.is_meta]
    if left:
        raise FeatureError(f"{KEY}: ImageReward's network has weights without values: {left}")


def build_net(vision: dict[str, Any], med: dict[str, Any]) -> ImageRewardNet:
    """The network of ViT sizes ``vision`` and text encoder ``med``, in eval mode."""
    return ImageRewardNet(vision, med).eval()


def preprocess(image: np.ndarray, size: int) -> torch.Tensor:
    """The package's ``_transform(size)`` of one HxWx3 uint8 image: (3, size, size) float."""
    from PIL import Image
    from torchvision.transforms import functional as F

    pil = Image.fromarray(np.asarray(image, dtype=np.uint8)).convert("RGB")
    pil = F.center_crop(F.resize(pil, size, F.InterpolationMode.BICUBIC), size)
    return F.normalize(F.to_tensor(pil), list(CLIP_MEAN), list(CLIP_STD))


def tokenize(tokenizer, prompts: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
    """The package's tokenizer call: ``(input_ids, attention_mask)``, each (N, 35)."""
    out = tokenizer(
        list(prompts),
        padding="max_length",
        truncation=True,
        max_length=MAX_LENGTH,
        return_tensors="pt",
    )
    return out["input_ids"], out["attention_mask"]


class ImageRewardScorer:
    """ImageReward of (image, prompt) pairs: ``scorer(images, prompts)`` -> (N, 1) float32."""

    name = "imagereward"
    needs_prompts = True
    dim = 1

    def __init__(self, net: ImageRewardNet, tokenizer, meta: dict[str, Any], device, batch_size):
        self.device = torch.device(device)
        self.net = net.to(self.device).eval()
        self.tokenizer = tokenizer
        self.meta = meta
        self.batch_size = int(batch_size)
        self.size = int(net.visual_encoder.config.image_size)

    def _score(self, images: Sequence[np.ndarray], prompts: Sequence[str]) -> np.ndarray:
        pixels = torch.stack([preprocess(image, self.size) for image in images])
        ids, mask = tokenize(self.tokenizer, prompts)
        with torch.inference_mode():
            rewards = self.net(pixels.to(self.device), ids.to(self.device), mask.to(self.device))
        return rewards.float().cpu().numpy().reshape(-1)

    def __call__(self, images: Sequence[np.ndarray], prompts: Sequence[str] | None = None):
        """(N, 1) float32 rewards of ``images`` (HxWx3 uint8) for their ``prompts``."""
        if prompts is None or len(prompts) != len(images):
            raise FeatureError(
                f"ImageReward scores (image, prompt) pairs: got {len(images)} images and "
                f"{None if prompts is None else len(prompts)} prompts"
            )
        out = [
            self._score(images[s : s + self.batch_size], prompts[s : s + self.batch_size])
            for s in range(0, len(images), self.batch_size)
        ]
        scores = np.concatenate(out) if out else np.zeros(0)
        return scores.astype(np.float32).reshape(-1, 1)


def _tiny_files(folder: Path) -> tuple[Path, Path, Path, dict[str, Any], dict[str, Any]]:
    """A tiny folder's checkpoint, med config, tokenizer folder, ViT sizes and marker."""
    from seedscope.tiny_nets import FORMAT

    fix = f"delete {folder} and rebuild it (seedscope.tiny.imagereward.build_tiny_imagereward)"
    try:
        marker = json.loads((folder / TINY_MARKER).read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise FeatureError(
            f"{KEY}.weights: {folder / TINY_MARKER} is unreadable ({error_line(err)}); {fix}"
        ) from err
    if marker.get("format") != FORMAT or marker.get("extractor") != "imagereward":
        raise FeatureError(
            f"{KEY}.weights: {folder} is not a tiny ImageReward folder (format "
            f"{marker.get('format')!r}, extractor {marker.get('extractor')!r}); {fix}"
        )
    vision = marker.get("vision")
    if not isinstance(vision, dict) or set(vision) != set(VIT_LARGE):
        raise FeatureError(f"{KEY}.weights: {folder / TINY_MARKER} lacks the ViT's sizes; {fix}")
    files = [folder / str(marker.get(k)) for k in ("checkpoint", "med_config", "tokenizer")]
    missing = [f.name for f in files if not f.exists()]
    if missing:
        raise FeatureError(f"{KEY}.weights: tiny ImageReward {folder} lacks {missing}; {fix}")
    return files[0], files[1], files[2], vision, marker


def load_imagereward(
    settings: dict[str, Any],
    device: str | torch.device = "cpu",
    weights: str | Path | None = None,
) -> ImageRewardScorer:
    """The ImageReward scorer from the validated ``features.imagereward`` section: ``weights``
    (``"hub"``, a local ``ImageReward.pt`` or a tiny folder), ``med_config`` (``"hub"`` or a
    local ``med_config.json``), ``tokenizer`` (a hub id or folder, ``bert-base-uncased``) and
    ``batch_size``; the schema gives their defaults.

    ``weights``, when given (a tiny folder or a local file), overrides ``settings["weights"]``;
    a tiny folder brings its own med config and tokenizer, which are read the same way. Every
    problem is a :class:`FeatureError` naming the file, the config key and the fix.
    """
    source = settings.get("weights", "hub") if weights is None else weights
    if str(source) == "tiny":
        raise FeatureError(
            f"{KEY}.weights is 'tiny' but no tiny ImageReward folder was given; build one with "
            "seedscope.tiny.imagereward.build_tiny_imagereward(folder) (the workflow's rule "
            "does) and pass it as weights"
        )
    path = None if str(source) == "hub" else Path(source).expanduser()
    tiny = None
    if path is not None and path.is_dir():
        if not (path / TINY_MARKER).is_file():
            raise FeatureError(
                f"{KEY}.weights: {path} is a folder without {TINY_MARKER}, not a tiny "
                f"ImageReward; set {KEY}.weights to the {CHECKPOINT_FILE} file or to 'hub'"
            )
        checkpoint, med_path, tokenizer_source, vision, tiny = _tiny_files(path)
    else:
        checkpoint = hub_file(CHECKPOINT_FILE, source, f"{KEY}.weights")
        med_path = hub_file(MED_CONFIG_FILE, settings.get("med_config", "hub"), f"{KEY}.med_config")
        tokenizer_source, vision = settings.get("tokenizer", TOKENIZER), dict(VIT_LARGE)
    med = read_med_config(med_path, f"{KEY}.med_config")
    tokenizer = load_tokenizer(tokenizer_source, f"{KEY}.tokenizer", int(med["vocab_size"]))
    state = load_checkpoint(checkpoint, f"{KEY}.weights")
    with torch.device("meta"):  # no random initialisation: the checkpoint fills every weight
        net = build_net(vision, med)
    misfit = _misfit(net, state)
    if misfit:
        raise FeatureError(
            f"{KEY}.weights: {checkpoint} does not fit ImageReward's network with "
            f"{med_path.name} and ViT {vision}: {misfit}; it is not the ImageReward checkpoint "
            f"of these settings: download {CHECKPOINT_FILE} and {MED_CONFIG_FILE} of {HUB_REPO} "
            f"again, or set {KEY}.weights and {KEY}.med_config to matching copies"
        )
    net.load_state_dict(state, strict=True, assign=True)
    _fill_position_ids(net)
    meta = {
        "extractor": "imagereward",
        "version": VERSION,
        "model": "tiny-imagereward" if tiny else "ImageReward-v1.0",
        "transformers": version("transformers"),
        "torch": version("torch"),
        "torchvision": version("torchvision"),
        "weights": str(source),
        "weights_file": checkpoint.name,
        "weights_sha256": file_sha256(checkpoint),
        "med_config_file": med_path.name,
        "med_config_sha256": file_sha256(med_path),
        "tokenizer": str(tokenizer_source),
        "image_size": int(vision["image_size"]),
        "max_length": MAX_LENGTH,
        "reward_mean": REWARD_MEAN,
        "reward_std": REWARD_STD,
        "ignored_keys": list(IGNORED_KEYS),
        "dim": 1,
    }
    if tiny is not None:
        meta["tiny"] = tiny
    return ImageRewardScorer(net, tokenizer, meta, device, settings["batch_size"])
