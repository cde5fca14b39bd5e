"""The visitor evaluation: its cases stay off training's words, and its tallies read the rows they are given."""

from dimple.tiny import language, replies, visitor_eval as V
from PIL import Image


def _row(question: str, ok: bool, klass: str = "phrasing_count", nfe: int = 1, answer_tokens: int = 1,
         written: int | None = None):
    case = V.Case(klass, Image.new("RGB", (8, 8)), question, "2")
    return V.Row(case, "2" if ok else "3", nfe, ok, answer_tokens, answer_tokens if written is None else written)


def test_trajectory_statistics_count_only_long_answers_and_their_passes():
    rows = [_row("a", True, nfe=4, answer_tokens=20), _row("b", False, nfe=1, answer_tokens=12),
            _row("c", True, nfe=1, answer_tokens=3)]
    out = V.trajectory_stats(rows)
    assert out["n"] == 2 and out["single_pass_share"] == 0.5 and out["passes_histogram"] == {1: 1, 4: 1}
    assert out["tokens_per_forward_mean"] == round((20 / 4 + 12 / 1) / 2, 3) and out["accuracy"] == 0.5
    assert out["single_pass_by_class"] == {"phrasing_count": 1}  # the short one-pass answer is not counted
    assert V.trajectory_stats(rows[2:])["n"] == 0


def test_a_templates_fixed_text_is_not_counted_as_tokens_the_decode_wrote():
    # a JSON template's answer of 20 tokens of which the model wrote 4 in one pass: short, not a one-pass long one
    templated = _row("t", True, klass="preset_JSON object", nfe=1, answer_tokens=20, written=4)
    free = _row("f", True, nfe=5, answer_tokens=15)
    out = V.trajectory_stats([templated, free])
    assert out["n"] == 1 and out["single_pass_share"] == 0.0 and out["single_pass_by_class"] == {}
    assert out["tokens_per_forward_mean"] == 3.0 and out["answer_tokens_mean"] == 15
    before = V.trajectory_stats([templated, free], count=lambda r: r.answer_tokens)  # the count before session 21
    assert before["n"] == 2 and before["single_pass_share"] == 0.5


def test_written_tokens_are_the_answers_masked_positions_before_its_end():
    from types import SimpleNamespace

    # "{" fixed, two written, "}" fixed, a written token, then the end and padding
    traj = SimpleNamespace(fixed=[True, False, False, True, False, False, False], answer_end=5)
    assert V.written_tokens(traj) == 3


def test_cases_are_the_same_every_time_and_cover_every_class():
    a, b = V.cases(2), V.cases(2)
    assert [(c.klass, c.question, c.expected) for c in a] == [(c.klass, c.question, c.expected) for c in b]
    assert {c.klass for c in a} == set(V.CLASSES)


def test_heldout_phrasing_cases_never_use_a_training_frame_and_off_world_texts_are_heldout():
    cases = V.cases(6)
    slots = {k: "x" for k in ("color", "shape", "pos", "row", "label", "verb", "things", "most", "size")}
    train_frames = {language._normal(language.fill(f, **slots))
                    for k in language.FRAMES for f in language.FRAMES[k]["train"]}
    heldout_texts = {t for k in replies.TEXTS for t in replies.TEXTS[k]["heldout"]}
    for case in cases:
        if case.klass.startswith("phrasing_"):
            assert language.matches_heldout(case.question), case.question
            assert language._normal(case.question) not in train_frames
        if case.klass == "off_world":
            assert case.question in heldout_texts or case.question.lower() in {t.lower() for t in heldout_texts}
        assert case.nonworld == (case.klass == "nonworld_image")


def test_per_opener_tallies_accuracy_by_the_heldout_opener_a_question_starts_with():
    rows = [_row("Quick question: how many stars?", False), _row("quick question: count the stars", True),
            _row("So, how many stars?", True), _row("how many stars?", True), _row("How many stars?", False)]
    assert V.per_opener(rows) == {"(none)": 0.5, "Quick question:": 0.5, "So,": 1.0}
    assert V.opener_of("Sorry, how many?") == ""


def test_summary_counts_a_break_only_where_the_high_threshold_was_right():
    high = [_row("a", True), _row("b", True), _row("c", False)]
    low = [_row("a", False), _row("b", True), _row("c", True)]
    out = V.summarize(high, low, 0.9, 0.5, 1.0)
    assert out["accuracy"] == round(2 / 3, 4) and out["broken_at_low_threshold"] == 0.5
    assert out["failures"][0]["question"] == "c" and out["per_class"] == {"phrasing_count": round(2 / 3, 4)}


def test_the_summary_counts_the_right_replies_that_mix_a_replys_forms():
    self_reply = replies.REPLIES["self"]
    mixed = "I'm Dimple-Tiny. I can describe, count and find shapes, read words and read bar charts."
    rows = [V.Row(V.Case("off_world", Image.new("RGB", (8, 8)), "who are you", self_reply), out, 1,
                  V.passes(V.Case("off_world", None, "who are you", self_reply), out))
            for out in (mixed, self_reply, "I am a cat.")]
    assert [r.ok for r in rows] == [True, True, False]
    assert V.summarize(rows, rows, 0.9, 0.5, 1.0)["replies_right_as_a_mix_of_forms"] == 1


def test_busy_cases_do_not_move_with_trainings_noise_and_openers(monkeypatch):
    before = [c.question for c in V.cases(20, ("busy",))]
    monkeypatch.setattr(language, "CHATTER_RATE", 1.0)
    monkeypatch.setattr(language, "NOISE_RATE", 1.0)
    assert [c.question for c in V.cases(20, ("busy",))] == before


def test_the_visitor_run_decodes_with_the_settings_it_is_given_not_only_the_cards():
    """`dimple.cli eval --max-new-tokens 96` must reach the visitor cases too (it used to reach only the
    canonical ones, so a model trained on a 96-slot canvas was judged on the card's 52)."""
    from types import SimpleNamespace

    from dimple.config import DecodeConfig

    seen = []

    class Recorder:
        default_config = DecodeConfig(max_new_tokens=52, steps=52)

        def generate(self, image, question, cfg, history=(), template=None):
            seen.append((cfg.max_new_tokens, cfg.alg_p_threshold))
            return SimpleNamespace(nfe=1, answer_ids=[1], answer_end=1, fixed=[False] * 4)

        def answer_text(self, traj):
            return "hello"

    V.run(Recorder(), 1, classes=("off_world",), extra_thresholds=())
    assert {m for m, _ in seen} == {52}
    seen.clear()
    out = V.run(Recorder(), 1, classes=("off_world",), extra_thresholds=(),
                base=DecodeConfig(max_new_tokens=96, steps=96))
    assert {m for m, _ in seen} == {96} and {t for _, t in seen} == {0.9, 0.5}
    assert set(out["trajectory_free"]) == set(out["trajectory"]) == {"0.9", "0.5"}


def test_free_answer_statistics_leave_out_answers_decoded_under_a_template():
    from types import SimpleNamespace

    from dimple.config import DecodeConfig

    class LongAnswers:
        default_config = DecodeConfig(max_new_tokens=52, steps=52)

        def generate(self, image, question, cfg, history=(), template=None):
            return SimpleNamespace(nfe=1 if template else 6, answer_ids=[1] * 20, answer_end=20, fixed=[False] * 24)

        def answer_text(self, traj):
            return "x"

    out = V.run(LongAnswers(), 1, classes=("off_world", "preset_JSON object"), extra_thresholds=())
    assert out["trajectory"]["0.9"]["n"] == 2 and out["trajectory"]["0.9"]["single_pass_share"] == 0.5
    assert out["trajectory_free"]["0.9"]["n"] == 1 and out["trajectory_free"]["0.9"]["single_pass_share"] == 0.0
