"""int4 group ranges (dimple.int4_ranges): the searched range never rounds a group worse than its min/max range,
helps most where one weight stretches a group, stays inside torch's code convention, and the packed weight it
gives still computes the dequantised function."""

import pytest
import torch

from dimple.int4 import dequantize_int4, int4_gemv, quantize_int4, unavailable_reason
from dimple.int4_ranges import CODE_MAX, CODE_MID, RANGES, group_codes

needs_int4 = pytest.mark.skipif(unavailable_reason() is not None, reason=f"int4 unavailable: {unavailable_reason()}")


def _group_errors(w: torch.Tensor, group: int, dtype, ranges: str) -> torch.Tensor:
    """Squared error of each dequantised group (rows, groups), recomputed here from the codes."""
    codes, scale, zero = group_codes(w, group, dtype, ranges)
    back = (codes.float() - CODE_MID).view(w.shape[0], -1, group) * scale[..., None] + zero[..., None]
    return (back - w.view(w.shape[0], -1, group)).square().sum(dim=2)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("group", [32, 128])
def test_searched_ranges_never_give_a_group_a_larger_error_than_its_min_max_range(dtype, group):
    torch.manual_seed(0)
    normal = torch.randn(96, 512) * 0.02
    heavy = torch.distributions.StudentT(3.0).sample((96, 512)) * 0.02  # heavy tails: outliers in many groups
    for w in (normal, heavy):
        w = w.to(dtype).float()  # the weight as loaded
        searched, minmax = (_group_errors(w, group, dtype, r) for r in ("searched", "minmax"))
        assert bool((searched <= minmax).all())
        assert float(searched.sum()) < 0.93 * float(minmax.sum())  # measured 0.86-0.87 (normal), 0.82-0.87 (heavy)


def test_a_group_with_an_outlier_gets_a_smaller_error_than_min_max():
    torch.manual_seed(1)
    w = torch.randn(1, 32) * 0.02
    w[0, 5] = 0.2  # ten standard deviations: min/max spends most of the 16 codes on the gap to it
    searched, minmax = (float(_group_errors(w, 32, torch.float32, r)) for r in ("searched", "minmax"))
    assert searched < 0.85 * minmax  # measured 0.75


def test_searched_codes_stay_in_range_and_round_to_their_nearest_level_inside_the_kept_range():
    torch.manual_seed(2)
    w = torch.distributions.StudentT(3.0).sample((64, 256)) * 0.02
    codes, scale, zero = group_codes(w, 64, torch.float32, "searched")
    assert codes.dtype == torch.int32 and int(codes.min()) >= 0 and int(codes.max()) <= CODE_MAX
    s, z = (t.repeat_interleave(64, dim=1) for t in (scale, zero))
    position = (w - z) / s + CODE_MID  # where each weight falls on the code axis
    inside = (position >= -0.5) & (position <= CODE_MAX + 0.5)
    assert bool((codes.float() - position).abs()[inside].le(0.5 + 1e-4).all())
    assert bool((codes[position < -0.5] == 0).all()) and bool((codes[position > CODE_MAX + 0.5] == CODE_MAX).all())
    assert bool((~inside).any())  # some weights are clipped: the search did shrink ranges here


def test_an_unknown_range_strategy_is_refused_naming_the_choices():
    with pytest.raises(ValueError, match="searched"):
        group_codes(torch.zeros(4, 32), 32, torch.float32, "percentile")
    assert set(RANGES) == {"minmax", "searched"}


@needs_int4
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_a_weight_packed_with_searched_ranges_computes_its_dequantised_function(dtype):
    torch.manual_seed(3)
    w = (torch.randn(72, 160) * 0.02).to(dtype)  # both dimensions padded
    packed, sz = quantize_int4(w, 32, ranges="searched")
    ref_w = dequantize_int4(packed, sz, 72, 160)
    x = torch.randn(5, 160).to(dtype)
    ref = x.float() @ ref_w.T
    out = int4_gemv(x, packed, sz, 72)
    assert out.shape == (5, 72) and out.dtype == dtype
    assert float((out.float() - ref).norm() / ref.norm()) <= (1e-5 if dtype == torch.float32 else 0.01)
    minmax_w = dequantize_int4(*quantize_int4(w, 32, ranges="minmax"), 72, 160)
    assert float((ref_w - w.float()).norm()) < float((minmax_w - w.float()).norm())
