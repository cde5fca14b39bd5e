"""`/generate` and `/branch` with `stream_steps=True` (docs/DESIGN.md, Streaming), and `block_length` on the web
API, through gradio_client against the studio on a free loopback port.

A client's `submit()` receives every iteration's canvas (dimple.streaming's
message) before the usual final JSON; the canvases agree with the final
record step by step. No pass counts are written in advance: the threshold is
off and the canvas short, so any model takes several passes.
"""

from __future__ import annotations

import pytest

import studio_server

gradio_client = pytest.importorskip("gradio_client")
from gradio_client import Client, handle_file  # noqa: E402

EXAMPLE = str(studio_server.ROOT / "assets" / "examples" / "objects_1.png")
SETTINGS = dict(prompt="Describe the image.", alg_p_threshold=0.0, max_new_tokens=12, steps=6, prefill=True)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with studio_server.serving(tmp_path_factory.mktemp("studio")) as (url, _, _):
        yield url


def _submit(url, api_name, **kw) -> list:
    job = Client(url, verbose=False).submit(image=handle_file(EXAMPLE), **kw, api_name=api_name)
    job.result(timeout=600)
    return list(job.outputs())


def test_generate_streams_every_iteration_then_the_final_json(server):
    out = _submit(server, "/generate", stream_steps=True, **SETTINGS)
    *steps, final = out
    assert {"text", "nfe", "trajectory"} <= set(final)
    assert [m["step"] for m in steps] == list(range(final["nfe"] + 1))  # the starting canvas, then each pass
    assert final["nfe"] >= 2 and len(steps) >= 3  # intermediate canvases, not only the end
    masked = [m["masked"] for m in steps]
    assert masked[0] == SETTINGS["max_new_tokens"] and masked == sorted(masked, reverse=True)
    assert steps[-1]["ids"] == final["response_ids"]
    assert any(t is None for t in steps[1]["texts"][: len(steps[1]["ids"])]) or final["nfe"] == 1
    for m in steps[1:]:
        assert m["committed"] and all(m["ids"][p] == final["response_ids"][p] for p in m["committed"])


def test_without_stream_steps_only_the_final_json_arrives(server):
    out = _submit(server, "/generate", **SETTINGS)
    assert len([o for o in out if isinstance(o, dict) and "step" in o and "ids" in o]) == 0
    assert "trajectory" in out[-1]


def test_block_length_on_the_web_api_decodes_block_by_block(server):
    final = Client(server, verbose=False).predict(image=handle_file(EXAMPLE), block_length=4,
                                                  **{**SETTINGS, "steps": 12}, api_name="/generate")
    traj = final["trajectory"]
    assert traj["blocks"] == [[0, 4], [4, 8], [8, 12]]
    blocks = [s["block"] for s in traj["steps"]]
    assert blocks == sorted(blocks) and set(blocks) == {0, 1, 2}


@pytest.mark.parametrize("bad", [0, -3, 2.5])
def test_a_bad_block_length_is_a_clear_error_and_the_server_keeps_serving(server, bad):
    client = Client(server, verbose=False)
    with pytest.raises(Exception, match="block_length"):
        client.predict(image=handle_file(EXAMPLE), block_length=bad, **SETTINGS, api_name="/generate")
    assert client.predict(image=handle_file(EXAMPLE), **SETTINGS, api_name="/generate")["nfe"] >= 1


def test_branch_streams_too(server):
    first = Client(server, verbose=False).predict(image=handle_file(EXAMPLE), **SETTINGS, api_name="/generate")
    traj = first["trajectory"]
    canvas = [traj["mask_token_id"]] * SETTINGS["max_new_tokens"]
    out = _submit(server, "/branch", stream_steps=True, canvas=canvas, **SETTINGS)
    *steps, final = out
    assert [m["step"] for m in steps] == list(range(final["nfe"] + 1))
    assert final["response_ids"] == first["response_ids"]  # an unedited start reproduces the run
