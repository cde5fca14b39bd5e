"""dimple.int4_gptq: int4 codes chosen by GPTQ against a layer's inputs, and the input statistics it reads."""

import copy

import pytest
import torch
from torch import nn

from dimple.int4 import dequantize_int4, quantize_int4
from dimple.int4_gptq import InputHessians, gptq_codes, inverse_factor
from dimple.int4_ranges import CODE_MAX, CODE_MID, group_codes
from dimple.quantize import Int4Linear, quantize_linears
from test_quantize import _random_stack


def _correlated_inputs(rows: int, width: int, seed: int, basis_seed: int = 0) -> torch.Tensor:
    """Rows that live mostly in a 12-dimensional subspace shared by every seed, as a trained layer's inputs do."""
    basis = torch.randn(12, width, generator=torch.Generator().manual_seed(basis_seed))
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(rows, 12, generator=gen) @ basis + 0.05 * torch.randn(rows, width, generator=gen)


def _dequantised(codes, scale, zero, group):
    expand = lambda t: t.repeat_interleave(group, dim=1)  # noqa: E731
    return (codes.float() - CODE_MID) * expand(scale) + expand(zero)


def test_gptq_rounds_a_layer_closer_to_its_outputs_on_inputs_it_never_saw_than_rounding_each_weight_alone():
    torch.manual_seed(0)
    w = torch.randn(64, 128) * 0.02
    seen, unseen = _correlated_inputs(2048, 128, seed=1), _correlated_inputs(512, 128, seed=2)
    calibrated = _dequantised(*gptq_codes(w, inverse_factor(seen.t() @ seen / len(seen)), 32, torch.float32), 32)
    alone = _dequantised(*group_codes(w, 32, torch.float32), 32)
    error = lambda q: float((unseen @ (q - w).t()).norm() / (unseen @ w.t()).norm())  # noqa: E731
    assert error(calibrated) < 0.5 * error(alone)


def test_gptq_writes_the_int4_format_codes_in_range_and_scales_the_load_dtype_holds():
    torch.manual_seed(1)
    w = torch.randn(40, 96)
    x = _correlated_inputs(512, 96, seed=3)
    codes, scale, zero = gptq_codes(w, inverse_factor(x.t() @ x), 32, torch.bfloat16)
    assert codes.dtype == torch.int32 and codes.shape == (40, 96) and scale.shape == zero.shape == (40, 3)
    assert int(codes.min()) >= 0 and int(codes.max()) <= CODE_MAX
    assert torch.equal(scale, scale.to(torch.bfloat16).float()) and torch.equal(zero, zero.to(torch.bfloat16).float())


def test_with_uncorrelated_inputs_gptq_chooses_exactly_the_codes_of_rounding_each_group_alone():
    torch.manual_seed(2)
    w = torch.randn(32, 64)
    assert torch.equal(gptq_codes(w, inverse_factor(torch.eye(64) * 3.0), 32, torch.float32)[0],
                       group_codes(w, 32, torch.float32)[0])


def test_inputs_that_never_fired_take_none_of_the_other_columns_error():
    h = torch.eye(8)
    h[3, 3] = 0.0  # a dead input: its row and column of H are zero
    u = inverse_factor(h)
    assert torch.isfinite(u).all() and float(u[3, 4:].abs().max()) == 0.0


def test_input_hessians_average_x_xt_and_share_one_sum_among_layers_fed_one_tensor_in_turn():
    torch.manual_seed(3)
    shared_a, shared_b, after = nn.Linear(16, 8), nn.Linear(16, 4), nn.Linear(8, 2)

    class Block(nn.Module):
        def forward(self, x):  # a and b one after the other on one tensor, as q, k and v (gate and up) are
            a, b = shared_a(x), shared_b(x)
            return after(a) + b[..., :2]

    block = Block()
    block.a, block.b, block.after = shared_a, shared_b, after
    x1, x2 = torch.randn(2, 5, 16), torch.randn(3, 16)
    with InputHessians(block, ["a", "b", "after"]) as hessians:
        block(x1)
        block(x2)
    rows = torch.cat([x1.reshape(-1, 16), x2])
    assert torch.allclose(hessians.get("a"), rows.t() @ rows / len(rows), atol=1e-5)
    assert hessians.get("b") is not None and torch.equal(hessians.get("a"), hessians.get("b"))
    assert hessians.get("after").shape == (8, 8) and len(hessians._sums) == 2  # a and b: one sum
    assert InputHessians(block, ["after"]).get("after") is None  # never called: rounded on its own


def test_a_calibrated_int4_stack_is_closer_to_float_on_inputs_it_never_saw():
    stack, _, positions = _random_stack()
    width = stack["head"].in_features
    seen = [_correlated_inputs(24, width, seed=s).unsqueeze(0) * 0.02 for s in range(8)]
    unseen = _correlated_inputs(24, width, seed=99).unsqueeze(0) * 0.02
    run = lambda m, e: m["head"](m["text"](e, positions, None, None)[0])  # noqa: E731
    alone, calibrated = copy.deepcopy(stack), copy.deepcopy(stack)
    quantize_linears(alone, {}, mode="int4", int4_group=32)

    def calibrate(model):
        for e in seen:
            run(model, e)

    assert quantize_linears(calibrated, {}, mode="int4", int4_group=32, calibrate=calibrate) == 15
    assert all(isinstance(m, Int4Linear) for n, m in calibrated.named_modules() if n.endswith("proj"))
    with torch.no_grad():
        f = run(stack, unseen)
        error = {k: float((run(m, unseen) - f).norm() / f.norm()) for k, m in
                 (("alone", alone), ("calibrated", calibrated))}
    assert error["calibrated"] < 0.8 * error["alone"]


def test_calibration_is_refused_for_the_modes_that_round_each_weight_alone():
    with pytest.raises(ValueError, match="int4's; quantize='int8'"):
        quantize_linears(nn.Sequential(nn.Linear(32, 32)), {}, mode="int8", calibrate=lambda m: None)


def test_a_calibrated_weight_packs_to_the_same_function_its_codes_stand_for():
    torch.manual_seed(5)
    w = torch.randn(100, 200)  # both padded by quantize_int4 (rows to the layout's block, columns to 224)
    x = _correlated_inputs(256, 200, seed=6)
    packed, sz = quantize_int4(w, 32, hessian=x.t() @ x / len(x))
    padded = torch.nn.functional.pad(w, (0, 24))
    h = torch.nn.functional.pad(x.t() @ x / len(x), (0, 24, 0, 24))
    codes, scale, zero = gptq_codes(padded, inverse_factor(h), 32, torch.float32)
    assert torch.allclose(dequantize_int4(packed, sz, 100, 200), _dequantised(codes, scale, zero, 32)[:, :200])


def test_calibration_pairs_ask_each_example_image_its_own_question_and_a_description():
    from dimple.assistant import CALIBRATION_QUESTIONS, calibration_pairs
    from dimple.loading import ASSETS

    pairs = calibration_pairs(ASSETS / "examples")
    questions = [q for _, q in pairs]
    assert len(pairs) >= 8 and all(q.strip() for q in questions)
    assert questions.count(CALIBRATION_QUESTIONS[0]) >= 8  # every image
    assert {q for q in questions} - set(CALIBRATION_QUESTIONS)  # and the images' own questions


def test_the_studio_calibrates_int4_on_its_examples_only_when_asked(monkeypatch):
    from app.launcher import parse_args
    from app.lazy import loader_for
    from dimple import assistant

    seen = []
    monkeypatch.setattr(assistant.Assistant, "load",
                        classmethod(lambda cls, name, device, quantize, calibration, int4_codes:
                                    seen.append(calibration)))
    loader_for("int4", calibrate=True)("tiny", "cpu")
    loader_for("int4")("tiny", "cpu")
    assert len(seen[0]) >= 8 and seen[1] == ()
    assert parse_args(["--quantize", "int4", "--calibrate"]).calibrate
    with pytest.raises(SystemExit):
        parse_args(["--quantize", "int8", "--calibrate"])
    with pytest.raises(ValueError, match="int4"):
        loader_for("int8", calibrate=True)
    with pytest.raises(SystemExit):
        parse_args(["--quantize", "w8a8", "--int4-codes", "codes.safetensors"])
    assert parse_args(["--quantize", "int4", "--int4-codes", "f.safetensors"]).int4_codes == "f.safetensors"


def test_a_calibrated_int4_tiny_decodes_and_the_cli_refuses_calibration_without_int4(tmp_path):
    from dimple.assistant import Assistant
    from dimple.cli import main
    from PIL import Image

    image = Image.new("RGB", (64, 64), "white")
    calls = []
    real = Assistant.generate_batch

    def counting(self, items, *args, **kwargs):
        calls.append(len(items))
        return real(self, items, *args, **kwargs)

    Assistant.generate_batch = counting
    try:
        tiny = Assistant.load("tiny", quantize="int4", calibration=[(image, "Describe the image."), (image, "Hi")])
    finally:
        Assistant.generate_batch = real
    assert calls == [1, 1]  # each pair decoded alone, once: the blocks are replayed on what the decode recorded
    assert all(isinstance(m, Int4Linear) for n, m in tiny.model.named_modules() if n.endswith("_proj"))
    assert tiny.generate(image, "Describe the image.").answer_ids
    with pytest.raises(SystemExit, match="--quantize int4"):
        main(["eval", "--limit", "1", "--calibrate", "assets/examples"])


def test_a_layer_calibration_never_ran_is_rounded_on_its_own_and_the_rest_calibrated():
    torch.manual_seed(7)
    model = nn.ModuleDict({"text": nn.Linear(64, 32), "vision": nn.Linear(64, 32)})
    plain = copy.deepcopy(model)
    quantize_linears(plain, {}, mode="int4", int4_group=32)
    seen = _correlated_inputs(256, 64, seed=8)
    quantize_linears(model, {}, mode="int4", int4_group=32, calibrate=lambda m: m["text"](seen))  # text only
    assert torch.equal(model["vision"].packed, plain["vision"].packed)
    assert not torch.equal(model["text"].packed, plain["text"].packed)
