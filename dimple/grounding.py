"""Grounding: where in the image the model looked when it committed a token.

Owns the attribution behind the studio's heatmap and its measurement. For a
committed position of a Trajectory it re-runs the forward pass of the step
that committed it (the prompt with its image plus the canvas as that step saw
it, without a cache: exact for the first step, the model's own view of the
canvas for later ones, where a prefilled run had reused the first step's
prompt cache), captures the attention of the query that scored the position
(output i - 1 scores position i, the logit shift), keeps the weights on the
image tokens, averages heads and layers, and lays them out on the image's
merged-token grid (Dimple-Tiny: 3x3; the 7B: its patch grid / 2). Attention
is the attribution because it is what the position read from the image in
that very pass, it costs one forward (the 7B's patch grid would need hundreds
of occlusion passes), and it reads the same on any Dimple checkpoint.

It runs only on request (never while decoding). It knows the model's forward,
`modeling.capture_attention` and the Trajectory; not tokenizers, files or UIs.
`python -m dimple.tiny.grounding_eval --n 200` measures how often the grounding of a
one-object answer peaks on that object's cell (dimple/tiny/grounding_eval.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import torch

from .ghosts import commit_of
from .modeling import capture_attention


@dataclass
class Grounding:
    position: int  # response position
    step: int  # the step (1-based) whose forward pass committed it
    token: int  # the committed token
    grid: list[list[float]]  # attention over the image tokens, rows x columns, summing to 1
    layers: list[list[list[float]]] = field(default_factory=list)  # the same per layer (heads averaged)
    image_share: float = 0.0  # of the query's attention, the part on image tokens (layers and heads averaged)
    reproduced: bool = True  # the re-run's best guess is the committed token
    box: Optional[list[int]] = None  # (left, top, right, bottom) of the given image the grid covers; None: all

    @property
    def peak(self) -> tuple[int, int]:
        """(row, column) of the grid's largest weight."""
        flat = [(v, r, c) for r, row in enumerate(self.grid) for c, v in enumerate(row)]
        return max(flat)[1:]

    def to_dict(self) -> dict:
        return {"position": self.position, "step": self.step, "token": self.token, "grid": self.grid,
                "peak": list(self.peak), "image_share": round(self.image_share, 4), "reproduced": self.reproduced,
                "box": self.box, "layers": self.layers}


def _image_layout(model, seq: torch.Tensor, image_grid_thw: torch.Tensor) -> tuple[torch.Tensor, int, int]:
    """(indices of the first image's tokens in seq, grid rows, grid columns)."""
    merge = int(model.config.vision_config.get("spatial_merge_size", 2))
    t, h, w = (int(v) for v in image_grid_thw[0])
    rows, cols = h // merge, w // merge
    where = (seq == model.config.image_token_id).nonzero(as_tuple=True)[0]
    if where.numel() < t * rows * cols:
        raise ValueError(f"the run's prompt has {where.numel()} image tokens but the image makes "
                         f"{t * rows * cols}; give the image the run was asked about")
    return where[: rows * cols], rows, cols


def check_groundable(traj, position: int) -> int:
    """The step (1-based) that committed `position`; ValueError when nothing the model did committed it."""
    if isinstance(position, bool) or not isinstance(position, int) or not 0 <= position < traj.length:
        raise ValueError(f"position must be an integer in [0, {traj.length - 1}], got {position!r}")
    step, rule = commit_of(traj, position)
    if rule in ("template", "chosen", "carried", "padding", "masked"):
        why = {"template": "the template fixed it", "chosen": "a person chose it before this branch was decoded",
               "carried": "it was carried over from the run this branch started from: ground it there",
               "padding": "it was padded after the end without a forward pass",
               "masked": "it is not committed yet"}[rule]
        raise ValueError(f"position {position} has no grounding: {why}")
    return step


@torch.no_grad()
def grounding_map(model, traj, position: int, pixel_values: Optional[torch.Tensor],
                  image_grid_thw: Optional[torch.Tensor]) -> Grounding:
    """Attention from the query that scored `position` to the image tokens, in the step that committed it."""
    step = check_groundable(traj, position)
    if pixel_values is None or image_grid_thw is None:
        raise ValueError("grounding needs the image the run was asked about; this request has none")
    device = next(model.parameters()).device
    seq = torch.tensor(traj.prompt_ids + traj.state_at(step - 1), dtype=torch.long, device=device)
    image_idx, rows, cols = _image_layout(model, seq, image_grid_thw)
    query = torch.tensor([len(traj.prompt_ids) + position - 1], device=device)
    with capture_attention(model, query) as maps:
        out = model(input_ids=seq[None], attention_mask=torch.ones_like(seq)[None], pixel_values=pixel_values,
                    image_grid_thw=image_grid_thw, logits_index=query[None])
    logits = out.logits[0, 0].float()
    logits[traj.mask_token_id] = float("-inf")
    per_layer = torch.stack([m[0, :, 0].mean(dim=0) for m in maps])  # (layers, keys), heads averaged
    on_image = per_layer[:, image_idx]
    share = float(on_image.sum(dim=-1).mean())
    layers = on_image / on_image.sum(dim=-1, keepdim=True).clamp_min(1e-12)
    grid = layers.mean(dim=0)
    committed = traj.response_ids[position]
    return Grounding(position=position, step=step, token=committed,
                     grid=grid.reshape(rows, cols).tolist(), layers=layers.reshape(-1, rows, cols).tolist(),
                     image_share=share, reproduced=int(logits.argmax()) == committed)
