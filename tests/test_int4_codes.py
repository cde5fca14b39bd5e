"""dimple.int4_codes: int4 codes chosen once, saved, and read at load instead of chosen again."""

import pytest
import torch
from torch import nn

from dimple import int4
from dimple.int4 import dequantize_int4, pack_plain, plain_codes, quantize_int4
from dimple.int4_codes import main as save_main, read_codes, save_codes
from dimple.quantize import Int4Linear, quantize_linears


def _int4_layers(model) -> dict:
    return {n: m for n, m in model.named_modules() if isinstance(m, Int4Linear)}


def test_plain_codes_pack_back_to_the_same_weight_for_shapes_the_layout_pads():
    torch.manual_seed(0)
    w = torch.randn(100, 200)  # rows padded to the layout's block, columns to the group
    packed, sz = quantize_int4(w, 32)
    plain = plain_codes(packed, 100)
    assert plain.dtype == torch.uint8 and plain.shape == (100, 112)
    again, sz_again = pack_plain(plain, sz[:, :100])
    assert torch.equal(dequantize_int4(again, sz_again, 100, 200), dequantize_int4(packed, sz, 100, 200))


def test_saved_codes_load_as_the_same_layers_with_nothing_rounded_again(tmp_path, monkeypatch):
    from dimple.assistant import Assistant

    first = Assistant.load("tiny", quantize="int4")
    assert save_codes(first.model, tmp_path / "codes.safetensors", "test") == len(_int4_layers(first.model)) > 10

    def no_rounding(*args, **kwargs):
        raise AssertionError("the saved codes were rounded again")

    monkeypatch.setattr("dimple.quantize.quantize_int4", no_rounding)
    second = Assistant.load("tiny", quantize="int4", int4_codes=tmp_path / "codes.safetensors")
    a, b = _int4_layers(first.model), _int4_layers(second.model)
    assert a.keys() == b.keys()
    for name in a:
        assert torch.equal(a[name].packed, b[name].packed), name
        assert torch.equal(a[name].scales_and_zeros, b[name].scales_and_zeros), name
    from PIL import Image

    image = Image.open("assets/examples/objects_0.png")
    question = "Describe the image."
    assert first.generate(image, question).answer_ids == second.generate(image, question).answer_ids


def test_codes_of_another_model_are_refused_naming_the_layer(tmp_path):
    small = nn.Sequential(nn.Linear(64, 32), nn.Linear(32, 64))
    quantize_linears(small, {}, mode="int4", int4_group=32)
    save_codes(small, tmp_path / "small.safetensors", "test")
    codes = read_codes(tmp_path / "small.safetensors")
    other = nn.Sequential(nn.Linear(64, 32), nn.Linear(32, 128))
    with pytest.raises(ValueError, match="1 are 32 -> 64"):
        quantize_linears(other, {}, mode="int4", int4_group=32, codes=codes)
    deeper = nn.Sequential(nn.Linear(64, 32), nn.Linear(32, 64), nn.Linear(64, 8))
    with pytest.raises(ValueError, match="no layer 2"):
        quantize_linears(deeper, {}, mode="int4", int4_group=32, codes=codes)
    with pytest.raises(ValueError, match="int4's"):
        quantize_linears(nn.Sequential(nn.Linear(64, 32)), {}, mode="int8", codes=codes)


def test_a_file_that_is_not_saved_codes_is_refused(tmp_path):
    from dimple.loading import resolve_checkpoint

    with pytest.raises(ValueError, match="not a saved int4 codes file"):
        read_codes(resolve_checkpoint("tiny") / "model.safetensors")
    with pytest.raises(ValueError, match="no int4 layers"):
        save_codes(nn.Sequential(nn.Linear(8, 8)), tmp_path / "x.safetensors", "test")


def test_the_command_saves_calibrated_codes_the_cli_then_reads(tmp_path, capsys):
    from dimple.cli import main

    out = tmp_path / "tiny-gptq.safetensors"
    assert save_main(["tiny", str(out), "--calibrate", "assets/examples"]) == 0
    assert "GPTQ on" in capsys.readouterr().out
    assert len(read_codes(out)) > 10 and int4.packed_layout().block > 0
    assert main(["eval", "--limit", "2", "--quantize", "int4", "--int4-codes", str(out), "--json"]) == 0
    with pytest.raises(SystemExit, match="--quantize int4"):
        main(["eval", "--limit", "1", "--int4-codes", str(out)])
