"""Multimodal rotary positions (M-RoPE, Qwen2-VL's): the positions of a prompt with images, and the rotation.

Owns the pure functions of rotary position embedding as Dimple uses it: the
(temporal, height, width) positions of every token of a prompt whose images
are laid out as grids (`get_rope_index`), the per-axis choice of angles for
each channel chunk (`mrope_cos_sin`), and rotating queries and keys
(`apply_rotary`, written with one swap in place of rotate_half). It knows
nothing of layers, weights, tokenizers or decoding.
"""

from __future__ import annotations

from typing import Optional

import torch


def swap_halves(x: torch.Tensor) -> torch.Tensor:
    """(x1, x2) -> (x2, x1) along the last dim. Rotary's usual rotate_half(x) = (-x2, x1), so
    rotate_half(x) * sin == swap_halves(x) * signed_sin(sin), exactly."""
    return x.unflatten(-1, (2, -1)).flip(-2).flatten(-2)


def signed_sin(sin: torch.Tensor) -> torch.Tensor:
    """(sin1, sin2) -> (-sin1, sin2), the sin that pairs with swap_halves (one op fewer per rotation)."""
    half = sin.shape[-1] // 2
    return torch.cat((-sin[..., :half], sin[..., half:]), dim=-1)


def mrope_cos_sin(cos, sin, mrope_section):
    """(3, batch, seq, head_dim) cos/sin -> cos, signed sin (batch, seq, 1, head_dim): each channel chunk
    takes its axis.

    Chunks cycle through temporal, height, width (twice, for the two halves). Done once per forward,
    not per layer: every layer rotates with the same angles. The head axis is 1 so that queries and keys
    (batch, seq, heads, head_dim) rotate before the transpose to attention layout, in one call.
    """
    sections = list(mrope_section) * 2
    cos = torch.cat([c[i % 3] for i, c in enumerate(cos.split(sections, dim=-1))], dim=-1).unsqueeze(2)
    sin = torch.cat([s[i % 3] for i, s in enumerate(sin.split(sections, dim=-1))], dim=-1).unsqueeze(2)
    return cos, signed_sin(sin)


def apply_rotary(x, cos, signed_sin):
    """Rotate x (..., head_dim) by angles given as cos and signed_sin (broadcast to x):
    x * cos + rotate_half(x) * sin, written with one swap in place of rotate_half's negate and concat."""
    return x * cos + swap_halves(x) * signed_sin



def get_rope_index(
    input_ids: torch.LongTensor,
    image_grid_thw: Optional[torch.LongTensor],
    attention_mask: Optional[torch.Tensor],
    *,
    image_token_id: int,
    vision_start_token_id: int,
    spatial_merge_size: int,
) -> tuple[torch.LongTensor, torch.LongTensor]:
    """Multimodal rotary positions (3, batch, seq) and per-row deltas (batch, 1).

    Text advances all three axes together; an image block takes (t, h, w) grid
    coordinates offset by the text before it, and the text after an image
    resumes at the largest position so far + 1. Padded positions get 1.
    """
    bsz, seq = input_ids.shape
    device = input_ids.device
    if attention_mask is None:
        attention_mask = torch.ones_like(input_ids)
    positions = torch.ones(3, bsz, seq, dtype=torch.long, device=device)
    deltas = []
    image_index = 0
    for b in range(bsz):
        keep = attention_mask[b] == 1
        tokens = input_ids[b][keep].tolist()
        chunks: list[torch.Tensor] = []
        next_pos, st = 0, 0
        starts = [] if image_grid_thw is None else [
            i for i, t in enumerate(tokens[:-1]) if t == vision_start_token_id and tokens[i + 1] == image_token_id
        ]
        for _ in starts:
            ed = tokens.index(image_token_id, st)
            t, h, w = (int(v) for v in image_grid_thw[image_index])
            image_index += 1
            h, w = h // spatial_merge_size, w // spatial_merge_size
            text_len = ed - st
            chunks.append(torch.arange(text_len).expand(3, -1) + next_pos)
            grid = torch.stack(torch.meshgrid(torch.arange(t), torch.arange(h), torch.arange(w), indexing="ij"))
            chunks.append(grid.reshape(3, -1) + text_len + next_pos)
            next_pos = int(chunks[-1].max()) + 1
            st = ed + t * h * w
        if st < len(tokens):
            chunks.append(torch.arange(len(tokens) - st).expand(3, -1) + next_pos)
        row = torch.cat(chunks, dim=1) if chunks else torch.zeros(3, 0, dtype=torch.long)
        positions[:, b, keep] = row.to(device)
        deltas.append((int(row.max()) + 1 if row.numel() else 0) - seq)
    return positions, torch.tensor(deltas, device=device).unsqueeze(1)
