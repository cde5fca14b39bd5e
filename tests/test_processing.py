"""Images become the same patches as Qwen2-VL's processor; prompts expand image tokens."""

import torch
from PIL import Image

from conftest import REFERENCE
from dimple.processing import DimpleImageProcessor, chat_prompt, expand_image_tokens, smart_resize


def test_reference_image_gives_reference_patches(reference_expected):
    out = DimpleImageProcessor(min_pixels=3136, max_pixels=12544)(Image.open(REFERENCE / "image.png"))
    assert torch.equal(out["image_grid_thw"], reference_expected["image_grid_thw"])
    torch.testing.assert_close(out["pixel_values"], reference_expected["pixel_values"], atol=1e-5, rtol=0)


def test_smart_resize_keeps_multiples_of_28_within_pixel_bounds():
    for h, w in [(56, 84), (1000, 37), (3, 3), (4000, 3000), (168, 168)]:
        rh, rw = smart_resize(h, w, 28, 3136, 12544)
        assert rh % 28 == 0 and rw % 28 == 0
        assert rh * rw <= 12544 or (rh == 28 or rw == 28)


def test_grayscale_and_rgba_images_are_converted_to_rgb():
    p = DimpleImageProcessor()
    for mode in ("L", "RGBA", "P", "I;16"):
        out = p(Image.new(mode, (100, 60)))
        assert out["pixel_values"].shape[1] == 1176


def test_image_pad_expands_to_one_token_per_merged_patch():
    text = chat_prompt("What?", system="sys")
    assert text.startswith("<|im_start|>system\nsys<|im_end|>\n<|im_start|>user\n<|vision_start|>")
    assert text.endswith("What?<|im_end|>\n<|im_start|>assistant\n")
    assert expand_image_tokens(text, [6]).count("<|image_pad|>") == 6


def test_history_turns_precede_the_question_and_only_the_first_holds_the_image():
    text = chat_prompt("Second?", history=[("First?", "Yes.")])
    assert text.count("<|image_pad|>") == 1
    assert text.index("First?") < text.index("Yes.<|im_end|>") < text.index("Second?")
