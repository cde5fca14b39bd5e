"""dimple.int4_sequential: calibrated int4 rounds block by block on inputs recorded in one calibration run."""

import logging

import pytest
import torch
from torch import nn

from dimple.int4_sequential import ChainCapture, linear_chains, quantize_sequentially
from dimple.kv_cache import PrefixKVCache


class Block(nn.Module):
    """x + W x, with an extra argument passed through as the decoder layers' angles and mask are."""

    def __init__(self, width: int):
        super().__init__()
        self.proj = nn.Linear(width, width, bias=False)

    def forward(self, x, scale, cache=None):
        return x + scale * self.proj(x)


class Chain(nn.Module):
    def __init__(self, width: int = 8, blocks: int = 3, skip: bool = False):
        super().__init__()
        self.layers = nn.ModuleList(Block(width) for _ in range(blocks))
        self.head = nn.Linear(width, 4, bias=False)
        self.skip = skip

    def forward(self, x, cache=None):
        h = x
        for i, layer in enumerate(self.layers):
            h = layer(x if self.skip and i == 1 else h, 0.5, cache)
        return self.head(h)


def _crude_replace(model, seen):
    """replace(name, hessian): records the hessian and rounds the weight to a coarse grid in place."""
    def replace(name, hessian):
        seen[name] = hessian
        layer = model.get_submodule(name)
        with torch.no_grad():
            layer.weight.copy_((layer.weight * 4).round() / 4)
    return replace


def test_linear_chains_are_the_module_lists_of_blocks_and_the_head_stays_loose():
    model = Chain()
    names = [n for n, m in model.named_modules() if isinstance(m, nn.Linear)]
    chains = linear_chains(model, names)
    assert chains == {"layers": [["layers.0.proj"], ["layers.1.proj"], ["layers.2.proj"]]}
    assert linear_chains(model, ["head"]) == {}  # no block holds a named linear: no chain


def test_each_block_is_rounded_against_what_the_rounded_blocks_before_it_feed_it():
    torch.manual_seed(0)
    model, reference = Chain(), Chain()
    reference.load_state_dict(model.state_dict())
    xs = [torch.randn(5, 8), torch.randn(3, 8)]
    runs = []
    seen = {}
    names = [n for n, m in model.named_modules() if isinstance(m, nn.Linear)]
    quantize_sequentially(model, names, lambda m: runs.append([m(x) for x in xs]), _crude_replace(model, seen))
    assert len(runs) == 1 and list(seen) == ["layers.0.proj", "layers.1.proj", "layers.2.proj", "head"]
    # block 2's statistics: its inputs through blocks 0 and 1 as rounded (the model now holds the rounded weights)
    with torch.no_grad():
        fed = [model.layers[1](model.layers[0](x, 0.5), 0.5) for x in xs]
        float_fed = [reference.layers[1](reference.layers[0](x, 0.5), 0.5) for x in xs]
    rows = torch.cat(fed)
    assert torch.allclose(seen["layers.2.proj"], rows.t() @ rows / len(rows), atol=1e-6)
    float_rows = torch.cat(float_fed)
    assert not torch.allclose(seen["layers.2.proj"], float_rows.t() @ float_rows / len(float_rows), atol=1e-6)


def test_a_chain_called_with_a_kv_cache_is_refused_naming_prefilling():
    model = Chain()
    names = [n for n, m in model.named_modules() if isinstance(m, nn.Linear)]
    with pytest.raises(ValueError, match="prefilling off"):
        quantize_sequentially(model, names, lambda m: m(torch.randn(2, 8), PrefixKVCache(1)),
                              _crude_replace(model, {}))


def test_blocks_that_return_tuples_chain_on_their_first_element():
    class TupleBlock(Block):
        def forward(self, x, scale, cache=None):
            return (super().forward(x, scale, cache), None)

    class TupleChain(Chain):
        def __init__(self):
            super().__init__()
            self.layers = nn.ModuleList(TupleBlock(8) for _ in range(3))

        def forward(self, x, cache=None):
            h = x
            for layer in self.layers:
                h = layer(h, 0.5, cache)[0]
            return self.head(h)

    model, seen = TupleChain(), {}
    names = [n for n, m in model.named_modules() if isinstance(m, nn.Linear)]
    quantize_sequentially(model, names, lambda m: m(torch.randn(4, 8)), _crude_replace(model, seen))
    assert all(seen[n] is not None for n in names)


def test_a_block_fed_something_but_the_block_before_s_output_is_refused():
    model = Chain(skip=True)  # block 1 is fed the chain's input, not block 0's output
    with pytest.raises(ValueError, match="not fed the output of the block before"):
        with ChainCapture(model, linear_chains(model, ["layers.0.proj", "layers.1.proj", "layers.2.proj"])):
            model(torch.randn(2, 8))


def test_a_chain_calibration_never_ran_is_rounded_on_its_own_with_a_warning(caplog):
    model = nn.ModuleDict({"used": Chain(), "unused": Chain()})
    names = [n for n, m in model.named_modules() if isinstance(m, nn.Linear)]
    seen = {}
    with caplog.at_level(logging.WARNING, logger="dimple.int4_sequential"):
        quantize_sequentially(model, names, lambda m: m["used"](torch.randn(4, 8)), _crude_replace(model, seen))
    assert seen.keys() == set(names)
    assert all(seen[n] is None for n in names if n.startswith("unused."))
    assert all(seen[n] is not None for n in names if n.startswith("used."))
    assert "never ran unused.layers" in caplog.text and "never ran 1 layer(s) (unused.head" in caplog.text
