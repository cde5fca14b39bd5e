"""The scale measurement's results as markdown tables (docs/scale.md).

Owns the layout of the tables: per-pass seconds against tokens fed (uncached
and cached) per shape, memory against the checkpoint, prefilling against the
analytic and fed-token ratios, the cached pass against its roofline, and the
kernel check (plain against prepacked weights). It reads the dicts that
`scale.run_shape` returns and knows nothing else.
"""

from __future__ import annotations

from pathlib import Path

GB = 1e9


def _gb(n: float) -> str:
    return f"{n / GB:.2f}" if n >= 0.01 * GB else f"{n / GB:.4f}"


def _ms(s) -> str:
    return "-" if s is None else (f"{s * 1e3:.1f} ms" if s < 1 else f"{s:.2f} s")


def _row(cells) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def _table(head: list, rows: list) -> list[str]:
    return [_row(head), _row(["---"] * len(head)), *(_row(r) for r in rows)]


def forward_table(results: list) -> list[str]:
    tokens = [r["tokens"] for r in results[0]["forward"]["rows"]]
    head = ["shape", "parameters"] + [f"{n} fed" for n in tokens] + ["2x floor at"]
    rows = []
    for res in results:
        cells = [f"{_ms(r['uncached_s'])} / {_ms(r['cached_s'])}" for r in res["forward"]["rows"]]
        rows.append([_label(res), f"{res['parameters'] / 1e9:.3f}B", *cells,
                     res["forward"]["floor_gives_way_at_tokens"] or "-"])
    return _table(head, rows)


def memory_table(results: list) -> list[str]:
    head = ["shape", "checkpoint GB", "shards", "load s", "peak RSS loading GB (x ckpt)", "peak RSS decoding GB (x ckpt)",
            "process before load GB", "model's share of the peak GB (x ckpt)", "prompt cache / request MB"]
    rows = []
    for r in results:
        load, dec = r["load"], r["decode"]["memory"]
        rows.append([_label(r), _gb(r["checkpoint"]["bytes"]), r["checkpoint"]["shards"], load["seconds"],
                     _peak(load), _peak(dec),
                     _gb(load["rss_start_bytes"]), _above(load, dec, r["checkpoint"]["bytes"]),
                     f"{r['cache_bytes_per_request'] / 1e6:.2f}"])
    return _table(head, rows)


def _above(load: dict, dec: dict, checkpoint: int) -> str:
    """The model's own share of the peak: the larger peak less the process's memory before loading."""
    extra = max(load["rss_peak_bytes"], dec["rss_peak_bytes"]) - load["rss_start_bytes"]
    return f"{_gb(extra)} ({extra / checkpoint:.3f}x)"


def _peak(m: dict) -> str:
    """Peak resident memory (x checkpoint); on a GPU the CUDA allocator's peak, then the host's."""
    host = f"{_gb(m['rss_peak_bytes'])} ({m['peak_over_checkpoint']}x)"
    if "cuda_peak_bytes" in m:
        return f"GPU {_gb(m['cuda_peak_bytes'])} ({m['cuda_peak_over_checkpoint']}x), host {host}"
    return host


def prefill_table(results: list) -> list[str]:
    head = ["shape", "P + R", "passes", "decode s (prefill / none)", "speedup", "analytic (P+R)/(R+1)", "fed-token ratio",
            "later pass s (prefill / none)", "pass speedup", "tokens/s (prefill / none)"]
    rows = []
    for r in results:
        d = r["decode"]
        on, off = d["prefill"], d.get("no_prefill")
        if off is None:  # --no-baseline: prefilling only
            rows.append([_label(r), f"{d['prompt_tokens']} + {d['canvas']}", on["passes"], f"{on['seconds']} / -", "-",
                         "-", "-", f"{_ms(on['later_pass_s'])} / -", "-", f"{on['tokens_per_s']} / -"])
            continue
        rows.append([_label(r), f"{d['prompt_tokens']} + {d['canvas']}", on["passes"],
                     f"{on['seconds']} / {off['seconds']}", f"{d['speedup']}x", f"{d['analytic_ratio']}x",
                     f"{d['fed_token_ratio']}x", f"{_ms(on['later_pass_s'])} / {_ms(off['later_pass_s'])}",
                     f"{d['pass_speedup']}x", f"{on['tokens_per_s']} / {off['tokens_per_s']}"])
    return _table(head, rows)


def _label(r: dict) -> str:
    """A result's shape, with its quantisation when there is one (7b int8)."""
    return r["shape"] + (f" {r['quantize']}" if r.get("quantize") else "")


def choice_table(results: list) -> list[str]:
    """The load-time kernel choice: each candidate's ms per timed row count on each weight shape, and the pick."""
    rows = []
    for r in results:
        for k in r.get("kernels", []):
            if not k["ms"]:
                continue
            timed = sorted({int(n) for t in k["ms"].values() for n in t})
            cells = [", ".join(f"{n}: {t.get(str(rows_), t.get(rows_, '-'))}" for n, t in k["ms"].items())
                     for rows_ in timed]
            chosen = ", ".join(f"{n} rows: {c}" for n, c in k["chosen"].items())
            dropped = "; ".join(f"{n}: {why}" for n, why in k["dropped"].items()) or "-"
            rows.append([_label(r), f"{k['in_features']} -> {k['out_features']}", k["layers"],
                         " / ".join(f"{n} rows: {c}" for n, c in zip(timed, cells)), chosen, dropped])
    return _table(["shape", "weight", "layers", "ms per candidate", "chosen", "dropped"], rows)


def roofline_table(results: list) -> list[str]:
    head = ["shape", "pass", "tokens", "measured", "memory floor", "compute floor", "bound", "x memory floor",
            "x roofline", "GB/s", "GFLOP/s", "read GB/s", "matmul peak GFLOP/s"]
    rows = []
    for r in results:
        m = r["machine"]
        for x in r["roofline"]:
            rows.append([_label(r), x["kind"], x["tokens"], _ms(x["seconds"]), _ms(x["memory_floor_s"]),
                         _ms(x["compute_floor_s"]), x["bound"], x["over_memory_floor"], x["over_roofline"],
                         x["achieved_gbps"], x["achieved_gflops"], m["bandwidth"]["read_gbps"], m["peak_gflops"]])
    return _table(head, rows)


def kernel_table(results: list) -> list[str]:
    head = ["shape", "matmul", "rows", "plain ms (GFLOP/s, weight GB/s)", "prepacked ms (GFLOP/s, weight GB/s)", "ratio"]
    rows = []
    for r in results:
        for k in r["machine"]["matmul"]:
            packed = (f"{k['packed_ms']} ({k['packed_gflops']}, {k['packed_weight_gbps']})" if "packed_ms" in k else "-")
            ratio = f"{k['plain_ms'] / k['packed_ms']:.2f}x" if "packed_ms" in k else "-"
            rows.append([_label(r), f"{r['dims']['hidden']} -> {r['dims']['intermediate']}", k["rows"],
                         f"{k['plain_ms']} ({k['plain_gflops']}, {k['plain_weight_gbps']})", packed, ratio])
    return _table(head, rows)


def render(results: list, command: str) -> str:
    devices = sorted({r["device"] for r in results})
    cpus = sorted({r.get("cpu_model") or "cpu model not recorded" for r in results})
    lines = [f"Command: `{command}`", "", f"CPU: {'; '.join(cpus)}.", "", f"Device: {', '.join(devices)}; random bf16 weights; "
             f"prepacked linear weights: {', '.join(sorted({str(r['pack']) for r in results}))}.", "",
             "### Seconds per pass against tokens fed (uncached / cached after a prompt-length prefix)", "",
             *forward_table(results), "", "### Memory against the checkpoint", "", *memory_table(results), "",
             "### Prefilling: a 448x448 image (256 image tokens) + question, 32-token canvas, fixed passes", "",
             *prefill_table(results), "", "### Cached pass against its roofline", "", *roofline_table(results), "",
             "### Widest matmul: torch's plain CPU linear against oneDNN-prepacked weights", "",
             *kernel_table(results), "", "### Kernel choice at load (ms per call, side by side on one random weight "
             "of each shape; a weight over 64M values timed on a slice of its rows)", "", *choice_table(results), ""]
    return "\n".join(lines)


def write_markdown(results: list, path: Path, command: str) -> None:
    """Write the tables to `path`; an existing file keeps everything above its `<!-- scale tables -->` marker."""
    path = Path(path)
    marker = "<!-- scale tables -->"
    head = ""
    if path.exists() and marker in path.read_text():
        head = path.read_text().split(marker)[0]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(head + marker + "\n\n" + render(results, command))
