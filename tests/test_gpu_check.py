"""The prepared GPU measurement runs end to end (here on CPU, on the reference-sized model)."""

from dimple.scale.gpu_check import measure


def test_measure_times_a_full_and_a_cached_forward_and_reports_a_real_decode(reference_model, monkeypatch):
    fed = []  # positions each forward fed, in call order
    forward = reference_model.forward

    def recording_forward(input_ids, **kwargs):
        fed.append(input_ids.shape[1])
        return forward(input_ids, **kwargs)

    monkeypatch.setattr(reference_model, "forward", recording_forward)
    P, R = 40, 8
    result = measure(reference_model, prompt_tokens=P, response_tokens=R, device="cpu")
    timed = 1 + 3  # a warm-up call and the best of three repeats, each
    assert fed[:timed + 1] == [P + R] * (timed + 1)  # the full forwards, then the one that fills the cache
    assert fed[timed + 1:2 * timed + 1] == [R + 1] * timed  # cached: the last prompt token and the response
    decode = fed[2 * timed + 1:]
    assert result["decode_nfe"] == len(decode) and 1 <= len(decode) <= R
    assert decode == [P + R] + [R + 1] * (len(decode) - 1)  # a prefilled decode: one full pass, then cached
