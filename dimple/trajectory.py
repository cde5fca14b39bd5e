"""Trajectory: the record of one diffusion decode, from the engine to the UI.

Owns what happened (the starting canvas, which positions each iteration
committed, with what confidence, whether the schedule fallback fired, how long
it took) and everything derived from it: the canvas after each iteration, the
step at which each token was committed, the answer length and tokens per
forward pass. Each step also carries its ghosts (every masked position's best
guess and its top-k candidates; optional fields, so version-1 exports written
before them still load). A semi-autoregressive decode (`dimple.blocks`)
records each step's active block (`Step.block`); `block_bounds` gives every
block's positions, and the export carries both. It round-trips through JSON so an exported run
replays without a model. It knows nothing of tensors, models, colours or HTML.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Iterable, Optional

from . import blocks

FORMAT_VERSION = 1


@dataclass
class Step:
    index: int  # iteration of this decode, from 0; one forward pass each (schedule index: start_step + index)
    positions: list[int]  # response positions committed in this iteration
    tokens: list[int]  # the token committed at each of those positions
    confidences: list[float]  # the algorithm's score of each committed token
    fallback: bool  # True when the schedule chose the positions (no threshold pass)
    masked_confidence: list[float] = field(default_factory=list)  # score of every position masked at the start
    alternatives: list[list[tuple[int, float]]] = field(default_factory=list)  # per committed position: top (token, prob)
    seconds: float = 0.0  # wall time of this iteration (forward + selection)
    padded: list[int] = field(default_factory=list)  # positions after a committed end filled with padding, no forward
    edits: list[tuple[int, int]] = field(default_factory=list)  # (position, token) a caller's canvas edit wrote last
    # The ghosts, aligned with masked_confidence (every position masked at the start of this iteration): the
    # model's best guess, its top-k candidates and their probabilities (rounded). Empty in older exports.
    ghost_tokens: list[int] = field(default_factory=list)
    ghost_top: list[list[int]] = field(default_factory=list)
    ghost_top_p: list[list[float]] = field(default_factory=list)
    block: Optional[int] = None  # semi-autoregressive decoding: the active block (dimple.blocks); None: whole canvas

    def writes(self, pad_token_id: int):
        """(position, token) pairs this iteration put on the canvas, in order (edits last)."""
        return list(zip(self.positions, self.tokens)) + [(p, pad_token_id) for p in self.padded] + list(self.edits)


@dataclass
class Trajectory:
    prompt_ids: list[int]  # the prompt, unchanged by decoding
    canvas: list[int]  # response canvas before decoding: mask ids, fixed tokens (and, for a branch, carried ones)
    fixed: list[bool]  # True where the token is fixed (a template's, a person's choice; never changed)
    mask_token_id: int
    end_token_ids: list[int]  # tokens that end an answer (end-of-answer, end-of-turn, padding)
    config: dict = field(default_factory=dict)  # the DecodeConfig used, as a dict
    steps: list[Step] = field(default_factory=list)
    prefill_seconds: float = 0.0  # the first iteration (full prompt + response forward)
    total_seconds: float = 0.0  # whole decode, wall clock
    token_text: dict[int, str] = field(default_factory=dict)  # id -> text, so a replay needs no tokenizer
    stopped: bool = False  # the caller stopped decoding before the canvas was full
    pad_token_id: int = -1  # token written at `Step.padded` positions (skip_padding)
    start_step: int = 0  # a branch: the schedule iteration its canvas was taken after (0: a decode from scratch)
    start_masked: int = 0  # masked positions when the original decode began (the schedule's denominator)
    chosen: list[int] = field(default_factory=list)  # a branch: fixed positions a person chose (not a template's)

    # ----- derived views -------------------------------------------------
    @property
    def length(self) -> int:
        return len(self.canvas)

    @property
    def nfe(self) -> int:
        """Forward passes used: one per iteration."""
        return len(self.steps)

    def states(self) -> list[list[int]]:
        """Response tokens after each iteration, mask id where still masked."""
        current = list(self.canvas)
        out = []
        for step in self.steps:
            for pos, tok in step.writes(self.pad_token_id):
                current[pos] = tok
            out.append(list(current))
        return out

    def state_at(self, n_steps: int) -> list[int]:
        """Canvas after the first `n_steps` iterations (0 = before decoding)."""
        current = list(self.canvas)
        for step in self.steps[:n_steps]:
            for pos, tok in step.writes(self.pad_token_id):
                current[pos] = tok
        return current

    @property
    def response_ids(self) -> list[int]:
        return self.state_at(len(self.steps))

    @property
    def block_length(self) -> Optional[int]:
        """Positions per block of a semi-autoregressive decode (dimple.blocks); None: the whole canvas at once."""
        return (self.config or {}).get("block_length")

    def block_bounds(self) -> list[list[int]]:
        """[start, end) response positions of each block, left to right ([[0, length]] without blocks)."""
        return blocks.of_trajectory(self).all_bounds()

    def committed_at(self) -> list[Optional[int]]:
        """Per position: the iteration that committed it (None: fixed or never committed)."""
        out: list[Optional[int]] = [None] * self.length
        for step in self.steps:
            for pos in step.positions + step.padded:
                out[pos] = step.index
        return out

    def confidence_of(self) -> list[Optional[float]]:
        """Per position: the score it had when it was committed."""
        out: list[Optional[float]] = [None] * self.length
        for step in self.steps:
            for pos, conf in zip(step.positions, step.confidences):
                out[pos] = conf
        return out

    @property
    def answer_end(self) -> int:
        """Index of the end of the answer in the final canvas (the length if none): the first end token that is
        not padding, or where only end tokens follow, whichever comes first. Padding with more answer after it
        is filler inside the answer (an elastic slot), not its end; `text` never shows it."""
        ends = set(self.end_token_ids)
        ids = self.response_ids
        trailing = len(ids)
        while trailing > 0 and ids[trailing - 1] in ends:
            trailing -= 1
        hard = next((i for i, tok in enumerate(ids) if tok in ends and tok != self.pad_token_id), len(ids))
        return min(hard, trailing)

    @property
    def answer_ids(self) -> list[int]:
        return self.response_ids[: self.answer_end]

    @property
    def n_generated(self) -> int:
        """Tokens this decode's iterations wrote up to and including the end of the answer (tokens given on
        the canvas, fixed or carried over into a branch, excluded)."""
        stop = min(self.answer_end + 1, self.length)
        return sum(1 for step in self.steps for pos in step.positions + step.padded if pos < stop)

    @property
    def tokens_per_forward(self) -> float:
        return self.n_generated / self.nfe if self.nfe else 0.0

    @property
    def denoise_seconds(self) -> float:
        return max(self.total_seconds - self.prefill_seconds, 0.0)

    def fallback_steps(self) -> list[int]:
        return [s.index for s in self.steps if s.fallback]

    def text(self, tokens: Optional[Iterable[int]] = None) -> str:
        """Join token texts from `token_text` (the UI decodes with its tokenizer where it has one)."""
        ids = self.answer_ids if tokens is None else tokens
        ends = set(self.end_token_ids)  # padding inside elastic slots is never shown
        return "".join(self.token_text.get(t, "") for t in ids if t not in ends)

    def summary(self) -> dict:
        return {
            "tokens": self.n_generated,
            "answer_length": self.answer_end,
            "canvas_length": self.length,
            "nfe": self.nfe,
            "tokens_per_forward": round(self.tokens_per_forward, 3),
            "fallback_steps": len(self.fallback_steps()),
            "prefill_s": round(self.prefill_seconds, 4),
            "denoise_s": round(self.denoise_seconds, 4),
            "latency_s": round(self.total_seconds, 4),
            "tokens_per_s": round(self.n_generated / self.total_seconds, 2) if self.total_seconds > 0 else None,
        }

    # ----- JSON --------------------------------------------------------------
    def to_dict(self) -> dict:
        data = asdict(self)
        data["format"] = "dimple-trajectory"
        data["version"] = FORMAT_VERSION
        data["token_text"] = {str(k): v for k, v in self.token_text.items()}
        for step in data["steps"]:
            step["alternatives"] = [[list(pair) for pair in alts] for alts in step["alternatives"]]
            step["edits"] = [list(pair) for pair in step["edits"]]
        data["summary"] = self.summary()
        data["block_length"] = self.block_length  # also in config; here with the bounds, for a viewer's convenience
        data["blocks"] = self.block_bounds()
        return data

    def to_json(self, **kwargs) -> str:
        return json.dumps(self.to_dict(), **kwargs)

    @classmethod
    def from_dict(cls, data: dict) -> "Trajectory":
        if not isinstance(data, dict) or data.get("format") != "dimple-trajectory":
            raise ValueError("not a Dimple trajectory export (missing format: dimple-trajectory)")
        if data.get("version") != FORMAT_VERSION:
            raise ValueError(f"unsupported trajectory version {data.get('version')!r}, expected {FORMAT_VERSION}")
        try:
            steps = [
                Step(
                    index=int(s["index"]),
                    positions=[int(p) for p in s["positions"]],
                    tokens=[int(t) for t in s["tokens"]],
                    confidences=[float(c) for c in s["confidences"]],
                    fallback=bool(s["fallback"]),
                    masked_confidence=[float(c) for c in s.get("masked_confidence", [])],
                    alternatives=[[(int(t), float(p)) for t, p in alts] for alts in s.get("alternatives", [])],
                    seconds=float(s.get("seconds", 0.0)),
                    padded=[int(p) for p in s.get("padded", [])],
                    edits=[(int(p), int(t)) for p, t in s.get("edits", [])],
                    ghost_tokens=[int(t) for t in s.get("ghost_tokens", [])],
                    ghost_top=[[int(t) for t in top] for top in s.get("ghost_top", [])],
                    ghost_top_p=[[float(p) for p in top] for top in s.get("ghost_top_p", [])],
                    block=None if s.get("block") is None else int(s["block"]),
                )
                for s in data["steps"]
            ]
            traj = cls(
                prompt_ids=[int(t) for t in data["prompt_ids"]],
                canvas=[int(t) for t in data["canvas"]],
                fixed=[bool(f) for f in data["fixed"]],
                mask_token_id=int(data["mask_token_id"]),
                end_token_ids=[int(t) for t in data["end_token_ids"]],
                config=dict(data.get("config", {})),
                steps=steps,
                prefill_seconds=float(data.get("prefill_seconds", 0.0)),
                total_seconds=float(data.get("total_seconds", 0.0)),
                token_text={int(k): str(v) for k, v in data.get("token_text", {}).items()},
                stopped=bool(data.get("stopped", False)),
                pad_token_id=int(data.get("pad_token_id", -1)),
                start_step=int(data.get("start_step", 0)),
                start_masked=int(data.get("start_masked", sum(1 for t in data["canvas"]
                                                              if t == data["mask_token_id"]))),
                chosen=[int(p) for p in data.get("chosen", [])],
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"malformed trajectory export: {exc}") from exc
        traj.check()
        return traj

    @classmethod
    def from_json(cls, text: str) -> "Trajectory":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"trajectory file is not valid JSON: {exc}") from exc
        return cls.from_dict(data)

    def check(self) -> None:
        """Raise ValueError if the record is internally inconsistent."""
        n = self.length
        if len(self.fixed) != n:
            raise ValueError("fixed and canvas lengths differ")
        seen = {i for i, tok in enumerate(self.canvas) if tok != self.mask_token_id}
        bounds = self.block_bounds()
        for step in self.steps:
            if step.block is not None:
                if not 0 <= step.block < len(bounds):
                    raise ValueError(f"step {step.index}: block {step.block} is not one of the {len(bounds)} blocks")
                lo, hi = bounds[step.block]
                if any(not lo <= p < hi for p in step.positions):
                    raise ValueError(f"step {step.index}: commits outside its block {step.block} [{lo}, {hi})")
            if not (len(step.positions) == len(step.tokens) == len(step.confidences)):
                raise ValueError(f"step {step.index}: positions, tokens and confidences differ in length")
            ghosts = (step.ghost_tokens, step.ghost_top, step.ghost_top_p)
            if any(ghosts) and not all(len(g) == len(step.masked_confidence) for g in ghosts):
                raise ValueError(f"step {step.index}: ghosts and masked_confidence differ in length")
            for pos in step.positions + step.padded:
                if not 0 <= pos < n:
                    raise ValueError(f"step {step.index}: position {pos} outside the canvas of {n}")
                if pos in seen:
                    raise ValueError(f"step {step.index}: position {pos} committed twice")
                seen.add(pos)
            for pos, tok in step.edits:  # an edit may re-mask or overwrite; later commits follow the result
                if not 0 <= pos < n:
                    raise ValueError(f"step {step.index}: edit at {pos} outside the canvas of {n}")
                if tok == self.mask_token_id:
                    seen.discard(pos)
                else:
                    seen.add(pos)


def generation_record(traj: Trajectory, text: str, latency_s: float) -> dict:
    """The JSON of one generation, shared by the CLI's `generate --json` and the web API's `generate`."""
    return {
        "text": text,
        "response_ids": traj.response_ids,
        "nfe": traj.nfe,
        "tokens_per_forward": round(traj.tokens_per_forward, 4),
        "latency_s": round(latency_s, 4),
        "trajectory": traj.to_dict(),
    }
