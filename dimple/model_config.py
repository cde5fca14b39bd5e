"""DimpleConfig: the shapes and special token ids of a Dimple checkpoint (its config.json).

Owns the configuration class that transformers' AutoConfig finds under
model_type "dimple", its Dimple-7B defaults, the vision tower's settings in
Qwen2.5-VL's form and the shape checks. It is apart from `dimple.modeling`
so that reading or registering a config loads no modelling code (transformers'
Qwen2.5-VL vision tower is imported only when a model is built). It does not
know the network, decoding or tokenizers.
"""

from __future__ import annotations

from transformers import PreTrainedConfig
from transformers.models.qwen2_5_vl.configuration_qwen2_5_vl import Qwen2_5_VLVisionConfig

VISION_KEYS = (
    "depth", "hidden_size", "hidden_act", "intermediate_size", "num_heads", "in_channels", "patch_size",
    "spatial_merge_size", "temporal_patch_size", "tokens_per_second", "window_size", "out_hidden_size",
    "fullatt_block_indexes", "initializer_range",
)


class DimpleConfig(PreTrainedConfig):
    """Defaults are Dimple-7B's (Dream-7B / Qwen2.5-7B language dimensions)."""

    model_type = "dimple"

    vocab_size: int = 152064
    hidden_size: int = 3584
    intermediate_size: int = 18944
    num_hidden_layers: int = 28
    num_attention_heads: int = 28
    num_key_value_heads: int = 4
    hidden_act: str = "silu"
    max_position_embeddings: int = 131072
    initializer_range: float = 0.02
    rms_norm_eps: float = 1e-6
    rope_theta: float = 1000000.0
    mrope_section: list | None = None  # rotary pairs given to (temporal, height, width); sums to head_dim / 2
    attention_dropout: float = 0.0
    full_attn_mask: bool = True  # bidirectional attention (Dimple); False only for causal experiments
    tie_word_embeddings: bool = False
    use_cache: bool = False
    vision_config: dict | None = None
    bos_token_id: int | None = None
    eos_token_id: int | None = None
    pad_token_id: int | None = None
    mask_token_id: int | None = None
    image_token_id: int | None = None
    video_token_id: int | None = None
    vision_start_token_id: int | None = None
    vision_end_token_id: int | None = None
    vision_token_id: int | None = None

    def __post_init__(self, **kwargs):
        if self.mrope_section is None:
            self.mrope_section = [16, 24, 24]
        if self.vision_config is None:
            self.vision_config = {}
        elif not isinstance(self.vision_config, dict):
            self.vision_config = self.vision_config.to_dict()
        super().__post_init__(**kwargs)

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_attention_heads

    def vision(self) -> Qwen2_5_VLVisionConfig:
        """The vision tower's config in transformers' Qwen2.5-VL form."""
        known = {k: v for k, v in self.vision_config.items() if k in VISION_KEYS}
        known.setdefault("out_hidden_size", self.hidden_size)
        cfg = Qwen2_5_VLVisionConfig(**known)
        cfg._attn_implementation = "sdpa"
        return cfg

    def validate_shapes(self) -> None:
        if self.hidden_size % self.num_attention_heads:
            raise ValueError("hidden_size must be divisible by num_attention_heads")
        if self.num_attention_heads % self.num_key_value_heads:
            raise ValueError("num_attention_heads must be divisible by num_key_value_heads")
        if 2 * sum(self.mrope_section) != self.head_dim:
            raise ValueError(f"mrope_section {self.mrope_section} must sum to head_dim / 2 = {self.head_dim // 2}")
