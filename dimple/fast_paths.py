"""Same-function speed-ups of the Dimple network for small models on a CPU.

Owns two switches that change how the network computes, never what: q/k/v and
gate/up as one matmul each (`fuse_projections`), and the vision tower's
window attention as one batched call (`batch_vision_windows`). Both exist
because per-call costs, not arithmetic, dominate Dimple-Tiny's passes on a
CPU; tests/test_modeling.py checks each against the plain network. It knows
nothing of decoding, weights on disk or devices other than through the model.
"""

from __future__ import annotations

import torch.nn.functional as F

from .modeling import DimpleAttention, DimpleMLP


def fuse_projections(model, max_parameters: int = 50_000_000) -> bool:
    """Compute q/k/v and gate/up as one matmul each (same function, fewer calls) in models small enough
    that per-call costs dominate, as Dimple-Tiny on a CPU. The stacked copies of the weights are kept while
    decoding, which is why a 7B model (about 4B parameters more) is left as it is. Returns whether it fused."""
    if sum(p.numel() for p in model.parameters()) > max_parameters:
        return False
    for module in model.modules():
        if isinstance(module, (DimpleAttention, DimpleMLP)):
            module.fused = {}
    return True


def batch_vision_windows(model) -> None:
    """Run the vision tower's window attention as one batched call instead of transformers' loop over
    windows, when all windows have the same length (images whose sides are multiples of the window, as
    in the drawn world); otherwise the original loop runs. Same function, checked in
    tests/test_modeling.py; on a CPU the loop's per-window calls cost more than the tiny model's steps."""
    import types

    from transformers.models.qwen2_5_vl import modeling_qwen2_5_vl as qv

    if getattr(model, "hf_device_map", None):  # accelerate's dispatch hooks wrap `forward`; leave them be
        return

    def vision_attn_forward(self, hidden_states, cu_seqlens, position_embeddings=None, max_seqlen=None, **kwargs):
        lengths = cu_seqlens[1:] - cu_seqlens[:-1]
        n, size = lengths.numel(), int(lengths[0])
        if not bool((lengths == size).all()):
            return type(self).forward(self, hidden_states, cu_seqlens, position_embeddings, max_seqlen, **kwargs)
        seq = hidden_states.shape[0]
        q, k, v = self.qkv(hidden_states).reshape(seq, 3, self.num_heads, -1).permute(1, 0, 2, 3).unbind(0)
        cos, sin = position_embeddings
        q, k = qv.apply_rotary_pos_emb_vision(q, k, cos, sin)
        q, k, v = (x.reshape(n, size, self.num_heads, -1).transpose(1, 2) for x in (q, k, v))
        out = F.scaled_dot_product_attention(q, k, v, scale=self.scaling)
        return self.proj(out.transpose(1, 2).reshape(seq, -1))

    for module in model.modules():
        if isinstance(module, qv.Qwen2_5_VLVisionAttention):
            module.forward = types.MethodType(vision_attn_forward, module)
