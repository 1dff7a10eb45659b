"""Shared builder for the paper-setting experiments (one thin script per setting in this folder).

Every experiment is: (1) a reference bundle — by default the replay backend on the robot's LocoMuJoCo
motion-capture walk (an expert reference with known ground truth, since no video model runs offline), or any
bundle you pass with `--reference`; (2) `niljax train` with the paper's reward (ζ = β = η = 1, cosine video
similarity, TimeSformer-base K400) and BRO's official hyper-parameters, sized for one GPU node.

    python experiments/h1_walk.py --trajectory ../shared/locomujoco/datasets/02-constspeed_UnitreeH1.npz \
        --trajectory-fps 500 --mjcf ../shared/locomujoco/models/unitree_h1/h1.xml \
        --encoder-weights /path/to/timesformer-k400
    python experiments/h1_walk.py --quick ...      # smoke size: CPU, tiny random encoder, a few thousand steps

Paper settings (GPU): 224x224 renders, TimeSformer-base K400, N=1024 envs, BRO in large_batch mode (batch
4096 = 32 BRO batches, BRO-fast's 256 replayed samples per transition in 64 sequential updates per iteration;
see docs/learner.md, "Replay ratio"), 1M env steps. `--quick`: 64x64 renders,
tiny random-init TimeSformer, N=8, 2,000 env steps — it checks the plumbing, not the result.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from niljax import _runtime

_runtime.configure()

from niljax.encoders.factory import EncoderConfig  # noqa: E402
from niljax.learner.bro import BROConfig  # noqa: E402
from niljax.render import RenderConfig  # noqa: E402
from niljax.reward import PenaltyScales, RewardConfig  # noqa: E402
from niljax.train.config import TrainConfig  # noqa: E402

# The paper's reward ablations (H1): which terms are on (one table for every experiment script).
from walking import VARIANTS as ABLATIONS  # noqa: E402


def parse_args(robot: str, skill: str = "walking") -> argparse.Namespace:
    p = argparse.ArgumentParser(description=f"NIL: {robot} {skill} (paper setting)")
    p.add_argument("--reference", help="an existing reference bundle (skips Stage 1)")
    p.add_argument("--trajectory", help="replay backend: LocoMuJoCo-style .npz with q_<joint> arrays")
    p.add_argument("--trajectory-fps", type=float, default=None,
                   help="the trajectory's frame rate (default: its 'frequency' key, else 100; the shared LocoMuJoCo "
                        "fixtures' velocities imply 500)")
    p.add_argument("--mjcf", help="explicit MJCF for the robot (e.g. the LocoMuJoCo model)")
    p.add_argument("--encoder-weights", default="facebook/timesformer-base-finetuned-k400")
    p.add_argument("--out", default=f"runs/{robot}-{skill}")
    p.add_argument("--quick", action="store_true", help="smoke-run size (CPU, tiny random encoder)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--env-steps", type=int, default=None)
    return p.parse_args()


def train_config(robot: str, args: argparse.Namespace, reference: str, ablation: str = "full") -> TrainConfig:
    switches = ABLATIONS[ablation]
    if args.quick:
        render = RenderConfig(height=64, width=64, backend="jax")
        encoder = EncoderConfig(kind="timesformer-random", preset="tiny", seed=args.seed)
        learner = BROConfig(critic_width=128, critic_depth=1, actor_width=128, actor_depth=1, n_quantiles=25,
                            updates_per_iteration=1, random_steps=500, reset_steps=(), replay_capacity=20_000)
        sizes = dict(num_envs=8, total_env_steps=args.env_steps or 2_000, eval_envs=2, iterations_per_call=25)
    else:
        render = RenderConfig(height=224, width=224, backend="warp")
        encoder = EncoderConfig(kind="timesformer", weights=args.encoder_weights)
        # BRO official networks; large_batch mode: 2 BRO updates per env step (BRO-fast) as 64 updates of
        # 4096 per iteration of 1024 env steps, tau / learning rates / duals scaled per update (docs/learner.md).
        learner = BROConfig(replay_mode="large_batch", updates_per_env_step=2, batch_size=4096,
                            replay_capacity=2_000_000, reset_steps=(15_000,))
        sizes = dict(num_envs=1024, total_env_steps=args.env_steps or 1_000_000, eval_envs=16,
                     iterations_per_call=10)
    return TrainConfig(
        reference=reference, robot=robot, mjcf=args.mjcf, run_dir=str(Path(args.out) / ablation / "run"),
        seed=args.seed, eval_every=max(sizes["total_env_steps"] // 20, 1),
        checkpoint_every=max(sizes["total_env_steps"] // 20, 1), render=render, encoder=encoder,
        reward=RewardConfig(**switches, penalty_scales=PenaltyScales()), learner=learner, **sizes,
    )


def prepare_reference(robot: str, args: argparse.Namespace, config: TrainConfig) -> str:
    """Stage 1 with the replay backend unless a bundle was given."""
    if args.reference:
        return args.reference
    if not args.trajectory:
        raise SystemExit("give --reference BUNDLE or --trajectory FILE.npz (replay backend)")
    from niljax.reference.pipeline import ReferenceConfig, prepare_reference as stage1

    out = Path(args.out) / "reference"
    if (out / "bundle" / "metadata.json").exists():
        return str(out / "bundle")
    ref = ReferenceConfig(out=str(out), robot=robot, mjcf_path=args.mjcf, backend="replay",
                          trajectory=args.trajectory, trajectory_fps=args.trajectory_fps,
                          height=config.render.height, width=config.render.width,
                          encoder=config.encoder, clip_len=config.reward.clip_len)
    return str(stage1(ref))


def run(robot: str, ablation: str = "full", skill: str = "walking") -> Path:
    from niljax.train.run import train, use_compile_cache

    args = parse_args(robot, skill)
    probe = train_config(robot, args, reference="")
    use_compile_cache(probe)
    reference = prepare_reference(robot, args, probe)
    return train(dataclasses.replace(train_config(robot, args, reference, ablation)))
