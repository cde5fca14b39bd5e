"""Deployment: a simulated Hugging Face Space (ZeroGPU), run history off by default, the MCP tool (and an MCP
client's call of it), front matter.

The Space is `python app.py` in a subprocess with the variables a Space sets
(SPACE_ID, SYSTEM=spaces) and a stand-in `spaces` package on the path whose
`GPU(duration=...)` decorator records every call in a file; the test then
asks the served `generate` endpoint a question through gradio_client.
"""

import json
import os
import re
import subprocess
import sys
import time
from importlib.metadata import version

import httpx
import pytest
from gradio_client import Client, handle_file

from conftest import ROOT
from studio_server import free_port

EXAMPLE = sorted((ROOT / "assets" / "examples").glob("*.png"))[0]
STAND_IN_SPACES = '''
import functools, inspect, json, os
LOG = os.environ["FAKE_SPACES_LOG"]
def gradio_auto_wrap(fn):  # gradio calls this for every event function on a Space
    return fn
def GPU(duration=None):
    def wrap(fn):
        def record():
            with open(LOG, "a") as fh:
                fh.write(json.dumps({"fn": fn.__name__, "duration": duration}) + "\\n")
        if inspect.isgeneratorfunction(fn):
            @functools.wraps(fn)
            def gen(*a, **k):
                record()
                yield from fn(*a, **k)
            return gen
        @functools.wraps(fn)
        def call(*a, **k):
            record()
            return fn(*a, **k)
        return call
    return wrap
'''


def _serve(tmp_path, flags, env_extra):
    port = free_port()
    env = dict(os.environ, GRADIO_ANALYTICS_ENABLED="False", HF_HUB_OFFLINE="1", **env_extra)
    log = open(tmp_path / f"server-{port}.log", "w")
    proc = subprocess.Popen([sys.executable, "app.py", "--device", "cpu", "--port", str(port), *flags], cwd=ROOT,
                            env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.time() + 150
    while time.time() < deadline and proc.poll() is None:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/config", timeout=2).status_code == 200:
                return proc, f"http://127.0.0.1:{port}", tmp_path / f"server-{port}.log"
        except httpx.HTTPError:
            time.sleep(0.5)
    proc.kill()
    pytest.fail("the studio did not come up:\n" + (tmp_path / f"server-{port}.log").read_text()[-4000:])


@pytest.fixture(scope="module")
def space(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("space")
    (tmp / "spaces").mkdir()
    (tmp / "spaces" / "__init__.py").write_text(STAND_IN_SPACES)
    env = {"SPACE_ID": "someone/dimple-studio", "SYSTEM": "spaces", "FAKE_SPACES_LOG": str(tmp / "gpu.log"),
           "PYTHONPATH": os.pathsep.join([str(tmp), str(ROOT)])}
    env.pop("GRADIO_SERVER_NAME", None)
    proc, url, log = _serve(tmp, [], env)
    yield url, log, tmp / "gpu.log"
    proc.terminate()
    proc.wait(30)


@pytest.fixture(scope="module")
def studio_with_mcp(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("mcp")
    proc, url, log = _serve(tmp, ["--mcp", "--run-history"], {"PYTHONPATH": str(ROOT)})
    yield url
    proc.terminate()
    proc.wait(30)


def test_a_simulated_zerogpu_space_binds_all_interfaces_and_answers_on_the_gpu(space):
    url, log, gpu_log = space
    answer = Client(url, verbose=False).predict(
        image=handle_file(str(EXAMPLE)), prompt="How many objects are there?", alg_p_threshold=0.9, prefill=True,
        max_new_tokens=12, steps=12, alg="maskgit_plus", temperature=0.0, template="", seed=0, api_name="/generate")
    printed = log.read_text()
    assert "http://0.0.0.0:" in printed and "on a Hugging Face Space" in printed
    assert printed.index("ZeroGPU: model loaded at start-up") < printed.index("Running on")
    calls = [json.loads(line) for line in gpu_log.read_text().splitlines()]
    assert {"fn": "_stream", "duration": 60} in calls
    assert len(answer["response_ids"]) == 12 and answer["nfe"] >= 1


def test_run_history_is_off_by_default(space):
    url = space[0]
    assert httpx.get(f"{url}/config", timeout=10).json()["run_history"] is False
    assert httpx.get(f"{url}/gradio_api/runs", timeout=10).status_code == 404


def test_run_history_flag_turns_it_on(studio_with_mcp):
    assert httpx.get(f"{studio_with_mcp}/config", timeout=10).json()["run_history"] is True
    assert httpx.get(f"{studio_with_mcp}/gradio_api/runs", timeout=10).status_code == 200


def test_mcp_flag_lists_generate_as_a_typed_tool(studio_with_mcp):
    tools = httpx.get(f"{studio_with_mcp}/gradio_api/mcp/schema", timeout=30).json()
    tool = next(t for t in tools if t["name"].endswith("generate") and "batch" not in t["name"])
    properties = tool["inputSchema"]["properties"]
    assert "question about an image" in tool["description"]
    assert properties["prompt"]["type"] == "string" and properties["steps"]["type"] == "integer"
    assert properties["alg_p_threshold"]["type"] == "number" and properties["prefill"]["type"] == "boolean"
    assert "threshold" in properties["alg_p_threshold"]["description"]


def _call_mcp_generate(url: str, arguments: dict):
    """(progress notifications, result) of one `generate` call by an MCP client over streamable HTTP."""
    import asyncio
    import base64

    from mcp import ClientSession
    try:
        from mcp.client.streamable_http import streamable_http_client
    except ImportError:  # an mcp before 1.2x names it streamablehttp_client (gradio[mcp] pins no version)
        from mcp.client.streamable_http import streamablehttp_client as streamable_http_client

    image = "data:image/png;base64," + base64.b64encode(EXAMPLE.read_bytes()).decode()

    async def call():
        progress = []
        async with streamable_http_client(url + "/gradio_api/mcp/") as (read, write, _):
            async with ClientSession(read, write) as session:
                await session.initialize()
                tools = (await session.list_tools()).tools
                name = next(t.name for t in tools if t.name.endswith("generate") and "batch" not in t.name)
                result = await session.call_tool(name, {"image": image, **arguments},
                                                 progress_callback=lambda p, total, msg: progress.append(msg))
        return progress, result

    return asyncio.run(asyncio.wait_for(call(), timeout=240))


def test_an_mcp_client_gets_a_progress_note_per_step_and_the_same_final_json_with_stream_steps(studio_with_mcp):
    """Over MCP, Gradio (6.31) turns each state the endpoint yields into a progress notification without its
    content, with or without stream_steps; the tool's result is the final answer either way (docs/blocks.md)."""
    settings = {"prompt": "Describe the image.", "max_new_tokens": 16, "steps": 16, "alg_p_threshold": 0.0}
    progress, result = _call_mcp_generate(studio_with_mcp, {**settings, "stream_steps": True})
    assert not result.isError and "response_ids" in result.content[0].text
    nfe = int(re.search(r"'nfe': (\d+)", result.content[0].text).group(1))
    assert nfe >= 2 and sum(m == "Processing" for m in progress) >= nfe  # one per iteration at least
    _, plain = _call_mcp_generate(studio_with_mcp, settings)
    assert re.search(r"'response_ids': \[[^\]]*\]", plain.content[0].text).group(0) == \
        re.search(r"'response_ids': \[[^\]]*\]", result.content[0].text).group(0)


def test_without_the_mcp_flag_there_is_no_mcp_server(space):
    assert httpx.get(f"{space[0]}/gradio_api/mcp/schema", timeout=10).status_code == 404


def test_space_front_matter_is_complete_and_matches_the_pinned_gradio():
    readme = (ROOT / "README.md").read_text()
    front = readme.split("---")[1]
    fields = dict(re.findall(r"^(\w+):\s*(.+)$", front, flags=re.M))
    pin = re.search(r"^gradio\[mcp\]==([\d.]+)$", (ROOT / "requirements.txt").read_text(), flags=re.M)
    assert pin and fields["sdk_version"] == pin.group(1) == version("gradio")
    assert fields["python_version"].strip("\"").startswith("3.") and fields["short_description"]
    assert "rp-yu/Dimple-7B" in fields["models"] and fields["suggested_hardware"] and fields["tags"]
    assert fields["app_file"] == "app.py" and fields["sdk"] == "gradio"
