"""Weight-only int8: each weight within half a quantisation step, the kernels compute one function, logits
close to float within a stated bound, half the bytes, and unsupported settings refused with a clear message."""

import importlib.util

import pytest
import torch
from torch import nn

import dimple
from conftest import REFERENCE, ROOT
from dimple.config import DecodeConfig
from dimple.kernels import int8_dequant, int8_gemv, int8_upcast
from dimple.loading import load_model
from dimple.quantize import Int8Linear, check_quantize, dequantize, is_quantized, quantize_weight

# Stated bound, on the reference fixture model (float32 activations): the int8 logits differ from the float
# model's by at most 10 % in relative L2 norm, and every position's logit vector keeps a cosine of at least
# 0.98 with the float one (measured: 5.7 % and 0.9918; docs/scale.md).
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
    models = {q: load_model(str(REFERENCE), dtype="fp32", quantize=q) for q in (None, "int8")}
    return e, models


def test_int8_logits_stay_within_the_stated_bound_of_float(reference_pair):
    e, models = reference_pair
    kw = dict(attention_mask=torch.ones_like(e["canvas_ids"]), pixel_values=e["pixel_values"],
              image_grid_thw=e["image_grid_thw"])
    with torch.no_grad():
        f, q = (models[k](e["canvas_ids"], **kw).logits[0] for k in (None, "int8"))
    assert not torch.equal(f, q)  # the bound is about a real difference
    assert float((q - f).norm() / f.norm()) <= REL_L2_BOUND
    assert float(nn.functional.cosine_similarity(q, f, dim=-1).min()) >= COSINE_BOUND


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


@pytest.mark.parametrize("value", ["int4", "INT8", 8, "fp8"])
def test_unknown_quantize_values_are_refused_naming_the_setting(value):
    with pytest.raises(ValueError, match=r"quantize must be None or 'int8'"):
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
    with pytest.raises(SystemExit):
        parse_args(["--quantize", "int4"])
    demo, lazy = make_app("tiny", "cpu", quantize="int8")
    assert lazy.planned == ("tiny", "cpu") and not lazy.loaded and lazy.quantize == "int8"