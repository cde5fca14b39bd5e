"""GPTQ block by block on inputs captured once: the calibration run that `dimple.quantize` uses for int4.

Owns the order in which a calibrated int4 load rounds a model's linears and where each one's input statistics
come from. The calibration prompts decode once, on the float model, while `ChainCapture` records what enters
each chain of blocks (an `nn.ModuleList` whose blocks hold linears and are called one after another, each on
the previous one's output: the decoder layers, the vision tower's blocks) and, beside it, the inputs of the
linears outside any chain (the projector, the LM head). Then each chain is replayed a block at a time (the
GPTQ paper's order, Frantar et al. 2022, section 4): the block runs on its recorded inputs while
`dimple.int4_gptq.InputHessians` sums its linears' x x^T, its linears are rounded by GPTQ and swapped, and the
quantised block runs again to make the next block's inputs. So every block is rounded against what the partly
quantised model feeds it, each block is run twice in all, and only one block's statistics are held at a time
(a 7B decoder layer: about 1.5 GB of float32, most of it down_proj's 18944 x 18944). The loose linears are
rounded last, against the float model's inputs.

What it refuses: a call into a chain that carries state a replay cannot repeat (a KV cache, any object that is
not tensors, numbers, strings or None): the calibration must decode with prefilling off. A chain whose block
is fed something other than the block before's output (a residual carried around it, a skipped block) is
refused too, at capture. It does not know the int4 format (`dimple.int4`), the layers' classes (the caller
swaps them through `replace`), which prompts calibrate, or the Dimple architecture.
"""

from __future__ import annotations

import logging
from typing import Callable, Optional

import torch
from torch import nn

from .int4_gptq import InputHessians

log = logging.getLogger("dimple.int4_sequential")

Replace = Callable[[str, Optional[torch.Tensor]], None]  # (linear's name, its mean x x^T or None) -> swapped


def linear_chains(model: nn.Module, names: list[str]) -> dict[str, list[list[str]]]:
    """{ModuleList name: per block, the names among `names` inside it}, for every ModuleList of two or more
    blocks that each hold one of `names`. Outermost lists only: a list inside a chain's block is that block's."""
    chains: dict[str, list[list[str]]] = {}
    for list_name, module in model.named_modules():
        if not isinstance(module, nn.ModuleList) or len(module) < 2:
            continue
        if any(list_name.startswith(outer + ".") for outer in chains):
            continue
        prefix = f"{list_name}." if list_name else ""
        blocks = [[n for n in names if n.startswith(f"{prefix}{i}.")] for i in range(len(module))]
        if all(blocks):
            chains[list_name] = blocks
    return chains


def _replayable(value, where: str):
    """`value` detached, if a replay can pass it again as it was; otherwise ValueError naming its type."""
    if isinstance(value, torch.Tensor):
        return value.detach()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (tuple, list)):
        return type(value)(_replayable(v, where) for v in value)
    if isinstance(value, dict):
        return {k: _replayable(v, where) for k, v in value.items()}
    raise ValueError(f"int4 calibration replays each block on recorded inputs, but {where} was called with a "
                     f"{type(value).__name__} (state a replay cannot repeat, such as a KV cache): calibrate by "
                     "decoding with prefilling off")


def _first(output) -> torch.Tensor:
    """A block's hidden states: its output, or the first element of a tuple it returns."""
    return output[0] if isinstance(output, (tuple, list)) else output


class ChainCapture:
    """Forward hooks that record, for every call into each chain, its first block's input and every block's
    other arguments (references: the tensors a pass computes once, such as rotary angles, are held once):

        with ChainCapture(model, chains) as capture:
            run_calibration(model)
        capture.inputs["model.layers"]  # [the first block's input, per call]
        capture.arguments["model.layers"][i]  # [(args after the first, kwargs), per call] of block i
    """

    def __init__(self, model: nn.Module, chains: dict[str, list[list[str]]]):
        self.model, self.chains = model, chains
        self.inputs: dict[str, list[torch.Tensor]] = {name: [] for name in chains}
        self.arguments: dict[str, list[list[tuple]]] = {name: [[] for _ in blocks] for name, blocks in chains.items()}
        self._outputs: dict[str, object] = {}  # chain -> the last block output, which the next block must be fed
        self._hooks: list = []

    def _before(self, chain: str, index: int):
        def record(module, args, kwargs):
            where = f"{chain}.{index}"
            if not args:
                raise ValueError(f"int4 calibration replays {where} on its first positional input, but it was "
                                 "called without one")
            if index == 0:
                self.inputs[chain].append(args[0].detach())
            elif self._outputs.get(chain) is not args[0]:
                raise ValueError(f"int4 calibration replays {chain} block by block, but {where} was not fed the "
                                 "output of the block before it")
            self.arguments[chain][index].append((_replayable(tuple(args[1:]), where), _replayable(kwargs, where)))
        return record

    def _after(self, chain: str):
        def record(module, args, output):
            self._outputs[chain] = _first(output)  # what a chained next block is fed
        return record

    def __enter__(self) -> "ChainCapture":
        for chain, blocks in self.chains.items():
            for index, block in enumerate(self.model.get_submodule(chain)):
                self._hooks.append(block.register_forward_pre_hook(self._before(chain, index), with_kwargs=True))
                self._hooks.append(block.register_forward_hook(self._after(chain)))
        return self

    def __exit__(self, *exc) -> None:
        for hook in self._hooks:
            hook.remove()
        self._hooks, self._outputs = [], {}


def _replay_chain(model: nn.Module, chain: str, blocks: list[list[str]], capture: ChainCapture,
                  replace: Replace) -> None:
    """Round each block of `chain` against its inputs as the blocks before it, already rounded, compute them."""
    inputs = capture.inputs[chain]
    if not inputs:
        log.warning("int4 calibration never ran %s: its %d blocks' linears rounded each group on its own",
                    chain, len(blocks))
    for index, (block, names) in enumerate(zip(model.get_submodule(chain), blocks)):
        calls = capture.arguments[chain][index]
        if len(calls) != len(inputs):
            raise ValueError(f"int4 calibration replays {chain} block by block, but block {index} ran {len(calls)} "
                             f"times and the first {len(inputs)}: a pass left the chain early")
        with InputHessians(model, names) as hessians:
            for x, (args, kwargs) in zip(inputs, calls):
                block(x, *args, **kwargs)
        for name in names:
            replace(name, hessians.get(name))
        inputs = [_first(block(x, *args, **kwargs)) for x, (args, kwargs) in zip(inputs, calls)]
        capture.inputs[chain] = inputs  # the float inputs are released as the chain goes, and the block's arguments
        capture.arguments[chain][index] = []


def quantize_sequentially(model: nn.Module, names: list[str], calibrate: Callable[[nn.Module], None],
                          replace: Replace) -> None:
    """Calibrate once (`calibrate(model)` on the float model), then call replace(name, hessian) for every name:
    chained blocks first, a block at a time against the partly rounded model's inputs, the loose linears last.
    A linear the calibration never reached gets hessian None (rounded on its own) and a warning."""
    chains = linear_chains(model, names)
    chained = {n for blocks in chains.values() for names_ in blocks for n in names_}
    loose = [n for n in names if n not in chained]
    with torch.no_grad():
        with InputHessians(model, loose) as loose_hessians, ChainCapture(model, chains) as capture:
            calibrate(model)
        for chain, blocks in chains.items():
            _replay_chain(model, chain, blocks, capture, replace)
    unseen = [n for n in loose if loose_hessians.get(n) is None]
    if unseen:
        log.warning("int4 calibration never ran %d layer(s) (%s...): rounded each group on its own",
                    len(unseen), unseen[0])
    for name in loose:
        replace(name, loose_hessians.get(name))
