"""Render throughput: frames/s vs batch size and resolution, per backend -> benchmarks/results/render_<device>.json.

    .venv/bin/python benchmarks/bench_render.py --robot h1 --mjcf ../shared/locomujoco/models/unitree_h1/h1.xml \
        [--backends warp,jax,opengl] [--sizes 64,128,224] [--batches 1,8,32] [--device-name cpu-2core]

What is timed: the jitted `BatchRenderer.render` (rgb + mask, plain background) on a batch of fixed poses already
on the device, `--repeats` calls after one warm-up call (compile time recorded separately), blocking on the
result. `opengl` is `render_opengl` one frame at a time on the host (rgb + segmentation passes), batch 1 only.
Poses: the home pose and random joint poses (uniform +-0.6 rad). Figures are for orientation only: CPU numbers
say nothing about a GPU.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

from niljax import _runtime

_runtime.configure()

import jax
import numpy as np

from niljax.render import BatchRenderer, RenderConfig, render_opengl, warp_available
from niljax.render.kinematics import kinematic_data
from niljax.robots import load_robot


def _device_name() -> str:
    dev = jax.devices()[0]
    if dev.platform == "cpu":
        return f"cpu-{os.cpu_count()}core"
    return dev.device_kind.lower().replace(" ", "-")


def _poses(scene, n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    lo, hi = scene.joint_range[:, 0], scene.joint_range[:, 1]
    qs = np.repeat(scene.home_qpos[None], n, 0)
    for i in range(1, n):
        qs[i, scene.joint_qpos_adr] = np.clip(rng.uniform(-0.6, 0.6, len(lo)), lo, hi)
    return qs


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--robot", default="h1")
    p.add_argument("--mjcf", default=None)
    p.add_argument("--backends", default="warp,jax,opengl")
    p.add_argument("--sizes", default="64,128,224")
    p.add_argument("--batches", default="1,8,32")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--min-seconds", type=float, default=1.0, help="repeat until at least this long per point")
    p.add_argument("--device-name", default=None)
    p.add_argument("--out", default=None)
    args = p.parse_args()

    device = args.device_name or _device_name()
    scene = load_robot(args.robot, mjcf_path=args.mjcf)
    m = scene.mj_model
    sizes = [int(s) for s in args.sizes.split(",")]
    batches = [int(b) for b in args.batches.split(",")]
    results = []
    for backend in args.backends.split(","):
        if backend == "warp" and not warp_available():
            print("skip warp: warp-lang not installed")
            continue
        for size in sizes:
            if backend == "opengl":
                qs = _poses(scene, 4)
                render_opengl(m, qs[0], scene.robot_geom_mask, height=size, width=size)  # GL context + warm-up
                n, t0 = 0, time.perf_counter()
                while time.perf_counter() - t0 < args.min_seconds or n < args.repeats:
                    render_opengl(m, qs[n % 4], scene.robot_geom_mask, height=size, width=size)
                    n += 1
                dt = (time.perf_counter() - t0) / n
                row = {"backend": "opengl", "size": size, "batch": 1, "frames_per_s": 1.0 / dt, "compile_s": None}
                print(row)
                results.append(row)
                continue
            for batch in batches:
                data = jax.block_until_ready(kinematic_data(m, _poses(scene, batch)))
                t0 = time.perf_counter()
                renderer = BatchRenderer.from_scene(scene, RenderConfig(backend=backend, height=size, width=size), batch)
                build_s = time.perf_counter() - t0
                fn = jax.jit(renderer.render)
                t0 = time.perf_counter()
                jax.block_until_ready(fn(data))
                compile_s = time.perf_counter() - t0
                n, t0 = 0, time.perf_counter()
                while time.perf_counter() - t0 < args.min_seconds or n < args.repeats:
                    jax.block_until_ready(fn(data))
                    n += 1
                dt = (time.perf_counter() - t0) / n
                row = {
                    "backend": backend,
                    "size": size,
                    "batch": batch,
                    "frames_per_s": batch / dt,
                    "ms_per_call": 1e3 * dt,
                    "compile_s": compile_s,
                    "context_build_s": build_s,
                    "calls": n,
                }
                print({k: (round(v, 3) if isinstance(v, float) else v) for k, v in row.items()})
                results.append(row)
    out = Path(args.out or Path(__file__).resolve().parent / "results" / f"render_{device}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "benchmark": "render",
        "device": device,
        "jax_device": str(jax.devices()[0]),
        "platform": platform.platform(),
        "robot": args.robot,
        "ngeom": int(m.ngeom),
        "mjcf": str(args.mjcf) if args.mjcf else None,
        "what": "jitted BatchRenderer.render (rgb+mask, plain background) on fixed poses; opengl = render_opengl",
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "load_average_at_end": os.getloadavg(),
        "results": results,
    }
    out.write_text(json.dumps(payload, indent=1))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
