"""Starting a Tiny training run from earlier weights, also across a changed tokenizer.

Owns reading the weights to start from (a training checkpoint `last.pt`, or an
exported folder with `model.safetensors` and its tokenizer) and carrying the
token rows over when the new tokenizer differs: a token the old vocabulary
has keeps its row; a new token starts from the mean of the rows of the old
pieces its text splits into, so that a merged token begins where its parts
were. A deeper model than the weights grows by inserting layers that start
as the identity (`grow_depth`); a wider one grows by zero-padding the residual
stream (`grow_width`), so it too starts as the same function. It knows
nothing of the training loop.
"""

from __future__ import annotations

import os
from typing import Optional

import torch

from .checkpoint import AUX_HEADS

TOKEN_ROWS = ("model.embed_tokens.weight", "lm_head.weight")
LAYER_PREFIX = "model.layers."
# A layer's writes into the residual stream: zeroed in an inserted layer, so that it starts as the identity.
RESIDUAL_WRITES = ("self_attn.o_proj.weight", "self_attn.o_proj.bias", "mlp.down_proj.weight")
# Weights whose outputs land in the language model's (padded) width: their new entries start at zero, so the
# new dimensions of the stream hold zeros until training writes them. The projector writes image tokens.
WIDTH_WRITES = ("model.embed_tokens.weight", "visual.merger.mlp.2.weight", "img_projector.linear_2.weight",
                *RESIDUAL_WRITES)
# RMS norms over the language model's width: their mean runs over the padded zeros too.
STREAM_NORMS = ("input_layernorm.weight", "post_attention_layernorm.weight", "model.norm.weight")


def read_start(path: str) -> tuple[dict, dict, Optional[str]]:
    """(model state, other checkpoint entries, the folder of the tokenizer the weights were trained with).
    `path` is a training checkpoint file or an exported model folder."""
    if os.path.isdir(path):
        from safetensors.torch import load_file

        state = {k: v.float() for k, v in load_file(os.path.join(path, "model.safetensors")).items()}
        return state, {}, path
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    extra = {k: v for k, v in ckpt.items() if k.startswith(AUX_HEADS)}
    return ckpt["model"], extra, ckpt.get("config", {}).get("tokenizer_dir")


def remap_token_rows(state: dict, old_tok, new_tok) -> dict:
    """`state` with its token-indexed rows laid out for `new_tok` (a no-op when the vocabularies agree)."""
    old_vocab, new_vocab = old_tok.get_vocab(), new_tok.get_vocab()
    if old_vocab == new_vocab:
        return state
    out = dict(state)
    for key in TOKEN_ROWS:
        if key not in state:
            continue
        old = state[key].float()
        rows = torch.empty(len(new_tok), old.shape[1])
        for token, i in new_vocab.items():
            j = old_vocab.get(token)
            if j is not None:
                rows[i] = old[j]
                continue
            pieces = old_tok(new_tok.convert_tokens_to_string([token]), add_special_tokens=False)["input_ids"]
            rows[i] = old[pieces].mean(0) if pieces else old.mean(0)
        out[key] = rows
    return out


def n_layers(state: dict) -> int:
    return len({k[len(LAYER_PREFIX):].split(".")[0] for k in state if k.startswith(LAYER_PREFIX)})


def grow_depth(state: dict, layers: int) -> dict:
    """`state` with `layers` decoder layers: each inserted layer is a copy of the one before it with its
    residual writes zeroed, so the grown model computes exactly what the old one did (pre-norm layers add
    to the stream; a layer that adds zero is the identity), and training then has the new layers to use.
    Insertions are spread evenly: 4 -> 6 puts one after old layers 1 and 3."""
    old = n_layers(state)
    if layers < old:
        raise ValueError(f"cannot shrink {old} layers to {layers}")
    if layers == old:
        return state
    extra = layers - old
    after = {old - 1 - (i * old) // extra for i in range(extra)}  # old layers an insertion follows
    out = {k: v for k, v in state.items() if not k.startswith(LAYER_PREFIX)}
    new_index = 0
    for i in range(old):
        own = {k[len(f"{LAYER_PREFIX}{i}."):]: v for k, v in state.items() if k.startswith(f"{LAYER_PREFIX}{i}.")}
        copies = [False] + ([True] if i in after else [])
        for inserted in copies:
            for name, value in own.items():
                value = value.clone()
                if inserted and name in RESIDUAL_WRITES:
                    value.zero_()
                out[f"{LAYER_PREFIX}{new_index}.{name}"] = value
            new_index += 1
    return out


def _check_heads(state: dict, config) -> None:
    """Widening appends heads, so an old query head must keep its key/value head: equal ratios of query to
    key/value heads. The weights do not record the old head size, so the caller keeps it (mrope_section);
    this checks only that the old query rows are whole heads of the new size."""
    q, k = state[f"{LAYER_PREFIX}0.self_attn.q_proj.weight"], state[f"{LAYER_PREFIX}0.self_attn.k_proj.weight"]
    head_dim = config.hidden_size // config.num_attention_heads
    old_ratio = q.shape[0] // max(k.shape[0], 1)
    new_ratio = config.num_attention_heads // config.num_key_value_heads
    if q.shape[0] % head_dim or old_ratio != new_ratio:
        raise ValueError(f"cannot widen: head size {head_dim} and {new_ratio} query heads per key/value head "
                         f"must match the weights' ({q.shape[0]} query rows, {old_ratio} per key/value head)")


def _padded(key: str, old: torch.Tensor, shape: torch.Size, gen: torch.Generator) -> torch.Tensor:
    """`old` in the top-left corner of a tensor of `shape`; the new entries are zeros (writes and biases) or
    drawn at the matrix's own scale (reads of the stream, new heads and units), so they can learn."""
    if key.endswith(STREAM_NORMS):
        # RMS over n + m dims with m zeros is sqrt(n / (n + m)) of the old one; shrink the gain to match.
        scale = (old.shape[0] / shape[0]) ** 0.5
        out = torch.full(shape, float(old.float().mean()) * scale)
        out[: old.shape[0]] = old.float() * scale
        return out
    zero = old.dim() == 1 or key.endswith(WIDTH_WRITES)
    out = torch.zeros(shape) if zero else torch.randn(shape, generator=gen) * old.float().std()
    out[tuple(slice(0, n) for n in old.shape)] = old.float()
    return out


def grow_width(state: dict, model) -> dict:
    """`state` laid out for `model`'s wider language model (hidden size, heads, MLP units): the residual
    stream gains dimensions that start at zero, heads and units are appended, and the norms are rescaled,
    so the wider model computes exactly what the narrow one did. Vision widths must already agree."""
    target = model.state_dict()
    grown = {k for k, v in state.items() if k in target and v.shape != target[k].shape}
    if not grown:
        return state
    for key in grown:
        if any(o > n for o, n in zip(state[key].shape, target[key].shape)):
            raise ValueError(f"cannot shrink {key} from {tuple(state[key].shape)} to {tuple(target[key].shape)}")
    _check_heads(state, model.config)
    gen = torch.Generator().manual_seed(0)
    return {k: (_padded(k, v, target[k].shape, gen) if k in grown else v) for k, v in state.items()}


def load_start(model, path: str, tokenizer) -> dict:
    """Load the weights at `path` into `model` (remapping token rows to `tokenizer`); returns the
    checkpoint's other entries (the vision heads' state, when it has them)."""
    from transformers import AutoTokenizer

    state, extra, tok_dir = read_start(path)
    if tok_dir and os.path.exists(os.path.join(tok_dir, "tokenizer.json")):
        state = remap_token_rows(state, AutoTokenizer.from_pretrained(tok_dir), tokenizer)
    model.load_state_dict(grow_width(grow_depth(state, model.config.num_hidden_layers), model))
    return extra
