"""app.zerogpu: on ZeroGPU every call that reaches the model runs inside `spaces.GPU`; elsewhere nothing changes."""

from __future__ import annotations

import pytest
from PIL import Image

from app.zerogpu import zerogpu_assistant
from fake_assistant import MASK, FakeAssistant


class FakeSpaces:
    """`spaces` as ZeroGPU installs it: GPU(duration) decorates a function; here it records each call inside."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def GPU(self, duration: int):  # noqa: N802 - the name the spaces package uses
        def decorate(fn):
            def inside(*args, **kwargs):
                self.calls.append(fn.__name__)
                return fn(*args, **kwargs)

            return inside

        return decorate


@pytest.fixture()
def gpu():
    spaces, fake = FakeSpaces(), FakeAssistant(step_seconds=0.0)
    return spaces, fake, zerogpu_assistant(fake, 30, spaces=spaces)


def test_every_model_call_runs_inside_spaces_gpu(gpu):
    """Issue 32, bug 4: branch, propose, explore and ground as well as stream, generate and generate_batch."""
    spaces, fake, wrapped = gpu
    image = Image.new("RGB", (32, 32), "white")
    traj = list(wrapped.stream(image, "Where is it?", fake.default_config))[-1]
    assert spaces.calls == ["_stream"]
    canvas = traj.state_at(1)
    list(wrapped.branch(image, "Where is it?", fake.default_config, canvas, start_step=1))
    wrapped.propose(image, "Where is it?", fake.default_config, [MASK] * 4)
    wrapped.explore(image, "Where is it?", fake.default_config, (0.5, 0.9))
    wrapped.ground(image, traj, traj.steps[0].positions[0])
    wrapped.generate_batch([(image, "Where is it?")], fake.default_config)
    assert spaces.calls == ["_stream", "_branch", "_propose", "_explore", "_ground", "_generate_batch"]
    assert wrapped.name == fake.name and wrapped.token_ids(" red") == fake.token_ids(" red")  # the rest passes


def test_stop_is_checked_between_the_iterations_the_gpu_yields(gpu):
    spaces, fake, wrapped = gpu
    seen = []
    for traj in wrapped.branch(None, "Where is it?", fake.default_config, [MASK] * 12, should_stop=lambda: bool(seen)):
        seen.append(traj.nfe)
    assert traj.stopped and len(seen) == 2


def test_without_spaces_the_assistant_is_unchanged():
    fake = FakeAssistant()
    assert zerogpu_assistant(fake, 30) is fake
