"""int8: each weight (and, for w8a8, each activation row) within half a quantisation step, the kernels compute
one function, logits close to float within a stated bound, half the bytes, and unsupported settings refused with
a clear message."""

import importlib.util

import pytest
import torch
from torch import nn

import dimple
from conftest import REFERENCE, ROOT
from dimple.config import DecodeConfig
from dimple.kernels import int8_dequant, int8_gemv, int8_upcast, quantize_rows, w8a8_intmm
from dimple.loading import load_model
from dimple.quantize import Int8Linear, check_quantize, dequantize, is_quantized, quantize_weight

# Stated bound, on the reference fixture model (float32 activations): the int8 logits differ from the float
# model's by at most 10 % in relative L2 norm, and every position's logit vector keeps a cosine of at least
# 0.98 with the float one (measured: 5.7 % and 0.9918; w8a8, its activations rounded too: 7.6 % and 0.9842;
# docs/scale.md).
REL_L2_BOUND, COSINE_BOUND = 0.10, 0.98


def test_every_weight_lands_within_half_a_step_of_its_row_scale():
    torch.manual_seed(0)
    w = torch.randn(300, 40) * torch.rand(300, 1)  # rows of different ranges
    q, s = quantize_weight(w)
    assert q.dtype == torch.int8 and s.shape == (300,) and int(q.abs().max()) == 127
    assert bool(((dequantize(q, s) - w).abs() <= s[:, None] / 2 + 1e-6).all())


def test_every_int8_kernel_computes_the_same_function_at_any_row_count():
    torch.manual_seed(1)
    q, s = quantize_weight(torch.randn(96, 64, dtype=torch.bfloat16) * 0.02)
    ref_w = dequantize(q, s).float()
    for rows in (1, 5, 40):
        x = torch.randn(rows, 64, dtype=torch.bfloat16)
        ref = x.float() @ ref_w.T
        for out in (int8_gemv(x, q, s), int8_upcast(x, q, s), int8_dequant(x, q, s, block_bytes=64 * 2 * 16)):
            assert out.shape == (rows, 96) and out.dtype == torch.bfloat16
            torch.testing.assert_close(out.float(), ref, rtol=0.02, atol=0.02 * float(ref.abs().max()))


def test_an_int8_linear_keeps_its_bias_and_leading_dimensions_with_either_kernel_on_any_layout():
    lin = nn.Linear(32, 16)
    for x in (torch.randn(3, 2, 32), torch.randn(32, 6).t()):  # the second: strided in its last dimension
        for kernel in ("int8_gemv", "int8_upcast", "int8_dequant"):
            q = Int8Linear.from_linear(lin, choice={1: kernel})
            y = q(x)
            assert y.shape == (*x.shape[:-1], 16)
            torch.testing.assert_close(y, lin(x).detach(), rtol=0.05, atol=0.05)
    assert "int8" in repr(q)


@pytest.fixture(scope="module")
def reference_pair():
    from safetensors.torch import load_file

    e = load_file(str(REFERENCE / "expected.safetensors"))
    models = {q: load_model(str(REFERENCE), dtype="fp32", quantize=q) for q in (None, "int8", "w8a8")}
    return e, models


@pytest.mark.parametrize("mode", ["int8", "w8a8"])
def test_int8_logits_stay_within_the_stated_bound_of_float(reference_pair, mode):
    e, models = reference_pair
    kw = dict(attention_mask=torch.ones_like(e["canvas_ids"]), pixel_values=e["pixel_values"],
              image_grid_thw=e["image_grid_thw"])
    with torch.no_grad():
        f, q = (models[k](e["canvas_ids"], **kw).logits[0] for k in (None, mode))
    assert not torch.equal(f, q)  # the bound is about a real difference
    assert float((q - f).norm() / f.norm()) <= REL_L2_BOUND
    assert float(nn.functional.cosine_similarity(q, f, dim=-1).min()) >= COSINE_BOUND


def test_every_activation_row_lands_within_half_a_step_of_its_own_scale():
    torch.manual_seed(2)
    x = torch.randn(7, 50) * torch.tensor([1e-3, 0.1, 1, 10, 100, 3, 0.5])[:, None]  # rows of different ranges
    q, s = quantize_rows(x)
    assert q.dtype == torch.int8 and s.shape == (7, 1) and bool((q.abs().amax(dim=1) == 127).all())
    assert bool(((q.float() * s - x).abs() <= s / 2 + 1e-6).all())


def test_the_w8a8_kernel_multiplies_the_rounded_rows_by_the_int8_weight_exactly():
    torch.manual_seed(3)
    q, s = quantize_weight(torch.randn(48, 64) * 0.02)
    for rows in (1, 5, 40):
        x = torch.randn(rows, 64)
        xq, xs = quantize_rows(x)
        want = (xq.double() @ q.double().T) * xs.double() * s.double()  # integer sums, then both scales
        torch.testing.assert_close(w8a8_intmm(x, q, s).double(), want, rtol=1e-6, atol=1e-9)
        weight_only = int8_dequant(x, q, s)
        assert not torch.equal(w8a8_intmm(x, q, s), weight_only)  # the activations' rounding is real


def test_an_int8_model_holds_about_half_the_linear_bytes(reference_pair):
    _, models = reference_pair
    float_bytes = sum(m.weight.numel() * 2 for m in models[None].modules() if isinstance(m, nn.Linear))  # as bf16
    int8 = [m for m in models["int8"].modules() if isinstance(m, Int8Linear)]
    assert is_quantized(models["int8"]) and not is_quantized(models[None])
    assert len(int8) == sum(isinstance(m, nn.Linear) for m in models[None].modules())
    assert sum(m.qweight.numel() for m in int8) * 2 == float_bytes
    assert all(not isinstance(m, nn.Linear) for m in models["int8"].modules())


def test_an_int8_model_decodes_with_the_engine_and_its_cache(reference_pair):
    e, models = reference_pair
    cfg = DecodeConfig(max_new_tokens=12, steps=12, alg_p_threshold=0.6, prefill=True)
    traj = dimple.generate(models["int8"], e["input_ids"], cfg, attention_mask=e["attention_mask"],
                           pixel_values=e["pixel_values"], image_grid_thw=e["image_grid_thw"])
    assert 1 <= traj.nfe <= 12 and models["int8"].config.mask_token_id not in traj.response_ids
    assert models["int8"].kernel_choice and models["int8"].quantize == "int8"


def test_a_w8a8_model_runs_only_the_integer_kernel_and_times_the_others_beside_it(reference_pair):
    _, models = reference_pair
    table = models["w8a8"].kernel_choice
    assert table and {k for row in table for k in row["chosen"].values()} == {"w8a8_intmm"}
    assert all({"w8a8_intmm", "int8_dequant", "plain"} <= set(row["ms"]) for row in table)
    layers = [m for m in models["w8a8"].modules() if isinstance(m, Int8Linear)]
    assert layers and all(set(m.choice.values()) == {"w8a8_intmm"} for m in layers)


def test_the_device_line_names_the_quantisation_a_visitor_chose(reference_pair):
    from dimple.loading import describe_device

    _, models = reference_pair
    assert describe_device(models["w8a8"]).endswith("· w8a8 linears")
    assert describe_device(models["int8"]).endswith("· int8 linears")
    assert "linears" not in describe_device(models[None])


def test_w8a8_is_refused_off_the_cpu():
    with pytest.raises(ValueError, match="w8a8.*CPU only"):
        check_quantize("w8a8", "cuda:0")
    check_quantize("w8a8", "cpu")


def test_w8a8_is_refused_at_load_where_torch_has_no_integer_matmul(monkeypatch):
    monkeypatch.delattr(torch, "_int_mm")
    with pytest.raises(ValueError, match="integer matmul"):
        check_quantize("w8a8", "cpu")


@pytest.mark.parametrize("value", ["int4", "INT8", 8, "fp8"])
def test_unknown_quantize_values_are_refused_naming_the_setting(value):
    with pytest.raises(ValueError, match=r"quantize must be None, .int8."):
        load_model(str(REFERENCE), quantize=value)


def test_int8_across_several_gpus_or_an_unknown_device_is_refused():
    with pytest.raises(ValueError, match="one device"):
        check_quantize("int8", "cuda", several_gpus=True)
    with pytest.raises(ValueError, match="needs device 'cpu' or 'cuda"):
        check_quantize("int8", "mps")
    check_quantize(None, "mps")  # no quantisation: nothing to refuse


def test_the_cli_and_app_take_the_quantize_flag():
    from dimple.cli import main

    with pytest.raises(SystemExit):
        main(["eval", "--quantize", "int4"])
    from app.launcher import make_app, parse_args

    assert parse_args(["--quantize", "int8"]).quantize == "int8" and parse_args([]).quantize is None
    assert parse_args(["--quantize", "w8a8"]).quantize == "w8a8"
    with pytest.raises(SystemExit):
        parse_args(["--quantize", "int4"])
    demo, lazy = make_app("tiny", "cpu", quantize="int8")
    assert lazy.planned == ("tiny", "cpu") and not lazy.loaded and lazy.quantize == "int8"