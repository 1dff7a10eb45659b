"""BRO's official replay ratio at small N vs the large-N (large_batch) mode at the same env-step budget (issue 13).

Task: the pure-JAX Pendulum swing-up (`niljax.learner.testing_tasks`; random policy about -1200, solved about
-150), small BRO networks (critic and actor 64 x 1, 25 quantiles), 1,000 random warm-up env steps, no resets
inside the budget, 2 seeds vmapped. Settings, all at BRO-fast's `updates_per_env_step = 2`, i.e. 256 replayed
samples per collected transition:

- `official_n8`: 8 envs, official mode: K = 2 * 8 = 16 sequential updates of batch 128 per iteration (BRO's
  2 updates per env step), BRO's tau and learning rates;
- `large_batch_n64`: 64 envs, large_batch mode, batch 2048 (m = 16 BRO batches): K = 2 * 64 / 16 = 8 updates
  per iteration (0.125 per env step, 16x fewer sequential updates), per update tau = 1 - 0.995^16, actor and
  critic lr * 4 (sqrt), temperature and dual lr * 16;
- `large_batch_n64_unscaled`: the same N, batch and K in official mode, i.e. BRO's per-update tau and learning
  rates (what the old accounting did): the control that shows what the scaling rules do.

Each run: deterministic evaluation (8 episodes per seed) at a few points and at the end; the JSON records the
returns per seed, the realised ratio (`replay_ratio_report`), wall time and load average.

    nice -n 19 python experiments/replay_ratio.py --out experiments/results/replay_ratio/pendulum.json

(`tests/test_replay_ratio_learning.py`, marked slow, runs the same settings and asserts on them.)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

from niljax import _runtime

if __name__ == "__main__":
    _runtime.configure()

import jax
import numpy as np

from niljax.learner import testing_tasks as tt
from niljax.learner.config import BROConfig, format_replay_ratio, replay_ratio_report
from niljax.learner.loop import BROLoop

ENV_STEPS = 6_144  # divisible by 8 and 64: both settings collect exactly this many env steps per seed
SMALL: dict[str, Any] = {
    "critic_width": 64, "critic_depth": 1, "actor_width": 64, "actor_depth": 1, "n_quantiles": 25,
    "random_steps": 1_000, "reset_steps": (), "replay_capacity": ENV_STEPS, "updates_per_env_step": 2.0}


def settings() -> dict[str, tuple[BROConfig, int]]:
    """name -> (config, num_envs)."""
    return {
        "official_n8": (BROConfig(**SMALL, batch_size=128), 8),
        "large_batch_n64": (BROConfig(**SMALL, replay_mode="large_batch", batch_size=2048), 64),
        "large_batch_n64_unscaled": (BROConfig(**SMALL, batch_size=2048, updates_per_iteration=8), 64),
    }


def run_setting(cfg: BROConfig, num_envs: int, env_steps: int = ENV_STEPS, num_seeds: int = 2,
                evals: int = 4) -> dict[str, Any]:
    """Train `num_seeds` vmapped seeds for `env_steps` env steps per seed; evaluate `evals` times (evenly
    spaced, the last at the end). Returns returns per seed, the realised ratio and timings."""
    if env_steps % num_envs:
        raise ValueError(f"env_steps {env_steps} must be a multiple of num_envs {num_envs}")
    loop = BROLoop(tt.pendulum_reset, tt.pendulum_step, tt.OBS_DIM, tt.ACT_DIM, cfg, num_envs=num_envs,
                   num_seeds=num_seeds)
    print(loop.describe_replay_ratio(), flush=True)
    iterations = env_steps // num_envs
    marks = sorted({round(iterations * (i + 1) / evals) for i in range(evals)})
    state, done, curve = loop.init(0), 0, []
    t0 = time.perf_counter()
    for mark in marks:
        state, _ = loop.run(state, mark - done)
        done = mark
        returns = np.asarray(loop.evaluate(state.learner, jax.random.PRNGKey(123), 8, tt.EPISODE_LENGTH))
        curve.append({"env_steps": int(state.env_steps), "return_per_seed": returns.mean(axis=1).tolist()})
        print(f"  {int(state.env_steps):6d} env steps: eval return per seed {np.round(curve[-1]['return_per_seed'], 1)}",
              flush=True)
    final = curve[-1]["return_per_seed"]
    return {
        "num_envs": num_envs, "num_seeds": num_seeds, "env_steps": int(state.env_steps),
        "sequential_updates": iterations * loop.num_updates,
        "final_return_per_seed": final, "final_return_mean": float(np.mean(final)),
        "curve": curve, "ratio": replay_ratio_report(cfg, num_envs),
        "ratio_text": format_replay_ratio(cfg, num_envs),
        "wall_s": time.perf_counter() - t0, "trace_count": loop.trace_count, "config": cfg.to_dict(),
    }


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--env-steps", type=int, default=ENV_STEPS)
    p.add_argument("--seeds", type=int, default=2)
    p.add_argument("--only", nargs="*", default=None, help="a subset of the settings")
    p.add_argument("--out", default="experiments/results/replay_ratio/pendulum.json")
    args = p.parse_args(argv)
    results = {}
    for name, (cfg, n) in settings().items():
        if args.only and name not in args.only:
            continue
        print(f"== {name}", flush=True)
        results[name] = run_setting(cfg, n, args.env_steps, args.seeds)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({
        "experiment": "replay_ratio", "task": "pure-JAX pendulum swing-up (random ~ -1200, solved ~ -150)",
        "command": "nice -n 19 python " + " ".join(["experiments/replay_ratio.py", *(argv or sys.argv[1:])]),
        "env_steps_per_seed": args.env_steps, "backend": jax.default_backend(), "platform": platform.platform(),
        "jax": jax.__version__, "loadavg_1_5_15_at_end": list(os.getloadavg()),
        "settings": results}, indent=2) + "\n")
    print("wrote", out)


if __name__ == "__main__":
    main()
