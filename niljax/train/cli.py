"""`niljax train` and `niljax evaluate`: typed configs from the command line (tyro).

    niljax train --reference bundle/ --robot h1 --num-envs 1024 --learner.batch-size 1024 ...
    niljax train --config runs/x/config.json           # rerun / resume with a saved config
    niljax evaluate runs/x                              # evaluate the latest checkpoint: eval.json, eval_rollout.mp4
    niljax plan --reference bundle/ --num-envs 4096 --device-memory 80GB   # memory + FLOPs, nothing compiled

Every field of `TrainConfig` (and its nested render / encoder / reward / learner configs) is a flag;
`--help` lists them with their defaults.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import tyro

from niljax.train.run_folder import load_config_file, load_run

if TYPE_CHECKING:  # imported where used: `niljax evaluate --help` needs no jax/mujoco import
    from niljax.train.config import TrainConfig


TRAIN_DESCRIPTION = """Stage 2: train a policy on a reference bundle (`niljax reference` makes one).

--config PATH  start from a saved config (a run's config.json, or a JSON file of TrainConfig fields);
               the flags given with it override its values. The same command again resumes a killed run.
--reference B  the bundle; its render size and clip length are the defaults of --height/--width and
               --clip-len (the same flags as `niljax reference`; a value that contradicts the bundle is
               refused, naming both)."""


def _flag_value(argv: list[str], flag: str) -> str | None:
    for i, arg in enumerate(argv):
        if arg == flag and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith(flag + "="):
            return arg.split("=", 1)[1]
    return None


def bundle_defaults(base: TrainConfig, reference: str | None) -> TrainConfig:
    """`base` with what the bundle at `reference` records: render size, clip length (reward and encoder) and the
    encoder that made its embeddings (kind, preset, seed or weights, from its id), so `niljax train --reference
    B` needs no flag to repeat them. The robot and its MJCF come from the bundle too (`robot = ""` and the
    recorded model, see `run.build_pipeline`). A flag given on the command line still wins, and a value that
    contradicts the bundle is refused before the run starts, naming both. Unchanged when the bundle's
    metadata.json cannot be read (the run then reports the bundle problem itself)."""
    import json as json_

    from niljax.encoders.factory import config_for_encoder_id

    meta_path = Path(reference) / "metadata.json" if reference else None
    if meta_path is None or not meta_path.is_file():
        return base
    try:
        meta = json_.loads(meta_path.read_text())
        height, width, clip_len = int(meta["height"]), int(meta["width"]), int(meta["clip_len"])
        encoder = config_for_encoder_id(base.encoder, str(meta.get("encoder", {}).get("id", "")))
        render = dataclasses.replace(base.render, height=height, width=width)
        background = (meta.get("extra") or {}).get("background")
        if background in ("plain", "scene"):  # render the way the reference was (a skill's objects drawn or not)
            render = dataclasses.replace(render, background=background)
        # the encoder's clip length follows reward.clip_len (TrainConfig.__post_init__)
        return dataclasses.replace(base, render=render,
                                   reward=dataclasses.replace(base.reward, clip_len=clip_len), encoder=encoder)
    except (ValueError, KeyError, TypeError, AttributeError):
        return base


def _train_error(err: BaseException) -> int:
    """One clear line for an error the user caused; nothing already written is touched (`--debug` re-raises)."""
    from niljax.user_errors import report_user_error

    return report_user_error("niljax train", err)


def parse_train_config(argv: list[str], prog: str = "niljax train", description: str = TRAIN_DESCRIPTION
                       ) -> TrainConfig:
    """`--config PATH` (optional) + flags -> TrainConfig, with the bundle's recorded defaults (`bundle_defaults`).
    Imports no jax/mujoco. ValueError / FileNotFoundError for a bad file or value; SystemExit for --help."""
    from niljax.train.config import TrainConfig

    base = TrainConfig()
    if "--config" in argv:
        i = argv.index("--config")
        if i + 1 >= len(argv):
            raise ValueError("--config needs a path")
        base = load_config_file(argv[i + 1])
        argv = argv[:i] + argv[i + 2:]
    base = bundle_defaults(base, _flag_value(argv, "--reference"))
    return tyro.cli(TrainConfig, args=argv, default=base, prog=prog, description=description)


def train_main(argv: list[str]) -> int:
    try:  # parse first: `--help` and a bad flag never import jax, mujoco or the training stack
        config = parse_train_config(argv)
    except (ValueError, FileNotFoundError) as err:
        return _train_error(err)
    from niljax.robots import RobotNotFoundError
    from niljax.train.run import RunConfigMismatch, train

    try:
        if config.distributed:
            from niljax.train.run import init_distributed

            init_distributed()  # cluster auto-detection, or JAX_COORDINATOR_ADDRESS / _NUM_PROCESSES / _PROCESS_ID
        if config.render.resolved_backend() == "warp":
            from niljax import _runtime

            _runtime.quiet_warp()  # no banner, kernel-load lines or CPU-only "CUDA driver not found" warning
        run_dir = train(config)
    except (ValueError, FileNotFoundError, RunConfigMismatch, RobotNotFoundError) as err:
        # bad bundle / robot / weights / config: one clear line, nothing already written is touched
        return _train_error(err)
    print(f"[niljax] run folder: {run_dir}")
    return 0


@dataclasses.dataclass(frozen=True)
class EvaluateArgs:
    """Evaluate a run's latest checkpoint with the deterministic policy; writes eval.json and eval_rollout.mp4
    (the training run's own rollout.mp4 and summary.json are left as they are)."""

    run_dir: tyro.conf.Positional[str]
    video: bool = True
    reference: str | None = None
    """The run's reference bundle, when it is no longer where config.json says (moved or copied elsewhere)."""
    episodes: int | None = None
    """Evaluation episodes (default: the run's eval_envs). With --reset-noise they differ, and eval.json gets
    each episode's metrics and their mean and std."""
    reset_noise: float | None = None
    """Uniform joint-position noise (rad) at each episode's start (default: the run's, 0 = the protocol)."""


def evaluate_main(argv: list[str]) -> int:
    args = tyro.cli(EvaluateArgs, args=argv, prog="niljax evaluate")
    run_dir = Path(args.run_dir)
    config = load_run(run_dir, args.reference)

    import jax
    import numpy as np

    from niljax.train.loop import RECORDED, summarize_eval
    from niljax.train.run import (
        build_pipeline,
        restore_checkpoint,
        use_compile_cache,
        write_side_by_side_video,
    )
    from niljax.train.run_folder import checkpoint_manager

    if args.episodes is not None or args.reset_noise is not None:
        config = dataclasses.replace(
            config, eval_envs=config.eval_envs if args.episodes is None else args.episodes,
            eval_reset_noise=config.eval_reset_noise if args.reset_noise is None else args.reset_noise)
    if config.render.resolved_backend() == "warp":
        from niljax import _runtime

        _runtime.quiet_warp()
    use_compile_cache(config)
    pipeline = build_pipeline(config)
    manager = checkpoint_manager(run_dir, config.keep_checkpoints)
    state = restore_checkpoint(manager, jax.eval_shape(pipeline.trainer.init, jax.random.PRNGKey(config.seed)))
    result = jax.device_get(pipeline.trainer.evaluate(state.learner, jax.random.PRNGKey(config.seed + 1),
                                                      record=args.video))
    summary = summarize_eval(result)
    summary["env_steps"] = int(state.env_steps)
    summary["reference"] = config.reference
    summary["episodes"] = config.eval_envs
    summary["reset_noise"] = config.eval_reset_noise
    per_episode = {k: [float(x) for x in v] for k, v in result.items() if k not in RECORDED}
    summary["std"] = {f"eval/{k}": float(np.std(v)) for k, v in per_episode.items()}
    summary["per_episode"] = per_episode
    (run_dir / "eval.json").write_text(json.dumps(summary, indent=2) + "\n")
    if args.video:
        write_side_by_side_video(run_dir / "eval_rollout.mp4", result["frames"], result["masks"],
                                 pipeline.bundle.frames[1:], pipeline.bundle.masks[1:],
                                 pipeline.bundle.metadata.control_rate_hz,
                                 alive_steps=int(result["length"][0]) if result["fell"][0] > 0 else None)
    print(json.dumps(summary, indent=2))
    return 0


PLAN_DESCRIPTION = """What a training config needs, before anything is compiled: device memory per component (physics,
frame history, render buffers, reference, encoder parameters and activations per chunk, replay, learner), FLOPs
per iteration by stage (XLA cost analysis of the lowered programs), and whether it fits the device
(--device-memory SIZE plans for another one, e.g. 80GB). Takes every `niljax train` flag and --config; plus
--json PATH (write the plan as JSON), --reference-frames T (reference length when there is no bundle, default
500) and --no-flops (memory only, faster)."""


def _pop_flag(argv: list[str], flag: str, takes_value: bool) -> tuple[list[str], str | bool | None]:
    if flag not in argv:
        return argv, None
    i = argv.index(flag)
    if not takes_value:
        return argv[:i] + argv[i + 1:], True
    if i + 1 >= len(argv):
        raise ValueError(f"{flag} needs a value")
    return argv[:i] + argv[i + 2:], argv[i + 1]


def plan_main(argv: list[str]) -> int:
    """`niljax plan [train flags] [--json PATH] [--reference-frames T] [--no-flops]`: prints the plan; exit code 0
    when it fits, 1 when it does not."""
    try:
        argv, json_path = _pop_flag(list(argv), "--json", True)
        argv, frames = _pop_flag(argv, "--reference-frames", True)
        argv, no_flops = _pop_flag(argv, "--no-flops", False)
        config = parse_train_config(argv, prog="niljax plan", description=PLAN_DESCRIPTION)
    except (ValueError, FileNotFoundError) as err:
        print(f"niljax plan: error: {err}", file=sys.stderr)
        return 2
    from niljax.train.plan import plan_run

    try:  # the limit: --device-memory (e.g. 80GB, 16GB@1), else this device's (see niljax.train.plan)
        plan = plan_run(config, flops=not no_flops, reference_frames=int(frames) if frames else None)
    except ValueError as err:
        print(f"niljax plan: error: {err}", file=sys.stderr)
        return 2
    print(plan.table())
    if json_path:
        Path(json_path).write_text(json.dumps(plan.to_dict(), indent=2) + "\n")
    return 0 if plan.fits else 1
