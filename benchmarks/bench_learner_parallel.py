"""Data-parallel learner: BRO updates/s on 1 device vs the batch split over D devices (issue 13, item 4).

Times `niljax.learner.loop.sample_updates` (K sequential updates in one jitted `lax.scan`, each sampling a
fresh batch from a replicated device replay of random transitions) with `sharding=None` on one device and with
`batch_sharding(mesh)` over all devices (each device trains on B/D rows, XLA all-reduces the gradients). Same
networks, batch, K and replay; one process, so both runs see the same devices and threads. Updates/s count
sequential gradient updates (one seed).

On a CPU the "devices" are host devices forced with `--xla_force_host_platform_device_count` sharing the same
cores: the 1-device run already uses every core through XLA's intra-op threads, so no speed-up is expected
there; the figure that matters is on several GPUs (to do where one is available). The load average is recorded.

Usage: python benchmarks/bench_learner_parallel.py [--machine cpu-2core] [--devices 2] [--calls 5]
       [--rows small:1024 official:4096 ...]
Writes benchmarks/results/learner_parallel_<machine>.json.
"""

from __future__ import annotations

import argparse
import os

from niljax import _runtime

if __name__ == "__main__":
    _args = argparse.ArgumentParser(add_help=False)
    _args.add_argument("--devices", type=int, default=2)
    _runtime.configure(host_device_count=_args.parse_known_args()[0].devices)

import json
import platform
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from niljax.learner import bro
from niljax.learner.bro import BROConfig
from niljax.learner.loop import batch_sharding, sample_updates
from niljax.learner.replay import Transition, replay_init, replay_insert

SIZES = {
    "small": {"critic_width": 128, "critic_depth": 1, "actor_width": 64, "actor_depth": 1, "n_quantiles": 25},
    "official": {},
}
OBS_DIM, ACT_DIM = 70, 19  # about H1's observation and action sizes
CAPACITY = 100_000


def _replay(rng: jax.Array) -> object:
    k = jax.random.split(rng, 4)
    n = CAPACITY
    tr = Transition(jax.random.normal(k[0], (n, OBS_DIM)), jax.random.uniform(k[1], (n, ACT_DIM), minval=-1, maxval=1),
                    jax.random.normal(k[2], (n,)), jax.random.normal(k[3], (n, OBS_DIM)), jnp.zeros(n), jnp.zeros(n))
    return replay_insert(replay_init(CAPACITY, OBS_DIM, ACT_DIM), tr)


def bench(cfg: BROConfig, k: int, calls: int, mesh: Mesh | None) -> dict[str, float]:
    devices = mesh.devices.ravel().tolist() if mesh is not None else [jax.devices()[0]]
    place = NamedSharding(mesh, P()) if mesh is not None else devices[0]
    sharding = batch_sharding(mesh, cfg.batch_size) if mesh is not None else None
    learner = jax.device_put(jax.jit(bro.init_learner, static_argnums=(1, 2, 3))(
        jax.random.PRNGKey(0), OBS_DIM, ACT_DIM, cfg), place)
    replay = jax.device_put(jax.jit(_replay)(jax.random.PRNGKey(1)), place)
    fn = jax.jit(lambda lr, rp, key: sample_updates(lr, rp, key, k, sharding=sharding), donate_argnums=0)
    key = jax.random.PRNGKey(2)
    t0 = time.perf_counter()
    learner, m = fn(learner, replay, key)
    jax.block_until_ready(learner)
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    for i in range(calls):
        learner, m = fn(learner, replay, jax.random.fold_in(key, i))
    jax.block_until_ready(learner)
    dt = time.perf_counter() - t0
    assert np.isfinite(float(m["critic_loss"]))
    return {"devices": len(devices), "first_call_s": first, "updates_per_s": calls * k / dt,
            "samples_per_s": calls * k * cfg.batch_size / dt}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--machine", default="cpu-2core")
    p.add_argument("--devices", type=int, default=2, help="host devices to force (CPU) / use")
    p.add_argument("--rows", nargs="*", default=["small:1024", "small:4096", "official:1024", "official:4096"],
                   help="network size:batch pairs (sizes: small, official)")
    p.add_argument("--updates", type=int, default=8, help="K sequential updates per jitted call")
    p.add_argument("--calls", type=int, default=5, help="timed calls after the first")
    p.add_argument("--out", default=None)
    args = p.parse_args()
    n_dev = min(args.devices, len(jax.devices()))
    mesh = Mesh(np.array(jax.devices()[:n_dev]), ("data",))
    load_start = list(os.getloadavg())
    rows = []
    pairs = [(r.split(":")[0], int(r.split(":")[1])) for r in args.rows]
    for size, batch in pairs:
        if size not in SIZES:
            raise SystemExit(f"unknown network size {size!r} in --rows (choices: {sorted(SIZES)})")
        cfg = BROConfig(**SIZES[size], batch_size=batch, random_steps=0, reset_steps=(), replay_capacity=CAPACITY)
        one = bench(cfg, args.updates, args.calls, None)
        par = bench(cfg, args.updates, args.calls, mesh)
        row = {"size": size, "batch_size": batch, "K": args.updates, "one_device": one, f"{n_dev}_devices": par,
               "speedup": par["updates_per_s"] / one["updates_per_s"], "loadavg_1_5_15": list(os.getloadavg())}
        rows.append(row)
        print(f"{size:8s} B={batch:5d} | 1 device {one['updates_per_s']:8.2f} upd/s | {n_dev} devices "
              f"{par['updates_per_s']:8.2f} upd/s | x{row['speedup']:.2f} | load {row['loadavg_1_5_15'][0]:.1f}",
              flush=True)
    out = Path(args.out or Path(__file__).parent / "results" / f"learner_parallel_{args.machine}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({
        "benchmark": "bench_learner_parallel", "machine": args.machine, "backend": jax.default_backend(),
        "devices": [str(d) for d in jax.devices()], "cpu_count": os.cpu_count(), "platform": platform.platform(),
        "jax": jax.__version__, "loadavg_1_5_15_at_start": load_start, "loadavg_1_5_15_at_end": list(os.getloadavg()),
        "obs_dim": OBS_DIM, "act_dim": ACT_DIM, "replay_capacity": CAPACITY, "networks": {s: SIZES[s] or "official BRO" for s, _ in pairs},
        "command": "python benchmarks/bench_learner_parallel.py " + " ".join(sys.argv[1:]),
        "note": "updates_per_s: sequential BRO updates per second (one seed); the D-device run splits each batch "
                "over the devices (data parallel); on CPU the forced host devices share the same cores",
        "rows": rows}, indent=2) + "\n")
    print("wrote", out)


if __name__ == "__main__":
    main()
