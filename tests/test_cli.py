"""`python -m dimple.cli generate` keeps its JSON contract and refuses bad input with exit code 2."""

import json
import subprocess
import sys

import pytest

from conftest import ROOT
from dimple.cli import main

IMAGE = str(ROOT / "tests" / "fixtures" / "dimple-reference" / "image.png")


def test_generate_json_has_the_contract_keys(random_checkpoint, capsys):
    code = main(["generate", "--model", str(random_checkpoint), "--image", IMAGE, "--prompt", "How many?",
                 "--max-new-tokens", "8", "--json"])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) == {"text", "response_ids", "nfe", "tokens_per_forward", "latency_s", "trajectory"}
    assert len(out["response_ids"]) == 8 and 1 <= out["nfe"] <= 8
    assert out["trajectory"]["format"] == "dimple-trajectory"


def test_generate_with_template_fixes_its_tokens(random_checkpoint, capsys):
    code = main(["generate", "--model", str(random_checkpoint), "--image", IMAGE, "--prompt", "Colour?",
                 "--template", "Color: <mask:2>.<eos>", "--no-prefill", "--json"])
    assert code == 0
    traj = json.loads(capsys.readouterr().out)["trajectory"]
    fixed = [tok for tok, f in zip(traj["canvas"], traj["fixed"]) if f]
    final = [tok for tok, f in zip(traj["steps"] and _final(traj), traj["fixed"]) if f]
    assert fixed == final and sum(not f for f in traj["fixed"]) == 2


def _final(traj):
    state = list(traj["canvas"])
    for step in traj["steps"]:
        for p, t in zip(step["positions"], step["tokens"]):
            state[p] = t
    return state


@pytest.mark.parametrize("args, message", [
    (["--template", "Color: <mask:x>"], "template"),
    (["--alg-p-threshold", "2"], "alg_p_threshold"),
    (["--steps", "0"], "steps"),
    (["--prompt", " "], "prompt"),
])
def test_bad_input_exits_with_a_message(random_checkpoint, capsys, args, message):
    base = ["generate", "--model", str(random_checkpoint), "--image", IMAGE, "--prompt", "Hi"]
    assert main(base + args) == 2
    assert message in capsys.readouterr().err


@pytest.mark.slow  # a fresh Python process loads torch and the model
def test_module_entry_point_runs_in_a_fresh_process(random_checkpoint):
    proc = subprocess.run([sys.executable, "-m", "dimple.cli", "generate", "--model", str(random_checkpoint),
                           "--image", IMAGE, "--prompt", "Hello", "--max-new-tokens", "4", "--json"],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert len(json.loads(proc.stdout)["response_ids"]) == 4


def test_branch_writes_the_word_keeps_it_and_reports_where_the_answers_differ(random_checkpoint, capsys):
    code = main(["branch", "--model", str(random_checkpoint), "--image", IMAGE, "--prompt", "Colour?",
                 "--max-new-tokens", "8", "--at-step", "1", "--set", "2=red", "--remask-rest", "--no-prefill",
                 "--json"])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    branch = out["branch"]["trajectory"]
    assert out["edited"] == [2] and branch["fixed"][2] and branch["start_step"] == out["at_step"] == 1
    assert branch["canvas"][2] == out["branch"]["response_ids"][2] != branch["mask_token_id"]
    assert sum(t == branch["mask_token_id"] for t in branch["canvas"]) == 7  # the rest re-masked
    assert 2 in out["differ_at"] or out["original"]["response_ids"][2] == branch["canvas"][2]


def test_branch_refuses_a_malformed_edit(random_checkpoint, capsys):
    code = main(["branch", "--model", str(random_checkpoint), "--image", IMAGE, "--prompt", "Colour?",
                 "--max-new-tokens", "8", "--set", "red", "--json"])
    assert code == 2 and "POS=WORD" in capsys.readouterr().err


def test_generate_with_a_block_length_decodes_block_by_block(random_checkpoint, capsys):
    code = main(["generate", "--model", str(random_checkpoint), "--image", IMAGE, "--prompt", "How many?",
                 "--max-new-tokens", "8", "--block-length", "3", "--no-prefill", "--json"])
    assert code == 0
    traj = json.loads(capsys.readouterr().out)["trajectory"]
    assert traj["config"]["block_length"] == 3 == traj["block_length"]
    assert traj["blocks"] == [[0, 3], [3, 6], [6, 8]]
    blocks = [s["block"] for s in traj["steps"]]
    assert blocks == sorted(blocks) and blocks[-1] == 2
    assert all(traj["blocks"][s["block"]][0] <= p < traj["blocks"][s["block"]][1]
               for s in traj["steps"] for p in s["positions"])


@pytest.mark.parametrize("args, message", [
    (["--block-length", "0"], "block_length must be an integer in [1, 4096], got 0"),
    (["--block-length", "1", "--max-new-tokens", "8", "--steps", "4"], "block_length 1 cuts the canvas of 8 "
                                                                       "positions into 8 blocks, but steps=4"),
])
def test_bad_block_lengths_exit_with_a_message_naming_them(random_checkpoint, capsys, args, message):
    base = ["generate", "--model", str(random_checkpoint), "--image", IMAGE, "--prompt", "Hi"]
    assert main(base + args) == 2
    assert message in capsys.readouterr().err


def test_branch_with_a_block_length_keeps_it(random_checkpoint, capsys):
    code = main(["branch", "--model", str(random_checkpoint), "--image", IMAGE, "--prompt", "Colour?",
                 "--max-new-tokens", "8", "--block-length", "4", "--at-step", "1", "--remask", "0", "--no-prefill",
                 "--json"])
    assert code == 0
    branch = json.loads(capsys.readouterr().out)["branch"]["trajectory"]
    assert branch["block_length"] == 4 and branch["steps"][0]["block"] == 0  # the re-masked block comes first
    assert branch["mask_token_id"] not in _final(branch)
