"""The lessons' logic as small pure functions: facts from runs, the judges, the reveal, the URL's lesson number.

Owns how a lesson turns its runs into what it says: `facts` reads the numbers
of each run (forward passes, answer, tokens per pass, seconds, the first
pass's slots), a judge from the JUDGES table compares them and names the
right choice and the "why" to show, and `reveal` fills that text. Also the
reading of `?lesson=N&step=S` (`parse_place`), which answers a bad number with
a sentence, never an exception. It knows the Trajectory record's fields and
app/lessons/content.py; nothing of Gradio or the model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

from ..words import agree
from .content import FASTER, LESSONS, SAME, SLOWER, Lesson

PREDICT, REVEALED = 1, 2  # a lesson's steps: read and predict, then the run and its reveal


@dataclass(frozen=True)
class Run:
    """One decode of a lesson, as the lesson speaks of it (read from the Trajectory, nothing else)."""
    label: str
    nfe: int  # forward passes
    text: str  # the answer as shown
    tokens: int  # answer tokens the decode wrote (Trajectory.n_generated)
    tpf: float  # tokens per forward pass
    length: int  # canvas slots
    masked: int  # slots masked at the start (the template's fixed ones excluded)
    first: tuple[int, ...]  # slots the first pass committed
    first_masked: int  # the leftmost slot masked at the start
    blocks: int  # blocks that took at least one pass (1 without blocks)
    seconds_per_pass: float  # wall time of the passes after the first, per pass (0.0 with one pass)
    start_step: int = 0  # a branch: the passes of the run it left before its canvas was taken


def run_from(label: str, traj, text: str) -> Run:
    masked = [i for i, f in enumerate(traj.fixed) if not f]
    first = tuple(sorted(traj.steps[0].positions)) if traj.steps else ()
    later = [s.seconds for s in traj.steps[1:]]
    return Run(label=label, nfe=traj.nfe, text=text, tokens=traj.n_generated, tpf=round(traj.tokens_per_forward, 2),
               length=traj.length, masked=len(masked), first=first, first_masked=masked[0] if masked else 0,
               blocks=len({s.block for s in traj.steps}), seconds_per_pass=sum(later) / len(later) if later else 0.0,
               start_step=traj.start_step)


def facts(runs: list[Run]) -> dict:
    """The placeholders a lesson's texts may use: a_* of the first run, b_* of the second, first_* of run a."""
    out = {}
    for prefix, r in zip("ab", runs):
        out.update({f"{prefix}_nfe": r.nfe, f"{prefix}_text": r.text, f"{prefix}_tokens": r.tokens,
                    f"{prefix}_tpf": f"{r.tpf:g}", f"{prefix}_length": r.length, f"{prefix}_masked": r.masked,
                    f"{prefix}_blocks": r.blocks, f"{prefix}_given": r.length - r.masked})
    a = runs[0]
    out.update(first_count=len(a.first), first_last=max(a.first, default=0) + 1, length=a.length)
    if len(runs) > 1:  # a branch: the passes the original took after the branch point
        out["a_later"] = a.nfe - runs[1].start_step
    return out


def compare_passes(a: int, b: int) -> str:
    return FASTER if b < a else SAME if b == a else SLOWER


# ----- the judges: runs -> (index of the right choice, key of the "why" text) ---------------------------
def _passes(lesson: Lesson, runs: list[Run]) -> tuple[int, str]:
    verdict = compare_passes(runs[0].nfe, runs[1].nfe)
    return lesson.choices.index(verdict), verdict


def _first_pass(lesson: Lesson, runs: list[Run]) -> tuple[int, str]:
    a = runs[0]
    anywhere = any(p > a.first_masked for p in a.first)
    return (1, "anywhere") if anywhere else (0, "left")


def _same_text(lesson: Lesson, runs: list[Run]) -> tuple[int, str]:
    same = runs[0].text == runs[1].text
    return (0, "same") if same else (1, "different")


def _branch(lesson: Lesson, runs: list[Run]) -> tuple[int, str]:
    return (0, "done") if runs[1].masked == 0 else _same_text(lesson, runs)


JUDGES: dict[str, Callable[[Lesson, list[Run]], tuple[int, str]]] = {
    "passes": _passes, "structure": _passes, "first_pass": _first_pass, "same_text": _same_text,
    "prefill": _same_text, "branch": _branch,
}


def speed_sentence(off: Run, on: Run) -> str:
    """Lesson 'prefill': the time per later pass, measured, compared only as it came out."""
    if not off.seconds_per_pass or not on.seconds_per_pass:
        return "With a single pass there was no later pass to speed up."
    ratio = off.seconds_per_pass / on.seconds_per_pass
    times = f"{1000 * on.seconds_per_pass:.0f} ms per later pass with the cache, {1000 * off.seconds_per_pass:.0f} ms without"
    if ratio >= 1.05:
        return f"Each later pass fed only the answer: {times} ({ratio:.1f}x faster)."
    return f"{times}: on this busy machine the cache saved no measurable time this run."


@dataclass(frozen=True)
class Reveal:
    right: int  # index of the right choice
    guessed: Optional[int]  # the viewer's choice, if any
    why: str  # the explanation, numbers filled from the runs

    @property
    def verdict(self) -> str:
        if self.guessed is None:
            return "You made no prediction."
        return "You predicted right." if self.guessed == self.right else "Not this time."


def reveal(lesson: Lesson, runs: list[Run], guessed: Optional[int] = None) -> Reveal:
    right, key = JUDGES[lesson.judge](lesson, runs)
    values = facts(runs)
    if lesson.judge == "prefill":
        values["speed"] = speed_sentence(runs[0], runs[1])
    return Reveal(right=right, guessed=guessed, why=agree(lesson.why[key].format(**values)))


# ----- the place in the lessons, as the URL carries it ------------------------------------------------
def parse_place(lesson, step=None, count: int = len(LESSONS)) -> tuple[Optional[int], int, str]:
    """`?lesson=N&step=S` -> (lesson number 1..count or None, step, message). A bad value gives None and a
    sentence saying what is wrong; no lesson asked gives (None, PREDICT, "")."""
    if lesson in (None, ""):
        return None, PREDICT, ""
    text = str(lesson).strip()
    if not text.isdigit() or not 1 <= int(text) <= count:
        return None, PREDICT, (f"There is no lesson {text[:20]!r}: the lessons are numbered 1 to {count}. "
                               "Pick one below.")
    s = str(step).strip() if step not in (None, "") else ""
    return int(text), REVEALED if s == str(REVEALED) else PREDICT, ""


def lesson_heading(number: int, count: int = len(LESSONS)) -> str:
    return f"Lesson {number} of {count}: {LESSONS[number - 1].title}"
