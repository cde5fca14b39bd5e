"""The threshold explorer: one batch gives each threshold's own decode, and marks changes honestly."""

from __future__ import annotations

import pytest

from dimple.assistant import Assistant


@pytest.fixture(scope="module")
def assistant():
    return Assistant.load("tiny", device="cpu")


def test_each_row_is_the_decode_at_its_threshold_and_the_reference_is_the_schedule(assistant):
    from dimple.tiny import world

    sample = world.make_sample(world.split_seeds("eval", 3)[0], "describe")
    cfg = assistant.default_config
    result = assistant.explore(sample.image, sample.question, cfg, [0.99, 0.3, 0.9])
    assert [r.threshold for r in result.rows] == [0.3, 0.9, 0.99]
    for row in [result.reference, *result.rows]:
        alone = assistant.generate(sample.image, sample.question, cfg.with_(alg_p_threshold=row.threshold))
        assert row.answer_ids == alone.answer_ids and row.nfe == alone.nfe
    assert all(s.fallback for s in result.reference.trajectory.steps)
    previous = result.reference.answer_ids
    for row in result.rows:
        assert row.changed == (row.answer_ids != previous)
        assert row.differs == (row.answer_ids != result.reference.answer_ids)
        previous = row.answer_ids
    out = result.to_dict(text=assistant.decode)
    assert out["rows"][0]["text"] == assistant.decode(result.rows[0].answer_ids) and out["seconds"] > 0


def _picture():
    from dimple.tiny.world import make_sample, split_seeds

    return make_sample(split_seeds("eval", 1)[0], category="describe").image


def test_bad_thresholds_are_refused_with_their_name(assistant):
    for bad in ([], [0.0], [1.5], ["x"]):
        with pytest.raises(ValueError, match="threshold"):
            assistant.explore(_picture(), "Hello!", None, bad)
