"""DimpleProcessor: the released model card's `AutoProcessor`, without its remote code.

Owns what the card's example calls on the processor: `from_pretrained` (a
folder or hub id; the tokenizer through AutoTokenizer with remote code off,
the image settings from preprocessor_config.json, the chat template from
chat_template.json when the checkpoint ships one), `apply_chat_template` over
the original message format (a conversation, or a list of them; contents
`{"type": "image"}` / `{"type": "text", "text": ...}`), `__call__` (images to
patches, `<|image_pad|>` expanded per image, left padding) and
`decode` / `batch_decode`. Also `DimpleTokenizer`, the name the released
tokenizer_config.json asks for: a Qwen2 byte-level BPE tokenizer, as Dream's
and the original Dimple's are.

It does not know the model or decoding; images become tensors through
`processing.DimpleImageProcessor`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional, Sequence, Union

from jinja2.sandbox import ImmutableSandboxedEnvironment
from PIL import Image
from transformers import AutoTokenizer, BatchFeature
from transformers.models.qwen2.tokenization_qwen2 import Qwen2Tokenizer
from transformers.utils import cached_file

from .processing import DimpleImageProcessor, expand_image_tokens

# The Qwen2-VL conversation format, which the released processor uses (written here as a template).
QWEN_VL_CHAT_TEMPLATE = (
    "{%- set counts = namespace(image=0, video=0) -%}"
    "{%- for message in messages -%}"
    "{%- if loop.first and message['role'] != 'system' -%}"
    "{{ '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}"
    "{%- endif -%}"
    "{{ '<|im_start|>' + message['role'] + '\\n' }}"
    "{%- if message['content'] is string -%}{{ message['content'] }}"
    "{%- else -%}{%- for part in message['content'] -%}"
    "{%- if part['type'] == 'image' or 'image' in part or 'image_url' in part -%}"
    "{%- set counts.image = counts.image + 1 -%}"
    "{%- if add_vision_id -%}{{ 'Picture ' ~ counts.image ~ ': ' }}{%- endif -%}"
    "{{ '<|vision_start|><|image_pad|><|vision_end|>' }}"
    "{%- elif part['type'] == 'video' or 'video' in part -%}"
    "{%- set counts.video = counts.video + 1 -%}"
    "{%- if add_vision_id -%}{{ 'Video ' ~ counts.video ~ ': ' }}{%- endif -%}"
    "{{ '<|vision_start|><|video_pad|><|vision_end|>' }}"
    "{%- elif 'text' in part -%}{{ part['text'] }}"
    "{%- endif -%}{%- endfor -%}{%- endif -%}"
    "{{ '<|im_end|>\\n' }}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{ '<|im_start|>assistant\\n' }}{%- endif -%}"
)
IMAGE_PAD = "<|image_pad|>"


class DimpleTokenizer(Qwen2Tokenizer):
    """The released tokenizer_config.json's `tokenizer_class`: Qwen2's byte-level BPE (vocab.json, merges.txt)."""


def _hub_file(path_or_id: str, name: str, hub: dict) -> Optional[Path]:
    found = cached_file(path_or_id, name, _raise_exceptions_for_missing_entries=False,
                        _raise_exceptions_for_connection_errors=False, **hub)
    return Path(found) if found else None


class DimpleProcessor:
    """Tokenizer + image processor + chat template, called as the original DimpleProcessor is."""

    def __init__(self, tokenizer, image_processor: DimpleImageProcessor, chat_template: Optional[str] = None):
        self.tokenizer = tokenizer
        self.image_processor = image_processor
        self.chat_template = chat_template or QWEN_VL_CHAT_TEMPLATE
        environment = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
        self._template = environment.from_string(self.chat_template)

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, *, trust_remote_code: Optional[bool] = None,
                        _from_auto: bool = False, revision: Optional[str] = None, cache_dir=None, token=None,
                        local_files_only: bool = False) -> "DimpleProcessor":
        """Load from a folder or hub id. `trust_remote_code` and `_from_auto` are accepted because
        AutoProcessor passes them; no remote code runs either way."""
        from .loading import load_image_processor

        path = str(pretrained_model_name_or_path)
        hub = dict(revision=revision, cache_dir=cache_dir, token=token, local_files_only=local_files_only)
        tokenizer = AutoTokenizer.from_pretrained(path, trust_remote_code=False, **hub)
        settings_file = _hub_file(path, "preprocessor_config.json", hub)
        image_processor = load_image_processor(settings_file.parent if settings_file else Path(path))
        template_file = _hub_file(path, "chat_template.json", hub)
        template = json.loads(template_file.read_text()).get("chat_template") if template_file else None
        return cls(tokenizer, image_processor, template)

    # ----- text --------------------------------------------------------------
    def apply_chat_template(self, conversation: Sequence, tokenize: bool = False, add_generation_prompt: bool = False,
                            add_vision_id: bool = False) -> Union[str, list]:
        """Prompt text of one conversation (a list of messages) or a list of them (a list of texts).
        tokenize=True gives token ids instead (image placeholders not yet expanded)."""
        if not isinstance(conversation, (list, tuple)) or not conversation:
            raise ValueError("conversation must be a non-empty list of messages, or a list of such lists")
        batched = isinstance(conversation[0], (list, tuple))
        texts = [self._template.render(messages=list(c), add_generation_prompt=add_generation_prompt,
                                       add_vision_id=add_vision_id)
                 for c in (conversation if batched else [conversation])]
        if tokenize:
            texts = [self.tokenizer(t, add_special_tokens=False)["input_ids"] for t in texts]
        return texts if batched else texts[0]

    def decode(self, token_ids, skip_special_tokens: bool = False) -> str:
        return self.tokenizer.decode(token_ids, skip_special_tokens=skip_special_tokens)

    def batch_decode(self, sequences, skip_special_tokens: bool = False) -> list[str]:
        return self.tokenizer.batch_decode(sequences, skip_special_tokens=skip_special_tokens)

    # ----- model inputs -------------------------------------------------------
    def __call__(self, text=None, images=None, videos=None, padding: Union[bool, str] = False,
                 return_tensors: Optional[str] = None) -> BatchFeature:
        """input_ids and attention_mask (left-padded), and pixel_values / image_grid_thw for the images,
        the k-th image filling the k-th `<|image_pad|>` across the texts in order."""
        if videos is not None:
            raise ValueError("videos are not supported by Dimple Studio's processor; pass images")
        if text is None:
            raise ValueError("text is required (the prompt from apply_chat_template)")
        texts = [text] if isinstance(text, str) else list(text)
        features = {}
        if images is not None:
            images = [images] if isinstance(images, Image.Image) else list(images)
            features = self.image_processor(images)
            counts = self.image_processor.n_image_tokens(features["image_grid_thw"])
            texts = _expand_in_order(texts, counts)
        elif any(IMAGE_PAD in t for t in texts):
            raise ValueError("the text has image placeholders but no images were given")
        encoded = self.tokenizer(texts, padding=padding, padding_side="left", return_tensors=return_tensors)
        return BatchFeature(data={**encoded, **features}, tensor_type=return_tensors)


def _expand_in_order(texts: list[str], counts: list[int]) -> list[str]:
    """Give each text the token counts of its own images (images are listed across texts in order)."""
    total = sum(t.count(IMAGE_PAD) for t in texts)
    if total != len(counts):
        raise ValueError(f"{total} image placeholders in the text for {len(counts)} images")
    out, used = [], 0
    for t in texts:
        n = t.count(IMAGE_PAD)
        out.append(expand_image_tokens(t, counts[used : used + n]))
        used += n
    return out
