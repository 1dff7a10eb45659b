"""Benchmark the Flax TimeSformer: clips/s vs batch size, float32 vs bfloat16, FLOPs per clip.

Writes `benchmarks/results/timesformer_<machine>.json` (machine e.g. `cpu-2core`, `gpu-nvidia-h100`).
- FLOPs per clip come from XLA's cost analysis of the compiled forward pass. XLA counts a loop body once, so
  the count is taken on 1- and 2-layer unrolled copies of the config: total = f(1) + (L - 1) * (f(2) - f(1)).
- Each (dtype, batch) point: compile (timed), one warm-up call, then `--reps` timed calls; clips/s uses the
  median call. Random weights (HF init) and random inputs: speed does not depend on the values.
- On CPU, PyTorch `transformers.TimesformerModel` (float32, `torch.inference_mode`) runs at the same batch
  sizes and the ratio ours/torch is reported. On a GPU, a large bf16 matmul gives the measured peak and the
  encoder's achieved TFLOP/s is reported as a fraction of it.

Usage: `.venv/bin/python benchmarks/bench_timesformer.py [--config base|tiny] [--batches 1,2,4]
[--dtypes float32,bfloat16] [--reps 2] [--no-torch] [--out PATH]`. Defaults finish in ~5 min on 2 CPU cores.
"""

from __future__ import annotations

from niljax import _runtime

_runtime.configure(offline_hub=True)

import argparse
import dataclasses
import json
import os
import platform
import re
import statistics
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from niljax.encoders import Timesformer, TimesformerConfig, embed_clips, init_params, param_shapes

RESULTS = Path(__file__).resolve().parent / "results"


def machine_name() -> str:
    """`cpu-<n>core` or `gpu-<device kind>` (lower-case, dashes)."""
    dev = jax.devices()[0]
    if dev.platform == "cpu":
        return f"cpu-{os.cpu_count()}core"
    return f"{dev.platform}-" + re.sub(r"[^a-z0-9]+", "-", dev.device_kind.lower()).strip("-")


def _flops(compiled: jax.stages.Compiled) -> float:
    cost = compiled.cost_analysis()
    cost = cost[0] if isinstance(cost, (list, tuple)) else cost
    return float(cost["flops"])


def flops_per_clip(config: TimesformerConfig) -> dict[str, float]:
    """XLA-counted forward FLOPs of one clip, from 1- and 2-layer unrolled configs (see module docstring)."""
    x = jax.ShapeDtypeStruct((1, config.num_frames, config.image_size, config.image_size, 3), jnp.float32)
    counts = []
    for n in (1, 2):
        cfg = dataclasses.replace(config, num_hidden_layers=n)
        model = Timesformer(cfg, unroll_layers=True)
        fn = jax.jit(lambda p, v, m=model: m.apply({"params": p}, v).cls_embedding)
        counts.append(_flops(fn.lower(param_shapes(cfg), x).compile()))
    per_layer = counts[1] - counts[0]
    return {
        "flops_per_clip": counts[0] + (config.num_hidden_layers - 1) * per_layer,
        "flops_per_layer": per_layer,
        "flops_outside_layers": counts[0] - per_layer,
    }


def time_calls(fn, args, reps: int) -> tuple[float, list[float]]:
    """Warm-up once, then `reps` timed calls; returns (median seconds, all)."""
    jax.block_until_ready(fn(*args))
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        jax.block_until_ready(fn(*args))
        times.append(time.perf_counter() - t0)
    return statistics.median(times), times


def bench_jax(
    config: TimesformerConfig, params: dict, batches: list[int], dtypes: list[str], reps: int, flops: float
) -> list[dict]:
    """Time `jit(embed_clips)` per (dtype, batch); one row per point."""
    rows = []
    for dtype_name in dtypes:
        dtype = jnp.dtype(dtype_name)
        for b in batches:
            x = jax.device_put(
                jnp.asarray(
                    np.random.default_rng(b).standard_normal(
                        (b, config.num_frames, config.image_size, config.image_size, 3), dtype=np.float32
                    )
                )
            )
            fn = jax.jit(lambda p, v, dt=dtype: embed_clips(p, v, config, dtype=dt))
            t0 = time.perf_counter()
            compiled = fn.lower(params, x).compile()
            compile_s = time.perf_counter() - t0
            med, all_t = time_calls(compiled, (params, x), reps)
            row = {
                "impl": "niljax-flax",
                "dtype": dtype_name,
                "batch": b,
                "compile_s": round(compile_s, 3),
                "median_s": med,
                "times_s": all_t,
                "clips_per_s": b / med,
                "tflops_per_s": flops * b / med / 1e12,
            }
            rows.append(row)
            print(
                f"jax   {dtype_name:9s} B={b:4d}  {row['clips_per_s']:9.3f} clips/s  "
                f"{row['tflops_per_s']:7.3f} TFLOP/s  (compile {compile_s:.1f} s)",
                flush=True,
            )
    return rows


def bench_torch(config: TimesformerConfig, batches: list[int], reps: int) -> list[dict]:
    """Time `transformers.TimesformerModel` (float32, inference mode) at the same batch sizes."""
    import torch
    import transformers

    torch.manual_seed(0)
    model = transformers.TimesformerModel(transformers.TimesformerConfig(**config.to_hf_dict())).eval()
    rows = []
    for b in batches:
        x = torch.randn(b, config.num_frames, 3, config.image_size, config.image_size)
        with torch.inference_mode():
            model(x)
            times = []
            for _ in range(reps):
                t0 = time.perf_counter()
                model(x)
                times.append(time.perf_counter() - t0)
        med = statistics.median(times)
        rows.append(
            {
                "impl": "transformers-torch",
                "dtype": "float32",
                "batch": b,
                "median_s": med,
                "times_s": times,
                "clips_per_s": b / med,
                "torch_threads": torch.get_num_threads(),
            }
        )
        print(f"torch float32   B={b:4d}  {b / med:9.3f} clips/s", flush=True)
    return rows


def matmul_peak_tflops(n: int = 8192, reps: int = 20) -> float:
    """Measured bf16 matmul TFLOP/s (n x n x n, f32 accumulate), the device's practical peak."""
    a = jax.random.normal(jax.random.key(0), (n, n), jnp.bfloat16)
    b = jax.random.normal(jax.random.key(1), (n, n), jnp.bfloat16)
    f = jax.jit(lambda x, y: x @ y)
    med, _ = time_calls(f, (a, b), reps)
    return 2 * n**3 / med / 1e12


def main() -> None:
    """Parse arguments, run the benchmark, write the JSON."""
    on_gpu = jax.devices()[0].platform != "cpu"
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", choices=("base", "tiny"), default="base")
    ap.add_argument("--batches", default="8,32,64,128" if on_gpu else "1,2,4")
    ap.add_argument("--dtypes", default="float32,bfloat16")
    ap.add_argument("--reps", type=int, default=10 if on_gpu else 2)
    ap.add_argument("--no-torch", action="store_true", help="skip the PyTorch comparison (CPU only anyway)")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()

    config = TimesformerConfig.base_k400() if args.config == "base" else TimesformerConfig.tiny()
    batches = [int(b) for b in args.batches.split(",")]
    dtypes = [d.strip() for d in args.dtypes.split(",")]
    machine = machine_name()
    t_start = time.perf_counter()
    load_start = os.getloadavg()[0]

    flops = flops_per_clip(config)
    print(f"{machine}: {flops['flops_per_clip'] / 1e9:.1f} GFLOP per clip (XLA cost analysis)", flush=True)
    params = jax.device_put(init_params(config, 0))
    rows = bench_jax(config, params, batches, dtypes, args.reps, flops["flops_per_clip"])

    result = {
        "benchmark": "timesformer",
        "machine": machine,
        "device": str(jax.devices()[0].device_kind),
        "platform": platform.platform(),
        "loadavg_1m_at_start": load_start,  # the CPU is shared: a load above its core count slows everything
        "jax": jax.__version__,
        "config": args.config,
        "model": dataclasses.asdict(config),
        **flops,
        "results": rows,
    }
    if not on_gpu and not args.no_torch:
        torch_rows = bench_torch(config, batches, args.reps)
        result["torch"] = torch_rows
        result["ratio_vs_torch"] = [
            {
                "dtype": r["dtype"],
                "batch": r["batch"],
                "ratio": r["clips_per_s"]
                / next(t["clips_per_s"] for t in torch_rows if t["batch"] == r["batch"]),
            }
            for r in rows
        ]
    if on_gpu:
        peak = matmul_peak_tflops()
        result["bf16_matmul_peak_tflops"] = peak
        for r in rows:
            r["utilisation_vs_bf16_peak"] = r["tflops_per_s"] / peak
        print(
            f"bf16 matmul peak {peak:.1f} TFLOP/s; best encoder utilisation "
            f"{max(r['utilisation_vs_bf16_peak'] for r in rows):.1%}"
        )
    result["wall_s"] = time.perf_counter() - t_start
    result["loadavg_1m_at_end"] = os.getloadavg()[0]
    out = args.out or RESULTS / f"timesformer_{machine}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(f"wrote {out} ({result['wall_s']:.0f} s)")


if __name__ == "__main__":
    main()
