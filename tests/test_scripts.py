"""The runnable tools in scripts/ still reach the library: every name they import from `dimple` exists.

A script is run by hand (a measurement, a probe), so a moved module (dimple.scale_shapes became
dimple.scale.shapes) would only show the next time someone needs it. This reads each script's imports with
`ast`, function-level ones included, and resolves them without running the script.
"""

import ast
import importlib
from pathlib import Path

import pytest

SCRIPTS = sorted((Path(__file__).resolve().parent.parent / "scripts").glob("*.py"))


def _dimple_imports(path: Path) -> list[tuple[str, str]]:
    """(module, name) of every `from dimple... import name` in the file; (module, "") for `import dimple...`."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").split(".")[0] == "dimple":
            found += [(node.module, alias.name) for alias in node.names]
        elif isinstance(node, ast.Import):
            found += [(alias.name, "") for alias in node.names if alias.name.split(".")[0] == "dimple"]
    return found


def test_the_scripts_folder_has_scripts_that_import_the_library():
    assert len(SCRIPTS) >= 5 and sum(bool(_dimple_imports(p)) for p in SCRIPTS) >= 5


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_every_library_name_a_script_imports_exists(script):
    for module, name in _dimple_imports(script):
        imported = importlib.import_module(module)
        if name and not hasattr(imported, name):
            importlib.import_module(f"{module}.{name}")  # a submodule: `from dimple.tiny import world`


def test_the_description_probes_ask_every_word_and_every_items_end_once(tiny):
    """scripts/describe_lengths.py's teacher-forced probes on the shipped Tiny: one question per word of each kind
    and one per item of each answer, so a tally that skips or repeats a case shows."""
    import sys

    from dimple.tiny import world

    sys.path.insert(0, str(SCRIPTS[0].parent))
    import describe_lengths as D

    samples = [world.make_sample(seed, "describe", n_objects=n) for seed, n in zip(world.split_seeds("eval", 2), (1, 3))]
    fills = D.fill_accuracy(tiny, samples)
    assert fills["shape"][1] == 4 and fills["colour"][1] == 4 and fills["colour, all at once"][1] == 2
    ends = D.end_accuracy(tiny, samples, canvas=tiny.default_config.max_new_tokens)
    assert ends["end"][1] == 2 and ends["more"][1] == 2
    assert 0 <= ends["end"][0] <= 2 and fills["shape"][0] >= 3  # the shipped Tiny names the shapes it is shown


def test_the_comparison_probe_takes_a_size_only_when_every_size_word_is_the_asked_one():
    import sys

    sys.path.insert(0, str(SCRIPTS[0].parent))
    import comparison_probe as C

    assert C.right_size("The large red star (top left), the big blue circle.", "big")
    assert not C.right_size("the large red star and the tiny blue circle", "big")  # a small one named too
    assert not C.right_size("the red star", "big")  # no size said
    assert C.right_size("top left: little red star", "small")


def test_the_comparison_probe_expects_only_objects_of_the_asked_size():
    import sys

    from dimple.tiny import dialogue

    sys.path.insert(0, str(SCRIPTS[0].parent))
    import comparison_probe as C

    cases = C.questions(3)
    assert len(cases) == 3
    for _, size, most, word, expected in cases:
        assert most in dialogue.MOST[size] and C.right_size(expected, size)  # the answer names only that size
        for split in ("train", "heldout"):  # every frame, by superlative or by size, is filled
            for frame in dialogue.L.FRAMES["comparison"][split]:
                q = C.question(frame, most, word)
                assert "{" not in q and (most in q or word in q), q


def test_the_description_error_tally_tells_a_mixed_item_from_a_misplaced_or_repeated_one():
    import sys

    sys.path.insert(0, str(SCRIPTS[0].parent))
    import describe_errors as E

    scene = "top left: big red circle, center: small pink triangle"
    right = E.tally("There is a large red circle in the upper left and a tiny pink triangle in the center.", scene)
    assert right["right"] == right["objects"] == 2 and right["mixed"] == right["missed"] == right["count off"] == 0
    mixed = E.tally("top left: big red circle, center: small red circle", scene)  # one object's words twice
    assert (mixed["right"], mixed["mixed"], mixed["misplaced"], mixed["missed"]) == (1, 1, 0, 1)
    moved = E.tally("top left: big red circle, top left: small pink triangle, bottom right: big red circle", scene)
    assert (moved["twice"], moved["misplaced"], moved["count off"]) == (1, 1, 1)
    unread = E.tally("a cat", scene)
    assert (unread["unread"], unread["missed"], unread["right"]) == (1, 2, 0)


def test_the_comparison_probe_counts_an_answer_short_of_objects_only_when_it_names_fewer():
    import sys

    sys.path.insert(0, str(SCRIPTS[0].parent))
    import comparison_probe as C

    asked = "top left: big red circle, center: big pink triangle"
    assert C.names_fewer("The big red circle (top left).", asked)
    assert not C.names_fewer("the big pink triangle in the center and the big red circle in the top left", asked)
    assert not C.names_fewer("hello there", asked)  # not a list of objects at all
