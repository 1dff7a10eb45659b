"""Shared builder for the paper-setting experiments (one thin script per setting in this folder).

Every experiment is: (1) a reference bundle — by default the replay backend on the robot's LocoMuJoCo
motion-capture walk (an expert reference with known ground truth, since no video model runs offline), or any
bundle you pass with `--reference`; (2) `niljax train` with the paper's reward (ζ = β = η = 1, cosine video
similarity, TimeSformer-base K400) and BRO's official hyper-parameters, sized for one GPU node.

    python experiments/h1_walk.py --encoder-weights /path/to/timesformer-k400   # the shipped h1-walk (500 Hz)
    python experiments/h1_walk.py --trajectory walk.npz --trajectory-fps 500 --mjcf path/to/h1.xml  # your own
    python experiments/h1_walk.py --quick ...      # smoke size: the CPU tier, 2,000 env steps
    python experiments/h1_walk.py --rehearse ...    # the GPU tier changed only in size, on any host

Sizes come from `niljax.train.tiers` (the same definition as `experiments/walking.py --tier` and the benchmark
suite's presets; default `--tier gpu`: 224x224 MuJoCo Warp renders, TimeSformer-base K400 in bfloat16, N=1024
envs, BRO in large_batch mode, 2M env steps; docs/learner.md, "The GPU tier's learner"), the walking
regularisers of walking.py. `--quick`: the CPU tier (48x48, tiny random-init TimeSformer, N=8) at 2,000 env
steps — it checks the plumbing, not the result. Runs go to `--out/<tier>/<ablation>/run`; a GPU tier refuses
to start when JAX runs on the CPU (`--allow-cpu` overrides).
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from niljax import _runtime

_runtime.configure()

from niljax.reward import RewardConfig  # noqa: E402
from niljax.train.accel import require_accelerator  # noqa: E402
from niljax.train.config import TrainConfig  # noqa: E402
from niljax.train.tiers import TIERS, get_tier  # noqa: E402

# The robots' LocoMuJoCo files (../shared, else shipped / fetched) and the paper's reward ablations (H1): which
# terms are on (one table for every experiment script).
from walking import FIXTURES, WALKING_PENALTIES, fixture_file  # noqa: E402
from walking import VARIANTS as ABLATIONS  # noqa: E402


def parse_args(robot: str, skill: str = "walking") -> argparse.Namespace:
    p = argparse.ArgumentParser(description=f"NIL: {robot} {skill} (paper setting)")
    p.add_argument("--reference", help="an existing reference bundle (skips Stage 1)")
    p.add_argument("--trajectory", help="replay backend: LocoMuJoCo-style .npz with q_<joint> arrays, or a shipped "
                   "walk's name (default without --reference: the robot's, e.g. h1-walk, with LocoMuJoCo's MJCF)")
    p.add_argument("--trajectory-fps", type=float, default=None,
                   help="the trajectory's frame rate (default: its 'frequency' key, else 100; the shared LocoMuJoCo "
                        "fixtures' velocities imply 500)")
    p.add_argument("--mjcf", help="explicit MJCF for the robot (e.g. the LocoMuJoCo model)")
    p.add_argument("--encoder-weights", default="facebook/timesformer-base-finetuned-k400")
    p.add_argument("--out", default=f"runs/{robot}-{skill}")
    p.add_argument("--tier", default="gpu", choices=sorted(TIERS), help="sizes (niljax.train.tiers; default: one GPU)")
    p.add_argument("--quick", action="store_true", help="smoke-run size (the CPU tier, 2,000 env steps)")
    p.add_argument("--rehearse", action="store_true", help="the tier changed only in size, on any backend")
    p.add_argument("--allow-cpu", action="store_true", help="run a GPU tier although JAX runs on the CPU")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--env-steps", type=int, default=None)
    args = p.parse_args()
    if get_tier(args.tier).accelerator and not (args.quick or args.rehearse or args.allow_cpu):
        try:  # before Stage 1: a GPU tier on a CPU backend (a CUDA/TPU plugin that did not load) stops here
            require_accelerator(f"--tier {args.tier}")
        except ValueError as err:
            raise SystemExit(f"{robot} {skill}: {err}") from err
    if args.reference is None and args.trajectory is None and robot in FIXTURES:
        # the robot's LocoMuJoCo walk shipped with niljax (500 Hz, its `frequency` key) and the model whose joint
        # names it uses: ../shared when present, else shipped (A1) or from `python -m niljax.data.fetch`
        args.trajectory = f"{robot}-walk"
        args.mjcf = args.mjcf or fixture_file(FIXTURES[robot][0])
    return args


def train_config(robot: str, args: argparse.Namespace, reference: str, ablation: str = "full") -> TrainConfig:
    """The tier's config (niljax.train.tiers, shared with walking.py and the benchmark suite) for this robot and
    reward ablation; --quick: the CPU tier with a 2,000-step budget (500 of them random warm-up)."""
    tier = get_tier("cpu" if args.quick else args.tier)
    if args.rehearse:
        tier = tier.rehearsal()
    total = args.env_steps or (2_000 if args.quick else tier.total_env_steps)
    learner = dataclasses.replace(tier.learner, random_steps=500) if args.quick else tier.learner
    tier_name = "quick" if args.quick else tier.name + ("-rehearsal" if args.rehearse else "")
    return tier.train_config(
        encoder_weights=args.encoder_weights if tier.encoder.kind == "timesformer" else None,
        reference=reference, robot=robot, mjcf=args.mjcf, run_dir=str(Path(args.out) / tier_name / ablation / "run"),
        seed=args.seed, total_env_steps=total, eval_every=max(total // 20, 1), checkpoint_every=max(total // 20, 1),
        reward=RewardConfig(**ABLATIONS[ablation], penalty_scales=WALKING_PENALTIES), learner=learner,
        allow_cpu=args.allow_cpu or args.rehearse,
    )


def prepare_reference(robot: str, args: argparse.Namespace, config: TrainConfig) -> str:
    """Stage 1 with the replay backend unless a bundle was given."""
    if args.reference:
        return args.reference
    if not args.trajectory:
        raise SystemExit("give --reference BUNDLE or --trajectory FILE.npz (replay backend)")
    from niljax.reference.pipeline import ReferenceConfig, prepare_reference as stage1

    out = Path(config.run_dir).parents[1] / "reference"  # per tier: --out/<tier>/reference
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
