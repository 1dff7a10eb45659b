"""Whole-body skills (the paper's second table): one run per call, NIL reward or the task-reward RL upper bound.

    python experiments/skills.py --skill sitting --reward task --env-steps 60000     # RL upper bound (CPU)
    python experiments/skills.py --skill sitting --reward nil                        # NIL on the same reference

Reference: the skill's scripted keyframe motion (`skills/<name>.toml`) replayed on the skill's scene and
rendered with the training renderer (objects drawn, floor hidden: `background="scene"` on a plain-background
scene), so the whole path runs offline; the bundle records the skill. Evaluation: the deterministic actor from
the skill's start pose over the reference length, `eval_envs` episodes with `eval_reset_noise` so they differ;
`eval/task_success` is the success rate over them and `eval/task_reward_norm` the normalised task reward.
Every evaluation is also written as one JSON line to `<out>/evaluations.jsonl`, with the command.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from niljax import _runtime

_runtime.configure()

from niljax.encoders.factory import EncoderConfig  # noqa: E402
from niljax.learner.bro import BROConfig  # noqa: E402
from niljax.render import RenderConfig  # noqa: E402
from niljax.reward import PenaltyScales, RewardConfig  # noqa: E402
from niljax.train.config import TrainConfig  # noqa: E402


def build_config(args: argparse.Namespace, reference: str) -> TrainConfig:
    """CPU-sized run (2 cores): 48x48 renders, tiny random TimeSformer, small BRO."""
    return TrainConfig(
        reference=reference, robot=args.robot, skill=args.skill, reward_kind=args.reward, seed=args.seed,
        run_dir=str(Path(args.out) / "run"), num_envs=8, iterations_per_call=25, total_env_steps=args.env_steps,
        eval_every=args.eval_every or max(args.env_steps // 4, 1), eval_envs=4, eval_reset_noise=0.05,
        checkpoint_every=max(args.env_steps // 4, 1), reset_noise=0.05, progress=not args.no_progress,
        render=RenderConfig(height=48, width=48, backend="jax", background="scene"),
        encoder=EncoderConfig(kind="timesformer-random", preset="tiny", clip_len=8, seed=0),
        reward=RewardConfig(penalty_scales=PenaltyScales(torque=5e-7, action_rate=0.0025, angular_velocity=0.0125,
                                                         foot_slip=0.025, torso_tilt=0.25)),
        learner=BROConfig(critic_width=256, critic_depth=1, actor_width=128, actor_depth=1, n_quantiles=25,
                          batch_size=256, updates_per_iteration=2, random_steps=min(5_000, args.env_steps // 4),
                          reset_steps=(),
                          replay_capacity=200_000, init_temperature=0.1))


def prepare_reference(args: argparse.Namespace, config: TrainConfig) -> str:
    """The skill's scripted keyframe motion rendered as a bundle (cached in <out>/reference)."""
    from niljax.robots import load_skill_scene
    from niljax.train.demo import make_replay_bundle

    out = Path(args.out) / "reference"
    if (out / "metadata.json").exists():
        return str(out)
    scene = load_skill_scene(args.robot, args.skill, plain_background=True)
    if scene.reference_qpos is None:
        raise SystemExit(f"skill {args.skill!r} has no keyframes: pass a bundle made for it instead")
    path = make_replay_bundle(out, args.robot, scene.reference_qpos, config.render, config.encoder,
                              config.reward.clip_len, source=f"replay:keyframes({args.skill})",
                              skill=scene.skill.description.lower(), scene=scene, extra={"skill": args.skill})
    return str(path)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--skill", default="sitting")
    p.add_argument("--robot", default="h1")
    p.add_argument("--reward", default="task", choices=("task", "nil"))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--env-steps", type=int, default=60_000)
    p.add_argument("--eval-every", type=int, default=None)
    p.add_argument("--out", default="runs/skills/sitting-task")
    p.add_argument("--no-progress", action="store_true")
    args = p.parse_args()
    from niljax.train.run import train

    t0 = time.time()
    config = build_config(args, prepare_reference(args, build_config(args, "")))
    run_dir = train(config)
    command = "python " + " ".join(sys.argv)
    evals = []
    for line in (run_dir / "metrics.jsonl").read_text().splitlines():
        rec = json.loads(line)
        if any(k.startswith("eval/") for k in rec):
            evals.append({k: v for k, v in rec.items() if k.startswith("eval/") or k in ("step", "env_steps")})
    with open(Path(args.out) / "evaluations.jsonl", "w") as f:
        for rec in evals:
            f.write(json.dumps(dict(rec, command=command)) + "\n")
    summary = json.loads((run_dir / "summary.json").read_text())
    summary["wall_time_s"] = round(time.time() - t0, 1)
    summary["command"] = command
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    keys = ("eval/task_success", "eval/task_reward_norm", "eval/iou_mean", "eval/fell")
    for key in keys:
        print(f"{key:<24} untrained {summary['before'].get(key, float('nan')):8.3f}   "
              f"trained {summary['after'].get(key, float('nan')):8.3f}")


if __name__ == "__main__":
    main()
