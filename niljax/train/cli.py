"""`niljax train` and `niljax evaluate`: typed configs from the command line (tyro).

    niljax train --reference bundle/ --robot h1 --num-envs 1024 --learner.batch-size 1024 ...
    niljax train --config runs/x/config.json           # rerun / resume with a saved config
    niljax evaluate runs/x                              # evaluate the latest checkpoint, write rollout.mp4

Every field of `TrainConfig` (and its nested render / encoder / reward / learner configs) is a flag;
`--help` lists them with their defaults.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

import tyro

from niljax.train.config import TrainConfig


def train_main(argv: list[str]) -> int:
    from niljax.robots import RobotNotFoundError
    from niljax.train.run import RunConfigMismatch, train

    base = TrainConfig()
    if "--config" in argv:
        i = argv.index("--config")
        if i + 1 >= len(argv):
            print("niljax train: --config needs a path", file=sys.stderr)
            return 2
        base = TrainConfig.load(argv[i + 1])
        argv = argv[:i] + argv[i + 2:]
    try:
        config = tyro.cli(TrainConfig, args=argv, default=base, prog="niljax train")
        if config.distributed:
            from niljax.train.run import init_distributed

            init_distributed()  # cluster auto-detection, or JAX_COORDINATOR_ADDRESS / _NUM_PROCESSES / _PROCESS_ID
        run_dir = train(config)
    except (ValueError, FileNotFoundError, RunConfigMismatch, RobotNotFoundError) as err:
        # bad bundle / robot / weights / config: one clear line, nothing already written is touched
        print(f"niljax train: error: {err}", file=sys.stderr)
        return 2
    print(f"[niljax] run folder: {run_dir}")
    return 0


@dataclasses.dataclass(frozen=True)
class EvaluateArgs:
    """Evaluate a run's latest checkpoint with the deterministic policy; writes eval.json and rollout.mp4."""

    run_dir: tyro.conf.Positional[str]
    video: bool = True


def evaluate_main(argv: list[str]) -> int:
    import jax

    from niljax.train.run import (
        _checkpoint_manager,
        build_pipeline,
        restore_checkpoint,
        write_side_by_side_video,
    )
    from niljax.train.loop import summarize_eval

    args = tyro.cli(EvaluateArgs, args=argv, prog="niljax evaluate")
    run_dir = Path(args.run_dir)
    if not (run_dir / "config.json").exists():
        print(f"niljax evaluate: {run_dir} is not a run folder (no config.json)", file=sys.stderr)
        return 2
    config = TrainConfig.load(run_dir / "config.json")
    pipeline = build_pipeline(config)
    manager = _checkpoint_manager(run_dir, config.keep_checkpoints)
    if manager.latest_step() is None:
        print(f"niljax evaluate: no checkpoint in {run_dir / 'checkpoints'}", file=sys.stderr)
        return 2
    state = restore_checkpoint(manager, jax.eval_shape(pipeline.trainer.init, jax.random.PRNGKey(config.seed)))
    result = jax.device_get(pipeline.trainer.evaluate(state.learner, jax.random.PRNGKey(config.seed + 1),
                                                      record=args.video))
    summary = summarize_eval(result)
    summary["env_steps"] = int(state.env_steps)
    (run_dir / "eval.json").write_text(json.dumps(summary, indent=2) + "\n")
    if args.video:
        write_side_by_side_video(run_dir / "rollout.mp4", result["frames"], result["masks"],
                                 pipeline.bundle.frames[1:], pipeline.bundle.masks[1:],
                                 fps=max(int(pipeline.bundle.metadata.control_rate_hz) // 2, 1))
    print(json.dumps(summary, indent=2))
    return 0
