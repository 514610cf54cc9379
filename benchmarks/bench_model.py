"""Benchmarks of the multimodal MoE model on the CPU (numbers for docs/benchmarks.md).

    python benchmarks/bench_model.py                # full run, Markdown tables on stdout
    python benchmarks/bench_model.py --quick        # smaller sizes, for a smoke check
    python benchmarks/bench_model.py --json out.json

Measures, in one process: (1) forward throughput of the MoE model against a dense model with the
same active parameters per token; (2) active/total parameter fraction; (3) attention time over
sequence lengths 128..8192, sparse (local window + global tokens) against dense attention with
the same mask and against plain full attention, with the log-log slope; (4) int8 dynamic
quantisation against fp32 for the distilled student. Every timing is the median of ``--repeats``
runs after a warm-up, in ``torch.inference_mode``.
"""

from __future__ import annotations

import os

# Threads that spin while waiting (OpenMP's default) slow every parallel region down many times
# when other processes share the two cores; a passive wait costs nothing on an idle machine.
# Must be set before torch starts its thread pool; an explicit OMP_WAIT_POLICY wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse
import json
import platform
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from plantpulse.model import ModelInput, PlantPulseModel, TaskSpec, preset
from plantpulse.model.moe.layers.attention import SparseGatedAttention
from plantpulse.model.moe.layers.embeddings import channel_ids
from plantpulse.model.moe.quantize import quantize_for_cpu
from plantpulse.model.moe.training import student_config

TASKS = (TaskSpec(name="rul:turbofan", kind="rul"),
         TaskSpec(name="fault:bearing", kind="classification", classes=tuple(f"c{i}" for i in range(10))),
         TaskSpec(name="anomaly:turbofan", kind="anomaly"))


def timed(fns: dict[str, Callable[[], Any]], repeats: int, warmup: int = 2) -> dict[str, dict[str, float]]:
    """Time several callables *interleaved* (A, B, A, B, ...) so that load from other processes
    hits them alike; returns per label the best and the median seconds."""
    times: dict[str, list[float]] = {label: [] for label in fns}
    with torch.inference_mode():
        for fn in fns.values():
            for _ in range(warmup):
                fn()
        for _ in range(repeats):
            for label, fn in fns.items():
                start = time.perf_counter()
                fn()
                times[label].append(time.perf_counter() - start)
    return {label: {"best": min(t), "median": statistics.median(t)} for label, t in times.items()}


def sensor_batch(cfg, batch: int, length: int, channels: int, seed: int = 0) -> ModelInput:
    gen = torch.Generator().manual_seed(seed)
    names = [f"ch{i}" for i in range(channels)]
    return ModelInput(sensor=torch.randn(batch, length, channels, generator=gen),
                      sensor_channels=channel_ids(names, cfg.channel_buckets).expand(batch, -1))


def bench_moe_vs_dense(args: argparse.Namespace) -> dict[str, Any]:
    cfg = preset("default", tasks=TASKS)
    torch.manual_seed(0)
    moe = PlantPulseModel(cfg).eval()
    dense = PlantPulseModel(cfg.replace(ffn="dense")).eval()
    batch = sensor_batch(cfg, args.batch, args.length, args.channels)
    out: dict[str, Any] = {"config": {k: getattr(cfg, k) for k in (
        "d_model", "n_layers", "n_experts", "top_k", "n_shared_experts", "expert_hidden", "group_routing")},
        "batch": args.batch, "window": args.length, "channels": args.channels}
    times = timed({"moe": lambda: moe(batch), "dense": lambda: dense(batch)}, args.repeats)
    for label, model in (("moe", moe), ("dense", dense)):
        out[label] = {"samples_per_s": args.batch / times[label][args.stat],
                      "samples_per_s_median": args.batch / times[label]["median"], **model.parameter_counts()}
    out["throughput_ratio"] = out["moe"]["samples_per_s"] / out["dense"]["samples_per_s"]
    out["throughput_ratio_median"] = out["moe"]["samples_per_s_median"] / out["dense"]["samples_per_s_median"]
    out["active_fraction"] = out["moe"]["active"] / out["moe"]["total"]
    return out


def bench_attention(args: argparse.Namespace) -> dict[str, Any]:
    cfg = preset("default")
    torch.manual_seed(0)
    attn = SparseGatedAttention(cfg).eval()
    attn.threshold = 0.0  # time every head; skipping is measured separately
    rows = []
    for n in args.lengths:
        x = torch.randn(1, n, cfg.d_model)
        valid = torch.ones(1, n, dtype=torch.bool)
        repeats = max(3, args.repeats // (1 + n // 2048))
        t = timed({"sparse": lambda x=x, v=valid: attn(x, v, 1, mode="sparse"),
                   "dense_masked": lambda x=x, v=valid: attn(x, v, 1, mode="dense"),
                   "dense_full": lambda x=x: _full_attention(attn, x)}, repeats)
        rows.append({"tokens": n, **{f"{k}_ms": v[args.stat] * 1e3 for k, v in t.items()}})
    logn = np.log([r["tokens"] for r in rows])
    slope = {key: float(np.polyfit(logn, np.log([r[key] for r in rows]), 1)[0])
             for key in ("sparse_ms", "dense_masked_ms", "dense_full_ms")}
    long = rows[-1]
    return {"window": cfg.window, "heads": cfg.n_heads, "d_model": cfg.d_model, "rows": rows,
            "loglog_slope": slope, "speedup_at_max_vs_masked": long["dense_masked_ms"] / long["sparse_ms"],
            "speedup_at_max_vs_full": long["dense_full_ms"] / long["sparse_ms"]}


def _full_attention(attn: SparseGatedAttention, x: torch.Tensor) -> torch.Tensor:
    """Plain dense multi-head attention with the same projections (no mask at all)."""
    b, n, d = x.shape
    q, k, v = attn.qkv(x).view(b, n, 3, attn.n_heads, attn.head_dim).permute(2, 0, 3, 1, 4)
    o = torch.nn.functional.scaled_dot_product_attention(q, k, v)
    o = o * torch.sigmoid(attn.gate(x)).transpose(1, 2).unsqueeze(-1)
    return attn.out(o.transpose(1, 2).reshape(b, n, d))


def bench_head_skipping(args: argparse.Namespace) -> dict[str, Any]:
    cfg = preset("default")
    open_attn = SparseGatedAttention(cfg).eval()
    half_closed = SparseGatedAttention(cfg).eval()
    half_closed.load_state_dict(open_attn.state_dict())
    with torch.no_grad():
        half_closed.gate.bias[: cfg.n_heads // 2] = -30.0
        half_closed.gate.weight[: cfg.n_heads // 2] = 0.0
    x, valid = torch.randn(8, 512, cfg.d_model), torch.ones(8, 512, dtype=torch.bool)
    t = timed({"all": lambda: open_attn(x, valid, 1), "half": lambda: half_closed(x, valid, 1)}, args.repeats)
    return {"all_heads_ms": t["all"][args.stat] * 1e3, "half_heads_closed_ms": t["half"][args.stat] * 1e3,
            "speedup": t["all"][args.stat] / t["half"][args.stat]}


def bench_int8_student(args: argparse.Namespace) -> dict[str, Any]:
    torch.manual_seed(0)
    student = PlantPulseModel(student_config(preset("default", tasks=TASKS))).eval()
    int8 = quantize_for_cpu(student)
    batch = sensor_batch(student.cfg, args.batch, args.length, args.channels)
    t = timed({"fp32": lambda: student(batch), "int8": lambda: int8(batch)}, args.repeats)
    with torch.inference_mode():
        a = student(batch).tasks["rul:turbofan"].mean
        b = int8(batch).tasks["rul:turbofan"].mean
    return {"student_params": student.parameter_counts()["total"],
            "fp32_samples_per_s": args.batch / t["fp32"][args.stat],
            "int8_samples_per_s": args.batch / t["int8"][args.stat],
            "speedup": t["fp32"][args.stat] / t["int8"][args.stat],
            "speedup_median": t["fp32"]["median"] / t["int8"]["median"],
            "rul_mean_abs_diff_cycles": float((a - b).abs().mean())}


def markdown(results: dict[str, Any]) -> str:
    m, a, q, h = results["moe_vs_dense"], results["attention"], results["int8_student"], results["head_skipping"]
    lines = [
        f"Machine: {results['machine']}; torch {results['torch']}, {results['threads']} threads; "
        f"{results['stat']} of {results['repeats']} interleaved runs; OMP_WAIT_POLICY={results['omp_wait_policy']}; "
        f"1-min load average {results['load_average_1min'][0]:.1f} before, {results['load_average_1min'][1]:.1f} after.",
        "",
        "| measure | result | target |",
        "|---|---:|---:|",
        f"| MoE forward throughput (default preset, batch {m['batch']} × {m['window']} steps × {m['channels']} channels) "
        f"| {m['moe']['samples_per_s']:.0f} samples/s | |",
        f"| dense model with the same active parameters | {m['dense']['samples_per_s']:.0f} samples/s | |",
        f"| MoE / dense throughput | {m['throughput_ratio']:.2f}× (median {m['throughput_ratio_median']:.2f}×) | ≥ 0.70× |",
        f"| active / total parameters (MoE) | {m['moe']['active'] / 1e6:.2f} M / {m['moe']['total'] / 1e6:.2f} M "
        f"= {m['active_fraction']:.2f} | |",
        f"| sparse vs dense attention at {a['rows'][-1]['tokens']} tokens (same mask) "
        f"| {a['speedup_at_max_vs_masked']:.1f}× faster | ≥ 4× |",
        f"| sparse vs plain full attention at {a['rows'][-1]['tokens']} tokens | {a['speedup_at_max_vs_full']:.1f}× faster | |",
        f"| int8 vs fp32 student ({q['student_params'] / 1e6:.2f} M params) | {q['speedup']:.2f}× "
        f"(median {q['speedup_median']:.2f}×; "
        f"{q['fp32_samples_per_s']:.0f} → {q['int8_samples_per_s']:.0f} samples/s) | ≥ 1.5× |",
        f"| int8 RUL drift (mean abs, cycles) | {q['rul_mean_abs_diff_cycles']:.3f} | |",
        f"| half the heads gated shut (512 tokens × 8) | {h['speedup']:.2f}× faster | |",
        "",
        f"Attention time (ms, batch 1, d={a['d_model']}, {a['heads']} heads, window ±{a['window']}, 1 global token):",
        "",
        "| tokens | sparse | dense, same mask | dense, no mask |",
        "|---:|---:|---:|---:|",
    ]
    lines += [f"| {r['tokens']} | {r['sparse_ms']:.2f} | {r['dense_masked_ms']:.2f} | {r['dense_full_ms']:.2f} |"
              for r in a["rows"]]
    s = a["loglog_slope"]
    lines += ["", f"Log-log slope of time vs tokens: sparse {s['sparse_ms']:.2f}, dense with mask "
                  f"{s['dense_masked_ms']:.2f}, dense without mask {s['dense_full_ms']:.2f} (1 = linear, 2 = quadratic)."]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smaller sizes and fewer repeats")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--length", type=int, default=128, help="sensor window length")
    parser.add_argument("--channels", type=int, default=4)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--stat", choices=["best", "median"], default="best",
                        help="best-of-N (robust to other processes' load) or median")
    parser.add_argument("--json", dest="json_path")
    args = parser.parse_args()
    args.lengths = [128, 256, 512, 1024, 2048, 4096, 8192]
    if args.quick:
        args.repeats, args.batch, args.lengths = 3, 16, [128, 512, 2048]
    torch.set_num_threads(args.threads)
    load_before = os.getloadavg()[0]
    results = {"machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs",
               "torch": torch.__version__, "threads": torch.get_num_threads(), "stat": args.stat,
               "repeats": args.repeats,
               "moe_vs_dense": bench_moe_vs_dense(args), "attention": bench_attention(args),
               "head_skipping": bench_head_skipping(args), "int8_student": bench_int8_student(args),
               "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
               "load_average_1min": [load_before, os.getloadavg()[0]]}
    print(markdown(results))
    if args.json_path:
        with open(args.json_path, "w", encoding="utf-8") as fh:
            json.dump(results, fh, indent=2)


if __name__ == "__main__":
    main()
