"""The scale tool writes released-layout checkpoints shard by shard, loads them through load_model and
measures them; prepacked linear weights compute what plain ones do. Only the tiny shape runs here."""

import json
from dataclasses import replace

import pytest
import torch

from dimple import loading
from dimple.loading import load_model
from dimple.packed_linear import is_packed, pack_linear_weights, packing_available
from dimple.scale.run import run_shape
from dimple.scale.checkpoint import INDEX, parameter_shapes, write_checkpoint
from dimple.scale.measure import roofline
from dimple.scale.report import render
from dimple.scale.shapes import SHAPES, SPEC_7B, ScaleSettings, get_shape

FAST = ScaleSettings(fed_tokens=(1, 8), image_side=56, text_tokens=6, canvas=4, steps=2, scored=4,
                     bandwidth_gib=0.01, matmul_rows=(1, 4))
needs_onednn = pytest.mark.skipif(not packing_available(), reason="this torch build has no oneDNN linear packing")


def test_the_7b_shape_has_the_released_checkpoint_layout():
    released = json.loads(SPEC_7B.read_text())["parameters"]
    assert {k: list(v) for k, v in parameter_shapes(SHAPES["7b"]).items()} == released


def test_every_named_shape_builds_and_unknown_names_are_refused():
    assert list(SHAPES) == ["tiny", "0.1b", "0.5b", "1.5b", "7b"]
    sizes = [sum(torch.Size(d).numel() for d in parameter_shapes(s).values()) for s in SHAPES.values()]
    assert sizes == sorted(sizes) and sizes[-1] > 8e9
    with pytest.raises(ValueError, match="shape must be one of"):
        get_shape("13b")


def test_bad_settings_are_refused_by_name():
    with pytest.raises(ValueError, match="image_side"):
        replace(FAST, image_side=50).validate()
    with pytest.raises(ValueError, match="steps"):
        replace(FAST, steps=9).validate()


def test_checkpoint_is_written_one_shard_at_a_time_with_an_index(tmp_path, monkeypatch):
    import safetensors.torch as st

    shape = replace(SHAPES["tiny"], shard_gib=0.5 / 1024)  # 0.5 MiB shards: several for a 2.4 MB model
    held = []
    real_save = st.save_file
    monkeypatch.setattr(st, "save_file", lambda tensors, *a, **k: (held.append(
        sum(t.numel() * t.element_size() for t in tensors.values())), real_save(tensors, *a, **k))[1])
    info = write_checkpoint(shape, tmp_path)
    index = json.loads((tmp_path / INDEX).read_text())
    assert info["shards"] == len(held) > 2 and len(set(index["weight_map"].values())) == info["shards"]
    assert max(held) <= 0.5 * 2**20 < sum(held) == index["metadata"]["total_size"]
    assert set(index["weight_map"]) == set(parameter_shapes(shape))
    model = load_model(str(tmp_path), dtype="bf16")
    assert next(model.parameters()).dtype == torch.bfloat16
    assert torch.equal(model.model.norm.weight, torch.ones(shape.hidden, dtype=torch.bfloat16))


@pytest.fixture(scope="module")
def tiny_result(tmp_path_factory):
    folder = tmp_path_factory.mktemp("scale")
    result = run_shape("tiny", FAST, ckpt_dir=folder)
    result["_folder"] = folder
    return result


def test_tiny_run_measures_every_fed_count_with_and_without_the_cache(tiny_result):
    rows = tiny_result["forward"]["rows"]
    assert [r["tokens"] for r in rows] == [1, 8]
    assert all(r["uncached_s"] > 0 and r["cached_s"] > 0 and r["cache_grew_bytes"] == 0 for r in rows)
    assert rows[0]["cached_attends_to"] == FAST.prompt_tokens + 1


def test_tiny_decodes_take_the_fixed_pass_count_and_report_both_ratios(tiny_result):
    d = tiny_result["decode"]
    P, R = FAST.prompt_tokens, FAST.canvas
    assert d["prompt_tokens"] == P and d["prefill"]["passes"] == d["no_prefill"]["passes"] == FAST.steps
    assert d["analytic_ratio"] == round((P + R) / (R + 1), 3)
    assert d["fed_token_ratio"] == round(2 * (P + R) / ((P + R) + R), 3)
    seconds = d["prefill"]["seconds"]  # rounded to 1 ms in the record: tokens_per_s lies within that rounding
    assert R / (seconds + 0.0005) - 0.001 <= d["prefill"]["tokens_per_s"] <= R / max(seconds - 0.0005, 1e-6) + 0.001


def test_tiny_run_reports_memory_cache_and_deletes_its_checkpoint(tiny_result):
    load = tiny_result["load"]
    assert load["rss_peak_bytes"] >= load["rss_start_bytes"] > 0
    assert load["peak_over_checkpoint"] == round(load["rss_peak_bytes"] / tiny_result["checkpoint"]["bytes"], 3)
    cfg = SHAPES["tiny"]
    per_token = cfg.layers * 2 * cfg.kv_heads * (cfg.hidden // cfg.heads) * 2  # keys + values, bf16
    assert tiny_result["forward"]["cache_bytes_per_token"] == per_token
    assert tiny_result["cache_bytes_per_request"] == per_token * (FAST.prompt_tokens + FAST.canvas)
    assert not (tiny_result["_folder"] / "tiny").exists()


def test_report_renders_every_table_with_the_command(tiny_result):
    text = render([tiny_result], command="python -m dimple.scale --shape tiny")
    for title in ("Seconds per pass", "Memory against the checkpoint", "Prefilling", "roofline", "prepacked"):
        assert title in text
    assert "`python -m dimple.scale --shape tiny`" in text and "| tiny |" in text


def test_roofline_takes_the_larger_floor():
    costs = {"layer_parameters": 10**9, "head_parameters": 10**8, "streamed_bytes": 2 * 10**9, "weight_bytes": 3 * 10**9}
    cfg = SHAPES["7b"]
    config = type("C", (), {"hidden_size": cfg.hidden, "num_hidden_layers": cfg.layers})()
    one = roofline(costs, config, tokens=1, attends_to=300, scored=1, seconds=0.25, bandwidth_gbps=10, peak_gflops=400)
    assert one["bound"] == "memory" and one["memory_floor_s"] == 0.2 and one["over_memory_floor"] == 1.25
    many = roofline(costs, config, tokens=512, attends_to=812, scored=32, seconds=5.0, bandwidth_gbps=10, peak_gflops=400)
    assert many["bound"] == "compute" and many["over_roofline"] < many["over_memory_floor"]


@needs_onednn
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float32])
def test_prepacked_linear_computes_what_the_plain_one_does_and_refuses_training(dtype):
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(64, 96), torch.nn.Linear(96, 32, bias=False)).to(dtype)
    x = torch.randn(2, 7, 64, dtype=dtype)
    with torch.no_grad():
        expected = net(x)
    assert pack_linear_weights(net) == 2 and is_packed(net) and net[0].weight.is_mkldnn
    with torch.no_grad():
        torch.testing.assert_close(net(x), expected, rtol=1e-2 if dtype == torch.bfloat16 else 1e-5, atol=1e-2)
    with pytest.raises(RuntimeError, match="prepacked"):
        net(x.requires_grad_())
    with pytest.raises(NotImplementedError):
        torch.nn.functional.linear(x.detach(), net[0].weight)  # the opaque weight cannot be misread silently


@needs_onednn
def test_load_model_prepacks_models_too_big_to_fuse_and_they_decode_the_same(tmp_path, monkeypatch):
    write_checkpoint(SHAPES["tiny"], tmp_path)
    ids = torch.randint(10, 500, (1, 12))
    plain = load_model(str(tmp_path), dtype="bf16")
    assert not is_packed(plain)  # tiny fuses its projections instead
    monkeypatch.setattr(loading, "fuse_projections", lambda model: False)
    packed = load_model(str(tmp_path), dtype="bf16")
    unpacked = load_model(str(tmp_path), dtype="bf16", pack=False)
    assert is_packed(packed) and not is_packed(unpacked)
    with torch.no_grad():
        torch.testing.assert_close(packed(ids).logits, unpacked(ids).logits, rtol=2e-2, atol=2e-2)


@needs_onednn
def test_handing_back_the_file_pages_of_a_weight_never_changes_it(tmp_path):
    from dimple.packed_linear import file_mappings, release_file_pages

    write_checkpoint(SHAPES["tiny"], tmp_path)
    model = load_model(str(tmp_path), dtype="bf16", pack=False)
    weight = model.lm_head.weight  # 566 x 128 bf16: whole pages inside the memory-mapped shard
    before = weight.detach().clone()
    assert release_file_pages(weight, file_mappings(), others=[]) > 0
    assert torch.equal(weight, before)  # read back from the file
    shared = [(weight.data_ptr(), 16)]
    assert release_file_pages(weight, file_mappings(), others=shared) == 0  # a tensor in use keeps its pages
