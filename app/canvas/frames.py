"""Frame records: what the response canvas shows after n steps of a Trajectory, as plain data.

Owns the one reading of a Trajectory that every view of the canvas draws
from. Per position (a Slot): its kind ("lock" fixed by a template or a
person, "mask", "new" committed this step, "end" an end or padding token,
"old" committed earlier), its token, text and label (how it reads: whitespace
made visible, end tokens as "end" or "pad", a masked slot as MASK_GLYPH),
where it came from (a person, the template, the run a branch started from),
the commit that put it there (step, confidence, fallback, top alternatives),
the ghost the frame's step recorded for it (best guess, confidence, above the
threshold) and its block. Per frame: the badges (step, masked count, this
step's commits, fallback, blocks, done / stopped / decoding) and the
narration. Per step (a Change): what it wrote, its commits' confidences and
its ghosts, which the browser's film replays (app/canvas/film.py).

render.py draws these records as HTML, dense.py as lean slots, client.py and
film.py as the messages the page draws. It knows no HTML, CSS, colours or
Gradio: every field is a number, a flag or plain text, and a confidence is
the algorithm's raw score (the colour scale is app/canvas/colours.py's).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Container, Iterator, NamedTuple, Optional

from .narration import narrate
from dimple.ghosts import masked_in, threshold_of

MASK_GLYPH = "\u2591\u2591"  # how a masked slot reads


def token_label(text: Optional[str], is_end: bool = False, after_end: bool = False) -> str:
    """Visible text of a token: whitespace made visible, special tokens shortened.

    End-of-answer tokens read "end"; those after the answer's first end token read "pad".
    """
    if text is None:
        return "?"
    if is_end:
        return "pad" if after_end or "pad" in text.lower() else "end"
    if text.startswith("<|") and text.endswith("|>") and len(text) > 4:
        inner = text[2:-2].lower()
        return "pad" if "pad" in inner else "end" if "end" in inner else text[2:-2]
    if text == "":
        return "\u2205"
    if text.strip() == "":
        return text.replace("\n", "\u21b5").replace("\t", "\u21e5") or " "
    return text.replace("\n", "\u21b5")


def slot_kinds(traj, state: list[int], new: Container[int]) -> list[str]:
    """Per canvas position, what it shows: "lock" (fixed before decoding), "mask", "new" (one of the `new`
    positions, written this step), "end" (an end or padding token) or "old" (committed earlier)."""
    ends = set(traj.end_token_ids)
    kinds = []
    for pos, tok in enumerate(state):
        if traj.fixed[pos]:
            kinds.append("lock")
        elif tok == traj.mask_token_id:
            kinds.append("mask")
        else:
            kinds.append("new" if pos in new else "end" if tok in ends else "old")
    return kinds


# ----- the records ------------------------------------------------------------
# Per position records are NamedTuples (a 1,024-slot frame makes a thousand of each, ten times a second);
# per frame and per step, frozen dataclasses.
class Commit(NamedTuple):
    """The iteration that wrote a position, as the record has it."""

    step: int  # Step.index (0-based; the replay calls it step + 1)
    confidence: Optional[float]  # the algorithm's score (None where the record has none)
    fallback: bool  # the schedule chose it (no threshold pass)
    alternatives: tuple  # top (text, probability) pairs; text "<id>" where the record has no text


class Guess(NamedTuple):
    """A ghost: the best guess the frame's step recorded for a position it scored."""

    token: int
    text: Optional[str]  # None where the record has no text for it
    label: str
    confidence: float
    above: bool  # above a threshold that is on: it commits (or committed) by the threshold rule


class Slot(NamedTuple):
    pos: int
    kind: str  # "lock", "mask", "new", "end" or "old"
    token: int
    text: Optional[str]  # the token's text (None where the record has none)
    label: str  # how it reads on the canvas (MASK_GLYPH while masked)
    end: bool  # an end or padding token
    newline: bool  # a token whose text holds a line break (the HTML canvas breaks the line after it)
    origin: str  # "chosen" (a person), "template", "carried" (a branch's parent), "committed", "padded" or "masked"
    commit: Optional[Commit]  # the last commit up to this frame; None for the origins before decoding
    guess: Optional[Guess]  # the frame's step scored it (masked when the step began)
    block: Optional[int]  # the block it lies in (None: a decode without blocks)
    edge: bool  # the first position of a block after the first
    active: bool  # in the block being decoded


@dataclass(frozen=True)
class Badges:
    step: int  # the frame's step: 0 before decoding
    max_steps: Optional[int]  # the decode's `steps` setting
    masked: int  # positions still masked (fixed ones never are)
    commits: Optional[int]  # positions the frame's step committed (None before decoding)
    fallback: bool  # the frame's step was the schedule's fallback
    blocks: tuple  # [start, end) per block; () for a decode without blocks
    active_block: Optional[int]  # the block being decoded (None when none is left or without blocks)
    state: str  # "done", "stopped", "decoding" (a live frame) or ""


@dataclass(frozen=True)
class Change:
    """What step n (1-based) did: its writes, its commits' scores and its ghosts (parallel lists)."""

    step: int
    writes: list  # (position, token), in order: commits, padding, a person's edits
    commits: dict  # {position: confidence (None where the record has none)} of the positions it committed
    scored: list  # positions its forward pass scored, with a recorded ghost each ([] for older records)
    guesses: list  # the best guess at each
    confidences: list  # its score
    above: list  # above the threshold (a threshold that is on)


@dataclass(frozen=True)
class Frame:
    step: int
    alg: str  # the confidence algorithm (what a confidence score means)
    threshold: float  # the confident-decoding threshold, 0 when off
    badges: Badges
    narration: str
    slots: tuple  # one Slot per position


# ----- reading the Trajectory -------------------------------------------------
def alg_of(traj) -> str:
    return str(traj.config.get("alg", "maskgit_plus"))


def clamp(traj, n_steps: Optional[int]) -> int:
    """`n_steps` clamped to the record (None: the last step)."""
    total = len(traj.steps)
    return total if n_steps is None else max(0, min(int(n_steps), total))


def change(traj, n: int, state: list[int]) -> Change:
    """Step n's Change; `state` is the canvas after it (not changed). Its ghosts are placed on the canvas
    its forward pass saw: `state` with the step's writes masked again."""
    record = traj.steps[n - 1]
    writes = record.writes(traj.pad_token_id)
    seen = list(state)
    for pos, _ in writes:
        seen[pos] = traj.mask_token_id
    commits = {p: (record.confidences[j] if j < len(record.confidences) else None)
               for j, p in enumerate(record.positions)}
    scored = masked_in(traj, seen, n)
    if not record.ghost_tokens or len(record.ghost_tokens) != len(scored):
        return Change(n, writes, commits, [], [], [], [])
    thr = threshold_of(traj)
    confs = list(record.masked_confidence)
    return Change(n, writes, commits, scored, list(record.ghost_tokens), confs, [thr > 0 and c > thr for c in confs])


def walk(traj) -> Iterator[tuple[int, list[int], Optional[Change]]]:
    """(n, the canvas after step n, step n's Change) for n = 0 (no Change) to the last step, in one pass.
    The canvas is one list updated in place: copy it to keep it."""
    state = list(traj.canvas)
    yield 0, state, None
    for n, record in enumerate(traj.steps, start=1):
        for pos, tok in record.writes(traj.pad_token_id):
            state[pos] = tok
        yield n, state, change(traj, n, state)


def block_bounds(traj) -> tuple:
    """[start, end) per block; () when the decode has no blocks (one block: nothing to show)."""
    if traj is None or traj.block_length is None:
        return ()
    found = traj.block_bounds()
    return tuple(tuple(b) for b in found) if len(found) > 1 else ()


def block_edges(bounds) -> list[int]:
    """The positions that start a block after the first (where a boundary is drawn); [] without blocks."""
    return [lo for lo, _ in bounds[1:]]


def active_bounds(shown: Badges) -> Optional[tuple]:
    """[start, end) of the block being decoded in a frame's Badges (None: none left, or no blocks)."""
    return None if shown.active_block is None else tuple(shown.blocks[shown.active_block])


def active_block(bounds, state: list[int], mask_id: int) -> Optional[int]:
    """The block being decoded on `state`: the first with a masked position (None when none is left)."""
    for b, (lo, hi) in enumerate(bounds):
        if any(state[i] == mask_id for i in range(lo, hi)):
            return b
    return None


def badges(traj, n: int, state: list[int], live: bool = False) -> Badges:
    """The frame's badges after step n; `live`: a decode still running (no end state yet)."""
    record = traj.steps[n - 1] if n > 0 else None
    masked = sum(1 for i, t in enumerate(state) if t == traj.mask_token_id and not traj.fixed[i])
    bounds = block_bounds(traj)
    if masked == 0 and n > 0:
        state_word = "done"
    elif traj.stopped and n == len(traj.steps):
        state_word = "stopped"
    else:
        state_word = "decoding" if live else ""
    return Badges(n, traj.config.get("steps"), masked, None if record is None else len(record.positions),
                  bool(record is not None and record.fallback), bounds,
                  active_block(bounds, state, traj.mask_token_id) if bounds else None, state_word)


def commits(traj, n: int) -> list[Optional[Commit]]:
    """Per position, the last commit of the first n steps (None: not committed by then)."""
    out: list[Optional[Commit]] = [None] * traj.length
    text = traj.token_text.get
    for record in traj.steps[:n]:
        confs, alts = record.confidences, record.alternatives
        for j, pos in enumerate(record.positions):
            top = tuple([(text(t, f"<{t}>"), p) for t, p in alts[j]]) if j < len(alts) else ()
            out[pos] = Commit(record.index, confs[j] if j < len(confs) else None, record.fallback, top)
    return out


def _origin(traj, pos: int, commit: Optional[Commit], padded: Container[int]) -> str:
    if pos in traj.chosen:
        return "chosen"
    if traj.fixed[pos]:
        return "template"
    if commit is not None:
        return "committed"
    if pos in padded:
        return "padded"
    return "carried" if traj.canvas[pos] != traj.mask_token_id else "masked"


def _guesses(traj, ch: Optional[Change], label) -> dict[int, Guess]:
    if ch is None:
        return {}
    ends, text = set(traj.end_token_ids), traj.token_text.get
    return {pos: Guess(tok, text(tok), label(tok, tok in ends, False), conf, up)
            for pos, tok, conf, up in zip(ch.scored, ch.guesses, ch.confidences, ch.above)}


def _labeller(traj):
    """token_label of a token id, remembered (a large frame shows the same few hundred tokens many times)."""
    seen: dict = {}

    def label(tok: int, is_end: bool, after_end: bool) -> str:
        key = (tok, is_end, after_end)
        if key not in seen:
            seen[key] = token_label(traj.token_text.get(tok), is_end, after_end)
        return seen[key]
    return label


def _block_of(bounds) -> dict[int, int]:
    return {pos: b for b, (lo, hi) in enumerate(bounds) for pos in range(lo, hi)}


def slots(traj, n: int, state: list[int], ch: Optional[Change], shown: Badges) -> tuple:
    """One Slot per position of the canvas `state` after step n (`ch`: step n's Change, `shown`: its Badges)."""
    ends, text, label = set(traj.end_token_ids), traj.token_text.get, _labeller(traj)
    first_end = next((i for i, t in enumerate(state) if t in ends), len(state))
    kinds = slot_kinds(traj, state, ch.commits if ch is not None else {})
    done, guesses, block = commits(traj, n), _guesses(traj, ch, label), _block_of(shown.blocks)
    live = active_bounds(shown) or (0, 0)
    edges = set(block_edges(shown.blocks))
    padded = {pos for record in traj.steps[:n] for pos in record.padded}
    out = []
    for pos, (tok, kind) in enumerate(zip(state, kinds)):
        is_end, masked, origin = tok in ends, kind == "mask", _origin(traj, pos, done[pos], padded)
        out.append(Slot(pos, kind, tok, text(tok), MASK_GLYPH if masked else label(tok, is_end, pos > first_end),
                        is_end, not masked and "\n" in (text(tok) or ""), origin, done[pos],
                        guesses.get(pos), block.get(pos), pos in edges, live[0] <= pos < live[1]))
    return tuple(out)


def frame(traj, n_steps: Optional[int] = None, *, live: bool = False) -> Frame:
    """The canvas after `n_steps` iterations (None: all recorded so far); `live`: the decode is running."""
    n = clamp(traj, n_steps)
    state = traj.state_at(n)
    ch = change(traj, n, state) if n > 0 else None
    shown = badges(traj, n, state, live)
    return Frame(n, alg_of(traj), threshold_of(traj), shown, narrate(traj, n), slots(traj, n, state, ch, shown))
