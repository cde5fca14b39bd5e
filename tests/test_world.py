"""The drawn world: deterministic per seed, disjoint splits, every category, bounded answers."""

import random

import pytest

from dimple.tiny import world


def test_same_seed_same_sample():
    for seed in (0, 7, 123456):
        a, b = world.make_sample(seed), world.make_sample(seed)
        assert (a.question, a.answer, a.category) == (b.question, b.answer, b.category)
        assert a.image.tobytes() == b.image.tobytes()


def test_different_seeds_differ():
    samples = {(s.question, s.answer, s.image.tobytes()) for s in (world.make_sample(i) for i in range(40))}
    assert len(samples) > 30


def test_splits_are_disjoint():
    train = set(world.split_seeds("train", 5000))
    held = set(world.split_seeds("eval", 5000))
    assert not train & held
    assert all(world.split_of(s) == "train" for s in list(train)[:50])
    assert all(world.split_of(s) == "eval" for s in list(held)[:50])
    with pytest.raises(ValueError):
        world.split_seeds("test", 3)


def test_every_category_is_produced():
    seen = {world.make_sample(s).category for s in range(400)}
    assert seen == set(world.CATEGORIES)
    for cat in world.ALL_CATEGORIES:
        s = world.make_sample(3, cat)
        assert s.category == cat and s.question and s.answer


def test_images_are_the_right_size():
    for cat in ("describe", "ocr", "chart"):
        img = world.make_sample(5, cat).image
        assert img.size == (world.IMAGE_SIZE, world.IMAGE_SIZE) and img.mode == "RGB"
        assert world.model_view(img).size == (world.MODEL_IMAGE_SIZE, world.MODEL_IMAGE_SIZE)


def test_answers_are_consistent_with_the_scene():
    for seed in range(300):
        s = world.make_sample(seed, "count")
        assert 0 <= int(s.answer) <= world.MAX_OBJECTS
        s = world.make_sample(seed, "exists")
        assert s.answer in ("yes", "no")
        present = {o.name() for o in s.scene.objects}
        asked = s.question.rstrip("?").split(" ", 3)[3]
        assert (asked in present) == (s.answer == "yes")
        s = world.make_sample(seed, "position")
        assert s.answer in world.POSITIONS
        s = world.make_sample(seed, "attribute")
        assert s.answer in world.COLOR_NAMES + world.SHAPES + world.SIZES


def test_answer_lengths_are_bounded():
    lengths = [len(world.make_sample(s).answer.split()) for s in range(600)]
    assert min(lengths) >= 1 and max(lengths) <= world.MAX_ANSWER_WORDS
    assert max(lengths) >= 8  # long answers exist too (describe / structured)


def test_structured_answer_is_json():
    import json

    s = world.make_sample(11, "structured")
    data = json.loads(s.answer)
    assert len(data) == len(s.scene.objects)


def test_bad_category_is_refused():
    with pytest.raises(ValueError, match="category"):
        world.make_sample(0, "poetry")


def test_write_examples(tmp_path):
    paths = world.write_examples(str(tmp_path))
    assert len(paths) >= 8
    assert (tmp_path / "index.json").exists()


@pytest.mark.parametrize("start,n", [(-1, 3), (world.SPLIT_SIZE - 2, 3), (0, -1), (world.SPLIT_SIZE, 1)])
def test_split_seeds_refuses_ranges_outside_the_split(start, n):
    with pytest.raises(ValueError, match="outside the split"):
        world.split_seeds("train", n, start=start)


def test_split_seeds_gives_the_last_seeds_of_a_split():
    assert world.split_seeds("eval", 2, start=world.SPLIT_SIZE - 2)[-1] == world.SPLIT_BASE["eval"] + world.SPLIT_SIZE - 1
