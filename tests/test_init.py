"""Starting a Tiny run from earlier weights: a deeper model grown from shallower weights starts as the same function."""

import pytest
import torch

from dimple.modeling import DimpleModel
from dimple.tiny.init import grow_depth, n_layers

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
