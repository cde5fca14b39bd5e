"""Images from outside Tiny's world: square, seeded, and the held-out photographs never reach training."""

import random

from dimple.tiny import nonworld


def test_heldout_photographs_are_other_files_than_the_training_ones():
    assert not set(nonworld.PHOTOS["train"]) & set(nonworld.PHOTOS["heldout"])
    assert not set(nonworld.photo_paths("train")) & set(nonworld.photo_paths("heldout"))


def test_every_image_is_square_and_a_pure_function_of_its_seed():
    for seed in range(12):
        a = nonworld.image(random.Random(seed), "heldout")
        b = nonworld.image(random.Random(seed), "heldout")
        assert a.size == (nonworld.SIDE, nonworld.SIDE)
        assert a.tobytes() == b.tobytes()


def test_a_heldout_photograph_ships_with_the_requirements():
    # matplotlib (in requirements.txt) carries grace_hopper.jpg, the visitor evaluation's photograph
    assert any(p.endswith("grace_hopper.jpg") for p in nonworld.photo_paths("heldout"))
