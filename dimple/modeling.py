"""The Dimple architecture: Qwen2.5-VL vision tower + projector + bidirectional Qwen2 LM.

Owns the network and the checkpoint layout of the released Dimple-7B
(`visual.*`, `img_projector.*`, `model.*`, `lm_head`), where the multimodal
rotary positions (`dimple.rotary`) enter, and the attention masks
(full by default, causal for the autoregressive training phase), and, on
request only, the attention weights of chosen queries (`capture_attention`,
for grounding). The forward
returns raw logits: output i predicts token i + 1 (the engine shifts them); it
is the `dimple.protocol.CachedDenoiser` the engine decodes with.

It reuses transformers' Qwen2.5-VL vision tower (same parameter names, window
and full-attention blocks) and writes the language side here, because Dimple's
LM attends in both directions and keeps an explicit key/value cache
(`dimple.kv_cache`). It does not know about decoding schedules, tokenizers or
image files.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn
from transformers import PreTrainedModel
from transformers.activations import ACT2FN
from transformers.utils import ModelOutput

from .diffusion_generate import DiffusionGenerationMixin
from .kv_cache import KVCache
from .model_config import DimpleConfig  # also what `from dimple.modeling import DimpleConfig` finds
from .rotary import apply_rotary, get_rope_index, mrope_cos_sin

@dataclass
class DimpleOutput(ModelOutput):
    logits: Optional[torch.FloatTensor] = None  # (batch, fed positions or logits_index, vocab), unshifted
    position_ids: Optional[torch.LongTensor] = None  # (3, batch, fed positions)


# ----- pure helpers ----------------------------------------------------------
def stacked_weights(params, memo: dict) -> torch.Tensor:
    """torch.cat(params) along the output dimension, for one matmul in place of several. Without autograd
    the result is kept in `memo` until a parameter is changed in place (an optimizer step, load_state_dict)
    or replaced (a move to another device or dtype)."""
    if torch.is_grad_enabled():
        return torch.cat(list(params))
    key = tuple((p.data_ptr(), p._version) for p in params)
    if memo.get("key") != key:
        memo["key"], memo["value"] = key, torch.cat([p.detach() for p in params])
    return memo["value"]


def build_attention_mask(
    attention_mask: Optional[torch.Tensor], causal: bool, rows: Optional[torch.Tensor], total: int, device
) -> Optional[torch.Tensor]:
    """Boolean (batch, 1, queries, keys) mask, or None when every pair may attend.

    As in Dimple: a padded position sees nothing but itself. `rows` are the
    query positions fed in this forward (None: all `total` positions).
    """
    if attention_mask is None or bool(attention_mask.all()):
        if not causal:
            return None
        idx = torch.arange(total, device=device)
        mask = (idx[None, :] <= idx[:, None])[None, None]
    else:
        valid = attention_mask.bool()
        mask = valid[:, None, None, :] & valid[:, None, :, None]
        if causal:
            idx = torch.arange(total, device=device)
            mask = mask & (idx[None, :] <= idx[:, None])[None, None]
        mask = mask | torch.eye(total, dtype=torch.bool, device=device)[None, None]
    return mask if rows is None else mask[:, :, rows]


# ----- language model --------------------------------------------------------
class DimpleRMSNorm(nn.Module):
    def __init__(self, hidden_size: int, eps: float = 1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(hidden_size))
        self.variance_epsilon = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # x * rsqrt(mean(x^2) + eps) in float32, as one fused op (with the scale, where that is float32 too)
        if x.dtype == self.weight.dtype == torch.float32:
            return F.rms_norm(x, (x.shape[-1],), self.weight, self.variance_epsilon)
        normed = F.rms_norm(x.float(), (x.shape[-1],), eps=self.variance_epsilon)
        return self.weight * normed.to(x.dtype)


class DimpleRotaryEmbedding(nn.Module):
    def __init__(self, config: DimpleConfig):
        super().__init__()
        dim = config.head_dim
        inv_freq = 1.0 / (config.rope_theta ** (torch.arange(0, dim, 2, dtype=torch.int64).float() / dim))
        self.register_buffer("inv_freq", inv_freq, persistent=False)

    @torch.no_grad()
    def forward(self, x: torch.Tensor, position_ids: torch.Tensor):
        # position_ids: (3, batch, seq) -> cos/sin (3, batch, seq, head_dim), computed in float32
        freqs = position_ids[..., None].float() * self.inv_freq.float().to(x.device)
        emb = torch.cat((freqs, freqs), dim=-1)
        return emb.cos().to(x.dtype), emb.sin().to(x.dtype)


class DimpleMLP(nn.Module):
    def __init__(self, config: DimpleConfig):
        super().__init__()
        self.gate_proj = nn.Linear(config.hidden_size, config.intermediate_size, bias=False)
        self.up_proj = nn.Linear(config.hidden_size, config.intermediate_size, bias=False)
        self.down_proj = nn.Linear(config.intermediate_size, config.hidden_size, bias=False)
        self.act_fn = ACT2FN[config.hidden_act]
        self.fused: Optional[dict] = None  # set by fuse_projections: gate and up as one matmul

    def forward(self, x):
        if self.fused is None:
            return self.down_proj(self.act_fn(self.gate_proj(x)) * self.up_proj(x))
        gate, up = F.linear(x, stacked_weights((self.gate_proj.weight, self.up_proj.weight), self.fused)).chunk(2, -1)
        return self.down_proj(self.act_fn(gate) * up)


class DimpleAttention(nn.Module):
    def __init__(self, config: DimpleConfig, layer_idx: int):
        super().__init__()
        self.layer_idx = layer_idx
        self.num_heads = config.num_attention_heads
        self.num_kv_heads = config.num_key_value_heads
        self.head_dim = config.head_dim
        self.dropout = config.attention_dropout
        self.q_proj = nn.Linear(config.hidden_size, self.num_heads * self.head_dim, bias=True)
        self.k_proj = nn.Linear(config.hidden_size, self.num_kv_heads * self.head_dim, bias=True)
        self.v_proj = nn.Linear(config.hidden_size, self.num_kv_heads * self.head_dim, bias=True)
        self.o_proj = nn.Linear(self.num_heads * self.head_dim, config.hidden_size, bias=False)
        self.fused: Optional[dict] = None  # set by fuse_projections: q, k and v as one matmul
        self.capture: dict = {}  # set by capture_attention: thread id -> {"rows": query rows, "maps": list}

    def project(self, x):
        """x (batch, seq, hidden) -> queries and keys together (batch, seq, heads + kv_heads, head_dim),
        values (batch, seq, kv_heads, head_dim). Queries and keys side by side rotate in one call."""
        if self.fused is None:
            qk, v = torch.cat([self.q_proj(x), self.k_proj(x)], dim=-1), self.v_proj(x)
        else:
            w = stacked_weights((self.q_proj.weight, self.k_proj.weight, self.v_proj.weight), self.fused)
            b = stacked_weights((self.q_proj.bias, self.k_proj.bias, self.v_proj.bias), self.fused.setdefault("bias", {}))
            qk, v = F.linear(x, w, b).split([(self.num_heads + self.num_kv_heads) * self.head_dim,
                                              self.num_kv_heads * self.head_dim], dim=-1)
        return qk.unflatten(-1, (-1, self.head_dim)), v.unflatten(-1, (-1, self.head_dim))

    def forward(self, x, cos, sin, mask, cache: Optional[KVCache]):
        bsz, seq, _ = x.shape
        qk, v = self.project(x)
        q, k = apply_rotary(qk, cos, sin).split([self.num_heads, self.num_kv_heads], dim=2)
        q, k, v = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)  # (batch, heads, seq, head_dim)
        if cache is not None:
            k, v = cache.extend(self.layer_idx, k, v)
        if self.capture:  # off the hot path: only while a capture_attention block runs (in some thread)
            spec = self.capture.get(threading.get_ident())
            if spec is not None:
                spec["maps"].append(attention_weights(q, k, mask, spec["rows"]))
        out = attend(q, k, v, mask, self.dropout if self.training else 0.0, self.num_kv_heads != self.num_heads)
        return self.o_proj(out.transpose(1, 2).reshape(bsz, seq, -1))


def attend(q, k, v, mask, dropout_p: float, gqa: bool) -> torch.Tensor:
    """Scaled dot-product attention (batch, heads, seq, head_dim). Under CPU autocast (bf16 training) it runs in
    float32 and returns the autocast dtype: torch's CPU bf16 attention is slower than its float32 one at small
    heads (Tiny 3's 8 layers of 32-wide heads, 48 x 200 tokens, forward and backward on one AMD EPYC core: 2.59
    against 2.32 s). Without autocast (every decode) the inputs' own dtype is kept, so inference is unchanged."""
    if q.device.type == "cpu" and torch.is_autocast_enabled("cpu"):
        with torch.autocast("cpu", enabled=False):
            out = F.scaled_dot_product_attention(q.float(), k.float(), v.float(), attn_mask=mask,
                                                 dropout_p=dropout_p, enable_gqa=gqa)
        return out.to(torch.get_autocast_dtype("cpu"))
    if gqa and q.device.type == "cpu" and dropout_p == 0.0 and (mask is None or mask.shape[1] == 1):
        return grouped_query_attention(q, k, v, mask)
    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout_p, enable_gqa=gqa)


def grouped_query_attention(q, k, v, mask) -> torch.Tensor:
    """Grouped-query attention as one head per key/value head: the query heads that share a key/value head
    (head h reads head h // group) become rows of it, so no key is repeated. q (batch, heads, seq, head_dim), k and
    v (batch, kv_heads, keys, head_dim), mask None or (batch, 1, seq, keys), the same for every head. Why: torch's
    CPU attention with `enable_gqa` in bf16 takes 0.78 ms per 7B layer for one query over 301 keys, this 0.06 ms
    (1.86 against 1.00 ms at 33 queries; AMD EPYC Zen 5, two threads; `scripts/attention_ab.py --layer-only`):
    over 28 layers about a tenth of the int8 7B's cached 1-token pass."""
    batch, heads, seq, dim = q.shape
    group = heads // k.shape[1]
    rows = q.reshape(batch, k.shape[1], group * seq, dim)  # (batch, kv_heads, group x seq, head_dim)
    if mask is not None:
        mask = mask.repeat(1, 1, group, 1)  # the rows of each group in the order of `rows`
    return F.scaled_dot_product_attention(rows, k, v, attn_mask=mask).reshape(batch, heads, seq, dim)


def attention_weights(q, k, mask, rows: torch.Tensor) -> torch.Tensor:
    """softmax(q k^T / sqrt(d)) of the query `rows` (fed positions) over every key: (batch, heads, rows, keys),
    float32, with the boolean mask applied; key/value heads repeated for grouped-query attention."""
    q = q[:, :, rows].float()
    k = k.float().repeat_interleave(q.shape[1] // k.shape[1], dim=1)
    scores = q @ k.transpose(-1, -2) / q.shape[-1] ** 0.5
    if mask is not None:
        scores = scores.masked_fill(~mask[:, :, rows], float("-inf"))
    return scores.softmax(dim=-1)


@contextmanager
def capture_attention(model, rows: torch.Tensor):
    """Within the block, every forward of `model` appends each layer's attention of the query `rows`
    ((batch, heads, rows, keys) per layer, in layer order) to the list it yields. For grounding requests only:
    it costs a second attention computation per layer. Only this thread's forwards are captured: a decode
    another user runs meanwhile on the same model is left alone."""
    maps: list = []
    me = threading.get_ident()
    layers = [m for m in model.modules() if isinstance(m, DimpleAttention)]
    for m in layers:
        m.capture[me] = {"rows": rows, "maps": maps}
    try:
        yield maps
    finally:
        for m in layers:
            m.capture.pop(me, None)


class DimpleDecoderLayer(nn.Module):
    def __init__(self, config: DimpleConfig, layer_idx: int):
        super().__init__()
        self.self_attn = DimpleAttention(config, layer_idx)
        self.mlp = DimpleMLP(config)
        self.input_layernorm = DimpleRMSNorm(config.hidden_size, config.rms_norm_eps)
        self.post_attention_layernorm = DimpleRMSNorm(config.hidden_size, config.rms_norm_eps)

    def forward(self, x, cos, sin, mask, cache):
        x = x + self.self_attn(self.input_layernorm(x), cos, sin, mask, cache)
        return x + self.mlp(self.post_attention_layernorm(x))


class DimpleTextModel(nn.Module):
    """The `model.*` part of the checkpoint: embeddings, decoder layers, final norm."""

    def __init__(self, config: DimpleConfig):
        super().__init__()
        self.embed_tokens = nn.Embedding(config.vocab_size, config.hidden_size, config.pad_token_id)
        self.layers = nn.ModuleList(DimpleDecoderLayer(config, i) for i in range(config.num_hidden_layers))
        self.norm = DimpleRMSNorm(config.hidden_size, config.rms_norm_eps)
        self.rotary_emb = DimpleRotaryEmbedding(config)
        self.mrope_section = config.mrope_section

    def forward(self, embeds, position_ids, mask, cache: Optional[KVCache]):
        def angles():
            return mrope_cos_sin(*self.rotary_emb(embeds, position_ids), self.mrope_section)

        cos, sin = cache.angles(angles) if cache is not None else angles()
        h = embeds
        for layer in self.layers:
            h = layer(h, cos, sin, mask, cache)
        return self.norm(h)


class DimpleMultiModalProjector(nn.Module):
    """The extra 2-layer MLP Dimple puts after the Qwen2.5-VL merger."""

    def __init__(self, config: DimpleConfig):
        super().__init__()
        out = config.vision_config.get("out_hidden_size", config.hidden_size)
        self.linear_1 = nn.Linear(out, config.hidden_size, bias=True)
        self.act = ACT2FN[config.hidden_act]
        self.linear_2 = nn.Linear(config.hidden_size, config.hidden_size, bias=True)

    def forward(self, x):
        return self.linear_2(self.act(self.linear_1(x)))


# ----- the whole model -------------------------------------------------------
class DimplePreTrainedModel(PreTrainedModel):
    config_class = DimpleConfig
    config: DimpleConfig
    base_model_prefix = ""
    supports_gradient_checkpointing = False
    _no_split_modules = ["DimpleDecoderLayer", "Qwen2_5_VLVisionBlock"]
    _supports_sdpa = True

    @torch.no_grad()
    def _init_weights(self, module):
        std = self.config.initializer_range
        if isinstance(module, (nn.Linear, nn.Conv3d)):
            module.weight.normal_(0.0, std)
            if module.bias is not None:
                module.bias.zero_()
        elif isinstance(module, nn.Embedding):
            module.weight.normal_(0.0, std)
        elif hasattr(module, "weight") and isinstance(getattr(module, "weight"), nn.Parameter) and module.weight.dim() == 1:
            module.weight.fill_(1.0)  # RMSNorm scales
        if isinstance(module, DimpleRotaryEmbedding):
            module.inv_freq.copy_(DimpleRotaryEmbedding(self.config).inv_freq)


class DimpleModel(DiffusionGenerationMixin, DimplePreTrainedModel):
    """Dimple: discrete diffusion multimodal LM (Yu, Ma, Wang 2025, arXiv 2505.16990).

    `diffusion_generate` is the released model card's call (see `dimple.diffusion_generate`).
    """

    def __init__(self, config: DimpleConfig):
        super().__init__(config)
        config.validate_shapes()
        # imported here, not at the top: registering DimpleModel with AutoModel (`import dimple`) must not
        # load transformers' Qwen2.5-VL modelling code; building a model does
        from transformers.models.qwen2_5_vl.modeling_qwen2_5_vl import Qwen2_5_VisionTransformerPretrainedModel

        self.visual = Qwen2_5_VisionTransformerPretrainedModel._from_config(config.vision())
        self.model = DimpleTextModel(config)
        self.lm_head = nn.Linear(config.hidden_size, config.vocab_size, bias=False)
        self.img_projector = DimpleMultiModalProjector(config)
        self.post_init()

    def get_input_embeddings(self):
        return self.model.embed_tokens

    def get_output_embeddings(self):
        return self.lm_head

    def rope_index(self, input_ids, image_grid_thw=None, attention_mask=None):
        return get_rope_index(
            input_ids, image_grid_thw, attention_mask,
            image_token_id=self.config.image_token_id,
            vision_start_token_id=self.config.vision_start_token_id,
            spatial_merge_size=self.config.vision_config.get("spatial_merge_size", 2),
        )

    def image_features(self, pixel_values: torch.Tensor, image_grid_thw: torch.Tensor) -> torch.Tensor:
        """(patches, 1176) -> (merged image tokens, hidden): vision tower, merger, projector."""
        dtype = self.visual.patch_embed.proj.weight.dtype
        out = self.visual(pixel_values.to(dtype), grid_thw=image_grid_thw)
        feats = out.pooler_output if hasattr(out, "pooler_output") else out
        return self.img_projector(feats.to(self.model.embed_tokens.weight.dtype))

    def embed(self, input_ids, pixel_values=None, image_grid_thw=None):
        embeds = self.model.embed_tokens(input_ids)
        is_image = input_ids == self.config.image_token_id
        if pixel_values is None or not bool(is_image.any()):
            return embeds
        feats = self.image_features(pixel_values, image_grid_thw)
        if feats.shape[0] != int(is_image.sum()):
            raise ValueError(f"image features ({feats.shape[0]}) and image tokens ({int(is_image.sum())}) differ")
        return embeds.masked_scatter(is_image.unsqueeze(-1), feats.to(embeds.dtype))

    def forward(
        self,
        input_ids: torch.LongTensor,
        attention_mask: Optional[torch.Tensor] = None,
        pixel_values: Optional[torch.Tensor] = None,
        image_grid_thw: Optional[torch.LongTensor] = None,
        position_ids: Optional[torch.LongTensor] = None,
        cache: Optional[KVCache] = None,
        causal: bool = False,
        logits_index: Optional[torch.LongTensor] = None,
    ) -> DimpleOutput:
        """input_ids: the whole sequence, or with a filled `cache` only the positions it asks for.

        attention_mask (batch, total length) and position_ids (3, batch, total
        length) always describe the whole sequence; positions are computed from
        input_ids and image_grid_thw when not given (whole sequence only).
        logits_index (batch, n): compute logits only at these fed positions (the
        vocabulary projection is the widest matrix; a decoder needs a few rows).
        """
        rows = cache.query_index() if cache is not None else None
        total = input_ids.shape[1] if rows is None else cache.total
        if position_ids is None:
            if rows is not None:
                raise ValueError("pass position_ids for the whole sequence when feeding part of it through a cache")
            position_ids, _ = self.rope_index(input_ids, image_grid_thw, attention_mask)
        if rows is not None and position_ids.shape[-1] == total:
            position_ids = position_ids[..., rows]
        embeds = self.embed(input_ids, pixel_values, image_grid_thw)
        causal = causal or not self.config.full_attn_mask
        mask = build_attention_mask(attention_mask, causal, rows, total, input_ids.device)
        hidden = self.model(embeds, position_ids, mask, cache)
        if cache is not None and not cache.filled:
            cache.mark_filled(total)
        if logits_index is not None:
            hidden = torch.gather(hidden, 1, logits_index[..., None].expand(-1, -1, hidden.shape[-1]))
        return DimpleOutput(logits=self.lm_head(hidden), position_ids=position_ids)
