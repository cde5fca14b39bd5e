"""What the studio (handlers, web API) calls on an assistant, written down as a `typing.Protocol`.

Owns the names and arguments of the assistant's members the app uses, so that
`dimple.assistant.Assistant`, `app.lazy.LazyAssistant` (which forwards to
one) and the tests' `FakeAssistant` are held to one definition, and the one
thing the app derives from them: the answer text of a trajectory. It knows
nothing of models, tensors or Gradio.
"""

from __future__ import annotations

from typing import Any, Callable, Iterator, Optional, Protocol, Sequence

from dimple.config import DecodeConfig
from dimple.trajectory import Trajectory


class StudioAssistant(Protocol):
    name: str  # shown in the header
    device: str  # where the model runs, in words
    about: str  # markdown: what the model knows
    max_new_tokens_limit: int  # the longest canvas the model allows
    default_config: DecodeConfig  # decoding settings suited to the model
    presets: dict  # structure-prior templates by name that the model fills well
    suggestions: tuple  # questions to offer with one click
    draws_scenes: bool  # whether random_scene can draw (a model card may name no scene generator: the 7B's)

    def decode(self, ids: Sequence[int]) -> str: ...

    def canvas_for(self, template: str, limit: Optional[int] = None) -> Any:
        """The canvas a structure-prior template makes: `.pieces` [(text, fixed)], `.length`, `.warnings`;
        raises ValueError naming the problem."""

    def stream(self, image: Any, prompt: str, cfg: Optional[DecodeConfig] = None,
               history: Sequence[tuple[str, str]] = (), template: Optional[str] = None,
               should_stop: Optional[Callable[[], bool]] = None) -> Iterator[Trajectory]: ...

    def generate_batch(self, items: Sequence[tuple[Any, str]], cfg: Optional[DecodeConfig] = None,
                       template: Optional[str] = None) -> list[Trajectory]: ...

    def random_scene(self, seed: int) -> tuple[Any, str]: ...

    def explore(self, image: Any, prompt: str, cfg: Optional[DecodeConfig] = None,
                thresholds: Sequence[float] = (), history: Sequence[tuple[str, str]] = (),
                template: Optional[str] = None) -> Any:
        """The question decoded at every threshold: a `dimple.explore.Exploration`; ValueError for bad input."""

    def ground(self, image: Any, traj: Trajectory, position: int) -> Any:
        """Where in `image` the model looked when it committed `position`: a `dimple.grounding.Grounding`;
        ValueError when there is no image or nothing to ground."""
    # ----- branching (app/branching.py) -----
    def branch(self, image: Any, prompt: str, cfg: Optional[DecodeConfig], canvas: Sequence[int],
               fixed: Optional[Sequence[int]] = None, start_step: int = 0, start_masked: Optional[int] = None,
               history: Sequence[tuple[str, str]] = (), should_stop: Optional[Callable[[], bool]] = None,
               ) -> Iterator[Trajectory]:
        """Decode from a given canvas (docs/DESIGN.md, Branching), yielding the growing Trajectory."""

    def propose(self, image: Any, prompt: str, cfg: Optional[DecodeConfig], canvas: Sequence[int],
                fixed: Optional[Sequence[int]] = None, start_step: int = 0, start_masked: Optional[int] = None,
                history: Sequence[tuple[str, str]] = ()) -> Any:
        """One uncommitted iteration from `canvas`: a dimple.stepping.Proposal (candidates, the engine's choice)."""

    def token_ids(self, text: str) -> list[int]: ...

    def token_texts(self, ids: Sequence[int]) -> dict[int, str]: ...


def answer_text(assistant: StudioAssistant, traj: Trajectory) -> str:
    """The answer as the assistant's tokenizer writes it, or from the record's token texts where it cannot."""
    try:
        return assistant.decode(traj.answer_ids).strip()
    except Exception:  # noqa: BLE001 - an answer the tokenizer cannot decode still shows its recorded texts
        return traj.text().strip()
