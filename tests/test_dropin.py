"""The released model card's code runs on this project: Auto classes, processor, `diffusion_generate`.

The "released" folder is the fake Dimple-7B of test_loading (the reference
model in shards, a Qwen-style tokenizer) dressed as the real checkpoint is:
config.json, tokenizer_config.json and preprocessor_config.json name remote
classes through `auto_map`, and the remote code files are there; each of them
leaves a marker file when executed, so a test can tell that none ran.
"""

import json
import subprocess
import sys

import pytest
import torch
from PIL import Image

import dimple
from conftest import REFERENCE, ROOT
from dimple.engine import Request, stream_batch
from dimple.hf_processor import DimpleProcessor
from dimple.modeling import DimpleModel
from dimple.trajectory import Trajectory
from test_loading import _fake_qwen_tokenizer

REMOTE_FILES = ("configuration_dimple", "modeling_dimple", "tokenization_dimple", "processing_dimple",
                "image_processing_dimple")
CASES = ("maskgit_thr_nocache", "maskgit_thr_prefill", "maskgit_nothr_nocache", "margin_thr_prefill",
         "entropy_nothr_prefill")


def _patch_json(path, **fields):
    data = json.loads(path.read_text()) if path.exists() else {}
    data.update(fields)
    path.write_text(json.dumps(data))


@pytest.fixture(scope="module")
def released(tmp_path_factory):
    folder = tmp_path_factory.mktemp("released-dimple-7b")
    DimpleModel.from_pretrained(str(REFERENCE), dtype=torch.float32).save_pretrained(str(folder), max_shard_size="200KB")
    _fake_qwen_tokenizer(folder)
    _patch_json(folder / "config.json", auto_map={"AutoConfig": "configuration_dimple.DimpleConfig",
                                                  "AutoModel": "modeling_dimple.DimpleModel"})
    _patch_json(folder / "tokenizer_config.json", tokenizer_class="DimpleTokenizer",
                auto_map={"AutoTokenizer": ["tokenization_dimple.DimpleTokenizer", None]})
    _patch_json(folder / "preprocessor_config.json", min_pixels=3136, max_pixels=12544, patch_size=14, merge_size=2,
                temporal_patch_size=2, image_processor_type="DimpleImageProcessor", processor_class="DimpleProcessor",
                auto_map={"AutoProcessor": "processing_dimple.DimpleProcessor",
                          "AutoImageProcessor": "image_processing_dimple.DimpleImageProcessor"})
    for name in REMOTE_FILES:
        (folder / f"{name}.py").write_text(
            f"open({str(folder / 'REMOTE_CODE_RAN')!r}, 'a').write({name!r})\nraise RuntimeError('remote code ran')\n")
    return folder


def test_model_card_example_runs_unchanged_on_the_released_layout(released):
    # The original README's example; only the model name and the image source differ.
    from transformers import AutoModel, AutoProcessor

    model_name = str(released)
    processor = AutoProcessor.from_pretrained(model_name, trust_remote_code=True)
    model = AutoModel.from_pretrained(model_name, torch_dtype=torch.bfloat16, trust_remote_code=True)
    messages = [
        [{"role": "user", "content": [
            {"type": "image", "image": "demo.jpeg"},
            {"type": "text", "text": "Describe this image."}
        ]}],
    ]
    text = processor.apply_chat_template(messages, tokenize=False, add_generation_prompt=True, add_vision_id=False)
    images = [Image.open(REFERENCE / "image.png").convert("RGB")]
    inputs = processor(text=text, images=images, videos=None, padding="longest", return_tensors="pt")
    input_ids = inputs.pop("input_ids")
    output = model.diffusion_generate(
        input_ids, max_new_tokens=64, output_history=True, return_dict_in_generate=True, steps=64,
        temperature=0.2, top_p=0.95, alg="origin", use_cache=True, alg_p_threshold=0.95,
        use_original_confidence=True, decoding_pipeline="dim", **inputs)
    generations = [processor.tokenizer.decode(g[len(p):].cpu().tolist()) for p, g in zip(input_ids, output.sequences)]

    assert not (released / "REMOTE_CODE_RAN").exists()
    assert type(model) is DimpleModel and type(processor) is DimpleProcessor
    assert next(model.parameters()).dtype == torch.bfloat16
    assert int((input_ids == 250).sum()) == 6 and tuple(inputs["image_grid_thw"][0].tolist()) == (1, 4, 6)
    assert output.sequences.shape == (1, input_ids.shape[1] + 64)
    assert torch.equal(output.sequences[:, : input_ids.shape[1]], input_ids)
    assert 1 <= len(output.history) <= 64 and torch.equal(output.history[-1], output.sequences)
    assert not bool((output.sequences == 255).any()) and isinstance(generations[0], str)


@pytest.mark.parametrize("name", CASES)
def test_reference_histories_come_back_through_diffusion_generate(name, reference_model, reference_expected,
                                                                   reference_cases):
    case = next(c for c in reference_cases["cases"] if c["name"] == name)
    e = reference_expected
    out = reference_model.diffusion_generate(
        e["input_ids"], attention_mask=e["attention_mask"], pixel_values=e["pixel_values"],
        image_grid_thw=e["image_grid_thw"], max_new_tokens=case["max_new_tokens"], steps=case["steps"],
        temperature=case["temperature"], alg=case["alg"], alg_temp=case["alg_temp"],
        alg_p_threshold=case["alg_p_threshold"], use_cache=case["use_cache"],
        use_original_confidence=case["use_original_confidence"], decoding_pipeline=case["decoding_pipeline"],
        output_history=True, return_dict_in_generate=True)
    prompt = e["input_ids"].shape[1]
    assert len(out.history) == case["n_iterations"]
    assert all(torch.equal(h[:, :prompt], e["input_ids"]) for h in out.history)
    assert torch.equal(torch.cat([h[:, prompt:] for h in out.history]), e[f"history_{name}"])
    assert torch.equal(out.sequences[0, prompt:], e[f"final_{name}"])


def _inputs(e):
    return dict(attention_mask=e["attention_mask"], pixel_values=e["pixel_values"], image_grid_thw=e["image_grid_thw"])


def test_generation_config_supplies_settings_and_keywords_override_it(reference_model, reference_expected):
    from transformers import GenerationConfig

    e = reference_expected
    config = GenerationConfig(max_new_tokens=12, steps=12, alg="maskgit_plus", alg_p_threshold=0.6, use_cache=False,
                              output_history=True, return_dict_in_generate=True)
    plain = reference_model.diffusion_generate(e["input_ids"], config, **_inputs(e))
    cached = reference_model.diffusion_generate(e["input_ids"], generation_config=config, use_cache=True, **_inputs(e))
    assert torch.equal(torch.cat([h[:, 21:] for h in plain.history]), e["history_maskgit_thr_nocache"])
    assert torch.equal(torch.cat([h[:, 21:] for h in cached.history]), e["history_maskgit_thr_prefill"])


def test_without_return_dict_the_call_returns_the_sequences_tensor(reference_model, reference_expected):
    e = reference_expected
    settings = dict(max_new_tokens=12, steps=12, alg="maskgit_plus", alg_p_threshold=0.6)
    tensor = reference_model.diffusion_generate(e["input_ids"], **settings, **_inputs(e))
    record = reference_model.diffusion_generate(e["input_ids"], return_dict_in_generate=True, **settings, **_inputs(e))
    assert isinstance(tensor, torch.Tensor) and torch.equal(tensor, record.sequences)
    assert record.history is None  # output_history defaults off, as in the original


@pytest.mark.parametrize("pipeline, message", [("dream", "'dream'.*not supported.*'dim'"), ("fast", "must be 'dim'")])
def test_other_decoding_pipelines_are_refused_by_name(pipeline, message, reference_model, reference_expected):
    with pytest.raises(ValueError, match=message):
        reference_model.diffusion_generate(reference_expected["input_ids"], max_new_tokens=4, steps=4,
                                           decoding_pipeline=pipeline)


def test_hooks_get_the_original_arguments_and_steer_the_answer(reference_model, reference_expected):
    e = reference_expected
    calls = []

    def tokens_hook(step, x, logits):
        calls.append((step, tuple(x.shape), None if logits is None else tuple(logits.shape)))
        if step is None:
            x[0, 21] = 7  # a structure prior: response position 0 fixed before decoding
        return x

    def logits_hook(step, x, logits):
        logits[:, -1] = -1e9
        logits[:, -1, 9] = 0.0  # the last response position can only become token 9
        return logits

    out = reference_model.diffusion_generate(
        e["input_ids"], max_new_tokens=12, steps=12, alg="maskgit_plus", alg_p_threshold=0.6, use_cache=True,
        output_history=True, return_dict_in_generate=True, generation_tokens_hook_func=tokens_hook,
        generation_logits_hook_func=logits_hook, **_inputs(e))
    assert calls[0] == (None, (1, 33), None) and calls[1] == (0, (1, 33), (1, 33, 256))
    assert all(c[1:] == ((1, 13), (1, 13, 256)) for c in calls[2:])  # prefilling: last prompt token + response
    assert len(calls) == len(out.history) + 1
    assert all(int(h[0, 21]) == 7 for h in out.history) and int(out.sequences[0, -1]) == 9


def test_a_canvas_edit_is_recorded_and_replays(reference_model, reference_expected):
    e = reference_expected
    mask = reference_model.config.mask_token_id

    def edit(i, seq):
        if i == 0:
            seq[0, 21 + 5] = mask  # re-mask whatever step 0 put there (or keep it masked)
            seq[0, 21 + 11] = 3

    cfg = dimple.DecodeConfig(max_new_tokens=12, steps=12, alg_p_threshold=0.6, prefill=False)
    request = Request(e["input_ids"], e["attention_mask"], e["pixel_values"], e["image_grid_thw"])
    *_, (traj,) = stream_batch(reference_model, [request], cfg, edit=edit)
    assert traj.steps[0].edits and (11, 3) in traj.steps[0].edits
    assert traj.states()[0][5] == mask and traj.states()[0][11] == 3
    again = Trajectory.from_json(traj.to_json())
    assert again.states() == traj.states() and mask not in again.response_ids


def test_edits_of_the_prompt_are_refused(reference_model, reference_expected):
    def edit(i, seq):
        seq[0, 0] = 5

    cfg = dimple.DecodeConfig(max_new_tokens=4, steps=4, prefill=False)
    with pytest.raises(ValueError, match="changed the prompt"):
        list(stream_batch(reference_model, [Request(reference_expected["input_ids"])], cfg, edit=edit))


def test_chat_template_renders_the_original_message_format(released):
    processor = DimpleProcessor.from_pretrained(str(released))
    conversation = [{"role": "user", "content": [{"type": "image", "image": "a.png"}, {"type": "text", "text": "w10"}]},
                    {"role": "assistant", "content": "w11"},
                    {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "w12"}]}]
    text = processor.apply_chat_template(conversation, add_generation_prompt=True, add_vision_id=True)
    assert text == ("<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
                    "<|im_start|>user\nPicture 1: <|vision_start|><|image_pad|><|vision_end|>w10<|im_end|>\n"
                    "<|im_start|>assistant\nw11<|im_end|>\n"
                    "<|im_start|>user\nPicture 2: <|vision_start|><|image_pad|><|vision_end|>w12<|im_end|>\n"
                    "<|im_start|>assistant\n")
    batch = processor.apply_chat_template([conversation[:1], conversation[:1]], add_generation_prompt=False)
    assert isinstance(batch, list) and len(batch) == 2 and not batch[0].endswith("assistant\n")


def test_a_shipped_chat_template_json_is_used(released, tmp_path):
    import shutil

    copy = tmp_path / "with-template"
    shutil.copytree(released, copy)
    (copy / "chat_template.json").write_text(json.dumps({"chat_template": "{{ messages[0]['role'] }}!"}))
    assert DimpleProcessor.from_pretrained(str(copy)).apply_chat_template([{"role": "user", "content": "x"}]) == "user!"


def test_a_left_padded_batch_decodes_each_row_as_alone(released):
    from transformers import AutoModel, AutoProcessor

    processor = AutoProcessor.from_pretrained(str(released))
    model = AutoModel.from_pretrained(str(released))
    image = Image.open(REFERENCE / "image.png").convert("RGB")
    chats = [[{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "w10 w11 w12 w13"}]}],
             [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "w14"}]}]]
    texts = processor.apply_chat_template(chats, add_generation_prompt=True)
    batch = processor(text=texts, images=[image, image.rotate(90, expand=True)], padding="longest", return_tensors="pt")
    assert int(batch["attention_mask"][1, 0]) == 0  # the shorter prompt is padded on the left
    settings = dict(max_new_tokens=8, steps=8, alg="maskgit_plus", alg_p_threshold=0.5, use_cache=True)
    together = model.diffusion_generate(batch.pop("input_ids"), **settings, **batch)
    single = processor(text=texts[1:], images=[image.rotate(90, expand=True)], return_tensors="pt")
    alone = model.diffusion_generate(single.pop("input_ids"), **settings, **single)
    assert torch.equal(together[1, -8:], alone[0, -8:])


def test_import_registers_the_auto_classes_and_reads_no_model_files():
    # package metadata (.dist-info, .egg-info) and installed packages' own data (transformers 5.25 imports
    # `kernels`, which reads a json of its own) are what importing transformers itself reads
    code = (
        "import sys\n"
        "opened = []\n"
        "sys.addaudithook(lambda e, a: opened.append(str(a[0])) if e == 'open' and isinstance(a[0], str) else None)\n"
        "import dimple\n"
        "from transformers import AutoConfig, AutoModel, AutoProcessor\n"
        "from transformers.models.auto.processing_auto import PROCESSOR_MAPPING\n"
        "config = AutoConfig.for_model('dimple')\n"
        "print(type(config).__name__, AutoModel._model_mapping[type(config)].__name__,"
        " PROCESSOR_MAPPING[type(config)].__name__)\n"
        "print([p for p in opened if p.endswith(('.json', '.safetensors', '.jinja', '.txt')) and '.dist-info' not in p and '.egg-info' not in p"
        " and 'site-packages' not in p])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                         env={"PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)})
    names, files = out.stdout.strip().splitlines()
    assert names == "DimpleConfig DimpleModel DimpleProcessor", out.stderr
    assert files == "[]"
