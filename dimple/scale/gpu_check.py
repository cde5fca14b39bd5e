"""A short GPU check of the architecture at full Dimple-7B size: `python -m dimple.scale.gpu_check`.

Builds the model from the released config with random bf16 weights (no
download), then measures peak memory, one forward at ~1,000 tokens with and
without the prompt cache, and a 64-token confident decode. Prints JSON. It
needs a CUDA GPU with ~20 GB free; it proves speed and memory, not answers
(random weights). The full measurement at 7B (a released-layout checkpoint
written and loaded through `load_model`, memory against the checkpoint, a
decode with and without prefilling) is `python -m dimple.scale --device cuda
--shape 7b`.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from ..config import DecodeConfig
from ..engine import generate
from ..kv_cache import PrefixKVCache
from ..modeling import DimpleConfig, DimpleModel

SPEC = Path(__file__).resolve().parent / "dimple-7b-parameters.json"


def _sync(device) -> None:
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def _timed(fn, device, repeats: int = 3) -> float:
    fn()
    _sync(device)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        _sync(device)
        best = min(best, time.perf_counter() - start)
    return best


def measure(model, prompt_tokens: int, response_tokens: int, device) -> dict:
    """Forward time with and without the prompt cache, and one confident decode, on random token ids."""
    P, R = prompt_tokens, response_tokens
    vocab = model.config.vocab_size
    specials = [getattr(model.config, k) for k in ("mask_token_id", "image_token_id", "vision_start_token_id")]
    high = min([vocab - 16] + [s for s in specials if s is not None])  # random text, no special ids
    ids = torch.randint(3, high, (1, P + R), device=device)
    positions, _ = model.rope_index(ids)

    def full():
        with torch.no_grad():
            model(ids, position_ids=positions)

    cache = PrefixKVCache(P - 1)
    with torch.no_grad():
        model(ids, position_ids=positions, cache=cache)

    def cached():
        with torch.no_grad():
            model(ids[:, P - 1 :], position_ids=positions, cache=cache)

    full_s, cached_s = _timed(full, device), _timed(cached, device)
    cfg = DecodeConfig(max_new_tokens=R, steps=R, alg_p_threshold=0.9)
    _sync(device)
    start = time.perf_counter()
    traj = generate(model, ids[:, :P], cfg)
    _sync(device)
    return {
        "forward_full_s": round(full_s, 4), "forward_cached_s": round(cached_s, 4),
        "cached_speedup": round(full_s / cached_s, 2), "decode_s": round(time.perf_counter() - start, 3),
        "decode_nfe": traj.nfe, "prompt_tokens": P, "response_tokens": R, "cache_gib": round(cache.nbytes() / 2**30, 4),
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--prompt-tokens", type=int, default=1000)
    p.add_argument("--response-tokens", type=int, default=64)
    args = p.parse_args(argv)
    if not torch.cuda.is_available():
        raise SystemExit("no CUDA GPU visible")
    spec = json.loads(SPEC.read_text())["config"]
    config = DimpleConfig(**{k: v for k, v in spec.items() if not k.startswith("_")}, mask_token_id=151666,
                          image_token_id=151655, vision_start_token_id=151652, pad_token_id=151643,
                          eos_token_id=151643)
    torch.manual_seed(0)
    start = time.perf_counter()
    with torch.device("cuda"):
        model = DimpleModel(config).to(torch.bfloat16).eval()
    build_s = time.perf_counter() - start
    params = sum(p.numel() for p in model.parameters())
    torch.cuda.reset_peak_memory_stats()
    result = measure(model, args.prompt_tokens, args.response_tokens, "cuda")
    result.update(device=torch.cuda.get_device_name(0), parameters=params, build_s=round(build_s, 1),
                  weights_gib=round(params * 2 / 2**30, 2),
                  peak_memory_gib=round(torch.cuda.max_memory_allocated() / 2**30, 2))
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
