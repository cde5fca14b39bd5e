"""Starting a Tiny run from earlier weights: a deeper or wider model grown from smaller weights starts as the same function."""

import pytest
import torch

from dimple.modeling import DimpleModel
from dimple.tiny.init import grow_depth, grow_width, n_layers

from conftest import TOKENIZER_DIR, random_config


@pytest.fixture(scope="module")
def tiny_tokenizer():
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(TOKENIZER_DIR))


def _logits(model, tokenizer) -> torch.Tensor:
    ids = torch.tensor([tokenizer("Describe the image. top left: big red circle", add_special_tokens=False)["input_ids"]])
    with torch.no_grad():
        return model(input_ids=ids).logits


def test_a_grown_model_computes_what_the_shallow_one_did(tiny_tokenizer):
    torch.manual_seed(0)
    shallow = DimpleModel(random_config(tiny_tokenizer, layers=2)).eval()
    deep = DimpleModel(random_config(tiny_tokenizer, layers=3)).eval()
    state = grow_depth(shallow.state_dict(), 3)
    assert n_layers(state) == 3
    deep.load_state_dict(state)
    torch.testing.assert_close(_logits(deep, tiny_tokenizer), _logits(shallow, tiny_tokenizer))
    # the inserted layer is a copy whose writes into the residual stream start at zero, and so can learn
    assert torch.equal(state["model.layers.2.self_attn.q_proj.weight"], state["model.layers.1.self_attn.q_proj.weight"])
    assert not state["model.layers.2.mlp.down_proj.weight"].any()


def test_growing_refuses_to_drop_layers(tiny_tokenizer):
    state = DimpleModel(random_config(tiny_tokenizer, layers=2)).state_dict()
    assert grow_depth(state, 2) is state
    with pytest.raises(ValueError, match="shrink"):
        grow_depth(state, 1)


def _with_image(model, tokenizer) -> torch.Tensor:
    """Logits of a prompt with one 56x56 image, so the vision tower and projector take part."""
    from PIL import Image

    from dimple.processing import DimpleImageProcessor, encode_prompt

    image = Image.new("RGB", (56, 56), (200, 40, 40))
    inputs = encode_prompt(tokenizer, DimpleImageProcessor(), "Describe the image.", image)
    with torch.no_grad():
        return model(**inputs).logits


def test_a_widened_model_computes_what_the_narrow_one_did(tiny_tokenizer):
    # The norms' eps is the one term that does not rescale with the width (a random model's stream is small
    # enough for eps=1e-6 to show at 1e-4), so this identity check sets it near zero.
    torch.manual_seed(0)
    narrow = DimpleModel(random_config(tiny_tokenizer, hidden=64, rms_norm_eps=1e-12)).eval()
    wide = DimpleModel(random_config(tiny_tokenizer, hidden=128, num_attention_heads=8, num_key_value_heads=4,
                                     mrope_section=[2, 3, 3], rms_norm_eps=1e-12)).eval()
    state = grow_width(narrow.state_dict(), wide)
    wide.load_state_dict(state)
    torch.testing.assert_close(_logits(wide, tiny_tokenizer), _logits(narrow, tiny_tokenizer))
    torch.testing.assert_close(_with_image(wide, tiny_tokenizer), _with_image(narrow, tiny_tokenizer))
    # the new stream dimensions start at zero; the reads of them are drawn, so that gradients reach the writes
    assert not state["model.embed_tokens.weight"][:, 64:].any()
    assert state["model.layers.0.self_attn.q_proj.weight"][:, 64:].std() > 0


def test_widening_refuses_heads_that_would_change_their_key_value_head(tiny_tokenizer):
    narrow = DimpleModel(random_config(tiny_tokenizer, hidden=64))  # 4 query heads share 2 key/value heads
    wide = DimpleModel(random_config(tiny_tokenizer, hidden=128, num_attention_heads=8, num_key_value_heads=2,
                                     mrope_section=[2, 3, 3]))
    with pytest.raises(ValueError, match="cannot widen"):
        grow_width(narrow.state_dict(), wide)
