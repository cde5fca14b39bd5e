"""The studio's web API, through gradio_client, against the app running on a free loopback port.

generate (with and without a structure prior), bad input answered with a clear
message while the server keeps serving, compare, template preview, export, and
two clients at once getting their own answers.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
from PIL import Image

import studio_server

gradio_client = pytest.importorskip("gradio_client")
from gradio_client import Client, handle_file  # noqa: E402

from dimple.trajectory import Trajectory  # noqa: E402

EXAMPLE = str(studio_server.ROOT / "assets" / "examples" / "objects_1.png")
TEMPLATE = "Color: <mask:2>. Shape: <mask:3>.<eos>"
KEYS = {"text", "response_ids", "nfe", "tokens_per_forward", "latency_s", "trajectory"}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with studio_server.serving(tmp_path_factory.mktemp("studio")) as served:
        yield served


@pytest.fixture(scope="module")
def client(server):
    return Client(server[0], verbose=False)


def _generate(client, **kw):
    args = dict(image=handle_file(EXAMPLE), prompt="How many blue objects are there?", alg_p_threshold=0.9,
                prefill=True, max_new_tokens=16, steps=16, alg="maskgit_plus", temperature=0.0, template="", seed=0)
    args.update(kw)
    return client.predict(**args, api_name="/generate")


def test_api_lists_generate_with_the_contract_parameters(client):
    info = client.view_api(return_format="dict", print_info=False)
    params = [p["parameter_name"] for p in info["named_endpoints"]["/generate"]["parameters"]]
    assert params == ["image", "prompt", "alg_p_threshold", "prefill", "max_new_tokens", "steps", "alg",
                      "temperature", "template", "seed", "grounding", "block_length", "stream_steps"]


def test_generate_returns_the_cli_json(client):
    out = _generate(client)
    assert set(out) == KEYS
    assert len(out["response_ids"]) == 16
    traj = Trajectory.from_dict(out["trajectory"])
    assert traj.response_ids == out["response_ids"]
    assert out["nfe"] == traj.nfe >= 1
    assert traj.mask_token_id not in out["response_ids"]
    assert out["tokens_per_forward"] == pytest.approx(traj.tokens_per_forward, abs=5e-5)  # the API rounds to 4 places
    assert out["latency_s"] > 0 and isinstance(out["text"], str)
    again = _generate(client)  # same seed, same answer
    assert again["response_ids"] == out["response_ids"]


def test_generate_honours_a_template(client, server):
    assistant = server[1]
    canvas = assistant.canvas_for(TEMPLATE, assistant.max_new_tokens_limit)
    out = _generate(client, template=TEMPLATE)
    traj = Trajectory.from_dict(out["trajectory"])
    assert traj.length == canvas.length == len(out["response_ids"])
    assert traj.fixed == canvas.fixed
    for pos, fixed in enumerate(canvas.fixed):
        if fixed:
            assert out["response_ids"][pos] == canvas.ids[pos]
            assert all(pos not in s.positions for s in traj.steps)


@pytest.mark.parametrize("kwargs,message", [
    (dict(prompt="   "), "prompt"),
    (dict(template="Color: <mask:x>"), "character"),
    (dict(steps=0), "steps"),
    (dict(alg="beam"), "alg"),
    (dict(alg_p_threshold=1.5), "alg_p_threshold"),
    (dict(max_new_tokens=100000), "max_new_tokens"),
])
def test_bad_input_gets_a_clear_message_and_the_server_keeps_serving(client, kwargs, message):
    with pytest.raises(Exception, match=message):
        _generate(client, **kwargs)


def test_a_text_file_as_image_is_refused(client, tmp_path):
    fake = tmp_path / "notes.png"
    fake.write_text("not an image at all")
    with pytest.raises(Exception, match="not an image"):
        _generate(client, image=handle_file(str(fake)))
    assert set(_generate(client, max_new_tokens=4, steps=4)) == KEYS  # still serving


def test_preview_template(client):
    out = client.predict(template=TEMPLATE, api_name="/preview_template")
    assert out["length"] == len(out["pieces"]) and out["length"] > 5
    assert sum(1 for _, fixed in out["pieces"] if not fixed) == 5
    with pytest.raises(Exception, match="character"):
        client.predict(template="x <mask:0>", api_name="/preview_template")


def test_compare_two_settings(client):
    out = client.predict(image=handle_file(EXAMPLE), prompt="Describe the image.", a_alg_p_threshold=0.9,
                         a_prefill=True, b_alg_p_threshold=0.0, b_prefill=False, max_new_tokens=16, steps=16,
                         alg="maskgit_plus", template="", seed=0, api_name="/compare")
    assert set(out["a"]) == KEYS and set(out["b"]) == KEYS
    assert out["a"]["trajectory"]["config"]["alg_p_threshold"] == 0.9
    assert out["b"]["trajectory"]["config"]["prefill"] is False
    assert out["speedup_b_over_a"] > 0 and isinstance(out["same_answer"], bool)
    assert out["nfe_ratio_b_over_a"] == pytest.approx(out["b"]["nfe"] / out["a"]["nfe"])


def test_export_json_and_gif(client):
    out = _generate(client, max_new_tokens=12, steps=12)
    import json

    json_path, gif_path = client.predict(trajectory_json=json.dumps(out["trajectory"]), api_name="/export")
    back = Trajectory.from_json(Path(json_path).read_text())
    assert back.response_ids == out["response_ids"]
    with Image.open(gif_path) as gif:
        assert gif.is_animated and gif.n_frames == out["nfe"] + 1
    with pytest.raises(Exception, match="trajectory"):
        client.predict(trajectory_json='{"format": "nope"}', api_name="/export")


def test_two_clients_at_once_get_their_own_answers(server):
    url = server[0]
    alone = {}
    for seed, prompt in ((1, "Describe the image."), (2, "Where is the blue star?")):
        alone[seed] = _generate(Client(url, verbose=False), prompt=prompt, seed=seed, temperature=0.7)["response_ids"]
    together, errors = {}, []

    def run(seed, prompt):
        try:
            together[seed] = _generate(Client(url, verbose=False), prompt=prompt, seed=seed,
                                       temperature=0.7)["response_ids"]
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=a) for a in ((1, "Describe the image."), (2, "Where is the blue star?"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors
    assert together == alone


def test_app_module_builds_a_demo_without_loading_a_model():
    import importlib.util

    spec = importlib.util.spec_from_file_location("studio_app_main", studio_server.ROOT / "app.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.demo is not None and not module.assistant.loaded  # the Gradio convention, no weights
    args = module.parse_args(["--model", "tiny", "--device", "cpu", "--port", "7999", "--share"])
    assert (args.model, args.device, args.port, args.share) == ("tiny", "cpu", 7999, True)
    for bad in (["--model", "../../etc/passwd"], ["--model", "/nonexistent/x"], ["--device", "tpu"]):
        with pytest.raises(SystemExit):
            module.parse_args(bad)


def test_lazy_assistant_loads_once_on_first_use():
    from app.lazy import LazyAssistant

    calls = []

    class Model:
        name = "m"

    lazy = LazyAssistant("x", "cpu", loader=lambda n, d: calls.append((n, d)) or Model())
    assert not lazy.loaded and calls == []
    threads = [threading.Thread(target=lambda: lazy.name) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert lazy.name == "m" and calls == [("x", "cpu")]


@pytest.mark.parametrize("path", ["/etc/passwd", "/work/main/app.py", "../../etc/passwd"])
def test_arbitrary_server_paths_are_refused(server, path):
    import httpx

    response = httpx.get(f"{server[0].rstrip('/')}/gradio_api/file={path}", timeout=10)
    assert response.status_code in (403, 404)  # refused, or normalised out of the file route
    assert "root:" not in response.text


def test_generate_batch_answers_each_caller_and_isolates_bad_input(server):
    url = server[0]
    good = dict(image=handle_file(EXAMPLE), prompt="How many blue objects are there?", alg_p_threshold=0.9,
                prefill=True, max_new_tokens=16, steps=16, alg="maskgit_plus", temperature=0.0, template="", seed=0)
    alone = Client(url, verbose=False).predict(**good, api_name="/generate")
    results: dict = {}

    def call(i: int, **kw) -> None:
        results[i] = Client(url, verbose=False).predict(**dict(good, **kw), api_name="/generate_batch")

    threads = [threading.Thread(target=call, args=(i,)) for i in range(3)]
    threads.append(threading.Thread(target=call, args=(3,), kwargs={"steps": -1}))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(results[i]["response_ids"] == alone["response_ids"] for i in range(3))
    assert "steps" in results[3]["error"]


def test_generate_carries_the_ghosts_and_grounding_on_request(client):
    out = _generate(client, grounding="answer")
    traj = Trajectory.from_dict(out["trajectory"])
    assert all(len(s.ghost_tokens) == len(s.masked_confidence) > 0 for s in traj.steps)
    assert out["grounding"] and all(len(g["grid"]) == 3 and len(g["grid"][0]) == 3 for g in out["grounding"])
    assert "grounding" not in _generate(client)


def test_inspect_and_explore_endpoints(client):
    out = _generate(client)
    rec = client.predict(trajectory_json=json.dumps(out["trajectory"]), position=0, step=None, api_name="/inspect")
    assert rec["position"] == 0 and rec["rule"] in ("threshold", "fallback", "last step") and rec["committed_step"]
    sweep = client.predict(image=handle_file(EXAMPLE), prompt="How many blue objects are there?", thresholds="0.5, 0.9",
                           api_name="/explore")
    assert [r["threshold"] for r in sweep["rows"]] == [0.5, 0.9] and sweep["reference"]["threshold"] == 0.0
