"""Shared test fixtures: the reference fixture folder and small random Dimple checkpoints; the slow modules.

`python -m pytest tests -m "not slow"` leaves out the modules in SLOW_MODULES
and the tests marked `@pytest.mark.slow` (the marker is registered in
pyproject.toml); the full suite runs everything.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
REFERENCE = FIXTURES / "dimple-reference"
TOKENIZER_DIR = ROOT / "assets" / "dimple-tiny"
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "chat_template.jinja", "special_tokens_map.json")


# whole modules of slow tests, with why: marked here so that the modules themselves need no marker line
SLOW_MODULES = {
    "test_app_api.py": "the web API through gradio_client against a live server",
    "test_browser.py": "a Chromium page against a live server",
    "test_browser_teaching.py": "a Chromium page against a live server (the teaching tools)",
    "test_browser_branch.py": "a Chromium page branching a decode against a live server",
    "test_browser_lessons.py": "Chromium pages on the lessons and the first screen against a live server",
    "test_soak.py": "a soak of bad input, load and faults against a live server",
    "test_train.py": "training runs and the shipped model's answers",
    "test_train_vision.py": "training runs",
    "test_bench.py": "benchmarks",
}


def pytest_collection_modifyitems(items) -> None:
    for item in items:
        if item.path.name in SLOW_MODULES:
            item.add_marker(pytest.mark.slow)


def random_config(tokenizer, hidden: int = 64, layers: int = 2, **overrides):
    """A small DimpleConfig whose special ids come from `tokenizer`."""
    from dimple.modeling import DimpleConfig

    ids = tokenizer.convert_tokens_to_ids
    cfg = dict(
        vocab_size=len(tokenizer), hidden_size=hidden, intermediate_size=2 * hidden, num_hidden_layers=layers,
        num_attention_heads=4, num_key_value_heads=2, mrope_section=[2, 3, 3] if hidden == 64 else None,
        max_position_embeddings=512, rope_theta=10000.0,
        vision_config=dict(depth=2, hidden_size=32, intermediate_size=64, num_heads=2, out_hidden_size=hidden,
                           window_size=56, fullatt_block_indexes=[1]),
        bos_token_id=ids("<|beginoftext|>"), eos_token_id=ids("<|im_end|>"), pad_token_id=ids("<|endoftext|>"),
        mask_token_id=ids("<|mask|>"), image_token_id=ids("<|image_pad|>"), video_token_id=ids("<|video_pad|>"),
        vision_start_token_id=ids("<|vision_start|>"), vision_end_token_id=ids("<|vision_end|>"),
        vision_token_id=ids("<|vision_pad|>"),
    )
    cfg.update(overrides)
    return DimpleConfig(**cfg)


def make_random_checkpoint(folder: Path, seed: int = 0, **overrides) -> Path:
    """Save a random-weight Dimple with the shipped tokenizer into `folder` (a loadable checkpoint)."""
    from transformers import AutoTokenizer

    from dimple.modeling import DimpleModel
    from dimple.tiny.card import write_card

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tokenizer = AutoTokenizer.from_pretrained(str(TOKENIZER_DIR))
    torch.manual_seed(seed)
    model = DimpleModel(random_config(tokenizer, **overrides))
    model.save_pretrained(str(folder))
    for name in TOKENIZER_FILES:
        if (TOKENIZER_DIR / name).exists():
            shutil.copy(TOKENIZER_DIR / name, folder / name)
    write_card(folder)  # Tiny's card: the studio treats the random model as Tiny
    return folder


@pytest.fixture(scope="session")
def random_checkpoint(tmp_path_factory) -> Path:
    return make_random_checkpoint(tmp_path_factory.mktemp("random-dimple"))


@pytest.fixture(scope="session")
def reference_model():
    from dimple.modeling import DimpleModel

    return DimpleModel.from_pretrained(str(REFERENCE), dtype=torch.float32).eval()


@pytest.fixture(scope="session")
def reference_expected():
    from safetensors.torch import load_file

    return load_file(str(REFERENCE / "expected.safetensors"))


@pytest.fixture(scope="session")
def reference_cases():
    return json.loads((REFERENCE / "cases.json").read_text())


@pytest.fixture(scope="session")
def tiny():
    """The shipped Dimple-Tiny as an Assistant (skips where assets/ does not hold it)."""
    from dimple.assistant import Assistant

    try:
        return Assistant.load("tiny")
    except Exception as exc:  # noqa: BLE001
        pytest.skip(f"Dimple-Tiny is not shipped here ({exc})")
