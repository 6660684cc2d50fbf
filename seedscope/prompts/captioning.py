"""Dense captions of COCO images with LLaVA 1.5 (transformers), or from a user's captions file.

The model is loaded with ``LlavaForConditionalGeneration.from_pretrained`` and
``AutoProcessor.from_pretrained`` from a local folder or a Hugging Face id (never with
``trust_remote_code``). Decoding is greedy, so the same model gives the same captions.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from seedscope.errors import DataError, ModelNotFoundError, error_line
from seedscope.models import weights_not_found
from seedscope.prompts.coco import open_image
from seedscope.prompts.rows import prompt_id

CAPTION_INSTRUCTION = "Describe this image in one detailed sentence."
# LLaVA 1.5's conversation format, used when the processor has no chat template.
DEFAULT_CAPTION_PROMPT = f"USER: <image>\n{CAPTION_INSTRUCTION} ASSISTANT:"
EMPTY_CAPTION = "an image"
CAPTION_SOURCE = "coco-train2017"


def caption_prompt(processor: Any, instruction: str = CAPTION_INSTRUCTION) -> str:
    """The text prompt for one image: the processor's chat template if it has one, else
    LLaVA 1.5's literal ``"USER: <image>\\n{instruction} ASSISTANT:"``."""
    if getattr(processor, "chat_template", None):
        conversation = [
            {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": instruction}]}
        ]
        return processor.apply_chat_template(conversation, add_generation_prompt=True)
    return f"USER: <image>\n{instruction} ASSISTANT:"


def _not_found(model: str, reason: str) -> ModelNotFoundError:
    return weights_not_found(
        f"captioner {model!r}",
        model,
        "coco.captioner.model",
        "the model (config.json, weights and processor files)",
        reason,
    )


class Captioner:
    """A loaded LLaVA model and processor that caption batches of images greedily."""

    def __init__(self, model: Any, processor: Any, device: Any, dtype: Any, prompt: str):
        self.model, self.processor, self.device, self.dtype = model, processor, device, dtype
        self.prompt = prompt

    def caption(self, images: Sequence[Any], max_new_tokens: int = 77) -> list[str]:
        """One caption per PIL image (the generated answer only, stripped), greedy decoding."""
        import torch

        if not images:
            return []
        tokenizer = self.processor.tokenizer
        inputs = self.processor(
            images=list(images),
            text=[self.prompt] * len(images),
            return_tensors="pt",
            padding=True,
        ).to(self.device)
        inputs["pixel_values"] = inputs["pixel_values"].to(self.dtype)
        image_token = getattr(self.model.config, "image_token_id", None)
        with torch.inference_mode():
            output = self.model.generate(
                **inputs,
                max_new_tokens=max_new_tokens,
                do_sample=False,
                num_beams=1,
                pad_token_id=tokenizer.pad_token_id,
                suppress_tokens=[image_token] if image_token is not None else None,
            )
        answers = output[:, inputs["input_ids"].shape[1] :]  # left padding: prompt first
        return [text.strip() for text in tokenizer.batch_decode(answers, skip_special_tokens=True)]


def load_captioner(
    model_name_or_path: str,
    device: str = "cpu",
    dtype: str = "float32",
    instruction: str = CAPTION_INSTRUCTION,
) -> Captioner:
    """Load LLaVA 1.5 from a local folder or a Hugging Face id onto ``device``.

    ``dtype`` is float32, float16, bfloat16 or auto (float16 on GPU, float32 on CPU). Raises
    ``ModelNotFoundError`` naming the model and how to provide it if it cannot be loaded
    (e.g. not in the cache with ``HF_HUB_OFFLINE=1``).
    """
    from transformers import AutoProcessor, LlavaForConditionalGeneration

    from seedscope.models import looks_like_path, resolve_device, resolve_dtype

    target = resolve_device(device)
    torch_dtype = resolve_dtype(dtype, target)
    source = model_name_or_path
    if looks_like_path(model_name_or_path):
        path = Path(model_name_or_path).expanduser()
        if not (path / "config.json").is_file():
            raise _not_found(model_name_or_path, f"no config.json in local folder {path}")
        source = str(path)
    try:
        processor = AutoProcessor.from_pretrained(source)
        model = LlavaForConditionalGeneration.from_pretrained(source, dtype=torch_dtype)
    except (OSError, ValueError) as err:
        # huggingface_hub raises OSError subclasses for missing repos, files and cache misses.
        raise _not_found(model_name_or_path, error_line(err)) from err
    processor.tokenizer.padding_side = "left"  # decoder-only generation: pad on the left
    model = model.to(target).eval()
    return Captioner(model, processor, target, torch_dtype, caption_prompt(processor, instruction))


def _row(set_name: str, index: int, caption: str, meta: dict[str, Any]) -> dict[str, Any]:
    text = " ".join(caption.split())
    if not text:
        text, meta = EMPTY_CAPTION, meta | {"empty_caption": True}
    return {"id": prompt_id(set_name, index), "text": text, "set": set_name, "meta": meta}


def caption_rows(
    source: str | Path,
    names: Sequence[str],
    captioner: Any,
    set_name: str,
    batch_size: int,
    max_new_tokens: int,
    progress: Any = None,
) -> list[dict[str, Any]]:
    """Caption images ``names`` of ``source`` (folder or zip) in batches, as prompt rows.

    Row ``i`` has id ``prompt_id(set_name, i)``, the whitespace-normalised caption as text
    (``"an image"`` with ``meta["empty_caption"] = True`` if the caption is empty), and meta
    ``{"image": name, "source": "coco-train2017"}``. ``progress`` (e.g. a tqdm bar) gets
    ``update(n)`` after each batch.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    rows: list[dict[str, Any]] = []
    for start in range(0, len(names), batch_size):
        batch = list(names[start : start + batch_size])
        captions = captioner.caption([open_image(source, n) for n in batch], max_new_tokens)
        for name, caption in zip(batch, captions, strict=True):
            rows.append(
                _row(set_name, len(rows), caption, {"image": name, "source": CAPTION_SOURCE})
            )
        if progress is not None:
            progress.update(len(batch))
    return rows


def read_captions_file(path: str | Path, set_name: str) -> list[dict[str, Any]]:
    """Prompt rows from a user's captions file: JSONL or CSV with fields ``image`` and
    ``caption``, in file order. Raises ``DataError`` naming the file and line of a bad record.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"captions file {path} does not exist; fix coco.captions_file")
    records: list[tuple[int, Any]] = []
    with open(path, encoding="utf-8", newline="") as f:
        if path.suffix.lower() == ".csv":
            reader = csv.DictReader(f)
            missing = {"image", "caption"} - set(reader.fieldnames or [])
            if missing:
                raise DataError(
                    f"captions file {path} lacks column(s) {sorted(missing)}; it needs a header "
                    "line with columns image,caption"
                )
            records = [(reader.line_num, record) for record in reader]
        else:
            for number, line in enumerate(f, start=1):
                if line.strip():
                    try:
                        records.append((number, json.loads(line)))
                    except json.JSONDecodeError as err:
                        raise DataError(f"{path}, line {number}: not valid JSON ({err})") from err
    if not records:
        raise DataError(f"captions file {path} holds no captions")
    rows = []
    for number, record in records:
        if not isinstance(record, dict) or not all(
            isinstance(record.get(key), str) and record[key].strip() for key in ("image", "caption")
        ):
            raise DataError(
                f"{path}, line {number}: each record needs non-empty string fields 'image' and "
                f"'caption', got {record!r}"
            )
        text = " ".join(record["caption"].split())
        meta = {"image": record["image"].strip(), "source": "captions-file"}
        rows.append(
            {"id": prompt_id(set_name, len(rows)), "text": text, "set": set_name, "meta": meta}
        )
    return rows
