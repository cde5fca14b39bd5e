"""The architecture reproduces the reference implementation and the released checkpoint layout."""

import json

import torch

from dimple.scale.shapes import SPEC_7B
from dimple.kv_cache import PrefixKVCache
from dimple.fast_paths import batch_vision_windows, fuse_projections
from dimple.modeling import DimpleConfig, DimpleModel, build_attention_mask
from dimple.rotary import apply_rotary, signed_sin


def test_rotary_positions_match_reference(reference_model, reference_expected):
    e = reference_expected
    positions, _ = reference_model.rope_index(e["canvas_ids"], e["image_grid_thw"], None)
    assert torch.equal(positions, e["canvas_position_ids"])


def test_forward_logits_match_reference(reference_model, reference_expected):
    e = reference_expected
    ids = e["canvas_ids"]
    with torch.no_grad():
        out = reference_model(ids, attention_mask=torch.ones_like(ids), pixel_values=e["pixel_values"],
                              image_grid_thw=e["image_grid_thw"])
    assert out.logits.dtype == torch.float32
    torch.testing.assert_close(out.logits, e["canvas_logits"], atol=1e-4, rtol=0)


def test_logits_index_projects_only_the_asked_rows(reference_model, reference_expected):
    e = reference_expected
    ids = e["canvas_ids"]
    rows = torch.tensor([[ids.shape[1] - 1, 0, 3]])
    kw = dict(attention_mask=torch.ones_like(ids), pixel_values=e["pixel_values"], image_grid_thw=e["image_grid_thw"])
    with torch.no_grad():
        some = reference_model(ids, logits_index=rows, **kw).logits
    assert some.shape[:2] == (1, 3)
    torch.testing.assert_close(some, e["canvas_logits"][:, rows[0]], atol=1e-4, rtol=0)


def test_batched_vision_windows_compute_the_same_image_tokens(reference_model, reference_expected):
    import copy

    from dimple.tiny import world
    from dimple.tiny.data import image_to_uint8, pixels_of

    fast = copy.deepcopy(reference_model)
    batch_vision_windows(fast)
    image = image_to_uint8(world.make_sample(3, "count").image.resize((336, 336)))[None]  # 9 equal 112 px windows
    for pixel_values, grid in (pixels_of(image), (reference_expected["pixel_values"], reference_expected["image_grid_thw"])):
        with torch.no_grad():
            torch.testing.assert_close(fast.image_features(pixel_values, grid),
                                       reference_model.image_features(pixel_values, grid), atol=1e-5, rtol=0)


def test_fused_projections_compute_the_same_logits_and_follow_weight_changes(reference_model, reference_expected):
    import copy

    e = reference_expected
    inputs = dict(input_ids=e["canvas_ids"], pixel_values=e["pixel_values"], image_grid_thw=e["image_grid_thw"])
    plain, fast = copy.deepcopy(reference_model), copy.deepcopy(reference_model)
    assert fuse_projections(fast)
    assert fast.state_dict().keys() == plain.state_dict().keys()  # the checkpoint layout is untouched
    with torch.no_grad():
        torch.testing.assert_close(fast(**inputs).logits, plain(**inputs).logits, atol=1e-5, rtol=0)
        for model in (fast, plain):  # an in-place change (as an optimizer step) reaches the fused copy
            model.model.layers[0].self_attn.k_proj.weight.mul_(0.5)
            model.model.layers[0].mlp.up_proj.weight.mul_(2.0)
        torch.testing.assert_close(fast(**inputs).logits, plain(**inputs).logits, atol=1e-5, rtol=0)
    fast.train()
    loss = fast(**inputs).logits.float().square().mean()  # with autograd the projections still get gradients
    loss.backward()
    assert fast.model.layers[0].self_attn.v_proj.weight.grad is not None
    assert fast.model.layers[0].mlp.gate_proj.weight.grad is not None
    assert not fuse_projections(copy.deepcopy(reference_model), max_parameters=1000)  # large models: left alone


def test_parameter_names_and_shapes_match_released_7b_layout():
    spec = json.loads(SPEC_7B.read_text())
    config = DimpleConfig(**{k: v for k, v in spec["config"].items() if not k.startswith("_")})
    with torch.device("meta"):
        model = DimpleModel(config)
    ours = {name: list(p.shape) for name, p in model.named_parameters()}
    assert ours == {name: list(shape) for name, shape in spec["parameters"].items()}
    assert sum(torch.Size(s).numel() for s in ours.values()) > 8e9


def test_prefix_cache_forward_equals_full_forward_when_prefix_is_unchanged(reference_model, reference_expected):
    e = reference_expected
    ids = e["canvas_ids"]
    kwargs = dict(attention_mask=torch.ones_like(ids), pixel_values=e["pixel_values"], image_grid_thw=e["image_grid_thw"])
    positions, _ = reference_model.rope_index(ids, e["image_grid_thw"], None)
    cache = PrefixKVCache(20)
    with torch.no_grad():
        full = reference_model(ids, position_ids=positions, cache=cache, **kwargs).logits
        suffix = reference_model(ids[:, 20:], attention_mask=kwargs["attention_mask"], position_ids=positions,
                                 cache=cache).logits
    assert cache.filled and cache.query_index().tolist() == list(range(20, ids.shape[1]))
    # float32 logits up to ~17: the suffix's matmuls have other shapes, so sums run in another order
    # (1.0e-5 apart single-threaded); 1e-4 is the tolerance the reference comparison uses
    torch.testing.assert_close(suffix, full[:, 20:], atol=1e-4, rtol=0)


def test_prefix_cache_keeps_the_prefix_while_later_forwards_feed_other_tokens(reference_model, reference_expected):
    e = reference_expected
    ids = e["canvas_ids"]
    mask = torch.ones_like(ids)
    positions, _ = reference_model.rope_index(ids, e["image_grid_thw"], None)
    cache = PrefixKVCache(20)
    with torch.no_grad():
        reference_model(ids, attention_mask=mask, pixel_values=e["pixel_values"], image_grid_thw=e["image_grid_thw"],
                        position_ids=positions, cache=cache)
        prefix = [k[:, :, :20].clone() for k in cache.keys]
        for shift in (1, 2):
            other = (ids[:, 20:] + shift) % reference_model.config.vocab_size
            reference_model(other, attention_mask=mask, position_ids=positions, cache=cache)
    assert all(torch.equal(k[:, :, :20], p) for k, p in zip(cache.keys, prefix))


def test_rotary_with_swapped_halves_equals_the_rotate_half_form_bit_for_bit():
    def rotate_half(x):  # the usual form (transformers' Qwen2): (x1, x2) -> (-x2, x1)
        half = x.shape[-1] // 2
        return torch.cat((-x[..., half:], x[..., :half]), dim=-1)

    g = torch.Generator().manual_seed(0)
    x, cos, sin = (torch.randn(shape, generator=g) for shape in ((2, 7, 6, 32), (2, 7, 1, 32), (2, 7, 1, 32)))
    assert torch.equal(apply_rotary(x, cos, signed_sin(sin)), x * cos + rotate_half(x) * sin)


def test_causal_mask_hides_the_future_and_padding_sees_only_itself():
    causal = build_attention_mask(None, True, None, 4, "cpu")[0, 0]
    assert causal.tolist() == [[j <= i for j in range(4)] for i in range(4)]
    assert build_attention_mask(None, False, None, 4, "cpu") is None
    padded = build_attention_mask(torch.tensor([[0, 1, 1]]), False, None, 3, "cpu")[0, 0]
    assert padded[0].tolist() == [True, False, False]
    assert padded[1].tolist() == [False, True, True]


def test_causal_forward_does_not_leak_future_tokens(reference_model, reference_expected):
    ids = reference_expected["input_ids"]
    other = ids.clone()
    other[0, -1] = (other[0, -1] + 1) % 200
    with torch.no_grad():
        a = reference_model(ids, causal=True).logits
        b = reference_model(other, causal=True).logits
    torch.testing.assert_close(a[:, :-1], b[:, :-1])
    assert not torch.allclose(a[:, -1], b[:, -1])


def test_attention_runs_in_float32_under_cpu_autocast_and_keeps_the_inputs_dtype_without_it():
    import torch.nn.functional as F

    from dimple.modeling import attend, grouped_query_attention

    torch.manual_seed(0)
    q = torch.randn(2, 4, 10, 8, dtype=torch.bfloat16)
    k, v = torch.randn(2, 2, 10, 8, dtype=torch.bfloat16), torch.randn(2, 2, 10, 8, dtype=torch.bfloat16)
    mask = torch.ones(2, 1, 10, 10, dtype=torch.bool)
    mask[0, :, :, 7:] = False
    with torch.autocast("cpu", dtype=torch.bfloat16):
        trained = attend(q, k, v, mask, 0.0, True)
    in_float = F.scaled_dot_product_attention(q.float(), k.float(), v.float(), attn_mask=mask, enable_gqa=True)
    assert trained.dtype == torch.bfloat16 and torch.equal(trained, in_float.bfloat16())
    decoded = attend(q, k, v, mask, 0.0, True)
    assert decoded.dtype == torch.bfloat16 and torch.equal(decoded, grouped_query_attention(q, k, v, mask))
    torch.testing.assert_close(decoded.float(), in_float, atol=2e-2, rtol=0)


def test_grouped_query_attention_equals_attention_over_repeated_keys_with_and_without_a_mask():
    import torch.nn.functional as F

    from dimple.modeling import attend, grouped_query_attention

    torch.manual_seed(0)
    for seq in (1, 5):  # one fed token (a cached 1-token pass) and several
        q = torch.randn(2, seq, 6, 16).transpose(1, 2)  # (batch, heads, seq, dim), transposed as the layer makes it
        k, v = torch.randn(2, 2, 9, 16), torch.randn(2, 2, 9, 16)
        mask = torch.rand(2, 1, seq, 9) > 0.3
        mask[..., 0] = True
        for m in (None, mask):
            want = F.scaled_dot_product_attention(q, k.repeat_interleave(3, 1), v.repeat_interleave(3, 1), attn_mask=m)
            torch.testing.assert_close(grouped_query_attention(q, k, v, m), want, atol=1e-6, rtol=0)
            torch.testing.assert_close(attend(q, k, v, m, 0.0, True), want, atol=1e-6, rtol=0)
    # the query heads of a group read their own key/value head: swapping the key heads changes the answer
    swapped = grouped_query_attention(q, k.flip(1), v.flip(1), None)
    assert not torch.allclose(swapped, grouped_query_attention(q, k, v, None))
