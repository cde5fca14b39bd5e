"""Soak test: bad input, load, faults and memory against a live Dimple Studio on loopback.

`python scripts/soak.py [--fast] [--json]` starts the app in this process on a
free port (Dimple-Tiny, or a random-weight checkpoint of the same architecture
when the weights are missing), then:

1. sends every kind of bad input through the `generate` API (gradio_client) and
   through the UI's Send handler, to the teaching endpoints (`inspect`,
   `ground`, `explore`, generate's `grounding`) and bad canvases through the
   `branch` API, and classifies each reply: a clear error naming the problem,
   a sensible answer, or a crash (anything else, or a server that stops answering);
2. load: N clients x M requests at once; every request must be answered and
   equal the same request run alone (same seed); latency percentiles; and the
   throughput of the queue-batched `generate_batch` against `generate`;
3. a full queue: more requests than a tiny queue holds get Gradio's "Queue is
   full" reply while the rest are answered;
4. a cancelled request frees its slot: the next request is served;
5. memory: resident set size growth over many generations in a row through the API.

It prints one table; `tests/test_soak.py` runs the fast variant in CI and
asserts on the same numbers. It knows the app's public API and handlers only.
"""

from __future__ import annotations

import argparse
import io
import json
import random
import statistics
import struct
import sys
import threading
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent / "tests"  # studio_server and the stand-ins live in tests/
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import studio_server  # noqa: E402

EXAMPLES = studio_server.ROOT / "assets" / "examples"
BASE = dict(alg_p_threshold=0.9, prefill=True, max_new_tokens=16, steps=16, alg="maskgit_plus", temperature=0.0,
            template="", seed=0)


@dataclass
class Case:
    name: str
    image: object = "example"  # a path, None, or "example"
    prompt: str = "How many blue objects are there?"
    settings: dict = field(default_factory=dict)
    expect: str = "ok"  # "ok" (answered) or words ("a|b") one of which the error message must contain


# ----- bad input files ----------------------------------------------------------
def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def _declared_png(width: int, height: int) -> bytes:
    """A well-formed PNG header that declares width x height but carries one scanline: a decompression bomb."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", zlib.compress(b"\0" * 64))
            + _png_chunk(b"IEND", b""))


def make_files(folder: Path) -> dict[str, Path]:
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(0)
    base = Image.open(EXAMPLES / "objects_1.png").convert("RGB")
    files: dict[str, Path] = {}

    def save(name: str, img, **kw) -> None:
        files[name] = folder / name
        img.save(files[name], **kw)

    def write(name: str, data: bytes) -> None:
        files[name] = folder / name
        files[name].write_bytes(data)

    buf = io.BytesIO()
    base.save(buf, format="PNG")
    write("truncated.png", buf.getvalue()[: len(buf.getvalue()) // 2])
    write("random-bytes.png", rng.randbytes(4096))
    write("notes.txt", b"this is not an image\n" * 20)
    write("paper.pdf", b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n")
    write("bomb.png", _declared_png(100_000, 100_000))
    write("too-large.png", _declared_png(9_000, 9_000))
    save("one-pixel.png", Image.new("RGB", (1, 1), (200, 30, 30)))
    save("grayscale.png", base.convert("L"))
    save("rgba.png", base.convert("RGBA"))
    save("palette.png", base.convert("P"))
    save("cmyk.jpg", base.convert("CMYK"), quality=90)
    save("16-bit.png", base.convert("L").point(lambda v: v * 256, mode="I").convert("I;16"))
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees clockwise to view
    save("exif-rotated.jpg", base.transpose(Image.Transpose.ROTATE_90), exif=exif, quality=90)
    frames = [base, base.rotate(90), base.rotate(180)]
    files["animated.gif"] = folder / "animated.gif"
    frames[0].save(files["animated.gif"], save_all=True, append_images=frames[1:], duration=100, loop=0)
    save("wide.png", base.resize((2000, 40)))
    return files


def bad_input_cases(files: dict[str, Path]) -> list[Case]:
    error_files = {"truncated.png": "truncated", "random-bytes.png": "not an image", "notes.txt": "not an image|file type",
                   "paper.pdf": "not an image|file type", "bomb.png": "bomb", "too-large.png": "too large"}
    cases = [Case(f"image: {name}", files[name], expect=word) for name, word in error_files.items()]
    cases += [Case(f"image: {name}", files[name]) for name in
              ("one-pixel.png", "grayscale.png", "rgba.png", "palette.png", "cmyk.jpg", "16-bit.png",
               "exif-rotated.jpg", "animated.gif", "wide.png")]
    cases += [
        Case("no image", None, expect="only answers questions about an image"),  # Dimple-Tiny asks for one
        Case("empty prompt", prompt="", expect="prompt"),
        Case("whitespace prompt", prompt="   \n ", expect="prompt"),
        Case("20,000-character prompt", prompt="colour " * 2858, expect="too long"),
        Case("prompt longer than the context", prompt="zq" * 1990, expect="context"),
        Case("emoji and right-to-left text", prompt="ما لون الشكل؟ 🟥🤔 שלום"),
        Case("template syntax error", settings={"template": "Color: <mask:two>."}, expect="character"),
        Case("template without a slot", settings={"template": "Color: red.<eos>"}, expect="slot"),
        Case("template too long", settings={"template": "<mask:5000>"}, expect="template"),
        Case("threshold NaN", settings={"alg_p_threshold": "nan"}, expect="alg_p_threshold"),
        Case("threshold not a number", settings={"alg_p_threshold": "high"}, expect="alg_p_threshold"),
        Case("threshold 7", settings={"alg_p_threshold": 7}, expect="alg_p_threshold"),
        Case("negative steps", settings={"steps": -4}, expect="steps"),
        Case("huge steps", settings={"steps": 10**9}, expect="steps"),
        Case("huge max tokens", settings={"max_new_tokens": 10**7}, expect="max_new_tokens"),
        Case("unknown algorithm", settings={"alg": "beam"}, expect="alg"),
        Case("negative temperature", settings={"temperature": -1}, expect="temperature"),
        Case("negative seed", settings={"seed": -1}, expect="seed"),
        Case("block length zero", settings={"block_length": 0}, expect="block_length"),
        Case("negative block length", settings={"block_length": -8}, expect="block_length"),
        Case("fractional block length", settings={"block_length": 2.5}, expect="block_length"),
        Case("block length not a number", settings={"block_length": "wide"}, expect="block_length"),
        Case("more blocks than steps", settings={"block_length": 1, "steps": 2}, expect="steps"),
    ]
    return cases


# ----- running cases ----------------------------------------------------------------
def _api_call(client, case: Case, handle_file) -> tuple[str, str]:
    """('ok', text) or ('error', message) for one case through the generate API."""
    from gradio_client.exceptions import AppError

    image = str(EXAMPLES / "objects_1.png") if case.image == "example" else case.image
    args = dict(BASE, **case.settings)
    try:
        out = client.predict(image=handle_file(str(image)) if image else None, prompt=case.prompt, **args,
                             api_name="/generate")
        return "ok", str(out.get("text", ""))
    except AppError as exc:
        return "error", str(exc)
    except Exception as exc:  # noqa: BLE001 - anything else is a crash of the endpoint
        return "crash", f"{type(exc).__name__}: {exc}"


def _ui_call(studio, case: Case) -> tuple[str, str]:
    """The same case through the UI's Send handler (what a browser session runs)."""
    import gradio as gr

    from app.form import COMPARE_DEFAULTS
    from app.session import Session

    image = str(EXAMPLES / "objects_1.png") if case.image == "example" else case.image
    s = dict(BASE, **case.settings)
    try:
        form = dict(image=str(image) if image else None, prompt=case.prompt, template=s["template"],
                    alg_p_threshold=s["alg_p_threshold"], prefill=s["prefill"], steps=s["steps"],
                    max_new_tokens=s["max_new_tokens"], alg=s["alg"], temperature=s["temperature"], top_p=1.0,
                    top_k=0, alg_temp=0.0, seed=s["seed"], block_length=s.get("block_length"), session=Session(),
                    **COMPARE_DEFAULTS)
        outs = list(studio.ask(form))
    except gr.Error as exc:
        return "error", str(exc)
    except Exception as exc:  # noqa: BLE001
        return "crash", f"{type(exc).__name__}: {exc}"
    last = outs[-1]
    if last[2] == "error":
        return "error", str(last[1][-1]["content"])
    return "ok", str(last[1][-1]["content"])


def teaching_cases(client, handle_file) -> list[tuple[str, str, dict, str]]:
    """(name, endpoint, keywords, words one of which the error must contain) for the teaching endpoints."""
    image = handle_file(str(EXAMPLES / "objects_1.png"))
    run = client.predict(image=image, prompt="How many blue objects are there?", **BASE, api_name="/generate")
    traj = json.dumps(run["trajectory"])
    return [
        ("inspect: unknown step", "/inspect", dict(trajectory_json=traj, position=0, step=999), "step"),
        ("inspect: position out of range", "/inspect", dict(trajectory_json=traj, position=10**6, step=None), "position"),
        ("inspect: not a trajectory", "/inspect", dict(trajectory_json="{}", position=0, step=None), "trajectory"),
        ("ground: no image", "/ground", dict(image=None, trajectory_json=traj, position=0), "image"),
        ("ground: position out of range", "/ground", dict(image=image, trajectory_json=traj, position=-3), "position"),
        ("generate: grounding without an image", "/generate",
         dict(BASE, image=None, prompt="Hello!", grounding="answer"), "image"),
        ("generate: grounding position out of range", "/generate",
         dict(BASE, image=image, prompt="How many blue objects are there?", grounding="0,999"), "outside"),
        ("explore: threshold 7", "/explore", dict(BASE, image=image, prompt="Describe.", thresholds="0.5, 7"),
         "threshold"),
        ("explore: thresholds not numbers", "/explore", dict(BASE, image=image, prompt="Describe.", thresholds="a,b"),
         "threshold"),
        ("explore: empty prompt", "/explore", dict(BASE, image=image, prompt=" ", thresholds=""), "prompt"),
    ]


def run_teaching_bad_inputs(client, handle_file, alive) -> list[dict]:
    """Bad input to the teaching endpoints: each must be a clear error; the server must keep serving."""
    from gradio_client.exceptions import AppError

    rows = []
    for name, endpoint, kwargs, words in teaching_cases(client, handle_file):
        try:
            client.predict(**kwargs, api_name=endpoint)
            outcome, message = "ok", ""
        except AppError as exc:
            outcome, message = "error", str(exc)
        except Exception as exc:  # noqa: BLE001 - anything else is a crash of the endpoint
            outcome, message = "crash", f"{type(exc).__name__}: {exc}"
        verdict = classify(Case(name, expect=words), outcome, message) if alive() else "crash"
        rows.append({"case": name, "path": "api", "verdict": verdict, "message": message[:120]})
    return rows


BAD_LESSONS = ("0", "99", "-1", "two", "1.5", "", "9" * 40, "<script>")


def run_lesson_bad_inputs(url: str, assistant, alive) -> list[dict]:
    """Bad `?lesson=N` links (issue 33): the page still loads, and the lessons' load handler answers with a
    sentence naming the lesson range, never an exception; the server keeps serving."""
    import urllib.parse
    import urllib.request
    from types import SimpleNamespace

    from app.lessons.handlers import Lessons

    lessons, rows = Lessons(assistant), []
    for value in BAD_LESSONS:
        try:
            with urllib.request.urlopen(url + "?lesson=" + urllib.parse.quote(value), timeout=60) as resp:
                page_ok = resp.status == 200
            out = lessons.from_url(SimpleNamespace(query_params={"lesson": value}))
            message = out[6] if isinstance(out[6], str) else ""
            if value == "":
                verdict = "answered" if not message else "crash"  # no lesson asked: nothing opens, nothing said
            else:
                verdict = "clear error" if page_ok and "no lesson" in message else "crash"
        except Exception as exc:  # noqa: BLE001 - anything else is a crash of the page or the handler
            verdict, message = "crash", f"{type(exc).__name__}: {exc}"
        rows.append({"case": f"lesson={value[:12]!r}", "path": "ui",
                     "verdict": verdict if alive() else "crash", "message": message[:120]})
    return rows


def classify(case: Case, outcome: str, message: str) -> str:
    """'clear error', 'answered', or 'crash' (an unexpected kind of reply)."""
    if outcome == "ok" and case.expect == "ok":
        return "answered"
    if outcome == "error" and case.expect != "ok" and any(w in message.lower() for w in case.expect.lower().split("|")):
        return "clear error"
    return "crash"


def run_bad_inputs(client, studio, cases: list[Case], handle_file, alive) -> dict:
    rows, crashes = [], 0
    for case in cases:
        for path, call in (("api", lambda c: _api_call(client, c, handle_file)), ("ui", lambda c: _ui_call(studio, c))):
            outcome, message = call(case)
            verdict = classify(case, outcome, message)
            if not alive():
                verdict = "crash"
            crashes += verdict == "crash"
            rows.append({"case": case.name, "path": path, "verdict": verdict, "message": message[:120]})
    return {"tried": len(rows), "clear_errors": sum(r["verdict"] == "clear error" for r in rows),
            "answered": sum(r["verdict"] == "answered" for r in rows), "crashes": crashes, "rows": rows}


def run_branch_inputs(client, handle_file, alive) -> dict:
    """Bad input through the `branch` API: each must get a clear error naming the problem; an unedited canvas
    (taken after step 1 of a run, prefilling off) must be answered with the run's own answer."""
    from gradio_client.exceptions import AppError

    image = handle_file(str(EXAMPLES / "objects_1.png"))
    args = dict(BASE, prefill=False)
    run = client.predict(image=image, prompt="Describe the image.", **args, api_name="/generate")
    traj = run["trajectory"]
    mask, n = traj["mask_token_id"], args["max_new_tokens"]
    after_1 = list(traj["canvas"])
    for pos, tok in zip(traj["steps"][0]["positions"], traj["steps"][0]["tokens"]):
        after_1[pos] = tok
    cases = [
        ("unedited canvas after step 1", dict(canvas=after_1, start_step=1, start_masked=n), "ok"),
        ("canvas of the wrong length", dict(canvas=[mask] * (n - 3)), "max_new_tokens"),
        ("canvas not a list", dict(canvas="mask mask"), "canvas"),
        ("unknown token id", dict(canvas=[mask] * (n - 1) + [10**7]), "not a token id"),
        ("negative token id", dict(canvas=[-5] + [mask] * (n - 1)), "not a token id"),
        ("fixed position out of range", dict(canvas=after_1, fixed=[n + 4]), "out of range"),
        ("fixed position masked", dict(canvas=[mask] * n, fixed=[0]), "masked"),
        ("negative start step", dict(canvas=[mask] * n, start_step=-2), "start_step"),
        ("start step past the steps", dict(canvas=[mask] * n, start_step=n + 1), "start_step"),
        ("start_masked zero", dict(canvas=[mask] * n, start_masked=0), "start_masked"),
        ("block length zero", dict(canvas=[mask] * n, block_length=0), "block_length"),
        ("template with a canvas", dict(canvas=[mask] * n, template="<mask:3>"), "template"),
    ]
    rows, crashes = [], 0
    for name, kw, expect in cases:
        try:
            out = client.predict(image=image, prompt="Describe the image.", **dict(args, **kw), api_name="/branch")
            outcome, message = "ok", str(out.get("text", ""))
            if name.startswith("unedited") and out["response_ids"] != run["response_ids"]:
                outcome = "wrong answer"
        except AppError as exc:
            outcome, message = "error", str(exc)
        except Exception as exc:  # noqa: BLE001 - anything else is a crash of the endpoint
            outcome, message = "crash", f"{type(exc).__name__}: {exc}"
        verdict = classify(Case(name, expect="ok" if outcome == "ok" and "ok" in expect else expect), outcome, message)
        verdict = "crash" if not alive() else verdict
        crashes += verdict == "crash"
        rows.append({"case": name, "path": "branch api", "verdict": verdict, "message": message[:120]})
    return {"tried": len(rows), "clear_errors": sum(r["verdict"] == "clear error" for r in rows),
            "answered": sum(r["verdict"] == "answered" for r in rows), "crashes": crashes, "rows": rows}


# ----- load, busy, cancel, memory -------------------------------------------------
def load_requests(n: int) -> list[dict]:
    items = json.loads((EXAMPLES / "index.json").read_text())
    out = []
    for i in range(n):
        item = items[i % len(items)]
        out.append(dict(BASE, image=str(EXAMPLES / item["file"]), prompt=item["question"], seed=i,
                        max_new_tokens=24, steps=24, alg_p_threshold=(0.9, 0.0, 0.7)[i % 3]))
    return out


def _pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))] if values else float("nan")


def run_load(url: str, clients: int, per_client: int) -> dict:
    from gradio_client import Client, handle_file

    requests = load_requests(clients * per_client)
    results: dict[int, list] = {}
    latencies: list[float] = []
    lock = threading.Lock()

    def client_loop(c: int) -> None:
        cl = Client(url, verbose=False)
        for i in range(c, len(requests), clients):
            r = dict(requests[i])
            t0 = time.perf_counter()
            try:
                out = cl.predict(image=handle_file(r.pop("image")), **r, api_name="/generate")
                ids = out["response_ids"]
            except Exception as exc:  # noqa: BLE001 - counted as lost
                ids = f"{type(exc).__name__}: {exc}"
            with lock:
                results[i] = ids
                latencies.append(time.perf_counter() - t0)

    t0 = time.perf_counter()
    threads = [threading.Thread(target=client_loop, args=(c,)) for c in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    alone_client = Client(url, verbose=False)
    lost = wrong = 0
    alone_latency = []
    for i, r in enumerate(requests):
        r = dict(r)
        t1 = time.perf_counter()
        ref = alone_client.predict(image=handle_file(r.pop("image")), **r, api_name="/generate")["response_ids"]
        alone_latency.append(time.perf_counter() - t1)
        got = results.get(i)
        lost += not isinstance(got, list)
        wrong += isinstance(got, list) and got != ref
    return {"clients": clients, "requests": len(requests), "lost": lost, "wrong": wrong, "wall_s": wall,
            "p50_s": _pct(latencies, 0.5), "p95_s": _pct(latencies, 0.95), "alone_p50_s": _pct(alone_latency, 0.5)}


def run_batching(url: str, clients: int = 8, rounds: int = 2) -> dict:
    """Throughput of `clients` simultaneous callers with the same settings: /generate vs /generate_batch
    (the queue hands waiting requests over together), alternated; answers must agree."""
    from gradio_client import Client, handle_file

    items = json.loads((EXAMPLES / "index.json").read_text())
    conns = [Client(url, verbose=False) for _ in range(clients)]
    seconds: dict[str, list[float]] = {"/generate": [], "/generate_batch": []}
    answers: dict[str, dict] = {"/generate": {}, "/generate_batch": {}}

    def one(endpoint: str, c: int) -> None:
        item = items[c % len(items)]
        out = conns[c].predict(image=handle_file(str(EXAMPLES / item["file"])), prompt=item["question"],
                               **dict(BASE, max_new_tokens=24, steps=24), api_name=endpoint)
        answers[endpoint][c] = out.get("response_ids", out.get("error"))

    for _ in range(rounds):
        for endpoint in seconds:
            threads = [threading.Thread(target=one, args=(endpoint, c)) for c in range(clients)]
            t0 = time.perf_counter()
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            seconds[endpoint].append(time.perf_counter() - t0)
    solo, batched = statistics.median(seconds["/generate"]), statistics.median(seconds["/generate_batch"])
    same = sum(answers["/generate"].get(c) == answers["/generate_batch"].get(c) for c in range(clients))
    return {"clients": clients, "generate_s": solo, "generate_batch_s": batched, "speedup": solo / batched,
            "same_answers": same}


def run_busy(assistant, n: int = 6) -> dict:
    """A queue of size 1 with one worker: of n simultaneous requests, the overflow hears 'Queue is full'."""
    from gradio_client import Client, handle_file

    demo, url = studio_server.start(assistant, concurrency=1, max_size=1)
    try:
        client = Client(url, verbose=False)
        slow = dict(BASE, alg_p_threshold=0.0, max_new_tokens=64, steps=64)
        jobs = [client.submit(image=handle_file(str(EXAMPLES / "objects_1.png")), prompt="Describe the image.",
                              **slow, api_name="/generate") for _ in range(n)]
        answered = busy = other = 0
        for job in jobs:
            try:
                job.result(timeout=300)
                answered += 1
            except Exception as exc:  # noqa: BLE001
                if "queue is full" in str(exc).lower():
                    busy += 1
                else:
                    other += 1
        return {"sent": n, "answered": answered, "busy": busy, "other": other}
    finally:
        demo.close()


def run_cancel(url: str) -> dict:
    """Cancel a long request mid-decode; the next request must still be served promptly."""
    from gradio_client import Client, handle_file

    client = Client(url, verbose=False)
    image = handle_file(str(EXAMPLES / "objects_1.png"))
    long = dict(BASE, alg_p_threshold=0.0, max_new_tokens=128, steps=128)
    t0 = time.perf_counter()
    client.predict(image=image, prompt="Describe the image.", **long, api_name="/generate")
    long_s = time.perf_counter() - t0
    jobs = [client.submit(image=image, prompt="Describe the image.", **long, api_name="/generate") for _ in range(2)]
    time.sleep(min(1.0, long_s / 4))  # both slots busy decoding
    for job in jobs:
        job.cancel()
    t0 = time.perf_counter()
    out = Client(url, verbose=False).predict(image=image, prompt="How many blue objects are there?", **BASE,
                                             api_name="/generate")
    return {"cancelled": len(jobs), "next_answered": bool(out.get("response_ids")),
            "next_latency_s": time.perf_counter() - t0, "long_request_s": long_s}


def rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def run_memory(url: str, n: int, warmup: int = 20) -> dict:
    """Resident memory of this process (the server and the model) over n generations through the API."""
    from gradio_client import Client, handle_file

    client = Client(url, verbose=False)
    image = handle_file(str(EXAMPLES / "objects_1.png"))

    def ask(i: int, prompt: str) -> None:
        client.predict(image=image, prompt=prompt, **dict(BASE, seed=i), api_name="/generate")

    for i in range(warmup):
        ask(i, "Describe the image.")
    before = rss_mb()
    for i in range(n):
        ask(i, "How many blue objects are there?")
    after = rss_mb()
    return {"generations": n, "rss_before_mb": before, "rss_after_mb": after,
            "growth_pct": 100 * (after - before) / before}


# ----- main -----------------------------------------------------------------------
def soak(fast: bool = False, tmp: Path | None = None) -> dict:
    import tempfile

    from gradio_client import Client, handle_file

    from app.chat.handlers import Studio

    tmp = Path(tmp or tempfile.mkdtemp(prefix="dimple-soak-"))
    assistant, kind = studio_server.load_assistant(tmp)
    demo, url = studio_server.start(assistant)
    try:
        client = Client(url, verbose=False)

        def alive() -> bool:
            try:
                return client.predict(template="<mask:2>", api_name="/preview_template")["length"] == 2
            except Exception:  # noqa: BLE001
                return False

        report = {"model": kind}
        report["bad_input"] = run_bad_inputs(client, Studio(assistant), bad_input_cases(make_files(tmp / "files")),
                                             handle_file, alive)
        teaching = run_teaching_bad_inputs(client, handle_file, alive)  # the teaching endpoints (issue 15)
        bad = report["bad_input"]
        bad["rows"] += teaching
        bad["tried"] += len(teaching)
        bad["clear_errors"] += sum(r["verdict"] == "clear error" for r in teaching)
        bad["crashes"] += sum(r["verdict"] == "crash" for r in teaching)
        bad["teaching_clear_errors"] = sum(r["verdict"] == "clear error" for r in teaching)
        lesson_rows = run_lesson_bad_inputs(url, assistant, alive)  # bad ?lesson=N links (issue 33)
        bad["rows"] += lesson_rows
        bad["tried"] += len(lesson_rows)
        bad["clear_errors"] += sum(r["verdict"] == "clear error" for r in lesson_rows)
        bad["crashes"] += sum(r["verdict"] == "crash" for r in lesson_rows)
        bad["lesson_clear_errors"] = sum(r["verdict"] == "clear error" for r in lesson_rows)
        report["branch_input"] = run_branch_inputs(client, handle_file, alive)
        report["load"] = run_load(url, *((4, 2) if fast else (8, 5)))
        report["batching"] = run_batching(url, 4 if fast else 8, 1 if fast else 3)
        report["cancel"] = run_cancel(url)
        report["busy"] = run_busy(assistant)
        report["memory"] = run_memory(url, 40 if fast else 200)
        report["alive_at_end"] = alive()
        return report
    finally:
        demo.close()


def table(report: dict) -> str:
    b, ld, c, bu, m, bt = (report[k] for k in ("bad_input", "load", "cancel", "busy", "memory", "batching"))
    rows = [
        ("model", report["model"]),
        ("bad inputs tried (API + UI)", b["tried"]),
        ("  clear error naming the problem", b["clear_errors"]),
        ("  handled and answered", b["answered"]),
        ("  crashes", b["crashes"]),
        ("bad branch inputs tried (/branch API)", report["branch_input"]["tried"]),
        ("  clear error / answered / crashes", "{clear_errors} / {answered} / {crashes}".format(**report["branch_input"])),
        (f"load: {ld['clients']} clients x {ld['requests'] // ld['clients']} requests", f"{ld['requests']} sent"),
        ("  lost / wrong answers (vs alone, same seed)", f"{ld['lost']} / {ld['wrong']}"),
        ("  latency p50 / p95 under load", f"{ld['p50_s']:.2f} s / {ld['p95_s']:.2f} s"),
        ("  latency p50 alone", f"{ld['alone_p50_s']:.2f} s"),
        (f"{bt['clients']} callers, same settings: /generate_batch",
         f"{bt['speedup']:.2f}x the throughput of /generate ({bt['generate_s']:.2f} s -> {bt['generate_batch_s']:.2f} s), "
         f"{bt['same_answers']}/{bt['clients']} same answers"),
        ("2 long requests cancelled -> next request", f"answered in {c['next_latency_s']:.2f} s "
                                                      f"(a long one takes {c['long_request_s']:.2f} s)"),
        (f"full queue (size 1): {bu['sent']} at once", f"{bu['answered']} answered, {bu['busy']} 'queue is full', "
                                                      f"{bu['other']} other"),
        (f"memory over {m['generations']} generations",
         f"{m['rss_before_mb']:.0f} -> {m['rss_after_mb']:.0f} MB ({m['growth_pct']:+.1f}%)"),
        ("server alive at the end", report["alive_at_end"]),
    ]
    width = max(len(k) for k, _ in rows)
    lines = [f"{k:<{width}}  {v}" for k, v in rows]
    crashes = [r for r in b["rows"] + report["branch_input"]["rows"] if r["verdict"] == "crash"]
    lines += [f"  CRASH {r['path']} {r['case']}: {r['message']}" for r in crashes]
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python scripts/soak.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--fast", action="store_true", help="the CI variant: 4x2 load, 40 generations for memory")
    p.add_argument("--json", action="store_true", help="print the whole report as JSON after the table")
    args = p.parse_args(argv)
    report = soak(fast=args.fast)
    print(table(report))
    if args.json:
        print(json.dumps(report, indent=1, default=str))
    ok = (report["bad_input"]["crashes"] == 0 and report["branch_input"]["crashes"] == 0
          and report["load"]["lost"] == 0 and report["load"]["wrong"] == 0
          and report["alive_at_end"])
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
