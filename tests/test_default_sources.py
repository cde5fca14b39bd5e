"""The CLI's flags and the web API's keywords start from the one table of decoding defaults (`dimple.settings`).

A literal default written in a signature or an argparse call drifts when the table changes; these tests read
what each front end would use when a caller leaves a setting out and compare it with the table.
"""

import inspect

import pytest

from dimple.cli import build_parser, config_from_args
from dimple.config import DecodeConfig
from dimple.settings import DEFAULTS

SETTINGS = ("alg_p_threshold", "prefill", "max_new_tokens", "steps", "alg", "temperature", "seed", "block_length")


@pytest.mark.parametrize("command", ["generate", "branch"])
def test_a_cli_call_without_decoding_flags_decodes_with_the_tables_settings(command):
    args = build_parser().parse_args([command, "--prompt", "x"])
    assert config_from_args(args) == DEFAULTS.validate()


def test_an_omitted_cli_flag_takes_the_model_cards_default_and_a_given_one_wins():
    card = DEFAULTS.with_(alg_p_threshold=0.95, temperature=0.2, max_new_tokens=64, steps=64)  # e.g. the 7B's card
    assert config_from_args(build_parser().parse_args(["generate", "--prompt", "x"]), card) == card.validate()
    given = build_parser().parse_args(["generate", "--prompt", "x", "--alg-p-threshold", "0.5", "--no-prefill"])
    cfg = config_from_args(given, card)
    assert (cfg.alg_p_threshold, cfg.prefill, cfg.temperature) == (0.5, False, 0.2)


def test_the_cli_follows_the_table_when_it_changes(monkeypatch):
    """The flags read the table when the parser is built, so a changed table changes what the CLI decodes with."""
    changed = DecodeConfig(alg_p_threshold=0.5, alg="entropy", temperature=0.3, seed=7, block_length=8)
    monkeypatch.setattr("dimple.cli.DEFAULTS", changed)
    args = build_parser().parse_args(["generate", "--prompt", "x"])
    assert config_from_args(args) == changed


def _defaults(function) -> dict:
    return {name: p.default for name, p in inspect.signature(function).parameters.items()
            if p.default is not inspect.Parameter.empty}


@pytest.mark.parametrize("endpoint", ["generate", "branch"])
def test_the_web_apis_keywords_default_to_the_table(endpoint):
    from app.api import Api

    defaults = _defaults(getattr(Api, endpoint))
    assert {name: defaults[name] for name in SETTINGS} == {name: getattr(DEFAULTS, name) for name in SETTINGS}


def test_compare_and_explore_default_to_the_table():
    from app.api import THRESHOLD_OFF, Api
    from app.teaching.api import TeachingApi

    compare = _defaults(Api.compare)
    assert (compare["a_alg_p_threshold"], compare["a_prefill"], compare["b_prefill"]) == (
        DEFAULTS.alg_p_threshold, DEFAULTS.prefill, DEFAULTS.prefill)
    assert compare["b_alg_p_threshold"] == THRESHOLD_OFF
    explore = _defaults(TeachingApi.explore)
    for name in ("max_new_tokens", "steps", "alg", "temperature", "seed", "prefill"):
        assert compare.get(name, explore[name]) == explore[name] == getattr(DEFAULTS, name), name


def test_the_api_pages_inputs_show_the_tables_values():
    """What Gradio's API page and a client's omitted argument use: the hidden components' values."""
    gr = pytest.importorskip("gradio")
    from app.api import register
    from fake_assistant import FakeAssistant

    with gr.Blocks() as demo:
        register(FakeAssistant())
    values = {c.label: c.value for c in demo.blocks.values() if getattr(c, "label", None) in SETTINGS}
    assert values == {name: getattr(DEFAULTS, name) for name in SETTINGS}
