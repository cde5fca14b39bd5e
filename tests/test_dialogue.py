"""dimple.tiny.dialogue: Tiny 3's choice questions answer what the scene holds."""

import random

from dimple.tiny import dialogue, forms, world


def _two_size_scenes(n: int, seed: int = 0):
    rng = random.Random(seed)
    while n:
        scene = world.random_objects_scene(rng)
        if len({o.size for o in scene.objects}) == 2:
            n -= 1
            yield scene, rng


def test_how_many_big_things_counts_the_objects_of_the_size_the_question_names():
    seen = set()
    for scene, rng in _two_size_scenes(40):
        turn = dialogue.ask(scene, "count_size", rng)
        size = turn.about["size"]
        words = set(turn.question.lower().replace("?", " ").replace(".", " ").split())
        assert words & set(forms.SIZE_WORDS[size]), turn.question
        assert turn.answer == str(sum(o.size == size for o in scene.objects))
        seen.add(size)
    assert seen == {"big", "small"}


def test_a_comparison_lists_exactly_the_objects_of_the_asked_size():
    for scene, rng in _two_size_scenes(40, seed=1):
        turn = dialogue.ask(scene, "comparison", rng)
        picked = turn.facts["objs"]
        assert {o.size for o in picked} == {picked[0].size}
        assert picked == [o for o in scene.objects if o.size == picked[0].size]
        assert turn.answer == world.describe_answer(picked)


def test_a_comparison_is_not_asked_of_a_scene_whose_objects_share_one_size():
    rng = random.Random(2)
    scene = next(s for s in (world.random_objects_scene(rng) for _ in range(500)) if len({o.size for o in s.objects}) == 1)
    assert dialogue.ask(scene, "comparison", rng) is None


def test_heldout_questions_about_sizes_are_drawn_from_the_heldout_frames_only():
    for kind in ("count_size", "comparison"):
        for scene, rng in _two_size_scenes(20, seed=3):
            turn = dialogue.ask(scene, kind, rng, "heldout", styled=False)
            size = turn.about["size"] if kind == "count_size" else turn.facts["objs"][0].size
            filled = {split: {dialogue.L.fill(f, size=w, most=m, things=t)
                              for f in dialogue.L.FRAMES[kind][split] for w in forms.SIZE_WORDS[size]
                              for m in dialogue.MOST[size] for t in dialogue.L.THINGS}
                      for split in ("train", "heldout")}
            assert turn.question in filled["heldout"] and turn.question not in filled["train"], turn.question
