"""Env-steps/s of the whole compiled NIL iteration (physics -> render -> reward -> replay -> BRO updates).

Builds a replay reference for the chosen robot (a static home-pose clip: the speed does not depend on what
the reference shows), then times `NilTrainer.train_chunk` after compilation for each number of envs. Also
times the chunk with the video term off, so the encoder's share of the cost is visible side by side.

    python benchmarks/bench_train.py                                   # toy arm, 64x64, tiny encoder (CPU)
    python benchmarks/bench_train.py --robot h1 --size 224 --encoder base --backend warp --envs 256,1024

Writes benchmarks/results/train_<device>.json.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

from niljax import _runtime

_runtime.configure()

import jax
import numpy as np

from niljax.encoders.factory import EncoderConfig
from niljax.learner.bro import BROConfig
from niljax.render import RenderConfig
from niljax.reward import RewardConfig
from niljax.train.config import TrainConfig
from niljax.train.demo import make_replay_bundle
from niljax.train.run import build_pipeline


def time_niljax(trainer: Any, chunks: int, min_seconds: float, state: Any = None) -> tuple[Any, dict[str, float]]:
    """First call (compile) timed apart; then at least `chunks` chunks and `min_seconds` (a shared machine's
    bursts average out over a longer window). `state`: a fresh `NilTrainState` for this trainer (default
    `trainer.init(PRNGKey(0))`; it is donated)."""
    if state is None:
        state = trainer.init(jax.random.PRNGKey(0))
    t0 = time.perf_counter()
    state, m = trainer.train_chunk(state)
    jax.block_until_ready(m)
    compile_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    done = 0
    while done < chunks or time.perf_counter() - t0 < min_seconds:
        state, m = trainer.train_chunk(state)
        jax.block_until_ready(m)
        done += 1
    dt = time.perf_counter() - t0
    steps = trainer.num_envs * trainer.iterations_per_call * done
    finite = all(bool(np.isfinite(float(v))) for v in jax.device_get(m).values())
    return state, {"env_steps_per_s": steps / dt, "seconds": dt, "chunks": done, "first_call_s": compile_s,
                   "metrics_finite": finite, "reward_total": float(m["reward/total"])}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--robot", default="toy_arm")
    p.add_argument("--mjcf", default=None)
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--backend", default="jax", choices=["jax", "warp"])
    p.add_argument("--encoder", default="tiny", choices=["tiny", "small", "base"])
    p.add_argument("--envs", default="8,32")
    p.add_argument("--iterations", type=int, default=10, help="iterations per compiled chunk")
    p.add_argument("--chunks", type=int, default=3, help="timed chunks per setting")
    p.add_argument("--updates", type=int, default=1, help="BRO updates per iteration")
    p.add_argument("--device-name", default=None)
    args = p.parse_args()

    from niljax.robots import load_robot

    device = args.device_name or ("cpu-2core" if jax.default_backend() == "cpu" else jax.devices()[0].device_kind)
    render = RenderConfig(height=args.size, width=args.size, backend=args.backend)
    encoder = EncoderConfig(kind="timesformer-random", preset=args.encoder)
    # The bundle is rendered from the very scene the run loads (same MJCF, same background): a bundle made from
    # the registry's model would not fit an explicit --mjcf (another qpos length, another fingerprint).
    scene = load_robot(args.robot, mjcf_path=args.mjcf, plain_background=render.background == "plain")
    qpos = np.repeat(scene.home_qpos[None], 40, axis=0)
    tmp = Path(tempfile.mkdtemp(prefix="niljax-bench-"))
    bundle = make_replay_bundle(tmp / "bundle", args.robot, qpos, render, encoder, 8, source="bench:home-pose",
                                scene=scene)
    results = []
    for num_envs in [int(n) for n in args.envs.split(",")]:
        for use_video in (True, False):
            config = TrainConfig(
                reference=str(bundle), robot=args.robot, mjcf=args.mjcf, run_dir=str(tmp / "run"),
                num_envs=num_envs, iterations_per_call=args.iterations, eval_envs=1, progress=False,
                render=render, encoder=encoder, reward=RewardConfig(use_video=use_video), shard=False,
                learner=BROConfig(updates_per_iteration=args.updates, random_steps=0, reset_steps=(),
                                  replay_capacity=100_000),
            )
            trainer = build_pipeline(config).trainer
            _, timing = time_niljax(trainer, args.chunks, 0.0)
            row = {"num_envs": num_envs, "video_term": use_video, "env_steps_per_s": timing["env_steps_per_s"],
                   "first_call_s": timing["first_call_s"], "updates_per_iteration": args.updates}
            print(json.dumps(row), flush=True)
            results.append(row)
    # Side by side, same run: how much the video term (TimeSformer on every env's clip) costs at each N.
    rate = {(r["num_envs"], r["video_term"]): r["env_steps_per_s"] for r in results}
    ratios = {str(n): rate[(n, False)] / rate[(n, True)] for n, v in rate if v and (n, False) in rate}
    out = Path(__file__).parent / "results" / f"train_{device}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    payload = {"benchmark": "nil-train-iteration", "device": device, "robot": args.robot, "render": dataclasses.asdict(render),
                   "encoder": dataclasses.asdict(encoder), "iterations_per_chunk": args.iterations,
                   "jax": jax.__version__, "python": platform.python_version(), "loadavg_1m": os.getloadavg()[0],
                   "results": results, "no_video_over_video_speed": ratios}
    out.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
