"""The lessons: every lesson's example run on the shipped model, and each claim it makes checked against the runs.

The lessons read their numbers from their runs; these tests decode each lesson on the weights in
assets/dimple-tiny (or the folder in DIMPLE_LESSON_MODEL, e.g. a Dimple-Tiny 3 checkpoint) and check that
what the reveal says is what the runs did, and that the engine facts a lesson teaches hold. The pure pieces
(the URL's lesson number, the judges, the folded card, the share link) are tested without a model.
"""

from __future__ import annotations

import os

import pytest

from app.lessons import logic
from app.lessons.content import FASTER, LESSONS, SAME, SLOWER
from app.lessons.handlers import place_query, run_lesson
from app.lessons.logic import PREDICT, REVEALED, Run, agree, parse_place, reveal
from app.lessons.share import from_query, to_query
from app.welcome import fold_about

BY_KEY = {lesson.key: lesson for lesson in LESSONS}


def _run(label="x", nfe=3, text="a", first=(0,), blocks=1, sec=0.0, **kw):
    base = dict(label=label, nfe=nfe, text=text, tokens=5, tpf=1.5, length=24, masked=24, first=tuple(first),
                first_masked=0, blocks=blocks, seconds_per_pass=sec)
    base.update(kw)
    return Run(**base)


# ----- pure pieces ------------------------------------------------------------------------------------
def test_there_are_six_to_eight_lessons_each_with_its_texts():
    assert 6 <= len(LESSONS) <= 8
    assert len({lesson.key for lesson in LESSONS}) == len(LESSONS)
    for lesson in LESSONS:
        assert lesson.judge in logic.JUDGES
        assert 1 <= len(lesson.runs) <= 2 and lesson.explain.count(".") >= 2
        assert len(lesson.choices) >= 2


@pytest.mark.parametrize("value,expected", [("2", 2), ("1", 1), (str(len(LESSONS)), len(LESSONS))])
def test_a_lesson_number_in_the_url_opens_that_lesson(value, expected):
    assert parse_place(value) == (expected, PREDICT, "")
    assert parse_place(value, "2") == (expected, REVEALED, "")


@pytest.mark.parametrize("bad", ["0", "99", "-1", "two", "1.5", "%00", "9" * 40])
def test_a_bad_lesson_number_gets_a_sentence_not_an_error(bad):
    number, _, message = parse_place(bad)
    assert number is None and "no lesson" in message and f"1 to {len(LESSONS)}" in message


def test_no_lesson_in_the_url_opens_nothing():
    assert parse_place(None) == (None, PREDICT, "")


def test_the_place_goes_into_the_address_and_back():
    q = place_query({"lesson": 3, "step": REVEALED, "guess": 1})
    assert q == "?lesson=3&step=2&guess=1"
    assert parse_place("3", "2") == (3, REVEALED, "")
    assert place_query({}) == ""


@pytest.mark.parametrize("a,b,verdict", [(3, 2, FASTER), (3, 3, SAME), (2, 5, SLOWER)])
def test_the_passes_judge_compares_the_runs(a, b, verdict):
    lesson = BY_KEY["threshold"]
    result = reveal(lesson, [_run(nfe=a), _run(nfe=b)], guessed=0)
    assert lesson.choices[result.right] == verdict
    assert str(a) in result.why and (verdict == SAME or str(b) in result.why)


def test_the_same_text_judge_quotes_both_answers_when_they_differ():
    result = reveal(BY_KEY["at_once"], [_run(text="one form"), _run(text="mixed form")])
    assert result.right == 1 and "one form" in result.why and "mixed form" in result.why
    assert reveal(BY_KEY["at_once"], [_run(text="x"), _run(text="x")]).right == 0


def test_the_branch_judge_says_so_when_the_first_pass_left_nothing_to_branch():
    lesson = BY_KEY["branch"]
    done = reveal(lesson, [_run(nfe=1, text="a"), _run(nfe=0, text="a", masked=0, start_step=1)])
    assert done.right == 0 and "nothing left to decide" in done.why
    moved = reveal(lesson, [_run(nfe=6, text="a b"), _run(nfe=2, text="a c", masked=10, start_step=1)])
    assert moved.right == 1 and "a c" in moved.why and "took 5" in moved.why and "other 10" in moved.why


def test_the_prefill_lesson_claims_a_speed_up_only_when_it_was_measured():
    off, on = _run(sec=0.2, text="a"), _run(sec=0.1, text="a")
    assert "2.0x faster" in reveal(BY_KEY["prefill"], [off, on]).why
    slow = reveal(BY_KEY["prefill"], [_run(sec=0.1), _run(sec=0.1)]).why
    assert "faster" not in slow and "saved no measurable time" in slow


def test_the_verdict_says_whether_the_prediction_was_right():
    lesson = BY_KEY["threshold"]
    right = reveal(lesson, [_run(nfe=3), _run(nfe=2)], guessed=0)
    wrong = reveal(lesson, [_run(nfe=3), _run(nfe=2)], guessed=2)
    assert right.verdict == "You predicted right." and wrong.verdict == "Not this time."


def test_the_what_it_knows_card_folds_to_one_line_with_more():
    md = "**What it knows.** " + "A drawn world of shapes and words. " * 10 + "It reads **bold**."
    out = fold_about(md)
    summary = out.split("<summary>")[1].split("</summary>")[0]
    assert "more" in summary and len(summary) < 300 and "<details" in out and "<b>bold</b>" in out
    assert fold_about("") == ""


def test_the_main_controls_travel_as_a_link():
    q = to_query({"threshold": 0.5, "prefill": False, "canvas": 24.0, "example": "/x/y/objects_1.png",
                  "q": "How many?", "block": None})
    assert q == "?threshold=0.5&prefill=0&canvas=24&example=objects_1.png&q=How+many%3F"
    values, notes = from_query({"threshold": "0.5", "prefill": "0", "canvas": "24", "example": "objects_1.png",
                                "q": "How many?"})
    assert values["threshold"] == 0.5 and values["prefill"] is False and values["canvas"] == 24
    assert values["example"].endswith("objects_1.png") and values["q"] == "How many?" and not notes


def test_a_bad_link_value_is_left_out_with_a_note():
    values, notes = from_query({"threshold": "7", "block": "0", "example": "../../etc/passwd", "canvas": "x"})
    assert values == {} and len(notes) == 4
    assert to_query({"example": "/tmp/upload.png"}) == ""


def test_a_lesson_sentence_says_one_pass_and_one_slot_in_the_singular():
    assert agree("took 1 forward passes; committed 1 slot(s), then 12 slot(s) in 11 passes") == \
        "took 1 forward pass; committed 1 slot, then 12 slots in 11 passes"


def test_the_block_dropdown_reads_into_a_link_as_a_number_or_not_at_all():
    assert to_query({"threshold": 0.5, "block": "off (whole canvas)"}) == "?threshold=0.5"
    assert to_query({"block": "8"}) == "?block=8"


# ----- every lesson on the shipped model ----------------------------------------------------------------
@pytest.fixture(scope="module")
def assistant():
    from dimple.assistant import Assistant

    try:
        return Assistant.load(os.environ.get("DIMPLE_LESSON_MODEL", "tiny"), device="cpu")
    except Exception as exc:  # noqa: BLE001
        pytest.skip(f"the shipped model is not available ({exc})")


@pytest.fixture(scope="module")
def ran(assistant):
    return {}


def _lesson(assistant, ran, key):
    if key not in ran:
        runs = run_lesson(assistant, BY_KEY[key])
        ran[key] = (runs, reveal(BY_KEY[key], [r for r, _ in runs]))
    return ran[key]


def test_lesson_canvas_first_pass_claim_holds(assistant, ran):
    (run, traj), = _lesson(assistant, ran, "canvas")[0]
    result = _lesson(assistant, ran, "canvas")[1]
    first = traj.steps[0].positions
    masked = [i for i, f in enumerate(traj.fixed) if not f]
    assert (result.right == 1) == any(p > masked[0] for p in first)
    assert agree(f"committed {len(first)} slot(s)") in result.why or result.right == 0
    assert agree(f"{traj.nfe} forward passes") in result.why


def test_lesson_threshold_claim_holds(assistant, ran):
    runs, result = _lesson(assistant, ran, "threshold")
    (hi, t_hi), (lo, t_lo) = runs
    assert t_hi.config["alg_p_threshold"] == 0.9 and t_lo.config["alg_p_threshold"] == 0.5
    verdict = BY_KEY["threshold"].choices[result.right]
    assert verdict == (FASTER if lo.nfe < hi.nfe else SAME if lo.nfe == hi.nfe else SLOWER)
    assert str(hi.nfe) in result.why
    assert lo.nfe <= hi.nfe  # what the lesson teaches: the lower bar took no more passes


def test_lesson_at_once_claim_holds(assistant, ran):
    runs, result = _lesson(assistant, ran, "at_once")
    (a, ta), (b, tb) = runs
    assert b.nfe == 1 and tb.nfe == 1  # everything in one pass, as the lesson says
    assert (result.right == 0) == (a.text == b.text)
    assert a.text in result.why


def test_lesson_prefill_claim_holds(assistant, ran):
    runs, result = _lesson(assistant, ran, "prefill")
    (off, t_off), (on, t_on) = runs
    assert t_off.config["prefill"] is False and t_on.config["prefill"] is True
    assert on.nfe > 1  # several passes, so there are later passes to speed up
    assert (result.right == 0) == (off.text == on.text)
    speed = logic.speed_sentence(off, on)
    assert speed in result.why and (("faster" in speed) == (off.seconds_per_pass >= 1.05 * on.seconds_per_pass))


def test_lesson_structure_claim_holds(assistant, ran):
    runs, result = _lesson(assistant, ran, "structure")
    (free, t_free), (tmpl, t_tmpl) = runs
    assert t_tmpl.length == assistant.canvas_for(BY_KEY["structure"].template).length < t_free.length
    assert tmpl.text.startswith("Color:") and "Shape:" in tmpl.text  # the fixed words stay as written
    fixed = [i for i, f in enumerate(t_tmpl.fixed) if f]
    assert all(t_tmpl.response_ids[i] == t_tmpl.canvas[i] for i in fixed)
    assert BY_KEY["structure"].choices[result.right] == logic.compare_passes(free.nfe, tmpl.nfe)
    assert tmpl.text in result.why


def test_lesson_blocks_claim_holds(assistant, ran):
    runs, result = _lesson(assistant, ran, "blocks")
    (whole, t_whole), (blocks, t_blocks) = runs
    assert t_blocks.block_length == 8 and t_whole.block_length is None
    for step in t_blocks.steps:  # no pass commits outside its block
        lo, hi = t_blocks.block_bounds()[step.block]
        assert all(lo <= p < hi for p in step.positions)
    assert blocks.nfe >= blocks.blocks  # at least one pass per block that had a mask
    assert BY_KEY["blocks"].choices[result.right] == logic.compare_passes(whole.nfe, blocks.nfe)


def test_lesson_autoregressive_claim_holds(assistant, ran):
    runs, result = _lesson(assistant, ran, "autoregressive")
    (diff, t_diff), (ar, t_ar) = runs
    assert all(len(s.positions) <= 1 for s in t_ar.steps)  # one token a pass
    assert BY_KEY["autoregressive"].choices[result.right] == logic.compare_passes(diff.nfe, ar.nfe)
    assert str(ar.nfe) in result.why


def test_lesson_branch_claim_holds(assistant, ran):
    runs, result = _lesson(assistant, ran, "branch")
    (orig, t_orig), (branch, t_branch) = runs
    assert t_branch.start_step == min(BY_KEY["branch"].branch_after, t_orig.nfe)
    assert t_branch.canvas == t_orig.state_at(t_branch.start_step)  # the branch starts where the run was
    mask = assistant.mask_token_id
    kept = [i for i, tok in enumerate(t_branch.canvas) if tok != mask]
    assert all(t_branch.response_ids[i] == t_branch.canvas[i] for i in kept)  # committed slots never change
    assert t_branch.config["alg_p_threshold"] == 0.5 and t_orig.config["alg_p_threshold"] == 0.9
    assert (result.right == 0) == (orig.text == branch.text or branch.masked == 0)
