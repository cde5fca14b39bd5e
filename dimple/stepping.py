"""One iteration from a given canvas, without committing it: the candidates and the engine's choice.

`propose` runs a single forward pass over prompt + canvas and returns a
`Proposal`: for every masked position the model's top candidates (token,
probability), the token the engine would write and its confidence, and the
positions the confident-decoding rule would commit at that schedule iteration
(`dimple.selection.select_in_block`: above the threshold, else the schedule's
fallback, everything at the last allowed iteration; with `block_length`, only
inside the active block, and `start_masked` is that block's denominator, as
`dimple.branching.resume_point` gives it). `Proposal.step` turns a
choice (the engine's, or any positions with any candidate tokens a person
picked) into the `Step` record a Trajectory appends.

This is manual stepping's engine: each call is a full forward (no cache, so
a person may change the canvas between calls), which is exactly what a decode
with prefilling off does, so accepting every proposal reproduces
`dimple.generate` with prefilling off token for token (with greedy tokens; a
sampled token or fallback draws from a generator seeded afresh at each call).
The padding shortcut `skip_padding` is not applied.

It knows the engine's forward and rule (it reuses them) and nothing of the UI.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import torch

from .config import DecodeConfig
from .batch import Request, batch_inputs, check_requests, forward_logits
from .blocks import plan as plan_blocks
from .engine import checked_start, mask_id_of, top_candidates, unwritable_ids
from .selection import first_denominator, select_in_block
from .sampling import choose_tokens, schedule_grid
from .trajectory import Step

N_CANDIDATES = 5


@dataclass
class Proposal:
    iteration: int  # schedule index of this iteration
    prompt_ids: list[int]  # the prompt it was scored with (a caller can check it is the run's)
    masked: list[int]  # masked positions of the canvas, in order
    candidates: list[list[tuple[int, float]]]  # per masked position: top (token, probability), best first
    tokens: list[int]  # per masked position: the token the engine would write
    confidences: list[float]  # per masked position: the algorithm's score of that token
    default: list[int]  # the positions the engine's rule commits now
    fallback: bool  # True when the schedule's fallback chose `default`

    def candidates_at(self, pos: int) -> list[tuple[int, float]]:
        return self.candidates[self.masked.index(pos)]

    def step(self, index: int, positions: Optional[Sequence[int]] = None,
             tokens: Optional[dict[int, int]] = None) -> Step:
        """The Step that commits `positions` (default: the engine's choice) at iteration `index` of a
        decode; `tokens` overrides the engine's token at some positions (their recorded confidence is
        then the candidate's probability). Raises ValueError for a position that is not masked, or a
        token that is not one of the position's candidates."""
        chosen = sorted(set(self.default if positions is None else positions))
        tokens = dict(tokens or {})
        if not chosen:
            raise ValueError("a step commits at least one masked position")
        out_tokens, confs, alts = [], [], []
        for pos in chosen:
            if pos not in self.masked:
                raise ValueError(f"position {pos} is not masked, so there is nothing to commit there")
            j = self.masked.index(pos)
            tok = tokens.pop(pos, self.tokens[j])
            probs = dict(self.candidates[j])
            if tok != self.tokens[j] and tok not in probs:
                raise ValueError(f"token {tok} is not one of position {pos}'s candidates")
            out_tokens.append(tok)
            confs.append(self.confidences[j] if tok == self.tokens[j] else probs[tok])
            alts.append(self.candidates[j][:3])
        if tokens:
            raise ValueError(f"tokens given for positions not committed: {sorted(tokens)}")
        engine_choice = chosen == sorted(self.default) and all(t == self.tokens[self.masked.index(p)]
                                                                for p, t in zip(chosen, out_tokens))
        return Step(index=index, positions=chosen, tokens=out_tokens, confidences=confs,
                    fallback=self.fallback and engine_choice, masked_confidence=list(self.confidences),
                    alternatives=alts)


def propose(
    model,
    input_ids: torch.LongTensor,
    cfg: DecodeConfig,
    canvas: Sequence[int],
    fixed: Optional[Sequence[int]] = None,
    start_step: int = 0,
    start_masked: Optional[int] = None,
    attention_mask: Optional[torch.Tensor] = None,
    pixel_values: Optional[torch.Tensor] = None,
    image_grid_thw: Optional[torch.LongTensor] = None,
) -> Proposal:
    """Score every masked position of `canvas` at schedule iteration `start_step` (one forward pass)."""
    cfg.validate()
    mask_id = mask_id_of(model, cfg)
    request = Request(input_ids, attention_mask, pixel_values, image_grid_thw, canvas, fixed, start_step,
                      start_masked)
    start = checked_start(model, cfg, request, mask_id)
    check_requests([request], cfg, mask_id)
    masked = [i for i, t in enumerate(start.ids) if t == mask_id]
    if not masked:
        raise ValueError("nothing is masked on the canvas, so there is no step to take")
    batch = batch_inputs([request], [start], getattr(model.config, "pad_token_id", None))
    scored = torch.tensor([masked], device=batch.seq.device) + batch.prompt_len - 1
    with torch.no_grad():
        logits = forward_logits(model, batch, None, None, scored)[0]
    generator = torch.Generator(device="cpu")
    if cfg.seed is not None:
        generator.manual_seed(cfg.seed)
    confidence, x0, probs = choose_tokens(logits, cfg.alg, cfg.temperature, cfg.top_p, cfg.top_k,
                                          cfg.use_original_confidence, generator,
                                          forbid=unwritable_ids(model, mask_id))
    blocks = plan_blocks(cfg.block_length, len(start.ids), cfg.steps)
    grids = {n: schedule_grid(n, cfg.eps) for n in set(blocks.slots)}
    denominators = first_denominator(blocks, start.ids, mask_id, start_masked, start.start_masked)
    chosen, fallback, _ = select_in_block(confidence, torch.tensor(masked), blocks, start.start_step, cfg, grids,
                                          generator, None, denominators)
    top_ids, top_p = top_candidates(probs, N_CANDIDATES)
    return Proposal(
        iteration=start.start_step, prompt_ids=input_ids[0].tolist(), masked=masked,
        candidates=[list(zip(ix, vals)) for ix, vals in zip(top_ids, top_p)],
        tokens=x0.tolist(), confidences=confidence.tolist(),
        default=[masked[j] for j in chosen.tolist()], fallback=fallback,
    )
