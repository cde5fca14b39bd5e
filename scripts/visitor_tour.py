"""A visitor's tour of the studio in Chromium: their own words, a follow-up, a photograph, each preset,
templates of their own, and the Threshold explorer on a description.

    python scripts/visitor_tour.py [--out docs] [--question "..."]... [--model runs/r1-final]

Starts the studio on the shipped Dimple-Tiny (or --model, a checkpoint being judged before it ships), types the
questions into the box as a person would (Enter sends), reads each answer off the conversation, then uploads a
photograph (matplotlib's Grace Hopper, held out of training), tries every preset of the model's card and
templates a visitor writes with their own keys and slot lengths, and last asks for a description and runs the
Threshold explorer on it. Writes `visitor-tour.json` (the transcript, with the status line of the templated and
described answers and the explorer's rows), `conversation.png` (the screenshot the README shows) and
`explorer.png` into --out. It judges nothing: the transcript is for a person to read, the visitor evaluation
(dimple.tiny.visitor_eval) does the scoring.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent / "tests"  # studio_server lives in tests/
sys.path.insert(0, str(HERE))

import studio_server  # noqa: E402

BOX = "#dm-prompt textarea"
SCENE = str(studio_server.ROOT / "assets" / "examples" / "objects_1.png")
QUESTIONS = ("what do you see here?", "how many triangles can you spot", "And the circles?",
             "where's the orange one?", "thank you!")
# Questions about SCENE for each preset (a preset's own example may ask about an object this scene lacks).
PRESET_QUESTIONS = {"Answer: \u2026": "How many stars are there?",
                    "Fixed length (8 slots)": "Where is the purple square?",
                    "Color and shape": "What is at the top right?", "JSON object": "What is in the middle left?",
                    "Numbered list": "Describe the image."}
# Templates a visitor writes (none is a preset; the first is the issue's own: its keys, 5-token slots).
OWN_TEMPLATES = (('{"top center": "<mask:5>", "top right": "<mask:5>"}<eos>', "List the objects as JSON."),
                 ('{"shapes": "<mask:4>", "colours": "<mask:4>"}<eos>', "How many shapes are there?"),
                 ("- <mask:7>\n- <mask:7><eos>", "Describe the image."))


def _answers(page) -> list[str]:
    return page.eval_on_selector_all("#dm-chat [data-testid='bot']", "els => els.map(e => e.innerText.trim())")


def ask(page, question: str) -> str:
    before = len(_answers(page))
    page.click(BOX)
    page.keyboard.type(question)
    page.keyboard.press("Enter")
    page.wait_for_function(f"document.querySelectorAll(\"#dm-chat [data-testid='bot']\").length > {before}",
                           timeout=120_000)
    # the new bubble comes with the status "starting"; the answer is final once the status says how it ended
    page.wait_for_function("/done after|stopped|error/.test(document.querySelector('#dm-status').innerText)",
                           timeout=120_000)
    page.wait_for_timeout(300)
    return _answers(page)[-1]


def _status(page) -> str:
    return page.inner_text("#dm-status").strip()


def explore(page) -> dict:
    """The Threshold explorer on the current question: its badges and one line per row."""
    page.get_by_role("tab", name="Threshold explorer").click()
    page.click("#dm-explore")
    page.wait_for_selector("#dm-explore-time", timeout=300_000)
    rows = page.eval_on_selector_all("#dm-explore-out tr",
                                     "els => els.map(e => e.innerText.replace(/\\s+/g, ' ').trim())")
    badges = page.eval_on_selector_all("#dm-explore-out .dm-badge", "els => els.map(e => e.innerText.trim())")
    return {"badges": badges, "rows": rows}


def _upload(page, path: str) -> None:
    page.set_input_files("#dm-image input[type=file]", path)
    page.wait_for_selector("#dm-image img", timeout=20_000)
    page.wait_for_timeout(2500)  # a new picture clears the conversation: let that land before asking


def tour(out: str, questions, model: str | None = None) -> dict:
    from dimple.assistant import Assistant
    from dimple.tiny.nonworld import photo_paths

    transcript = {"scene": SCENE, "model": model or "tiny", "turns": [], "photo": [], "presets": [],
                  "own_templates": []}
    chosen = None if model is None else Assistant.load(model, device="cpu")
    with studio_server.studio_page(Path(out), height=1100, assistant=chosen) as (page, assistant):
        _upload(page, SCENE)
        for q in questions:
            transcript["turns"].append({"question": q, "answer": ask(page, q)})
        page.screenshot(path=os.path.join(out, "conversation.png"), full_page=True)
        _upload(page, next(p for p in photo_paths("heldout") if p.endswith("grace_hopper.jpg")))
        for q in ("what is in this picture?", "how many people are there?"):
            transcript["photo"].append({"question": q, "answer": ask(page, q)})
        _upload(page, SCENE)
        page.click("text=Structure prior (template)")
        for name, template in assistant.presets.items():
            page.fill("#dm-template textarea", template)
            page.wait_for_timeout(400)
            example = PRESET_QUESTIONS.get(name) or _preset_question(name)
            transcript["presets"].append({"preset": name, "template": template, "question": example,
                                          "answer": ask(page, example)})
        for template, q in OWN_TEMPLATES:
            page.fill("#dm-template textarea", template)
            page.wait_for_timeout(400)
            transcript["own_templates"].append({"template": template, "question": q, "answer": ask(page, q),
                                                "status": _status(page)})
        page.fill("#dm-template textarea", "")
        _describe_and_explore(page, transcript, out)
    return transcript


def _describe_and_explore(page, transcript: dict, out: str) -> None:
    _upload(page, SCENE)
    answer = ask(page, "Describe the image.")
    transcript["describe"] = {"question": "Describe the image.", "answer": answer, "status": _status(page),
                              "explorer": explore(page)}
    page.locator("#dm-explore-out").screenshot(path=os.path.join(out, "explorer.png"))


def _preset_question(name: str) -> str:
    from dimple.tiny.presets import PRESETS

    return PRESETS[name].example if name in PRESETS else "Describe the image."


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default="docs")
    ap.add_argument("--question", action="append", help="questions for the conversation (default: a set of five)")
    ap.add_argument("--model", help="a checkpoint folder to serve instead of the shipped Dimple-Tiny")
    args = ap.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    transcript = tour(args.out, args.question or QUESTIONS, args.model)
    with open(os.path.join(args.out, "visitor-tour.json"), "w") as fh:
        json.dump(transcript, fh, indent=1)
    print(json.dumps(transcript, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
