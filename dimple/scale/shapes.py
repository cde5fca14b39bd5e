"""The named model shapes of the scale measurement, and the settings of one run, as one table.

Owns `SHAPES` (gpt-fast style: every size the scale tool knows, from
Dimple-Tiny's to the released Dimple-7B's, read from
dimple/scale/dimple-7b-parameters.json) and `ScaleSettings` (what one
measurement feeds: token counts, the image, the canvas, the fixed pass count).
`dimple_config(shape)` turns a row into a `DimpleConfig`. It does not build
weights, write files or time anything.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from ..model_config import DimpleConfig

SPEC_7B = Path(__file__).resolve().parent / "dimple-7b-parameters.json"

# special token ids: Qwen2.5-VL's (the released tokenizer) and Dimple-Tiny's (small vocabularies)
QWEN_IDS = dict(pad_token_id=151643, eos_token_id=151643, vision_start_token_id=151652, vision_end_token_id=151653,
                vision_token_id=151654, image_token_id=151655, video_token_id=151656, mask_token_id=151666)
TINY_IDS = dict(pad_token_id=0, eos_token_id=1, bos_token_id=2, vision_start_token_id=4, vision_end_token_id=5,
                image_token_id=6, video_token_id=7, vision_token_id=8, mask_token_id=9)
GiB = 2**30


def _vision(depth: int, hidden: int, intermediate: int, heads: int, out: int, window: int, full: list) -> dict:
    return dict(depth=depth, hidden_size=hidden, intermediate_size=intermediate, num_heads=heads,
                out_hidden_size=out, window_size=window, fullatt_block_indexes=full, hidden_act="silu",
                patch_size=14, spatial_merge_size=2, temporal_patch_size=2, in_channels=3)


@dataclass(frozen=True)
class ScaleShape:
    name: str  # the --shape name
    hidden: int  # language model width
    intermediate: int  # MLP width
    layers: int  # decoder layers
    heads: int  # query heads; head_dim = hidden / heads
    kv_heads: int  # key/value heads (grouped-query attention)
    vocab: int  # vocabulary (embedding rows and lm_head outputs)
    mrope: tuple  # rotary pairs per (temporal, height, width) axis; sums to head_dim / 2
    vision: dict  # the vision tower's config (Qwen2.5-VL names)
    rope_theta: float = 1_000_000.0  # rotary base
    shard_gib: float = 2.0  # largest safetensors shard written (the writer holds one shard at a time)
    repeats: int = 3  # timed repeats per forward (best kept); the largest shapes afford one
    warmup: bool = True  # an untimed call before each timed forward (7B: the cache-filling pass warms the kernels)
    note: str = ""  # where the dimensions come from

    def validate(self) -> "ScaleShape":
        for name in ("hidden", "intermediate", "layers", "heads", "kv_heads", "vocab", "repeats"):
            if getattr(self, name) < 1:
                raise ValueError(f"{self.name}: {name} must be >= 1, got {getattr(self, name)}")
        if self.hidden % self.heads or self.heads % self.kv_heads:
            raise ValueError(f"{self.name}: hidden must divide by heads and heads by kv_heads")
        if 2 * sum(self.mrope) != self.hidden // self.heads:
            raise ValueError(f"{self.name}: mrope {self.mrope} must sum to head_dim / 2 = {self.hidden // self.heads // 2}")
        if self.shard_gib <= 0:
            raise ValueError(f"{self.name}: shard_gib must be > 0, got {self.shard_gib}")
        return self

    @property
    def special_ids(self) -> dict:
        return QWEN_IDS if self.vocab > QWEN_IDS["mask_token_id"] else TINY_IDS


def _released_7b() -> ScaleShape:
    spec = json.loads(SPEC_7B.read_text())["config"]
    v = spec["vision_config"]
    vision = _vision(v["depth"], v["hidden_size"], v["intermediate_size"], v["num_heads"], v["out_hidden_size"],
                     v["window_size"], list(v["fullatt_block_indexes"]))
    return ScaleShape("7b", spec["hidden_size"], spec["intermediate_size"], spec["num_hidden_layers"],
                      spec["num_attention_heads"], spec["num_key_value_heads"], spec["vocab_size"],
                      tuple(spec["mrope_section"]), vision, float(spec["rope_theta"]), repeats=1, warmup=False,
                      note="the released Dimple-7B config (dimple/scale/dimple-7b-parameters.json)")


SHAPES: dict[str, ScaleShape] = {s.name: s.validate() for s in (
    ScaleShape("tiny", 128, 384, 4, 4, 2, 566, (4, 6, 6), _vision(2, 64, 128, 2, 128, 28, [1]), 10_000.0,
               note="Dimple-Tiny's shape (assets/dimple-tiny/config.json)"),
    ScaleShape("0.1b", 640, 2560, 12, 10, 2, 32768, (8, 12, 12), _vision(4, 256, 684, 4, 640, 112, [3]),
               note="a 0.1B model: 12 layers at width 640, a 32k vocabulary"),
    ScaleShape("0.5b", 896, 4864, 24, 14, 2, 151936, (8, 12, 12), _vision(8, 640, 1710, 10, 896, 112, [3, 7]),
               note="Qwen2.5-0.5B's language dimensions, an 8-block vision tower"),
    ScaleShape("1.5b", 1536, 8960, 28, 12, 2, 151936, (16, 24, 24),
               _vision(16, 1280, 3420, 16, 1536, 112, [3, 7, 11, 15]), repeats=2,
               note="Qwen2.5-1.5B's language dimensions, half the released vision tower"),
    _released_7b(),
)}


def get_shape(name: str) -> ScaleShape:
    if name not in SHAPES:
        raise ValueError(f"shape must be one of {', '.join(SHAPES)}; got {name!r}")
    return SHAPES[name]


def dimple_config(shape: ScaleShape) -> DimpleConfig:
    """The DimpleConfig of a shape: bidirectional attention, untied lm_head, the shape's special ids."""
    return DimpleConfig(
        vocab_size=shape.vocab, hidden_size=shape.hidden, intermediate_size=shape.intermediate,
        num_hidden_layers=shape.layers, num_attention_heads=shape.heads, num_key_value_heads=shape.kv_heads,
        mrope_section=list(shape.mrope), rope_theta=shape.rope_theta, max_position_embeddings=32768,
        vision_config=dict(shape.vision), tie_word_embeddings=False, **shape.special_ids,
    )


@dataclass(frozen=True)
class ScaleSettings:
    fed_tokens: tuple = (1, 16, 64, 256, 512)  # tokens one timed forward feeds (cached and uncached)
    image_side: int = 448  # square image, pixels: (side / 28)^2 = 256 image tokens at 448
    text_tokens: int = 42  # prompt text around the image (system, question, turn markers): P = 42 + 258 = 300
    canvas: int = 32  # response canvas (R)
    steps: int = 8  # fixed pass count: threshold off, so the schedule alone decides and both decodes take `steps` passes
    scored: int = 32  # rows a timed forward projects onto the vocabulary (what a decoder scores)
    bandwidth_gib: float = 1.0  # tensor streamed to measure memory read bandwidth
    matmul_rows: tuple = (1, 33, 512)  # rows of the widest-matmul kernel check (default vs prepacked weight)
    seed: int = 0  # random weights and inputs
    threads: int = 2  # torch threads on a CPU
    extra: dict = field(default_factory=dict)  # free-form notes carried into the result

    def validate(self) -> "ScaleSettings":
        if not self.fed_tokens or min(self.fed_tokens) < 1:
            raise ValueError(f"fed_tokens must be positive counts, got {self.fed_tokens}")
        if self.image_side < 28 or self.image_side % 28:
            raise ValueError(f"image_side must be a positive multiple of 28, got {self.image_side}")
        for name in ("text_tokens", "canvas", "steps", "scored", "threads"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.steps > self.canvas:
            raise ValueError(f"steps ({self.steps}) must not exceed canvas ({self.canvas})")
        if self.bandwidth_gib <= 0:
            raise ValueError(f"bandwidth_gib must be > 0, got {self.bandwidth_gib}")
        return self

    @property
    def image_tokens(self) -> int:
        return (self.image_side // 28) ** 2

    @property
    def prompt_tokens(self) -> int:
        return self.text_tokens + self.image_tokens + 2  # + vision start / end
