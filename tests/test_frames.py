"""app.canvas.frames: the records every canvas view draws (slots, badges, a step's change), on hand-made runs."""

from __future__ import annotations

import ast

from app.canvas import frames
from conftest import ROOT
from dimple.trajectory import Step, Trajectory
from fake_assistant import END, MASK, PAD, VOCAB, WORDS, make_trajectory


def _word_position(traj, step_index: int) -> int:
    """A position step `step_index` (0-based) committed to a word (not an end token)."""
    record = traj.steps[step_index]
    return next(p for p, t in zip(record.positions, record.tokens) if t not in traj.end_token_ids)


def _hand_made(canvas, fixed=None, steps=(), **kw) -> Trajectory:
    return Trajectory(prompt_ids=[5], canvas=list(canvas), fixed=list(fixed or [False] * len(canvas)),
                      mask_token_id=MASK, end_token_ids=[END, PAD], token_text=dict(enumerate(WORDS)),
                      config={"alg": "maskgit_plus", "alg_p_threshold": 0.5, "steps": 8}, steps=list(steps),
                      pad_token_id=PAD, **kw)


def test_a_position_committed_at_step_k_is_new_at_k_and_old_after():
    traj = make_trajectory(16, threshold=0.8)
    assert traj.nfe >= 3
    pos = _word_position(traj, 1)  # committed by the second step
    kinds = [frames.frame(traj, n).slots[pos].kind for n in (1, 2, 3)]
    assert kinds == ["mask", "new", "old"]
    commit = frames.frame(traj, 2).slots[pos].commit
    j = traj.steps[1].positions.index(pos)
    assert commit.step == 1 and commit.confidence == traj.steps[1].confidences[j]


def test_a_masked_slot_has_no_commit_and_reads_as_the_mask_glyph():
    traj = make_trajectory(12)
    assert traj.nfe >= 2
    slot = next(s for s in frames.frame(traj, 1).slots if s.token == MASK)
    assert (slot.kind, slot.label, slot.commit, slot.origin) == ("mask", frames.MASK_GLYPH, None, "masked")


def test_the_frame_before_decoding_has_every_slot_masked_no_commits_and_no_guesses():
    traj = make_trajectory(10)
    f = frames.frame(traj, 0)
    assert [s.kind for s in f.slots] == ["mask"] * 10
    assert all(s.guess is None and s.commit is None for s in f.slots)
    assert f.badges.commits is None and f.badges.masked == 10 and f.badges.state == ""
    assert f.narration.startswith("Before decoding: 10 masked positions")


def test_the_step_is_clamped_to_the_record_and_none_means_the_last():
    traj = make_trajectory(12)
    assert frames.frame(traj, -4).step == 0
    assert frames.frame(traj, traj.nfe + 9).step == traj.nfe
    assert frames.frame(traj).step == traj.nfe


def test_template_tokens_are_locked_and_say_they_came_from_the_template():
    traj = make_trajectory(template=[VOCAB["Answer"], VOCAB[":"]] + [MASK] * 10 + [END])
    f = frames.frame(traj, 1)
    assert [f.slots[i].kind for i in (0, 1, 12)] == ["lock", "lock", "lock"]
    assert f.slots[0].origin == "template" and f.slots[0].commit is None
    assert f.slots[12].end and f.slots[12].label == "end"
    assert f.badges.masked == sum(1 for s in f.slots if s.kind == "mask")


def test_a_branch_labels_a_persons_choice_and_tokens_carried_over_from_its_parent():
    canvas = [VOCAB["The"], VOCAB[" red"]] + [MASK] * 6
    traj = _hand_made(canvas, fixed=[False, True] + [False] * 6, chosen=[1])
    f = frames.frame(traj, 0)
    assert (f.slots[0].origin, f.slots[0].kind) == ("carried", "old")
    assert (f.slots[1].origin, f.slots[1].kind) == ("chosen", "lock")
    assert f.slots[2].origin == "masked"


def test_end_tokens_read_end_and_those_after_the_first_end_read_pad():
    step = Step(index=0, positions=[0, 1, 2, 3], tokens=[VOCAB["The"], END, END, PAD], confidences=[0.9] * 4,
                fallback=False)
    f = frames.frame(_hand_made([MASK] * 4, steps=[step]), 1)
    assert [s.label for s in f.slots] == ["The", "end", "pad", "pad"]  # the second <|endoftext|> too
    assert [s.end for s in f.slots] == [False, True, True, True]


def test_an_end_token_committed_at_step_k_is_new_at_k_and_an_end_slot_after():
    steps = [Step(index=0, positions=[1], tokens=[END], confidences=[0.9], fallback=False),
             Step(index=1, positions=[0], tokens=[VOCAB["The"]], confidences=[0.9], fallback=False)]
    traj = _hand_made([MASK] * 2, steps=steps)
    assert [frames.frame(traj, n).slots[1].kind for n in (0, 1, 2)] == ["mask", "new", "end"]


def test_a_newline_token_breaks_the_line_and_a_masked_slot_never_does():
    step = Step(index=0, positions=[0], tokens=[VOCAB["\n"]], confidences=[0.9], fallback=False)
    traj = _hand_made([MASK] * 3, steps=[step])
    traj.token_text[MASK] = "<mask>\n"  # even a mask text with a line break: a masked slot never breaks
    f = frames.frame(traj, 1)
    assert f.slots[0].newline and f.slots[0].label == "\u21b5"
    assert not any(s.newline for s in f.slots[1:])


def test_the_frames_step_guesses_every_position_it_scored_and_flags_those_above_the_threshold():
    traj = make_trajectory(16, threshold=0.8)
    record = traj.steps[1]
    f = frames.frame(traj, 2)
    scored = [s for s in f.slots if s.guess is not None]
    assert len(scored) == len(record.ghost_tokens)  # every position masked when step 2 began
    for s, tok, conf in zip(scored, record.ghost_tokens, record.masked_confidence):
        assert s.kind in ("mask", "new")
        assert (s.guess.token, s.guess.confidence, s.guess.above) == (tok, conf, conf > 0.8)
        assert s.guess.label == frames.token_label(WORDS[tok], tok in traj.end_token_ids)
    assert not any(s.guess for s in f.slots if s.kind == "old")  # committed before the step: not scored


def test_with_the_threshold_off_no_guess_is_above_it():
    traj = make_trajectory(16, threshold=0.0)
    guesses = [s.guess for n in range(1, traj.nfe + 1) for s in frames.frame(traj, n).slots if s.guess]
    assert guesses and not any(g.above for g in guesses)


def test_a_record_without_ghosts_gives_no_guesses():
    traj = make_trajectory(12)
    for record in traj.steps:
        record.ghost_tokens, record.ghost_top, record.ghost_top_p = [], [], []
    assert not any(s.guess for s in frames.frame(traj, 1).slots)
    assert frames.change(traj, 1, traj.state_at(1)).scored == []


def test_a_commit_carries_its_alternatives_as_text_and_an_id_where_the_record_has_no_text():
    step = Step(index=0, positions=[0], tokens=[VOCAB["The"]], confidences=[0.7], fallback=True,
                alternatives=[[(VOCAB["The"], 0.7), (999, 0.2)]])
    commit = frames.frame(_hand_made([MASK, MASK], steps=[step]), 1).slots[0].commit
    assert commit.alternatives == (("The", 0.7), ("<999>", 0.2)) and commit.fallback


def test_badges_count_the_masked_positions_and_the_steps_commits():
    traj = make_trajectory(16, threshold=0.8)
    for n in range(1, traj.nfe + 1):
        b = frames.frame(traj, n).badges
        state = traj.state_at(n)
        assert b.masked == state.count(MASK)
        assert b.commits == len(traj.steps[n - 1].positions) and b.fallback == traj.steps[n - 1].fallback
        assert b.max_steps == 16


def test_badges_say_done_at_the_end_stopped_for_a_stopped_run_and_decoding_while_live():
    traj = make_trajectory(12)
    assert frames.frame(traj).badges.state == "done"
    assert frames.frame(traj, 1, live=True).badges.state == "decoding"
    assert frames.frame(traj, 1).badges.state == ""  # a replayed middle frame: no state
    traj.steps, traj.stopped = traj.steps[:1], True
    assert frames.frame(traj).badges.state == "stopped"


def test_blocks_give_each_slot_its_block_an_edge_at_each_later_block_and_underline_the_active_one():
    traj = make_trajectory(12)
    traj.config["block_length"] = 4
    f = frames.frame(traj, 0)
    assert f.badges.blocks == ((0, 4), (4, 8), (8, 12)) and f.badges.active_block == 0
    assert [s.block for s in f.slots] == [0] * 4 + [1] * 4 + [2] * 4
    assert [s.pos for s in f.slots if s.edge] == [4, 8]
    assert [s.pos for s in f.slots if s.active] == [0, 1, 2, 3]
    done = frames.frame(traj)
    assert done.badges.active_block is None and not any(s.active for s in done.slots)


def test_a_decode_without_blocks_shows_none():
    f = frames.frame(make_trajectory(12), 1)
    assert f.badges.blocks == () and f.badges.active_block is None
    assert not any(s.edge or s.active or s.block is not None for s in f.slots)


def test_a_change_holds_the_steps_writes_padding_included_and_its_commit_scores():
    step = Step(index=0, positions=[0, 1], tokens=[VOCAB[" yes"], END],
                confidences=[0.9, 0.8], fallback=False, padded=[2, 3])
    traj = _hand_made([MASK] * 4, steps=[step])
    ch = frames.change(traj, 1, traj.state_at(1))
    assert ch.writes == [(0, step.tokens[0]), (1, END), (2, PAD), (3, PAD)]
    assert ch.commits == {0: 0.9, 1: 0.8}


def test_walking_a_run_gives_every_steps_canvas_and_change_as_single_frames_do():
    traj = make_trajectory(16, threshold=0.8)
    walked = [(n, list(state), ch) for n, state, ch in frames.walk(traj)]
    assert [n for n, _, _ in walked] == list(range(traj.nfe + 1))
    for n, state, ch in walked:
        assert state == traj.state_at(n)
        assert ch == (frames.change(traj, n, state) if n else None)


def test_the_record_module_imports_no_html_colours_or_gradio():
    tree = ast.parse((ROOT / "app" / "canvas" / "frames.py").read_text(encoding="utf-8"))
    imported = {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    imported |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert imported, "no imports read"
    assert not {m for m in imported if m.split(".")[-1] in ("html", "colours", "gradio", "render", "dense")}


def test_a_position_padded_after_the_end_says_it_was_padded_not_masked():
    step = Step(index=0, positions=[0, 1], tokens=[VOCAB["The"], END], confidences=[0.9, 0.9], fallback=False,
                padded=[2, 3])
    traj = _hand_made([MASK] * 5, steps=[step])
    f = frames.frame(traj, 1)
    assert [s.origin for s in f.slots] == ["committed", "committed", "padded", "padded", "masked"]
    assert f.slots[2].kind == "end" and f.slots[2].commit is None
