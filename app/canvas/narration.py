"""Step narration: one plain sentence per step that says why the canvas changed.

Owns the words a teacher would say beside the canvas: before decoding, how
many positions are masked (and fixed by a template); at each step, how many
masked positions scored above the threshold and were committed, or that none
did and the schedule's fallback committed the k most confident (at random for
`origin`, the leftmost for `autoregressive`), or that the last allowed step
committed everything left; padding written after an end token; and when the
run is done or was stopped. A pure function of the Trajectory record (its
steps, scores and config): no model, no HTML, no Gradio.
"""

from __future__ import annotations

from dimple.ghosts import masked_at, step_rule, threshold_of
from ..words import count

FALLBACK_PICK = {"origin": "{k} at random", "autoregressive": "the leftmost"}


def _threshold_words(traj) -> str:
    return f"{threshold_of(traj):.2f}"


def _fallback_words(traj, k: int) -> str:
    alg = str((traj.config or {}).get("alg", "maskgit_plus"))
    pick = FALLBACK_PICK.get(alg, "the {k} most confident" if k > 1 else "the most confident")
    return "the schedule commits " + pick.format(k=k)


def _opening(traj) -> str:
    """How the canvas starts: masked, carried over from a parent run, chosen by a person, fixed by a template."""
    masked = sum(1 for t, f in zip(traj.canvas, traj.fixed) if t == traj.mask_token_id and not f)
    carried = sum(1 for t, f in zip(traj.canvas, traj.fixed) if t != traj.mask_token_id and not f)
    chosen = len(set(traj.chosen))
    template = sum(traj.fixed) - chosen
    extra = "".join(f", {n} {words}" for n, words in ((carried, "carried over"), (chosen, "chosen by a person"),
                                                       (template, "fixed by the template")) if n)
    return f"Before decoding: {count(masked, 'masked position')}{extra}."


def narrate_step(traj, step: int) -> str:
    """The sentence for step `step` (1-based): what its forward pass saw and which rule committed what."""
    record = traj.steps[step - 1]
    n_masked = len(record.masked_confidence) or len(masked_at(traj, step))
    k = len(record.positions)
    rule = step_rule(traj, step)
    thr = threshold_of(traj)
    if rule == "last step":
        text = f"Step {step}: last step: everything left is committed ({count(k, 'position')})."
    elif rule == "threshold":
        text = (f"Step {step}: {k} of {count(n_masked, 'masked position')} above {_threshold_words(traj)}, "
                "committed.")
    elif thr > 0:
        text = f"Step {step}: none of {n_masked} above {_threshold_words(traj)}: {_fallback_words(traj, k)}."
    else:
        text = f"Step {step}: threshold off: {_fallback_words(traj, k)} of {count(n_masked, 'masked position')}."
    if record.padded:
        text += f" After the end, {count(len(record.padded), 'position')} padded without a forward pass."
    return text


def narrate(traj, n: int) -> str:
    """The line beside the canvas after `n` steps (0: before decoding); the last frame says how it ended."""
    if traj is None:
        return ""
    n = max(0, min(int(n), len(traj.steps)))
    text = _opening(traj) if n == 0 else narrate_step(traj, n)
    if n == len(traj.steps) and n > 0:
        left = sum(1 for t, f in zip(traj.state_at(n), traj.fixed) if t == traj.mask_token_id and not f)
        if left == 0:
            text += f" Done: nothing is masked after {count(n, 'step')}."
        elif traj.stopped:
            text += f" Stopped with {count(left, 'position')} still masked."
    return text


def narration(traj) -> list[str]:
    """Every line of a run, from before decoding to its last step."""
    return [narrate(traj, n) for n in range(len(traj.steps) + 1)]
