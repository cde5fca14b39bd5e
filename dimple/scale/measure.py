"""Measurements of a loaded Dimple model: forward time against tokens fed, a decode with and without
prefilling, the prompt cache's size, and the pass's roofline.

Owns the inputs (random text ids outside the special ids, a random image of
`image_side` pixels in the Qwen2-VL patch layout: 256 image tokens at 448) and
what is timed:

  * one forward at each of `fed_tokens`, uncached (a sequence of N tokens) and
    cached (N tokens fed after a cached prefix of the realistic prompt's length);
  * a decode with and without the prompt cache at a fixed pass count (threshold
    off, so random weights cannot change it), set against the analytic ratio
    (P + R) / (R + 1) of one pass's tokens and the ratio of all tokens fed;
  * the roofline of a cached pass: the bytes it must stream (every decoder
    layer and the lm_head) over the measured bandwidth, and its FLOPs over the
    measured matmul rate.

It does not write checkpoints, measure memory or format results (`scale`).
"""

from __future__ import annotations

import statistics
import time

import torch

from ..bench.sweep import fed_tokens as fed_token_count
from ..config import DecodeConfig
from ..engine import generate
from ..kv_cache import PrefixKVCache
from .probe import best_seconds, sync
from .shapes import ScaleSettings


def text_id_range(config) -> tuple[int, int]:
    """[low, high) of ids that are ordinary text: below the special ids when they sit at the top, else above."""
    specials = [v for k, v in vars(config).items() if k.endswith("_token_id") and isinstance(v, int)]
    if min(specials) > config.vocab_size // 2:
        return 0, min(specials)
    return max(specials) + 1, config.vocab_size


def random_text(config, n: int, generator: torch.Generator) -> torch.Tensor:
    low, high = text_id_range(config)
    return torch.randint(low, high, (1, n), generator=generator)


def image_prompt(config, settings: ScaleSettings, generator: torch.Generator) -> dict:
    """input_ids (1, P): text, <vision_start>, one <image_pad> per merged patch, <vision_end>, text; and a
    random image's pixel_values (patches, 1176) with its image_grid_thw."""
    grid = settings.image_side // 14
    before = random_text(config, settings.text_tokens // 3, generator)
    after = random_text(config, settings.text_tokens - before.shape[1], generator)
    image = torch.full((1, settings.image_tokens), config.image_token_id)
    ids = torch.cat([before, torch.tensor([[config.vision_start_token_id]]), image,
                     torch.tensor([[config.vision_end_token_id]]), after], dim=1)
    pixels = torch.randn(grid * grid, 3 * 2 * 14 * 14, generator=generator)
    return {"input_ids": ids, "pixel_values": pixels, "image_grid_thw": torch.tensor([[1, grid, grid]])}


def _last_rows(n: int, scored: int, device) -> torch.Tensor:
    return torch.arange(max(n - scored, 0), n, device=device)[None]


def _sliced_cache(full: PrefixKVCache, n_keep: int, total: int) -> PrefixKVCache:
    """A filled prefix cache of `total` positions keeping `n_keep`, cut from a longer filled one."""
    cache = PrefixKVCache(n_keep)
    cache.keys = [k[:, :, :total].clone() for k in full.keys]
    cache.values = [v[:, :, :total].clone() for v in full.values]
    cache.mark_filled(total)
    return cache


def forward_table(model, settings: ScaleSettings, repeats: int, device: str, generator, warmup: bool = True) -> dict:
    """Seconds of one forward at each count of fed tokens, without and with a prompt-length cached prefix."""
    config, prefix, longest = model.config, settings.prompt_tokens, max(settings.fed_tokens)
    ids = random_text(config, prefix + longest, generator).to(device)
    positions, _ = model.rope_index(ids)
    full = PrefixKVCache(prefix)
    with torch.no_grad():
        model(ids, position_ids=positions, cache=full, logits_index=_last_rows(prefix + longest, 1, device))
    rows = []
    for n in settings.fed_tokens:
        fresh = random_text(config, n, generator).to(device)
        index = _last_rows(n, settings.scored, device)
        cache = _sliced_cache(full, prefix, prefix + n)
        bytes_before = cache.nbytes()
        with torch.no_grad():
            uncached = best_seconds(lambda: model(fresh, logits_index=index), device, repeats, warmup)
            cached = best_seconds(lambda: model(ids[:, prefix:prefix + n], position_ids=positions[..., :prefix + n],
                                                cache=cache, logits_index=index), device, repeats, warmup)
        rows.append({"tokens": n, "uncached_s": round(uncached, 4), "cached_s": round(cached, 4),
                     "cached_attends_to": prefix + n, "cache_grew_bytes": cache.nbytes() - bytes_before})
        del cache
    per_token = full.nbytes() / (prefix + longest)
    return {"rows": rows, "cached_prefix": prefix, "cache_bytes_per_token": round(per_token, 1)}


def _timed_generate(model, prompt: dict, cfg: DecodeConfig, device: str):
    sync(device)
    start = time.perf_counter()
    traj = generate(model, prompt["input_ids"], cfg, pixel_values=prompt["pixel_values"],
                    image_grid_thw=prompt["image_grid_thw"])
    sync(device)
    return time.perf_counter() - start, traj


def decode_pair(model, settings: ScaleSettings, repeats: int, device: str, generator, baseline: bool = True) -> dict:
    """A decode with and without prefilling, same inputs and pass count, alternated; fastest of `repeats`.
    baseline False: with prefilling only (the uncached decode's keys are then absent)."""
    prompt = {k: v.to(device) for k, v in image_prompt(model.config, settings, generator).items()}
    P, R = prompt["input_ids"].shape[1], settings.canvas
    cfg = DecodeConfig(max_new_tokens=R, steps=settings.steps, alg_p_threshold=0.0, seed=settings.seed)
    best: dict = {}
    for _ in range(repeats):
        for prefill in (True, False) if baseline else (True,):
            seconds, traj = _timed_generate(model, prompt, cfg.with_(prefill=prefill), device)
            if prefill not in best or seconds < best[prefill][0]:
                best[prefill] = (seconds, traj)
    out = {"prompt_tokens": P, "image_tokens": settings.image_tokens, "canvas": R, "steps": settings.steps}
    for prefill, name in ((True, "prefill"), (False, "no_prefill")):
        if prefill not in best:
            continue
        seconds, traj = best[prefill]
        later = [s.seconds for s in traj.steps[1:]]
        out[name] = {"seconds": round(seconds, 3), "passes": traj.nfe, "first_pass_s": round(traj.steps[0].seconds, 4),
                     "later_pass_s": round(statistics.median(later), 4) if later else None,
                     "tokens_per_s": round(R / seconds, 3), "tokens_fed": fed_token_count(P, R, traj.nfe, prefill)}
    on, off = out["prefill"], out.get("no_prefill")
    if off is None:
        return out
    out.update(speedup=round(off["seconds"] / on["seconds"], 3), analytic_ratio=round((P + R) / (R + 1), 3),
               fed_token_ratio=round(off["tokens_fed"] / on["tokens_fed"], 3),
               pass_speedup=round(off["later_pass_s"] / on["later_pass_s"], 3) if on["later_pass_s"] else None)
    return out


def pass_costs(model) -> dict:
    """Bytes a cached pass must stream (decoder layers, final norm, lm_head: every weight it multiplies;
    the embedding rows it gathers are negligible) and the parameter counts its FLOPs scale with."""
    from ..quantize import QUANTIZED_LINEARS

    def weights(module):  # parameters, and the int8 / int4 weights, scales and biases quantised layers keep as buffers
        return list(module.parameters()) + [b for m in module.modules() if isinstance(m, QUANTIZED_LINEARS)
                                            for b in m.buffers()]

    def size(module):  # (weights multiplied, bytes): a quantised layer multiplies in x out whatever its storage
        ts = weights(module)  # (int4 packs two weights a byte, so its packed tensor's numel is half the count)
        quantized = [m for m in module.modules() if isinstance(m, QUANTIZED_LINEARS)]
        count = sum(p.numel() for p in module.parameters() if p.dim() == 2)
        count += sum(m.in_features * m.out_features for m in quantized)
        return count, sum(t.numel() * t.dtype.itemsize for t in ts)

    layers, layer_bytes = size(model.model.layers)
    head, head_bytes = size(model.lm_head)
    norm, norm_bytes = size(model.model.norm)
    total = sum(t.numel() * t.dtype.itemsize for t in weights(model))
    return {"layer_parameters": layers, "head_parameters": head, "streamed_bytes": layer_bytes + head_bytes + norm_bytes,
            "weight_bytes": total}


def roofline(costs: dict, config, tokens: int, attends_to: int, scored: int, seconds: float,
             bandwidth_gbps: float, peak_gflops: float) -> dict:
    """A cached pass of `tokens` fed tokens against max(bytes / bandwidth, FLOPs / matmul rate)."""
    attention = 4 * tokens * attends_to * config.hidden_size * config.num_hidden_layers
    flops = 2 * tokens * costs["layer_parameters"] + 2 * min(scored, tokens) * costs["head_parameters"] + attention
    memory_s = costs["streamed_bytes"] / (bandwidth_gbps * 1e9)
    weights_s = costs["weight_bytes"] / (bandwidth_gbps * 1e9)
    compute_s = flops / (peak_gflops * 1e9)
    floor = max(memory_s, compute_s)
    return {"tokens": tokens, "seconds": seconds, "memory_floor_s": round(memory_s, 4),
            "checkpoint_floor_s": round(weights_s, 4), "compute_floor_s": round(compute_s, 4),
            "bound": "memory" if memory_s >= compute_s else "compute",
            "over_memory_floor": round(seconds / memory_s, 3), "over_checkpoint_floor": round(seconds / weights_s, 3),
            "over_roofline": round(seconds / floor, 3), "achieved_gbps": round(costs["streamed_bytes"] / seconds / 1e9, 2),
            "achieved_gflops": round(flops / seconds / 1e9, 1)}


def floor_gives_way(rows: list, factor: float = 2.0) -> int | None:
    """Fewest fed tokens whose uncached pass takes `factor` times the 1-token pass (None: none does)."""
    base = rows[0]["uncached_s"]
    for row in rows:
        if row["uncached_s"] >= factor * base:
            return row["tokens"]
    return None
