"""Checkpoints load through one path: shipped tiny, local folders (sharded or not); bad ones get clear errors.

The fake Dimple-7B folder is the reference fixture's model saved in shards with
an index, next to a locally built tokenizer that carries the Qwen special
tokens and a chat template: the same files the released checkpoint has.
"""

import json
import shutil

import pytest
import torch
from tokenizers import Tokenizer, models, pre_tokenizers

import dimple
from conftest import REFERENCE
from dimple.assistant import Assistant
from dimple.config import DecodeConfig
from dimple.loading import CheckpointError, checkpoint_files, load_model, resolve_checkpoint

QWEN_SPECIALS = {0: "<|endoftext|>", 1: "<|im_end|>", 2: "<|im_start|>", 247: "<|vision_pad|>",
                 248: "<|vision_start|>", 249: "<|vision_end|>", 250: "<|image_pad|>", 251: "<|video_pad|>",
                 255: "<|mask|>"}
CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def _fake_qwen_tokenizer(folder):
    from transformers import PreTrainedTokenizerFast

    vocab = {QWEN_SPECIALS.get(i, f"w{i}"): i for i in range(256)}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="w3"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>",
                                   unk_token="w3", additional_special_tokens=list(QWEN_SPECIALS.values()))
    fast.chat_template = CHAT_TEMPLATE
    fast.save_pretrained(str(folder))


@pytest.fixture(scope="module")
def fake_7b(tmp_path_factory):
    from dimple.modeling import DimpleModel

    folder = tmp_path_factory.mktemp("fake-dimple-7b")
    model = DimpleModel.from_pretrained(str(REFERENCE), dtype=torch.float32)
    model.save_pretrained(str(folder), max_shard_size="200KB")
    _fake_qwen_tokenizer(folder)
    (folder / "preprocessor_config.json").write_text(json.dumps({"min_pixels": 3136, "max_pixels": 12544}))
    return folder


def test_sharded_checkpoint_loads_and_reproduces_reference_histories(fake_7b, reference_expected, reference_cases):
    assert len(checkpoint_files(fake_7b)) > 1 and (fake_7b / "model.safetensors.index.json").exists()
    model = dimple.load_model(str(fake_7b))
    e = reference_expected
    for case in reference_cases["cases"]:
        cfg = dimple.DecodeConfig(max_new_tokens=12, steps=12, alg=case["alg"], alg_p_threshold=case["alg_p_threshold"],
                                  prefill=case["use_cache"])
        traj = dimple.generate(model, e["input_ids"], cfg, attention_mask=e["attention_mask"],
                               pixel_values=e["pixel_values"], image_grid_thw=e["image_grid_thw"])
        assert traj.states() == e[f"history_{case['name']}"].tolist(), case["name"]


def test_assistant_uses_the_qwen_chat_format_and_end_tokens(fake_7b):
    assistant = Assistant.load(str(fake_7b))
    assert assistant.card.system == "You are a helpful assistant."
    assert set(assistant.end_token_ids) == {0, 1}
    inputs = assistant.encode(None, "w10 w11")
    text = assistant.tokenizer.decode(inputs["input_ids"][0])
    # system, user and the opened assistant turn (the word-level fake maps other words to its unk token)
    assert text.count("<|im_start|>") == 3 and "w10 w11 <|im_end|>" in text
    assert assistant.image_processor.max_pixels == 12544


def test_bf16_load_halves_the_weight_memory(fake_7b):
    model = load_model(str(fake_7b), dtype="bf16")
    assert next(model.parameters()).dtype == torch.bfloat16
    out = model(torch.tensor([[2, 5, 6, 255]]))
    assert out.logits.shape == (1, 4, 256)


def test_pickle_only_folder_is_refused(tmp_path):
    shutil.copy(REFERENCE / "config.json", tmp_path / "config.json")
    (tmp_path / "pytorch_model.bin").write_bytes(b"not loaded")
    with pytest.raises(CheckpointError, match="safetensors only"):
        load_model(str(tmp_path))


def test_missing_shard_is_named(fake_7b, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(fake_7b, broken)
    shard = sorted(broken.glob("model-*.safetensors"))[0]
    shard.unlink()
    with pytest.raises(CheckpointError, match=shard.name):
        load_model(str(broken))


@pytest.mark.parametrize("name", ["", "../../etc", "not a model; rm -rf /", "a/b/c"])
def test_bad_model_names_are_refused_without_touching_the_network(name):
    with pytest.raises((ValueError, CheckpointError), match="model|checkpoint"):
        resolve_checkpoint(name)


def test_unreachable_hub_id_gives_a_clear_error(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(CheckpointError, match="could not fetch"):
        resolve_checkpoint("rp-yu/Dimple-7B-does-not-exist")


def test_generate_ends_where_stream_ends_with_the_same_token_texts():
    from dimple.tiny.world import make_sample, split_seeds

    assistant = Assistant.load("tiny")
    sample = make_sample(split_seeds("eval", 1)[0], category="describe")
    cfg = DecodeConfig(max_new_tokens=12, steps=6, alg_p_threshold=0.0, seed=0)
    *_, streamed = assistant.stream(sample.image, sample.question, cfg)
    generated = assistant.generate(sample.image, sample.question, cfg)
    assert generated.states() == streamed.states()
    assert generated.token_text == streamed.token_text and generated.token_text


def test_tiny_asks_for_a_picture_instead_of_answering_without_one(fake_7b):
    from dimple.tiny.world import make_sample, split_seeds

    tiny = Assistant.load("tiny")
    with pytest.raises(ValueError, match="only answers questions about an image"):
        tiny.generate(None, "hello")
    assert tiny.generate(make_sample(split_seeds("eval", 1)[0], category="describe").image, "hello").answer_ids
    general = Assistant.load(str(fake_7b))  # a general model takes text alone
    assert general.encode(None, "w10 w11")["input_ids"].shape[0] == 1
