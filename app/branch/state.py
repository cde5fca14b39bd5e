"""A session's branches of its last run, the canvas being edited and a manual decode in progress.

Owns the record of branching in the studio: each `Branch` is a Trajectory
decoded from an edited canvas of another run (the original, `-1`, or an earlier
branch), with the replay step it was taken after and the positions a person
edited, locked and re-masked; `Branches` holds them with the original, the
editor's working canvas (set a token, re-mask, lock, re-mask everything
unlocked) and a manual decode (`Manual`: the engine's proposal for the next
step and the person's picks). Branches round-trip through the JSON export
(`to_dict` / `from_dict`, under the export's "studio" key), so they replay
without a model.

It knows the Trajectory record and `dimple.branching`'s canvas edits; nothing
of Gradio, HTML or the model (a typed word arrives as token ids).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from dimple.branching import place, remask, remask_all_but, resume_point
from dimple.trajectory import Trajectory

ORIGINAL = -1


@dataclass
class Branch:
    trajectory: Trajectory
    parent: int  # ORIGINAL or the index of the branch it was taken from
    at_step: int  # the parent's replay step the canvas was taken after
    edited: list[int] = field(default_factory=list)  # positions a person set to a token
    locked: list[int] = field(default_factory=list)  # positions a person locked (kept through "re-mask the rest")
    remasked: list[int] = field(default_factory=list)  # positions a person masked again
    manual: bool = False  # decoded step by step by a person

    def to_dict(self) -> dict:
        return {"parent": self.parent, "at_step": self.at_step, "edited": self.edited, "locked": self.locked,
                "remasked": self.remasked, "manual": self.manual, "trajectory": self.trajectory.to_dict()}

    @classmethod
    def from_dict(cls, data: dict) -> "Branch":
        try:
            return cls(Trajectory.from_dict(data["trajectory"]), int(data["parent"]), int(data["at_step"]),
                       [int(p) for p in data.get("edited", [])], [int(p) for p in data.get("locked", [])],
                       [int(p) for p in data.get("remasked", [])], bool(data.get("manual", False)))
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"malformed branch in the export: {exc}") from exc


@dataclass
class Manual:
    """A manual decode: the branch it grows, the engine's proposal for the next step, the person's picks."""

    branch: int  # index of the Branch whose trajectory grows
    proposal: object = None  # dimple.stepping.Proposal for the current canvas
    picks: dict = field(default_factory=dict)  # position -> token to commit at the next step
    remasks: set = field(default_factory=set)  # committed positions to mask again after the next step
    selected: Optional[int] = None  # the masked position whose candidates are on show
    request: tuple = ()  # (image, prompt, history, DecodeConfig) every proposal is scored with


class Branches:
    def __init__(self, root: Trajectory) -> None:
        self.root = root
        self.items: list[Branch] = []
        self.source, self.step = ORIGINAL, 0
        self.canvas: list[int] = []
        self.edited: set[int] = set()
        self.locked: set[int] = set()
        self.remasked: set[int] = set()
        self.selected: Optional[int] = None
        self.manual: Optional[Manual] = None

    # ----- runs --------------------------------------------------------------
    def run(self, index: int) -> Trajectory:
        return self.root if index == ORIGINAL else self.items[index].trajectory

    def label(self, index: int) -> str:
        if index == ORIGINAL:
            return "original"
        b = self.items[index]
        kind = "manual" if b.manual else "branch"
        return f"{kind} {index + 1} (from {self.label(b.parent)} at step {b.at_step})"

    def labels(self) -> list[str]:
        return [self.label(i) for i in range(ORIGINAL, len(self.items))]

    def index_of(self, label: str) -> int:
        labels = self.labels()
        return labels.index(label) - 1 if label in labels else ORIGINAL

    # ----- the editor ------------------------------------------------------------
    def open(self, source: int, step: int) -> None:
        """Start editing the canvas of run `source` after its replay step `step`."""
        traj = self.run(source)
        self.source, self.step = source, max(0, min(int(step), traj.nfe))
        self.canvas = resume_point(traj, self.step)["canvas"]
        self.edited, self.locked, self.remasked, self.selected = set(), set(), set(), None

    @property
    def editing(self) -> bool:
        return bool(self.canvas)

    def protected(self) -> set[int]:
        """Positions nobody may edit: the original's structure-prior (template) tokens."""
        return {i for i, f in enumerate(self.root.fixed) if f}

    def _inherited_choices(self) -> set[int]:
        out, index = set(), self.source
        while index != ORIGINAL:
            out |= set(self.items[index].edited) | set(self.items[index].locked)
            index = self.items[index].parent
        return out

    def set_tokens(self, pos: int, ids: list[int]) -> list[int]:
        """Write a candidate or a typed word (several tokens fill the positions after pos); returns them."""
        self.canvas = place(self.canvas, pos, ids, self.protected())
        written = list(range(pos, pos + len(ids)))
        self.edited |= set(written)
        self.remasked -= set(written)
        return written

    def remask(self, pos: int) -> None:
        if pos in self.protected():
            raise ValueError(f"position {pos} is fixed by the structure prior; it cannot be masked")
        self.canvas = remask(self.canvas, [pos], self.root.mask_token_id)
        self.edited.discard(pos)
        self.locked.discard(pos)
        self.remasked.add(pos)

    def toggle_lock(self, pos: int) -> bool:
        if self.canvas[pos] == self.root.mask_token_id:
            raise ValueError(f"position {pos} is masked; set a token there before locking it")
        self.locked ^= {pos}
        return pos in self.locked

    def remask_rest(self) -> int:
        """Mask every position but the edited, locked and fixed ones; returns how many were masked."""
        keep = self.edited | self.locked | self.protected() | self._inherited_choices()
        before = self.canvas
        self.canvas = remask_all_but(before, keep, self.root.mask_token_id)
        newly = {i for i, (a, b) in enumerate(zip(before, self.canvas)) if a != b}
        self.remasked |= newly
        return len(newly)

    def chosen_positions(self) -> list[int]:
        """The fixed positions a person chose (edited, locked or inherited), not the template's."""
        return sorted(set(self.fixed_positions()) - self.protected())

    def fixed_positions(self) -> list[int]:
        """What the branch's record marks fixed: the template's, the inherited and the new choices."""
        keep = self.edited | self.locked | self.protected() | self._inherited_choices()
        return sorted(i for i in keep if self.canvas[i] != self.root.mask_token_id)

    def resume_keywords(self) -> dict:
        traj = self.run(self.source)
        point = resume_point(traj, self.step)
        return {"canvas": list(self.canvas), "fixed": self.fixed_positions(), "start_step": point["start_step"],
                "start_masked": point["start_masked"]}

    def add(self, traj: Trajectory, manual: bool = False) -> int:
        self.items.append(Branch(traj, self.source, self.step, sorted(self.edited), sorted(self.locked),
                                 sorted(self.remasked), manual))
        return len(self.items) - 1

    # ----- export ------------------------------------------------------------------
    def to_list(self) -> list[dict]:
        return [b.to_dict() for b in self.items]

    @classmethod
    def from_list(cls, root: Trajectory, data) -> "Branches":
        out = cls(root)
        if not isinstance(data, list):
            raise ValueError("the export's branches are not a list")
        for i, item in enumerate(data):
            branch = Branch.from_dict(item)
            if not ORIGINAL <= branch.parent < i:
                raise ValueError(f"branch {i + 1} names parent {branch.parent}, which does not come before it")
            out.items.append(branch)
        return out
