"""The prepared GPU measurement runs end to end (here on CPU, on the reference-sized model)."""

from dimple.gpu_check import measure


def test_measure_reports_cached_and_full_forward_and_a_decode(reference_model):
    result = measure(reference_model, prompt_tokens=40, response_tokens=8, device="cpu")
    assert result["forward_full_s"] > 0 and result["forward_cached_s"] > 0
    assert 1 <= result["decode_nfe"] <= 8
