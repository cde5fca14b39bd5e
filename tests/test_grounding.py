"""Grounding: the captured attention is the model's own, it lies on the image grid, and the Tiny measurement runs."""

from __future__ import annotations

import threading

import pytest
import torch
import torch.nn.functional as F

from dimple.assistant import Assistant
from dimple.modeling import DimpleAttention, attention_weights, capture_attention


@pytest.fixture(scope="module")
def assistant():
    return Assistant.load("tiny", device="cpu")


def test_captured_weights_reproduce_the_attention_output():
    torch.manual_seed(0)
    q, k, v = torch.randn(1, 4, 7, 8), torch.randn(1, 2, 7, 8), torch.randn(1, 2, 7, 8)
    mask = torch.rand(1, 1, 7, 7) > 0.3
    mask |= torch.eye(7, dtype=torch.bool)
    rows = torch.tensor([2, 5])
    w = attention_weights(q, k, mask, rows)
    expected = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, enable_gqa=True)[:, :, rows]
    assert torch.allclose(w @ v.repeat_interleave(2, dim=1), expected, atol=1e-5)


def test_grounding_lies_on_the_3x3_grid_and_leaves_the_model_as_it_was(assistant):
    from dimple.tiny import world

    sample = world.make_sample(world.split_seeds("eval", 1)[0], "attribute")
    traj = assistant.generate(sample.image, sample.question)
    g = assistant.ground(sample.image, traj, 0)
    assert len(g.grid) == 3 and all(len(r) == 3 for r in g.grid)
    assert sum(map(sum, g.grid)) == pytest.approx(1.0, abs=1e-4)
    assert len(g.layers) == assistant.model.config.num_hidden_layers and 0 < g.image_share <= 1
    assert g.step == next(n for n, s in enumerate(traj.steps, 1) if 0 in s.positions)
    assert all(not m.capture for m in assistant.model.modules() if isinstance(m, DimpleAttention))
    assert assistant.generate(sample.image, sample.question).response_ids == traj.response_ids


def test_a_capture_in_one_thread_leaves_a_decode_in_another_alone(assistant, monkeypatch):
    monkeypatch.setattr(assistant.card, "needs_image", False)  # a text-only decode: the smallest one
    rows, seen = torch.tensor([0]), []
    with capture_attention(assistant.model, rows) as maps:
        worker = threading.Thread(target=lambda: seen.append(assistant.generate(None, "Hello!").nfe))
        worker.start()
        worker.join()
    assert seen and maps == []


def test_grounding_refuses_no_image_and_a_template_token(assistant, monkeypatch):
    from dimple.tiny import world

    sample = world.make_sample(world.split_seeds("eval", 2)[0], "attribute")
    traj = assistant.generate(sample.image, sample.question, template="Answer: <mask:3><eos>")
    free = traj.fixed.index(False)  # the first slot the model filled
    with pytest.raises(ValueError, match="image"):
        assistant.ground(None, traj, free)
    with pytest.raises(ValueError, match="template"):
        assistant.ground(sample.image, traj, 0)
    monkeypatch.setattr(assistant.card, "needs_image", False)  # a model that may answer without a picture
    text_only = assistant.generate(None, "Hello!")
    with pytest.raises(ValueError, match="image tokens"):
        assistant.ground(sample.image, text_only, 0)


def test_the_localisation_measurement_runs_on_the_shipped_weights(assistant):
    from dimple.tiny.grounding_eval import measure, object_questions

    questions = object_questions(6)
    assert [q.kind for q in questions] == ["color", "shape", "position"] * 2
    report = measure(assistant, questions)
    assert report["n"] == 6 and 0 <= report["peak_on_object"] <= 1 and report["chance"] == pytest.approx(1 / 9)
    assert len(report["per_layer"]) == assistant.model.config.num_hidden_layers
