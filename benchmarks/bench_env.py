"""Env throughput: env-steps/s vs batch size for one robot (default H1), MJX impl jax and warp.

Each (impl, batch) compiles one program: `steps_per_call` control steps in a `lax.scan` over `jax.vmap(env.step)`
with auto-reset and zero actions; timed after compilation over `repeats` calls. One control step = n_substeps
physics steps (2 at 100 Hz with sim_dt 5 ms). Results are printed and written as JSON to
`benchmarks/results/env_<device>.json` (device defaults to e.g. `cpu-2core`).

    .venv/bin/python benchmarks/bench_env.py                      # H1, impl jax+warp, B = 1 32 128 512
    .venv/bin/python benchmarks/bench_env.py --batch 1 32 --impl jax --robot go1
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

from niljax import _runtime

_runtime.configure()

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402

from niljax.robots import load_robot  # noqa: E402
from niljax.sim import EnvConfig, NilEnv  # noqa: E402


def bench(env: NilEnv, batch: int, steps_per_call: int, repeats: int) -> dict:
    """Compile and time one (env, batch) configuration."""

    @jax.jit
    def run(state):
        def body(s, _):
            s = jax.vmap(env.step)(s, jnp.zeros((batch, env.nu), jnp.float32))
            return jax.vmap(env.reset_done)(s), None

        return jax.lax.scan(body, state, None, length=steps_per_call)[0]

    t0 = time.perf_counter()
    state = jax.block_until_ready(jax.jit(jax.vmap(env.reset))(jax.random.split(jax.random.PRNGKey(0), batch)))
    state = jax.block_until_ready(run(state))
    compile_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    for _ in range(repeats):
        state = run(state)
    jax.block_until_ready(state)
    dt = time.perf_counter() - t0
    n = batch * steps_per_call * repeats
    return {"batch": batch, "env_steps_per_s": n / dt, "physics_steps_per_s": n * env.n_substeps / dt,
            "seconds": dt, "compile_and_first_call_s": compile_s,
            "finite": bool(jnp.all(jnp.isfinite(state.data.qpos)))}


def main(argv: list[str] | None = None) -> dict:
    """CLI entry: parse args, run the grid, print + write JSON."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--robot", default="h1")
    p.add_argument("--mjcf", default=None, help="explicit MJCF path for the robot")
    p.add_argument("--impl", nargs="+", default=["jax", "warp"])
    p.add_argument("--batch", nargs="+", type=int, default=[1, 32, 128, 512])
    p.add_argument("--steps-per-call", type=int, default=20)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--device", default=None, help="name for the results file, e.g. cpu-2core or h100")
    p.add_argument("--out", default=None)
    a = p.parse_args(argv)
    dev = jax.devices()[0]
    device = a.device or (f"cpu-{os.cpu_count()}core" if dev.platform == "cpu" else dev.device_kind.replace(" ", "-"))
    scene = load_robot(a.robot, mjcf_path=a.mjcf)
    rows = []
    for impl in a.impl:
        try:
            env = NilEnv(scene, EnvConfig(impl=impl))
        except Exception as e:  # noqa: BLE001 - e.g. warp missing: record and go on
            rows.append({"impl": impl, "error": f"{type(e).__name__}: {e}"[:300]})
            print(json.dumps(rows[-1]), flush=True)
            continue
        for b in a.batch:
            try:
                r = {"impl": impl, **bench(env, b, a.steps_per_call, a.repeats)}
            except Exception as e:  # noqa: BLE001
                r = {"impl": impl, "batch": b, "error": f"{type(e).__name__}: {e}"[:300]}
            rows.append(r)
            print(json.dumps(r), flush=True)
    result = {"benchmark": "env_steps_per_second", "robot": a.robot, "device": device,
              "jax_device": str(dev), "jax": jax.__version__, "python": sys.version.split()[0],
              "machine": platform.machine(), "control_hz": scene.spec.control_hz, "n_substeps": scene.n_substeps,
              "steps_per_call": a.steps_per_call, "repeats": a.repeats, "results": rows,
              "note": "zero actions, auto-reset on; timed after compile; shared machine figures vary with load"}
    out = Path(a.out) if a.out else Path(__file__).resolve().parent / "results" / f"env_{device}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
