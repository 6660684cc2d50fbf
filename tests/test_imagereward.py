"""The ImageReward extractor (seedscope.features.imagereward) on a tiny random ImageReward saved in
the published files' format: the score against ImageReward's formula computed here from the
checkpoint's raw tensors, against the reference package's own model (``image-reward`` 1.5,
where installed), batch independence, the tokenizer's convention, and the errors.

The reference package does not install beside this project (it pins timm 0.6.13 and imports
OpenAI's ``clip``, diffusers and datasets at import); its model code is used here as installed
by ``pip install --no-deps image-reward==1.5`` (see :func:`imagereward_reference`). Elsewhere
the tests against it are skipped with that command as the reason.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import json
import math
import sys
import types
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch.nn import functional as F

from seedscope.errors import FeatureError
from seedscope.extractors import EXTRACTORS, load_extractor
from seedscope.features.imagereward import (
    IGNORED_KEYS,
    VIT_LARGE,
    build_net,
    load_imagereward,
    to_imagereward,
    to_ours,
)
from seedscope.tiny.imagereward import TINY_VISION, build_tiny_imagereward, tiny_vocab

SETTINGS = {
    "weights": "tiny",
    "med_config": "hub",
    "tokenizer": "bert-base-uncased",
    "batch_size": 3,
}
REFERENCE = "pip install --no-deps image-reward==1.5"
PROMPTS = ["a photo of a cat", "a red apple on a wooden table", "zebra crossing, 1999!"]
# BLIP's configs/med_config.json (THUDM/ImageReward's train/src/config/med_config.json).
BLIP_MED_CONFIG = {
    "architectures": ["BertModel"],
    "attention_probs_dropout_prob": 0.1,
    "hidden_act": "gelu",
    "hidden_dropout_prob": 0.1,
    "hidden_size": 768,
    "initializer_range": 0.02,
    "intermediate_size": 3072,
    "layer_norm_eps": 1e-12,
    "max_position_embeddings": 512,
    "model_type": "bert",
    "num_attention_heads": 12,
    "num_hidden_layers": 12,
    "pad_token_id": 0,
    "type_vocab_size": 2,
    "vocab_size": 30524,
    "encoder_width": 768,
    "add_cross_attention": True,
}


def images(n: int, seed: int = 0, shapes=((64, 80), (96, 96), (50, 120))) -> list[np.ndarray]:
    """Smooth random RGB images (uint8) of several shapes."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        h, w = shapes[i % len(shapes)]
        small = rng.integers(0, 256, (max(h // 8, 1), max(w // 8, 1), 3), dtype=np.uint8)
        out.append(np.asarray(Image.fromarray(small).resize((w, h), Image.BILINEAR)))
    return out


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return build_tiny_imagereward(tmp_path_factory.mktemp("imagereward") / "tiny")


@pytest.fixture(scope="module")
def scorer(folder):
    return load_imagereward(SETTINGS, "cpu", weights=folder)


# --- the reference package ------------------------------------------------------------------


def _stub(name: str, **attributes) -> types.ModuleType:
    module = types.ModuleType(name)
    module.__dict__.update(attributes)
    return module


def _never(*args, **kwargs):
    raise NotImplementedError("not used by ImageReward's score")


@contextlib.contextmanager
def imagereward_reference(tokenizer: str | Path, vision: dict | None = None, width=None):
    """``ImageReward.utils`` of the installed package ``image-reward`` 1.5 (skips without it),
    its model code unchanged, imported beside transformers 5 with these shims, each undone on
    exit and none touching the score's arithmetic:

    - its ``__init__`` files are skipped (they import the ReFL trainer, with diffusers and
      datasets, and OpenAI's ``clip`` for the CLIP and aesthetic baselines; ``clip`` and
      ``fairscale``, whose ``checkpoint_wrapper`` only wraps blocks for gradient
      checkpointing, are stubbed where they are not installed);
    - where transformers 5 lacks them: ``transformers.modeling_utils.apply_chunking_to_forward``
      (moved to ``transformers.pytorch_utils``) and ``prune_linear_layer`` /
      ``find_pruneable_heads_and_indices`` (head pruning, unused) for ``med.py``'s import, and
      ``med.BertModel``'s ``get_head_mask`` and ``invert_attention_mask`` as transformers 4
      defined them, and its ``init_weights`` as the model's own ``_init_weights`` (the
      checkpoint overwrites every weight);
    - ``blip.BertTokenizer.from_pretrained("bert-base-uncased")`` loads ``tokenizer`` (a folder,
      or the hub id itself), and, where transformers 5 lacks it, gets the
      ``additional_special_tokens_ids`` that ``init_tokenizer`` reads;
    - with ``vision`` (a tiny ViT's sizes) ``blip_pretrain.create_vit`` builds the package's own
      ``VisionTransformer`` with them instead of ViT-L, and with ``width`` the package's ``MLP``
      takes that input width instead of 768.

    Score inside the block: the shims are gone after it.
    """
    spec = importlib.util.find_spec("ImageReward")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip(f"the reference package image-reward is not installed ({REFERENCE})")
    import transformers
    import transformers.modeling_utils as modeling_utils
    import transformers.pytorch_utils as pytorch_utils

    root = Path(list(spec.submodule_search_locations)[0])
    added: list[str] = []
    verbosity = transformers.logging.get_verbosity()
    with pytest.MonkeyPatch.context() as mp, warnings.catch_warnings():
        for name, path in (("ImageReward", root), ("ImageReward.models", root / "models")):
            mp.setitem(sys.modules, name, _stub(name, __path__=[str(path)]))
        if importlib.util.find_spec("clip") is None:
            mp.setitem(sys.modules, "clip", _stub("clip"))
        if importlib.util.find_spec("fairscale") is None:
            parts = ["fairscale", "fairscale.nn", "fairscale.nn.checkpoint"]
            for name in parts:
                mp.setitem(sys.modules, name, _stub(name, __path__=[]))
            name = "fairscale.nn.checkpoint.checkpoint_activations"
            mp.setitem(sys.modules, name, _stub(name, checkpoint_wrapper=_never))
        for name in ("apply_chunking_to_forward", "prune_linear_layer"):
            if not hasattr(modeling_utils, name):
                mp.setattr(
                    modeling_utils, name, getattr(pytorch_utils, name, _never), raising=False
                )
        if not hasattr(modeling_utils, "find_pruneable_heads_and_indices"):
            mp.setattr(modeling_utils, "find_pruneable_heads_and_indices", _never, raising=False)
        before = set(sys.modules)
        try:
            utils = importlib.import_module("ImageReward.utils")
            added = [name for name in sys.modules if name not in before]
            med = importlib.import_module("ImageReward.models.BLIP.med")
            blip = importlib.import_module("ImageReward.models.BLIP.blip")
            blip_pretrain = importlib.import_module("ImageReward.models.BLIP.blip_pretrain")
            vit = importlib.import_module("ImageReward.models.BLIP.vit")
            model_module = importlib.import_module("ImageReward.ImageReward")
            _shim_bert(mp, med.BertModel)
            mp.setattr(blip, "BertTokenizer", _tokenizer_loader(tokenizer))
            if vision is not None:
                mp.setattr(blip_pretrain, "create_vit", _tiny_vit_factory(vit, vision))
            if width is not None:
                mlp = model_module.MLP
                mp.setattr(model_module, "MLP", lambda input_size: mlp(width))
            yield utils
        finally:
            for name in added:
                sys.modules.pop(name, None)
            transformers.logging.set_verbosity(verbosity)


def _shim_bert(mp: pytest.MonkeyPatch, bert) -> None:
    """transformers 4's ``get_head_mask`` and ``invert_attention_mask`` on the package's
    ``BertModel`` (which calls them) where transformers 5 dropped them, and its own
    ``_init_weights`` as ``init_weights``."""
    from transformers.modeling_utils import PreTrainedModel

    if hasattr(PreTrainedModel, "get_head_mask"):
        return

    def get_head_mask(self, head_mask, num_hidden_layers, is_attention_chunked=False):
        assert head_mask is None, "ImageReward passes no head mask"
        return [None] * num_hidden_layers

    def invert_attention_mask(self, mask):
        extended = mask[:, None, :, :] if mask.dim() == 3 else mask[:, None, None, :]
        extended = extended.to(dtype=self.dtype)
        return (1.0 - extended) * torch.finfo(self.dtype).min

    mp.setattr(bert, "get_head_mask", get_head_mask, raising=False)
    mp.setattr(bert, "invert_attention_mask", invert_attention_mask, raising=False)
    mp.setattr(bert, "init_weights", lambda self: self.apply(self._init_weights))


def _tokenizer_loader(source: str | Path):
    """A stand-in for ``transformers.BertTokenizer`` in the package's ``blip`` module."""
    from transformers import BertTokenizer

    class Loader:
        @staticmethod
        def from_pretrained(name):
            assert name == "bert-base-uncased", name
            tokenizer = BertTokenizer.from_pretrained(str(source))
            if not hasattr(tokenizer, "additional_special_tokens_ids"):

                class WithIds(type(tokenizer)):
                    @property
                    def additional_special_tokens_ids(self):
                        return self.convert_tokens_to_ids(self.extra_special_tokens)

                tokenizer.__class__ = WithIds
            return tokenizer

    return Loader


def _tiny_vit_factory(vit, vision: dict):
    """The package's ``create_vit`` for ``"large"``, at the tiny ViT's sizes."""

    def create_vit(name, image_size, use_grad_checkpointing=False, ckpt_layer=0, drop_path_rate=0):
        assert name == "large" and image_size == vision["image_size"] == 224
        width = vision["hidden_size"]
        encoder = vit.VisionTransformer(
            img_size=image_size,
            patch_size=vision["patch_size"],
            embed_dim=width,
            depth=vision["num_hidden_layers"],
            num_heads=vision["num_attention_heads"],
            mlp_ratio=vision["intermediate_size"] / width,
            use_grad_checkpointing=use_grad_checkpointing,
            ckpt_layer=ckpt_layer,
            drop_path_rate=0.1,  # the package's "large" branch: 0.1 or drop_path_rate
        )
        return encoder, width

    return create_vit


def package_scores(utils, checkpoint, med_config, images, prompts, device="cpu") -> np.ndarray:
    """``ImageReward.load(checkpoint, med_config=...).score(prompt, image)`` per pair."""
    model = utils.load(str(checkpoint), device=device, med_config=str(med_config))
    state = torch.load(checkpoint, map_location="cpu", weights_only=True)
    loaded = model.state_dict()
    assert set(loaded) <= set(state)  # the package's load is not strict: check it is complete
    assert all(torch.equal(loaded[k].cpu(), state[k]) for k in loaded)
    with torch.no_grad():
        return np.array(
            [model.score(p, Image.fromarray(im)) for p, im in zip(prompts, images, strict=True)]
        )


# --- ImageReward's formula, from the checkpoint's tensors ---------------------------------


def _attention(q, k, v, heads, bias=None):
    batch, n_q, width = q.shape
    d = width // heads
    q, k, v = (t.reshape(batch, -1, heads, d).transpose(1, 2) for t in (q, k, v))
    scores = q @ k.transpose(-1, -2) / math.sqrt(d)
    if bias is not None:
        scores = scores + bias
    return (scores.softmax(-1) @ v).transpose(1, 2).reshape(batch, n_q, width)


def imagereward_formula(state, vision, med, pixels, ids, mask):
    """ImageReward's ``score`` written out from ``vit.py``, ``med.py`` and ``ImageReward.py``
    on the checkpoint's tensors (ImageReward's key names)."""

    def lin(x, p):
        return F.linear(x, state[f"{p}.weight"], state[f"{p}.bias"])

    def norm(x, p, eps):
        return F.layer_norm(x, x.shape[-1:], state[f"{p}.weight"], state[f"{p}.bias"], eps)

    v = "blip.visual_encoder"
    x = (
        F.conv2d(
            pixels,
            state[f"{v}.patch_embed.proj.weight"],
            state[f"{v}.patch_embed.proj.bias"],
            stride=vision["patch_size"],
        )
        .flatten(2)
        .transpose(1, 2)
    )
    x = torch.cat([state[f"{v}.cls_token"].expand(len(x), -1, -1), x], 1) + state[f"{v}.pos_embed"]
    for i in range(vision["num_hidden_layers"]):
        b = f"{v}.blocks.{i}"
        q, k, vv = lin(norm(x, f"{b}.norm1", 1e-6), f"{b}.attn.qkv").chunk(3, dim=-1)
        x = x + lin(_attention(q, k, vv, vision["num_attention_heads"]), f"{b}.attn.proj")
        x = x + lin(F.gelu(lin(norm(x, f"{b}.norm2", 1e-6), f"{b}.mlp.fc1")), f"{b}.mlp.fc2")
    image = norm(x, f"{v}.norm", 1e-6)

    t, eps, heads = "blip.text_encoder", med["layer_norm_eps"], med["num_attention_heads"]
    h = state[f"{t}.embeddings.word_embeddings.weight"][ids]
    h = h + state[f"{t}.embeddings.position_embeddings.weight"][: ids.shape[1]]
    h = norm(h, f"{t}.embeddings.LayerNorm", eps)
    bias = (1.0 - mask[:, None, None, :].float()) * -10000.0  # med's extended attention mask
    for i in range(med["num_hidden_layers"]):
        L = f"{t}.encoder.layer.{i}"
        s = f"{L}.attention.self"
        a = _attention(lin(h, f"{s}.query"), lin(h, f"{s}.key"), lin(h, f"{s}.value"), heads, bias)
        h = norm(lin(a, f"{L}.attention.output.dense") + h, f"{L}.attention.output.LayerNorm", eps)
        c = f"{L}.crossattention.self"
        a = _attention(
            lin(h, f"{c}.query"), lin(image, f"{c}.key"), lin(image, f"{c}.value"), heads
        )
        h = norm(
            lin(a, f"{L}.crossattention.output.dense") + h,
            f"{L}.crossattention.output.LayerNorm",
            eps,
        )
        f = lin(F.gelu(lin(h, f"{L}.intermediate.dense")), f"{L}.output.dense")
        h = norm(f + h, f"{L}.output.LayerNorm", eps)
    r = h[:, 0]
    for j in (0, 2, 4, 6, 7):  # Linear layers of the MLP; dropouts between are off in eval
        r = lin(r, f"mlp.layers.{j}")
    return (r - 0.16717362830052426) / 1.0333394966054072


def _pixels(ims, size=224):
    from torchvision.transforms import (
        CenterCrop,
        Compose,
        InterpolationMode,
        Normalize,
        Resize,
        ToTensor,
    )

    transform = Compose(
        [
            Resize(size, interpolation=InterpolationMode.BICUBIC),
            CenterCrop(size),
            ToTensor(),
            Normalize((0.48145466, 0.4578275, 0.40821073), (0.26862954, 0.26130258, 0.27577711)),
        ]
    )
    return torch.stack([transform(Image.fromarray(im).convert("RGB")) for im in ims])


def _tokenizer(folder):
    from transformers import BertTokenizer

    tokenizer = BertTokenizer.from_pretrained(folder / "tokenizer")
    tokenizer.add_special_tokens({"bos_token": "[DEC]"})
    tokenizer.add_special_tokens({"additional_special_tokens": ["[ENC]"]})
    return tokenizer


# --- tests -----------------------------------------------------------------------------------


def test_tiny_folder_is_saved_as_the_published_files(folder, scorer, tmp_path):
    names = {p.name for p in folder.iterdir()}
    assert names == {"ImageReward.pt", "med_config.json", "tokenizer", "seedscope-tiny.json"}
    assert {p.name for p in (folder / "tokenizer").iterdir()} == {
        "vocab.txt",
        "tokenizer_config.json",
    }
    state = torch.load(folder / "ImageReward.pt", weights_only=True)
    assert all(isinstance(v, torch.Tensor) for v in state.values())
    assert set(IGNORED_KEYS) <= set(state)
    assert {
        "blip.visual_encoder.cls_token",
        "blip.visual_encoder.pos_embed",
        "mlp.layers.7.bias",
        "blip.visual_encoder.blocks.1.attn.qkv.weight",
        "blip.visual_encoder.norm.weight",
        "blip.text_encoder.encoder.layer.1.crossattention.self.key.weight",
    } <= set(state)
    assert all(
        k.startswith(("blip.visual_encoder.", "blip.text_encoder.", "mlp.layers."))
        for k in set(state) - set(IGNORED_KEYS)
    )
    med = json.loads((folder / "med_config.json").read_text())
    assert med["vocab_size"] == len(tiny_vocab()) + 2 and med["add_cross_attention"] is True
    assert state["blip.text_encoder.encoder.layer.0.crossattention.self.key.weight"].shape == (
        med["hidden_size"],
        TINY_VISION["hidden_size"],
    )
    assert scorer.name == "imagereward" and scorer.dim == 1 and scorer.needs_prompts is True
    assert scorer.batch_size == 3
    meta = scorer.meta
    assert meta["extractor"] == "imagereward" and meta["model"] == "tiny-imagereward"
    assert meta["weights_file"] == "ImageReward.pt" and meta["dim"] == 1
    assert meta["tiny"]["vision"] == TINY_VISION and meta["image_size"] == 224
    assert {"transformers", "torch", "weights_sha256", "med_config_sha256", "version"} <= set(meta)
    again = load_imagereward(SETTINGS, weights=build_tiny_imagereward(tmp_path / "again"))
    other = load_imagereward(SETTINGS, weights=build_tiny_imagereward(tmp_path / "other", seed=1))
    assert again.meta["weights_sha256"] == meta["weights_sha256"] != other.meta["weights_sha256"]
    ims = images(3)
    assert np.array_equal(scorer(ims, PROMPTS), again(ims, PROMPTS))


def test_key_map_round_trips():
    names = build_net(
        TINY_VISION,
        json.loads(json.dumps(BLIP_MED_CONFIG))
        | {
            "num_hidden_layers": 1,
            "hidden_size": 24,
            "num_attention_heads": 2,
            "intermediate_size": 8,
            "vocab_size": 50,
            "max_position_embeddings": 40,
        },
    ).state_dict()
    for name in names:
        key = to_imagereward(name)
        assert to_ours(key) == name and key not in IGNORED_KEYS
    assert to_ours("blip.visual_encoder.head.weight") is None
    assert to_ours("blip.itm_head.weight") is None


def test_score_is_imagereward_formula(folder, scorer):
    """(a) The score is ImageReward's: the [CLS] output of the cross-attending BERT -> MLP ->
    (r - mean) / std, computed here from the checkpoint's tensors."""
    ims = images(3)
    ours = scorer(ims, PROMPTS)
    assert ours.dtype == np.float32 and ours.shape == (3, 1) and np.isfinite(ours).all()
    state = torch.load(folder / "ImageReward.pt", weights_only=True)
    med = json.loads((folder / "med_config.json").read_text())
    tokens = _tokenizer(folder)(
        PROMPTS, padding="max_length", truncation=True, max_length=35, return_tensors="pt"
    )
    with torch.no_grad():
        theirs = imagereward_formula(
            state, TINY_VISION, med, _pixels(ims), tokens.input_ids, tokens.attention_mask
        )
    np.testing.assert_allclose(ours, theirs.numpy(), rtol=0, atol=2e-5)
    assert np.ptp(ours) > 0.05  # the tiny weights give distinct scores


def test_score_equals_the_image_reward_package(folder, scorer):
    """(b) The reference package's own ImageReward model and ``score``, loaded by its ``load``
    from the tiny checkpoint and med_config, gives our scores."""
    ims = images(5, seed=3)
    prompts = [
        *PROMPTS,
        "A PAINTING of an ocean with clouds and birds, day time, low depth "
        "field effect, " + "very " * 30 + "long",
        "[ENC] a cat",
    ]
    med = json.loads((folder / "med_config.json").read_text())
    with imagereward_reference(folder / "tokenizer", TINY_VISION, med["hidden_size"]) as utils:
        theirs = package_scores(
            utils, folder / "ImageReward.pt", folder / "med_config.json", ims, prompts
        )
    np.testing.assert_allclose(scorer(ims, prompts)[:, 0], theirs, rtol=0, atol=2e-5)
    assert "ImageReward.utils" not in sys.modules  # the shims are gone


class _CpuLinspace:
    """``torch``, but ``linspace`` on the CPU whatever the default device."""

    def __getattr__(self, name):
        return getattr(torch, name)

    @staticmethod
    def linspace(*args, **kwargs):
        return torch.linspace(*args, **kwargs, device="cpu")


def test_full_size_network_has_the_package_weights(tmp_path):
    """ViT-L/16 and BLIP's BERT at full size (on the meta device): the package's ImageReward
    has exactly our weights under the mapped names, with the same shapes, besides the ignored
    keys; so the real checkpoint loads strictly."""
    config = tmp_path / "med_config.json"
    config.write_text(json.dumps(BLIP_MED_CONFIG))
    with imagereward_reference("bert-base-uncased"), pytest.MonkeyPatch.context() as mp:
        # no tokenizer files here, and the network needs none
        mp.setattr(sys.modules["ImageReward.models.BLIP.blip_pretrain"], "init_tokenizer", list)
        # the ViT reads its drop-path rates with .item(), which meta tensors refuse
        mp.setattr(sys.modules["ImageReward.models.BLIP.vit"], "torch", _CpuLinspace())
        with torch.device("meta"):
            model = sys.modules["ImageReward.ImageReward"].ImageReward(str(config), device="meta")
        theirs = model.state_dict()
    with torch.device("meta"):
        ours = build_net(VIT_LARGE, BLIP_MED_CONFIG).state_dict()
    shapes = {to_ours(k): tuple(v.shape) for k, v in theirs.items() if k not in IGNORED_KEYS}
    assert shapes == {k: tuple(v.shape) for k, v in ours.items()}
    assert set(IGNORED_KEYS) <= set(theirs)
    assert shapes["text_encoder.encoder.layer.11.crossattention.self.key.weight"] == (768, 1024)
    assert shapes["visual_encoder.encoder.layers.23.mlp.fc1.weight"] == (4096, 1024)


def test_batch_size_does_not_change_scores(folder, scorer):
    """(c) Batches of 1 and of 3 (images of several sizes) give the same scores."""
    ims = images(7, seed=1)
    prompts = [PROMPTS[i % 3] for i in range(7)]
    one = load_imagereward(SETTINGS | {"batch_size": 1}, weights=folder)(ims, prompts)
    np.testing.assert_allclose(scorer(ims, prompts), one, rtol=0, atol=1e-5)
    assert scorer([], []).shape == (0, 1)


def test_score_depends_on_prompt_and_image(scorer):
    """(d) Another prompt, or another image, another score."""
    ims = images(2, seed=2)
    same = [ims[0], ims[0]]
    by_prompt = scorer(same, ["a photo of a cat", "a photo of a dog"])[:, 0]
    assert abs(by_prompt[0] - by_prompt[1]) > 1e-3
    by_image = scorer(ims, ["a photo of a cat"] * 2)[:, 0]
    assert abs(by_image[0] - by_image[1]) > 1e-3


def test_tokenizer_convention(folder, scorer):
    """(f) BLIP's tokenizer: [DEC] and [ENC] added last, 35 tokens, [CLS] first (``score`` does
    not swap in [ENC]), [SEP] after the prompt, [PAD] (id 0) after that, masked."""
    from seedscope.features.imagereward import tokenize

    tokenizer = scorer.tokenizer
    vocab = len(tiny_vocab())
    assert tokenizer.convert_tokens_to_ids(["[DEC]", "[ENC]"]) == [vocab, vocab + 1]
    assert tokenizer.bos_token == "[DEC]" and len(tokenizer) == vocab + 2
    ids, mask = tokenize(tokenizer, ["a photo of a cat", "a " * 50, "[ENC] cat"])
    assert ids.shape == mask.shape == (3, 35)
    cls, sep, pad = tokenizer.convert_tokens_to_ids(["[CLS]", "[SEP]", "[PAD]"])
    assert (ids[:, 0] == cls).all() and pad == 0
    assert ids[0, 6] == sep and (ids[0, 7:] == pad).all() and mask[0].tolist() == [1] * 7 + [0] * 28
    assert ids[1, -1] == sep and mask[1].all()  # truncated to 35 with [SEP] last
    assert ids[2, 1] == vocab + 1  # a literal [ENC] is the special token, as in the package
    assert tokenizer.tokenize("Zebra-crossing 1999") == [
        "z",
        "##e",
        "##b",
        "##r",
        "##a",
        "-",
        "c",
        "##r",
        "##o",
        "##s",
        "##s",
        "##i",
        "##n",
        "##g",
        "1",
        "##9",
        "##9",
        "##9",
    ]


def test_tokenizer_equals_the_python_bert_tokenizer(folder, scorer):
    """transformers 5's ``BertTokenizer`` (Rust) gives the ids of the Python ``BertTokenizer``
    that ImageReward ran with (transformers 4; ``BertTokenizerLegacy`` in 5) on awkward text."""
    legacy = pytest.importorskip("transformers.models.bert.tokenization_bert_legacy")
    python = legacy.BertTokenizerLegacy.from_pretrained(folder / "tokenizer")
    python.add_special_tokens({"bos_token": "[DEC]"})
    python.add_special_tokens({"additional_special_tokens": ["[ENC]"]})
    prompts = [
        "Café  crème, naïve RÉSUMÉ!",
        "a [ENC] b [DEC]",
        "日本 text\tx\u200b y",
        "don't  stop -- 3.14",
        "",
        "word " * 40,
    ]
    for prompt in prompts:
        ours = scorer.tokenizer(prompt, padding="max_length", truncation=True, max_length=35)
        theirs = python(prompt, padding="max_length", truncation=True, max_length=35)
        assert ours["input_ids"] == theirs["input_ids"], prompt
        assert ours["attention_mask"] == theirs["attention_mask"], prompt


def test_registered_extractor_loads_the_tiny_folder(folder, scorer):
    if "imagereward" not in EXTRACTORS:
        pytest.skip("seedscope.extractors has no 'imagereward' entry yet (added separately)")
    extractor = load_extractor("imagereward", SETTINGS, "cpu", weights=folder)
    ims = images(2)
    assert np.array_equal(extractor(ims, PROMPTS[:2]), scorer(ims, PROMPTS[:2]))


# --- errors -----------------------------------------------------------------------------------


def _copy_folder(folder: Path, to: Path) -> Path:
    import shutil

    return Path(shutil.copytree(folder, to))


def test_corrupt_and_missing_checkpoints_are_feature_errors(folder, tmp_path):
    """(e) A truncated or corrupt checkpoint, a missing file, a checkpoint that is not
    ImageReward's or of other sizes: FeatureErrors naming the file and the fix."""
    copy = _copy_folder(folder, tmp_path / "copy")
    data = (copy / "ImageReward.pt").read_bytes()
    (copy / "ImageReward.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(FeatureError, match="truncated or corrupt") as err:
        load_imagereward(SETTINGS, weights=copy)
    assert "huggingface-cli download THUDM/ImageReward ImageReward.pt" in str(err.value)
    assert "features.imagereward.weights" in str(err.value)
    (copy / "ImageReward.pt").write_bytes(b"not a checkpoint" * 100)
    with pytest.raises(FeatureError, match="does not load"):
        load_imagereward(SETTINGS, weights=copy)

    settings = SETTINGS | {
        "weights": str(tmp_path / "nowhere.pt"),
        "tokenizer": str(copy / "tokenizer"),
    }
    with pytest.raises(FeatureError, match="is not a file") as err:
        load_imagereward(settings)
    assert "huggingface-cli download THUDM/ImageReward" in str(err.value)

    state = torch.load(folder / "ImageReward.pt", weights_only=True)
    for change, message in [
        ({"blip.itm_head.weight": torch.zeros(2, 32)}, "not ImageReward's checkpoint"),
        ({"mlp.layers.7.bias": None}, "1 weights missing .e.g. mlp.layers.7.bias"),
        ({"mlp.layers.7.bias": torch.zeros(2)}, "of another shape .e.g. mlp.layers.7.bias"),
        (
            {"blip.text_encoder.embeddings.position_ids": torch.zeros(1, 64, dtype=torch.long)},
            "position_ids",
        ),
        ({"blip.visual_encoder.blocks.5.norm1.weight": torch.ones(32)}, "unexpected .e.g. blip."),
    ]:
        broken = {k: v for k, v in (state | change).items() if v is not None}
        torch.save(broken, copy / "ImageReward.pt")
        with pytest.raises(FeatureError, match=message):
            load_imagereward(SETTINGS, weights=copy)
    torch.save([1, 2, 3], copy / "ImageReward.pt")
    with pytest.raises(FeatureError, match="not a state dict"):
        load_imagereward(SETTINGS, weights=copy)


def test_missing_hub_files_say_how_to_get_them(folder, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", True)
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    settings = SETTINGS | {"weights": "hub", "tokenizer": str(folder / "tokenizer")}
    with pytest.raises(FeatureError) as err:
        load_imagereward(settings)
    message = str(err.value)
    for part in (
        "THUDM/ImageReward",
        "ImageReward.pt",
        "huggingface-cli download",
        "features.imagereward.weights",
        "not in the local cache",
    ):
        assert part in message
    settings |= {"weights": str(folder / "ImageReward.pt")}
    with pytest.raises(FeatureError, match="features.imagereward.med_config.*med_config.json"):
        load_imagereward(settings)
    settings |= {"med_config": str(folder / "med_config.json"), "tokenizer": "bert-base-uncased"}
    with pytest.raises(FeatureError, match="features.imagereward.tokenizer.*bert-base-uncased"):
        load_imagereward(settings)


def test_local_files_and_bad_settings(folder, tmp_path):
    local = SETTINGS | {
        "weights": str(folder / "ImageReward.pt"),
        "med_config": str(folder / "med_config.json"),
        "tokenizer": str(folder / "tokenizer"),
    }
    # the real-weights path with the tiny files fails on the ViT's sizes, naming them
    with pytest.raises(FeatureError, match="does not fit ImageReward's network"):
        load_imagereward(local)
    with pytest.raises(FeatureError, match="tiny ImageReward folder was given"):
        load_imagereward(SETTINGS)
    with pytest.raises(FeatureError, match="not a tiny ImageReward"):
        load_imagereward(SETTINGS, weights=tmp_path)
    with pytest.raises(FeatureError, match="is not a folder|does not exist"):
        load_imagereward(local | {"tokenizer": str(tmp_path / "none")})
    bad = tmp_path / "med_config.json"
    bad.write_text("{")
    with pytest.raises(FeatureError, match="not readable JSON"):
        load_imagereward(local | {"med_config": str(bad)})
    bad.write_text(json.dumps(BLIP_MED_CONFIG | {"add_cross_attention": False}))
    with pytest.raises(FeatureError, match="no cross-attention"):
        load_imagereward(local | {"med_config": str(bad)})
    bad.write_text(json.dumps(BLIP_MED_CONFIG))  # vocabulary 30524, the tokenizer's 141
    with pytest.raises(FeatureError, match="tokens with .DEC. and .ENC."):
        load_imagereward(local | {"med_config": str(bad)})
    copy = _copy_folder(folder, tmp_path / "copy")
    marker = json.loads((copy / "seedscope-tiny.json").read_text())
    (copy / "seedscope-tiny.json").write_text(json.dumps(marker | {"extractor": "dino"}))
    with pytest.raises(FeatureError, match="not a tiny ImageReward folder"):
        load_imagereward(SETTINGS, weights=copy)


def test_prompts_must_pair_with_images(scorer):
    with pytest.raises(FeatureError, match="2 images and 1 prompts"):
        scorer(images(2), ["a cat"])
    with pytest.raises(FeatureError, match="None prompts"):
        scorer(images(1))
