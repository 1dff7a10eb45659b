"""Benchmark the compiled BRO iteration (device replay) against a host-numpy replay loop in the official style.

For each (num_envs N, replay mode, updates_per_env_step U, batch) it times `BROLoop.step` (collect N env steps of
the pure-JAX pendulum, ring-insert, K = `cfg.num_updates_per_iteration(N)` updates: U * N in official mode,
U * N * 128 / batch in large_batch mode, all in one jit) and reports env-steps/s and
updates/s (gradient updates per second, per seed). The host-numpy baseline does what the official code does
each iteration: act on device -> host, step env, insert into numpy arrays, sample K minibatches with
numpy, copy them to the device, run K jitted updates (lax.scan over the pre-sampled batches), copy state back
only by reference. Same networks, same update function, same machine; the ratio is device / host.

Usage: python benchmarks/bench_learner.py [--machine cpu-2core] [--size small|official] [--quick]
Writes benchmarks/results/learner_<machine>.json.
"""

from __future__ import annotations

from niljax import _runtime

_runtime.configure()

import argparse
import json
import os
import platform
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from niljax.learner import bro
from niljax.learner import testing_tasks as tt
from niljax.learner.bro import BROConfig
from niljax.learner.loop import BROLoop
from niljax.learner.replay import Transition

SIZES = {
    "small": {"critic_width": 128, "critic_depth": 1, "actor_width": 64, "actor_depth": 1, "n_quantiles": 25},
    "official": {},
}


def _cfg(size: str, mode: str, upe: float, n: int, batch: int) -> BROConfig:
    return BROConfig(**SIZES[size], batch_size=batch, replay_mode=mode, updates_per_env_step=upe, random_steps=0,
                     reset_steps=(), replay_capacity=max(100_000, 4 * n))


def bench_device(cfg: BROConfig, n: int, seeds: int, iters: int) -> dict[str, float]:
    loop = BROLoop(tt.pendulum_reset, tt.pendulum_step, tt.OBS_DIM, tt.ACT_DIM, cfg, num_envs=n, num_seeds=seeds)
    state = loop.init(0)
    t0 = time.perf_counter()
    state, _ = loop.step(state)
    jax.block_until_ready(state)
    compile_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    for _ in range(iters):
        state, _ = loop.step(state)
    jax.block_until_ready(state)
    dt = time.perf_counter() - t0
    return {"compile_s": compile_s, "iters_per_s": iters / dt, "env_steps_per_s": iters * n * seeds / dt,
            "updates_per_s": iters * loop.num_updates / dt, "K": loop.num_updates}


def bench_host(cfg: BROConfig, n: int, seeds: int, iters: int) -> dict[str, float]:
    """Official-style loop: numpy replay on the host, batches copied to the device every iteration."""
    k = cfg.num_updates_per_iteration(n)
    learner = bro.init_learners(jax.random.split(jax.random.PRNGKey(0), seeds), tt.OBS_DIM, tt.ACT_DIM, cfg)
    cap = cfg.replay_capacity
    buf = {f: np.zeros((seeds, cap) + s, np.float32) for f, s in
           [("obs", (tt.OBS_DIM,)), ("action", (tt.ACT_DIM,)), ("reward", ()), ("next_obs", (tt.OBS_DIM,)),
            ("terminated", ()), ("truncated", ())]}
    pos, size = 0, 0
    env_state, obs = jax.jit(jax.vmap(jax.vmap(tt.pendulum_reset)))(
        jax.random.split(jax.random.PRNGKey(1), seeds * n).reshape(seeds, n, -1))
    act = jax.jit(jax.vmap(bro.act_explore))

    @jax.jit
    def env_step(env_state, actions, key):
        keys = jax.random.split(key, seeds * n).reshape(seeds, n, -1)
        s2, tr = jax.vmap(jax.vmap(tt.pendulum_step))(env_state, actions, keys)
        fresh, fresh_obs = jax.vmap(jax.vmap(tt.pendulum_reset))(keys)
        done = tr.truncated > 0
        s2 = jax.tree.map(lambda f, o: jnp.where(done, f, o), fresh, s2)
        return s2, jnp.where(done[..., None], fresh_obs, tr.next_obs), tr

    @jax.jit
    def updates(learner, batches):
        def one(l, b):
            return jax.vmap(bro.update)(l, b)
        return jax.lax.scan(one, learner, jax.tree.map(lambda x: jnp.swapaxes(x, 0, 1), batches))

    rng = np.random.default_rng(0)
    key = jax.random.PRNGKey(2)

    def iteration(learner, env_state, obs, key, pos, size):
        key, ka, ks = jax.random.split(key, 3)
        actions = act(learner, obs, jax.random.split(ka, seeds))
        env_state, obs, tr = env_step(env_state, actions, ks)
        tr_np = jax.device_get(tr)
        idx = (pos + np.arange(n)) % cap
        for f, store in buf.items():
            store[:, idx] = getattr(tr_np, f)
        pos, size = (pos + n) % cap, min(size + n, cap)
        ind = rng.integers(0, size, size=(k, cfg.batch_size))
        batches = Transition(**{f: jnp.asarray(buf[f][:, ind]) for f in buf})
        learner, _ = updates(learner, batches)
        return learner, env_state, obs, key, pos, size

    t0 = time.perf_counter()
    learner, env_state, obs, key, pos, size = iteration(learner, env_state, obs, key, pos, size)
    jax.block_until_ready(learner)
    compile_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    for _ in range(iters):
        learner, env_state, obs, key, pos, size = iteration(learner, env_state, obs, key, pos, size)
    jax.block_until_ready(learner)
    dt = time.perf_counter() - t0
    return {"compile_s": compile_s, "iters_per_s": iters / dt, "env_steps_per_s": iters * n * seeds / dt,
            "updates_per_s": iters * k / dt, "K": k}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--machine", default="cpu-2core")
    p.add_argument("--size", default="small", choices=sorted(SIZES))
    p.add_argument("--seeds", type=int, default=2)
    p.add_argument("--iters", type=int, default=20)
    p.add_argument("--quick", action="store_true", help="three settings only (N = 1, 16, 256)")
    p.add_argument("--out", default=None)
    args = p.parse_args()
    # (num_envs, replay_mode, updates_per_env_step, batch); K = 10, 2, 16, 4, 8, 4
    grid = [(1, "official", 10, 128), (1, "official", 2, 128), (16, "official", 1, 128),
            (16, "large_batch", 1, 512), (64, "large_batch", 1, 1024), (256, "large_batch", 0.25, 2048)]
    if args.quick:
        grid = [grid[0], grid[2], grid[5]]
    rows = []
    for n, mode, rr, batch in grid:
        cfg = _cfg(args.size, mode, rr, n, batch)
        dev = bench_device(cfg, n, args.seeds, args.iters)
        host = bench_host(cfg, n, args.seeds, args.iters)
        row = {"num_envs": n, "replay_mode": mode, "updates_per_env_step": rr, "batch_size": batch, "K": dev["K"], "device": dev, "host_numpy": host,
               "speedup_iters": dev["iters_per_s"] / host["iters_per_s"]}
        rows.append(row)
        print(f"N={n:5d} RR={rr:5} B={batch:5d} K={dev['K']:4d} | device {dev['env_steps_per_s']:9.1f} env-steps/s "
              f"{dev['updates_per_s']:8.1f} upd/s | host-numpy {host['env_steps_per_s']:9.1f} env-steps/s "
              f"{host['updates_per_s']:8.1f} upd/s | x{row['speedup_iters']:.2f}", flush=True)
    out = Path(args.out or Path(__file__).parent / "results" / f"learner_{args.machine}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({
        "benchmark": "bench_learner", "machine": args.machine, "backend": jax.default_backend(),
        "devices": [str(d) for d in jax.devices()], "platform": platform.platform(), "jax": jax.__version__,
        "loadavg_1_5_15_at_end": list(os.getloadavg()),
        "network_size": args.size, "network": SIZES[args.size] or "official defaults", "num_seeds": args.seeds,
        "timed_iterations": args.iters, "env": "pure-JAX pendulum (niljax.learner.testing_tasks)",
        "note": "updates_per_s counts sequential gradient updates per seed; env_steps_per_s sums over seeds",
        "rows": rows}, indent=2))
    print("wrote", out)


if __name__ == "__main__":
    main()
