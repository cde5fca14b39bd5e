"""Dimple-Tiny's tokenizer: a byte-level BPE trained on the world's text.

Owns the special tokens the architecture needs, the Qwen-style chat template,
and building / saving a transformers `PreTrainedTokenizerFast`. Token ids are
whatever training assigns; everything else looks them up by name (the
`SPECIALS` names below), never by number.

    python -m dimple.tiny.tokenizer assets/dimple-tiny [VOCAB_SIZE]
"""

from __future__ import annotations

import os
import sys

from ..processing import chat_prompt

PAD = "<|endoftext|>"
EOS = "<|im_end|>"  # end of an answer / of a turn
BOS = "<|beginoftext|>"
IM_START = "<|im_start|>"
VISION_START = "<|vision_start|>"
VISION_END = "<|vision_end|>"
IMAGE_PAD = "<|image_pad|>"
VIDEO_PAD = "<|video_pad|>"
VISION_PAD = "<|vision_pad|>"
MASK = "<|mask|>"
# Order fixes their ids (0, 1, 2, ...), like the reference layout: pad 0, eos 1, bos 2.
SPECIALS = (PAD, EOS, BOS, IM_START, VISION_START, VISION_END, IMAGE_PAD, VIDEO_PAD, VISION_PAD, MASK)

DEFAULT_VOCAB_SIZE = 1024  # Tiny 3: room for the answer forms' words (Tiny 1 and 2 had 768)

# Qwen2-VL style: an optional system turn, user turns whose content may hold an image,
# assistant turns; `add_generation_prompt` opens the assistant turn.
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' }}"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for item in message['content'] %}"
    "{% if item['type'] == 'image' %}{{ '<|vision_start|><|image_pad|><|vision_end|>' }}"
    "{% elif item['type'] == 'video' %}{{ '<|vision_start|><|video_pad|><|vision_end|>' }}"
    "{% else %}{{ item['text'] }}{% endif %}"
    "{% endfor %}{% endif %}"
    "{{ '<|im_end|>\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)


def train_bpe(texts: list[str], vocab_size: int = DEFAULT_VOCAB_SIZE):
    """A `tokenizers.Tokenizer` (byte-level BPE) trained on `texts`, with SPECIALS first."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(SPECIALS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    return tok


def visitor_corpus(n: int, seed: int = 0) -> list[str]:
    """Training-split text of Tiny 2's language: phrasings, conversations, replies and filled presets."""
    import random

    from . import dialogue, forms, presets, replies, templates, world

    rng = random.Random(seed)
    lines = [t for kind in replies.TEXTS for t in replies.TEXTS[kind]["train"]] + replies.all_replies() * 20
    for _ in range(n):
        scene = rng.choice((world.random_objects_scene, world.random_text_scene, world.random_chart_scene))(rng)
        for turn in dialogue.conversation(scene, rng):
            lines += [turn.question, turn.answer, forms.vary(turn.answer, turn.facts, scene, rng)]
        for got in (presets.sample(scene, rng), templates.sample(scene, rng)):
            if got:
                lines.append(presets.filled_text(got[1], got[3]))
    return lines


def build_tokenizer(out_dir: str | None = None, vocab_size: int = DEFAULT_VOCAB_SIZE, n_corpus: int = 3000):
    """Train on the world's text, wrap as PreTrainedTokenizerFast, save into `out_dir` if given."""
    from transformers import PreTrainedTokenizerFast

    from . import world

    texts = world.corpus(n_corpus) + visitor_corpus(n_corpus)
    # The chat scaffolding, so role names and newlines get their own tokens.
    texts += [chat_prompt(q, system="You are Dimple-Tiny.") for q in texts[:200:2]]
    tok = train_bpe(texts, vocab_size)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token=BOS,
        eos_token=EOS,
        pad_token=PAD,
        mask_token=MASK,
        additional_special_tokens=[IM_START, VISION_START, VISION_END, IMAGE_PAD, VIDEO_PAD, VISION_PAD],
        model_max_length=512,
        padding_side="left",
        clean_up_tokenization_spaces=False,
    )
    fast.chat_template = CHAT_TEMPLATE
    if out_dir:
        os.makedirs(out_dir, exist_ok=True)
        fast.save_pretrained(out_dir)
    return fast


def special_ids(tokenizer) -> dict[str, int]:
    """Ids of the specials by role, looked up in `tokenizer`."""
    ids = {name: tokenizer.convert_tokens_to_ids(tok) for name, tok in (
        ("pad", PAD), ("eos", EOS), ("bos", BOS), ("im_start", IM_START), ("vision_start", VISION_START),
        ("vision_end", VISION_END), ("image", IMAGE_PAD), ("video", VIDEO_PAD), ("vision", VISION_PAD),
        ("mask", MASK))}
    for name, i in ids.items():
        if i is None or i == tokenizer.unk_token_id:
            raise ValueError(f"tokenizer has no {name} special token")
    return ids


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    out = argv[0] if argv else "assets/dimple-tiny"
    tok = build_tokenizer(out, int(argv[1]) if len(argv) > 1 else DEFAULT_VOCAB_SIZE)
    print(f"saved tokenizer ({len(tok)} tokens) to {out}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
