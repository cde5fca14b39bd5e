"""Dimple-Tiny's sizes, in one table: the canvas it is trained and evaluated with, its image settings.

Owns the numbers that training, evaluation, the benchmark and the app's card
must agree on, and the one factory of Tiny's image processor. It knows
nothing of the world's content or of training.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from dimple.processing import CLIP_MEAN, CLIP_STD, DimpleImageProcessor


@dataclass(frozen=True)
class TinySettings:
    # response canvas of the shipped Tiny 2: its longest answer (6 objects as JSON, 48 tokens) and its end fit. Tiny 3's
    # answer forms need 96 (6 objects in clauses, about 70 tokens): its runs pass --canvas-len 96 (docs/tiny.md)
    canvas: int = 52
    drawn_side: int = 168  # pixels of a drawn scene (what people see)
    model_side: int = 84  # pixels the processor resizes to: 3x3 merged tokens of 28 px, one per cell
    min_pixels: int = 56 * 56  # the processor's smallest area (Qwen2-VL's default)
    threshold: float = 0.9  # the confidence threshold of evaluation and the app's default
    max_new_tokens_limit: int = 128  # the app's longest canvas for Tiny
    patch_size: int = 14  # vision patch side in pixels (Qwen2-VL's)
    merge_size: int = 2  # patches merged per side into one image token
    temporal_patch_size: int = 2  # frames per patch (a still image is repeated)
    max_positions: int = 512  # rotary positions the language model is built for (prompt + canvas fit easily)

    def validate(self) -> "TinySettings":
        token_side = self.patch_size * self.merge_size
        if self.drawn_side % self.model_side or self.model_side % token_side:
            raise ValueError(f"model_side must divide drawn_side and be a multiple of {token_side}, got {self.model_side}")
        if not 8 <= self.canvas <= self.max_new_tokens_limit:
            raise ValueError(f"canvas must be in [8, {self.max_new_tokens_limit}], got {self.canvas}")
        return self

    @property
    def max_pixels(self) -> int:
        return self.model_side ** 2

    def decode_defaults(self, canvas: Optional[int] = None) -> dict:
        """DecodeConfig keywords for Tiny: its canvas (or the one a model was trained on), as many steps, the
        threshold."""
        canvas = canvas or self.canvas
        return dict(max_new_tokens=canvas, steps=canvas, alg_p_threshold=self.threshold)

    def preprocessor_config(self) -> dict:
        return {"image_processor_type": "DimpleImageProcessor", "min_pixels": self.min_pixels,
                "max_pixels": self.max_pixels, "patch_size": self.patch_size, "merge_size": self.merge_size,
                "temporal_patch_size": self.temporal_patch_size,
                "image_mean": list(CLIP_MEAN), "image_std": list(CLIP_STD)}


TINY = TinySettings().validate()


def image_processor() -> DimpleImageProcessor:
    """Tiny's image processor (the one its exported preprocessor_config.json describes)."""
    return DimpleImageProcessor(min_pixels=TINY.min_pixels, max_pixels=TINY.max_pixels, patch_size=TINY.patch_size,
                                merge_size=TINY.merge_size, temporal_patch_size=TINY.temporal_patch_size)
