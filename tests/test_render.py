"""app.canvas.render and app.canvas.plots on hand-made trajectories: every kind of slot is drawn distinctly, fast."""

from __future__ import annotations

import re
import itertools

import pytest

from app.canvas import panels
from app.canvas import plots
from app.canvas import render
from fake_assistant import END, MASK, VOCAB, make_trajectory


def _classes(html: str) -> list[str]:
    tokens = re.split(r'<div class="dm-tokens"[^>]*>', html, maxsplit=1)[1].split("</div>", 1)[0]
    return re.findall(r'class="dm-tok ([^"]+)"', tokens)


def test_empty_canvas_is_all_masked():
    traj = make_trajectory(12)
    html = render.render_canvas(traj, 0)
    assert _classes(html) == ["dm-mask"] * 12
    assert "step 0" in html and "12 masked" in html


def test_middle_step_shows_new_old_masked_and_confidence_colours():
    traj = make_trajectory(16, threshold=0.8)
    assert traj.nfe >= 2
    html = render.render_canvas(traj, 2)
    classes = _classes(html)
    new = set(traj.steps[1].positions)
    old = set(traj.steps[0].positions)
    for pos, cls in enumerate(classes):
        if pos in new:
            assert "dm-new" in cls
        elif pos in old:
            assert "dm-old" in cls or "dm-end" in cls
        else:
            assert cls == "dm-mask dm-ghost"  # still masked: the step's best guess shows, faded
    assert "hsl(" in html  # new tokens carry their confidence colour
    assert f"+{len(new)} this step" in html


def test_final_frame_has_no_masks_and_says_done():
    traj = make_trajectory(16)
    html = render.render_canvas(traj)
    assert "dm-mask" not in re.split(r'<div class="dm-tokens"[^>]*>', html)[1].split("</div>")[0]
    assert "dm-done" in html


def test_locked_and_end_tokens_are_distinct():
    template = [VOCAB["Answer"], VOCAB[":"]] + [MASK] * 12 + [END]
    traj = make_trajectory(template=template)
    classes = _classes(render.render_canvas(traj))
    assert "dm-lock" in classes[0] and "dm-lock" in classes[1]
    assert "dm-lock" in classes[-1] and "dm-end" in classes[-1]  # a fixed <eos>
    assert any(c == "dm-end" for c in classes[2:-1])  # the model's own end / padding


def test_hover_titles_carry_step_confidence_and_alternatives():
    traj = make_trajectory(12)
    html = render.render_answer(traj)
    assert "committed at step" in html and "probability" in html and "top:" in html
    assert not any("dm-lock" in c for c in _classes(html))  # no template
    # one coloured span per answer token up to the end
    assert html.count('style="background:#') == traj.answer_end


def test_text_is_escaped():
    traj = make_trajectory(12)
    traj.token_text[VOCAB["The"]] = "<script>x</script>"
    html = render.render_canvas(traj)
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_step_counter_clamps_and_stopped_badge():
    traj = make_trajectory(12)
    assert "step 0" in render.render_canvas(traj, -3)
    assert f"step {traj.nfe}" in render.render_canvas(traj, 999)
    traj.steps = traj.steps[:1]
    traj.stopped = True
    assert "stopped" in render.render_canvas(traj)


def test_canvas_text_and_stats():
    traj = make_trajectory(16)
    assert render.canvas_text(traj) == "The red circle is left of the blue square."
    assert "\u2592" in render.canvas_text(traj, 0)
    stats = panels.render_stats(traj)
    assert "tokens generated" in stats and "forward passes" in stats and "latency" in stats
    assert str(traj.n_generated) in stats


def test_preview_and_error():
    html = panels.render_preview([("Color", True), ("", False), ("", False)], 3, 64, ["'Color' is 2 tokens"])
    assert html.count("dm-mask") == 2 and "dm-lock" in html and "2 tokens" in html
    assert "dm-error" in panels.render_error("template: bad (at character 3)")


@pytest.mark.parametrize("alg,conf,expected", [("maskgit_plus", 0.5, 0.5), ("entropy", 0.0, 1.0),
                                               ("topk_margin", 2.0, 1.0), ("maskgit_plus", None, 0.0)])
def test_confidence_unit(alg, conf, expected):
    assert render.confidence_unit(conf, alg) == pytest.approx(expected)


def test_plots_draw_the_run_and_an_empty_run_draws_only_a_message():
    traj = make_trajectory(20, template=[VOCAB["Answer"]] + [MASK] * 10 + [END], threshold=0.8)
    other = make_trajectory(20, threshold=0.0)
    bars = plots.commits_per_step(traj).axes[0].patches
    assert [b.get_height() for b in bars] == [len(s.positions) for s in traj.steps]
    line = plots.cumulative_vs_forward(traj).axes[0].lines[0]
    assert list(line.get_ydata()) == [0] + list(itertools.accumulate(len(s.positions) for s in traj.steps))
    compared = plots.compare_cumulative(traj, other).axes[0].lines
    assert [list(ln.get_xdata())[-1] for ln in compared[:2]] == [traj.nfe, other.nfe]
    heat = plots.confidence_heatmap(traj).axes[0].images[0].get_array()
    assert heat.shape == (traj.nfe, traj.length)
    first = traj.steps[0]  # row 0: every position masked at the start, with its score
    masked = [i for i, f in enumerate(traj.fixed) if not f]
    assert list(heat[0, masked]) == pytest.approx(first.masked_confidence)
    empty = plots.commits_per_step(None).axes[0]
    assert not empty.patches and not empty.lines and [t.get_text() for t in empty.texts] == ["Run a question to see this plot."]


def test_stats_of_a_stopped_run_count_only_committed_tokens():
    traj = make_trajectory(16, threshold=0.8)
    traj.steps = traj.steps[:1]
    traj.stopped = True
    stats = panels.render_stats(traj)
    committed = sum(1 for p in traj.steps[0].positions if p <= traj.answer_end)
    assert committed == traj.n_generated  # slots left masked are not counted as generated
    assert f"<b>{committed}</b><span>tokens generated" in stats
    assert "stopped early" in stats


def test_a_large_canvas_draws_one_lean_slot_per_position_without_titles():
    from standin_assistant import StandInAssistant

    assistant = StandInAssistant(step_seconds=0)
    traj = None
    for traj in assistant.stream(None, "x", assistant.default_config.with_(max_new_tokens=render.DENSE_FROM,
                                                                           steps=8)):
        pass
    for n in (0, 1, 4, traj.nfe):
        html = render.render_canvas(traj, n)
        box = html.split('class="dm-tokens dm-dense"', 1)[1].split("</div>", 1)[0]
        slots = re.findall(r'<span class="([a-z ]+)"', box)
        assert len(slots) == traj.length and "title=" not in box.split(">", 1)[1] and "data-pos" not in box
        assert f'data-step="{n}"' in html
    assert {"g", "o", "n"} <= {s.split()[0] for s in re.findall(r'<span class="([a-z ]+)"', render.render_canvas(traj, 4))}


def test_a_large_canvas_with_blocks_marks_each_blocks_first_slot_and_the_active_blocks_masked_slots():
    from app.canvas import dense

    traj = make_trajectory(render.DENSE_FROM)
    traj.config["block_length"] = 64
    box = render.render_canvas(traj, 0).split('class="dm-tokens dm-dense"', 1)[1].split("</div>", 1)[0]
    classes = [c.split() for c in re.findall(r'<span class="([a-z ]+)"', box)]
    assert len(classes) == traj.length  # still one element per position: the edge is a class, not an element
    assert [i for i, c in enumerate(classes) if dense.BLOCK_EDGE in c] == [64, 128, 192]
    assert [i for i, c in enumerate(classes) if dense.ACTIVE_BLOCK in c] == list(range(64))  # block 1, all masked
    done = render.render_canvas(traj).split('class="dm-tokens dm-dense"', 1)[1]
    assert f" {dense.ACTIVE_BLOCK}\"" not in done and f" {dense.ACTIVE_BLOCK} " not in done


def test_a_padded_position_is_titled_padded_not_masked_on_the_canvas():
    from dimple.trajectory import Step
    traj = make_trajectory(6)
    traj.steps = [Step(index=0, positions=[0, 1], tokens=[VOCAB["The"], END], confidences=[0.9, 0.9],
                       fallback=False, padded=[2, 3, 4, 5])]
    traj.pad_token_id = 2  # fake_assistant.PAD
    canvas = render.render_canvas(traj)
    assert 'data-pos="3" title="position 3 - padded after the end of the answer, without a forward pass"' in canvas
    assert "position 3 - masked" not in canvas
