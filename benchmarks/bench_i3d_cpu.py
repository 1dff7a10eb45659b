"""Cost of the video term per training step on this machine: I3D (K400) at several input sizes vs the CPU tier's
random-init tiny TimeSformer, for one batch of N clips (the N envs' clips at a scoring step).

Timings alternate between encoders round by round, so a machine shared with other jobs slows all of them alike;
the JSON records the 1-min load average before and after. Writes benchmarks/results/i3d_cpu.json.

    python benchmarks/bench_i3d_cpu.py --envs 8 --render 48 --sizes 32 48 64 112 --rounds 5
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


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--envs", type=int, default=8)
    p.add_argument("--render", type=int, default=48)
    p.add_argument("--sizes", type=int, nargs="+", default=[32, 48, 64, 112])
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--out", default=str(Path(__file__).parent / "results" / "i3d_cpu.json"))
    args = p.parse_args()

    import jax
    import jax.numpy as jnp
    import numpy as np

    from niljax.encoders.factory import EncoderConfig, build_encoder

    encoders = {"timesformer-random/tiny": build_encoder(EncoderConfig(kind="timesformer-random", preset="tiny"))}
    for s in args.sizes:
        encoders[f"i3d@{s}"] = build_encoder(EncoderConfig(kind="i3d", size=s))
    rng = np.random.default_rng(0)
    frames = jnp.asarray(rng.integers(0, 255, (args.envs, 8, args.render, args.render, 3), dtype=np.uint8))
    masks = jnp.asarray(rng.random((args.envs, 8, args.render, args.render)) > 0.5)
    embed = jax.jit(lambda e, f, m: e.embed(f, m, jnp.float32))
    load0 = os.getloadavg()[0]
    compile_s, times = {}, {k: [] for k in encoders}
    for name, enc in encoders.items():
        t = time.perf_counter()
        embed(enc, frames, masks).block_until_ready()
        compile_s[name] = time.perf_counter() - t
    for _ in range(args.rounds):
        for name, enc in encoders.items():
            t = time.perf_counter()
            embed(enc, frames, masks).block_until_ready()
            times[name].append(time.perf_counter() - t)
    base = float(np.median(times["timesformer-random/tiny"]))
    result = {
        "machine": platform.node(), "cpus": os.cpu_count(), "load_1min_before": load0,
        "load_1min_after": os.getloadavg()[0], "envs": args.envs, "render": args.render, "clip_len": 8,
        "rounds": args.rounds,
        "per_batch_s_median": {k: float(np.median(v)) for k, v in times.items()},
        "per_batch_s_min": {k: float(np.min(v)) for k, v in times.items()},
        "ratio_to_tiny_timesformer": {k: float(np.median(v)) / base for k, v in times.items()},
        "compile_s": compile_s,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
