"""The paper's walking table, one run per call: robot x reward variant x seed, at a chosen tier.

    python experiments/walking.py --robot h1 --tier cpu --seed 0                 # NIL, full reward
    python experiments/walking.py --robot h1 --tier cpu --seed 0 --variant zero_reward   # control: reward 0
    python experiments/walking.py --robot h1 --tier gpu --seed 0 --encoder-weights PATH  # one H100/H200
    python experiments/walking.py --robot h1 --tier gpu --rehearse     # the GPU tier at rehearsal size, on any host
    niljax table runs/walking/cpu --out experiments/results/walking_cpu           # the table

Reference: the robot's LocoMuJoCo motion-capture walk (~1 s at 500 Hz; `../shared/locomujoco` or
`$NILJAX_SHARED/locomujoco` when present, else the walks niljax ships and, for H1/G1/Talos, LocoMuJoCo's
models from `python -m niljax.data.fetch`; A1's model is shipped too), brought to
the control rate and looped to `--seconds` (default 8 s, so the 400-step evaluation never runs past it),
rendered with the training renderer; the bundle records the root's path. Evaluation: the paper protocol
(deterministic conservative actor from the home pose, each robot's `[metrics] eval_horizon` control steps,
LocoMuJoCo exp(-(v_x - v_target)^2) per step, zero after a fall), plus the same score of the reference itself
("expert", kinematic) written into summary.json.

Tiers (`niljax.train.tiers`, one definition shared with the per-robot scripts and the benchmark suite) set
render size, renderer, encoder, env count, network sizes, the replay-ratio accounting and the matmul precision;
every field stays overridable with `--set key=value` (dotted TrainConfig paths, JSON values). Bundles and runs go
to `--out/<tier>/<robot>/...` (`--out/<tier>-rehearsal/...` with --rehearse). A GPU tier refuses to start when
JAX runs on the CPU (`--allow-cpu` overrides; `niljax doctor` says why the accelerator is missing).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shlex
import time
from pathlib import Path

from niljax import _runtime

_runtime.configure()

from niljax.reward import PenaltyScales, RewardConfig  # noqa: E402
from niljax.data import locomujoco_file  # noqa: E402
from niljax.train.accel import require_accelerator  # noqa: E402
from niljax.train.config import TrainConfig  # noqa: E402
from niljax.train.tiers import TIERS, Tier, get_tier  # noqa: E402

# A LocoMuJoCo copy beside the checkout (test fixtures) is used first; without it the shipped walks and A1
# model, and the models `python -m niljax.data.fetch` brings (niljax.data.locomujoco_file).
SHARED = Path(os.environ.get("NILJAX_SHARED", Path(__file__).resolve().parents[2] / "shared")) / "locomujoco"


def fixture_file(relative: str) -> str:
    """A fixture file (FIXTURES' relative paths) from SHARED, else the shipped data / the fetch cache;
    SystemExit naming the command that brings it when it is nowhere."""
    try:
        return str(locomujoco_file(relative, search=[SHARED]))
    except FileNotFoundError as err:
        raise SystemExit(f"walking.py: {err}") from err

FIXTURES = {  # robot -> (MJCF, mocap walk, its frame rate), in LocoMuJoCo's layout (fixture_file finds them)
    "h1": ("models/unitree_h1/h1.xml", "datasets/02-constspeed_UnitreeH1.npz", 500.0),
    "g1": ("models/unitree_g1/g1.xml", "datasets/02-constspeed_UnitreeG1.npz", 500.0),
    "talos": ("models/talos/talos.xml", "datasets/02-constspeed_TALOS.npz", 500.0),
    "a1": ("models/unitree_a1/unitree_a1_torque.xml", "datasets/walk_straight_UnitreeA1.npz", 500.0),
}
# The A1 file holds three takes of the same 1 s walk start, each restarting at x = 0 (split_points 0/500/1000/
# 1500): looping all of it finds a 2 s "cycle" across a take boundary that goes nowhere (distance 0). The first
# take alone loops at 0.5 s (frames 49..99 at 100 Hz), 0.245 m/s.
FIXTURE_FRAMES = {"a1": (0, 500)}
VARIANTS: dict[str, dict[str, bool]] = {
    "full": dict(use_video=True, use_iou=True, use_penalties=True),
    "no_regularisation": dict(use_video=True, use_iou=True, use_penalties=False),
    "no_iou": dict(use_video=True, use_iou=False, use_penalties=True),
    "no_video": dict(use_video=False, use_iou=True, use_penalties=True),
    "video_only": dict(use_video=True, use_iou=False, use_penalties=False),
    "iou_only": dict(use_video=False, use_iou=True, use_penalties=False),
    "only_regularisation": dict(use_video=False, use_iou=False, use_penalties=True),
    "zero_reward": dict(use_video=False, use_iou=False, use_penalties=False),  # the control: reward 0
}

# Regulariser scales for walking. With the library defaults a falling H1 under random actions pays about -2 per
# step (angular velocity -0.7, foot slip -0.8, torque -0.2 at 1e-6, tilt -0.26; torque alone -2.2 at 1e-5),
# more than IoU + video earn (about 0.2 + 1.0): the return per step is negative and falling early pays
# (issue 12). A quarter of the defaults (torque 20x lower) keeps each term a small fraction of the imitation
# terms, so the per-step reward stays positive while the robot is up.
WALKING_PENALTIES = PenaltyScales(torque=5e-7, action_rate=0.0025, angular_velocity=0.0125, foot_slip=0.025,
                                  torso_tilt=0.25)


def tier_of(args: argparse.Namespace) -> Tier:
    """The `--tier` (niljax.train.tiers: one definition for every script), at rehearsal size with --rehearse."""
    tier = get_tier(args.tier)
    return tier.rehearsal() if args.rehearse else tier


def build_config(args: argparse.Namespace, reference: str) -> TrainConfig:
    from niljax.robots import get_spec

    tier = tier_of(args)
    total = args.env_steps or tier.total_env_steps
    reward = RewardConfig(**VARIANTS[args.variant], penalty_scales=WALKING_PENALTIES)
    horizon = int(get_spec(args.robot).metrics.get("eval_horizon", 400))
    cadence = 2 if args.rehearse else 10
    config = tier.train_config(
        encoder_weights=args.encoder_weights if tier.encoder.kind == "timesformer" else None,
        reference=reference, robot=args.robot, mjcf=args.mjcf, seed=args.seed,
        run_dir=str(run_root(args) / args.robot / args.variant / f"seed{args.seed}"), total_env_steps=total,
        # 10 evaluations and checkpoints per run (a rehearsal: 2, so that it resumes from a mid-run checkpoint)
        eval_every=args.eval_every or max(total // cadence, 1), checkpoint_every=max(total // cadence, 1),
        eval_horizon=horizon, random_start=True, reference_start=not args.home_start,
        reward=reward, progress=not args.no_progress, allow_cpu=args.allow_cpu or args.rehearse)
    for item in args.set or []:
        key, _, value = item.partition("=")
        config = _override(config, key.split("."), json.loads(value))
    return config


def run_root(args: argparse.Namespace) -> Path:
    """`--out`/<tier>: the tier names the folder of its bundles and runs, so that two tiers never share a cached
    reference (a GPU run after a CPU run would otherwise find the CPU tier's 48 px bundle)."""
    return Path(args.out) / (f"{args.tier}-rehearsal" if args.rehearse else args.tier)


def _override(obj, path: list[str], value):  # noqa: ANN001, ANN202
    if len(path) == 1:
        if isinstance(value, list):
            value = tuple(value)
        return dataclasses.replace(obj, **{path[0]: value})
    return dataclasses.replace(obj, **{path[0]: _override(getattr(obj, path[0]), path[1:], value)})


def prepare_reference(args: argparse.Namespace, config: TrainConfig) -> str:
    """The looped mocap walk as a bundle rendered with the training renderer (cached per tier/robot)."""
    import numpy as np

    from niljax.reference.first_frame import load_trajectory
    from niljax.robots import load_robot
    from niljax.sim.looping import find_cycle, loop_qpos, resample_qpos, root_planar_indices
    from niljax.train.demo import make_replay_bundle

    out = run_root(args) / args.robot / "reference"
    if (out / "metadata.json").exists() or (out / "views.json").exists():  # one view, or a multi-view folder
        check_cached_reference(out, config)
        return str(out)
    mjcf, traj, fps = FIXTURES[args.robot]
    scene = load_robot(args.robot, mjcf_path=args.mjcf, plain_background=True)
    qpos, rate = load_trajectory(args.trajectory or fixture_file(traj), scene, fps=args.trajectory_fps or fps)
    is_fixture = Path(args.trajectory or traj).name == Path(traj).name  # the fixture file, wherever it lives
    frames = args.frames or (FIXTURE_FRAMES.get(args.robot) if is_fixture else None)
    if frames:
        qpos = qpos[frames[0]:frames[1]]
    hz = 1.0 / scene.control_dt
    q = resample_qpos(qpos, rate, hz, scene.mj_model)
    planar = root_planar_indices(scene)
    start, end = find_cycle(q, exclude=planar)
    looped = loop_qpos(q, int(round(args.seconds * hz)) + 1, planar, start=start, period=end - start,
                       model=scene.mj_model)
    t0 = time.time()
    path = make_replay_bundle(out, args.robot, np.asarray(looped), config.render, config.encoder,
                              config.reward.clip_len, source=f"replay:{Path(args.trajectory or traj).name} looped "
                              f"to {args.seconds:g} s", skill="walking", scene=scene,
                              extra={"loop_period_frames": end - start})
    print(f"[walking] reference bundle {path}: {len(looped)} frames in {time.time() - t0:.0f} s")
    return str(path)


def check_cached_reference(folder: Path, config: TrainConfig) -> None:
    """SystemExit when a cached bundle was made at another render size or clip length than `config` (e.g. by an
    older walking.py that did not put the tier in the path), naming the folder to delete."""
    meta_path = folder / "metadata.json"
    if not meta_path.is_file():
        meta_path = folder / "view0" / "metadata.json"
    meta = json.loads(meta_path.read_text())
    got = (int(meta["height"]), int(meta["width"]), int(meta["clip_len"]))
    want = (config.render.height, config.render.width, config.reward.clip_len)
    if got != want:
        raise SystemExit(f"walking.py: the cached reference {folder} is {got[0]}x{got[1]} px with {got[2]}-frame "
                         f"clips, this tier needs {want[0]}x{want[1]} px with {want[2]}-frame clips: delete the "
                         "folder (it is remade), or use another --out")


def expert_row(config: TrainConfig) -> dict[str, float]:
    """The reference scored by the evaluation protocol, kinematically (it never falls)."""
    from niljax.reward import load_view_bundles
    from niljax.robots import get_spec
    from niljax.sim.metrics import kinematic_walk_return

    bundle = next(iter(load_view_bundles(config.reference).values()))  # every view replays the same motion
    spec = get_spec(config.robot)
    hz = bundle.metadata.control_rate_hz
    horizon = config.eval_horizon
    score = kinematic_walk_return(bundle.root_pos, hz, float(spec.metrics["walk_target_speed"]), horizon)
    return {"eval/walk_loco_sum": score, "eval/distance": float(bundle.root_pos[horizon, 0] - bundle.root_pos[0, 0]),
            "eval/iou_mean": 1.0, "eval/fell": 0.0, "eval/length": float(horizon)}


def _flag_value(value) -> str:  # noqa: ANN001 - how a parsed argument is typed back on a command line
    if value is True:
        return ""
    return " " + " ".join(map(str, value)) if isinstance(value, list) else f" {value}"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--robot", default="h1", choices=sorted(FIXTURES))
    p.add_argument("--variant", default="full", choices=sorted(VARIANTS))
    p.add_argument("--tier", default="cpu", choices=sorted(TIERS))
    p.add_argument("--rehearse", action="store_true",
                   help="the tier changed only in size (niljax.train.tiers.Tier.rehearsal), on any backend: what "
                        "`niljax rehearse` runs")
    p.add_argument("--allow-cpu", action="store_true",
                   help="run a GPU tier although JAX runs on the CPU (otherwise refused: a CUDA/TPU plugin that "
                        "did not load makes JAX fall back to the CPU with only a warning)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--env-steps", type=int, default=None)
    p.add_argument("--eval-every", type=int, default=None)
    p.add_argument("--seconds", type=float, default=None,
                   help="looped reference length (default 8 s; with --rehearse just the evaluation horizon)")
    p.add_argument("--mjcf", default=None, help="robot MJCF (default: the LocoMuJoCo fixture)")
    p.add_argument("--trajectory", default=None, help="mocap .npz (default: the LocoMuJoCo fixture)")
    p.add_argument("--trajectory-fps", type=float, default=None)
    p.add_argument("--frames", type=int, nargs=2, default=None, metavar=("START", "END"),
                   help="use these trajectory frames only (default for A1's fixture file: 0 500, its first take)")
    p.add_argument("--encoder-weights", default="facebook/timesformer-base-finetuned-k400")
    p.add_argument("--out", default="runs/walking")
    p.add_argument("--set", action="append", help="override: dotted.TrainConfig.field=JSON")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--reference-only", action="store_true",
                   help="render the reference bundle (if missing) and stop. With the warp renderer, run it before "
                        "training: a process that rendered the bundle has numbered warp's FFI targets differently "
                        "from its resumes, which then compile the training chunk again (docs/training.md)")
    p.add_argument("--home-start", action="store_true",
                   help="start episodes from the home pose at rest instead of the reference's state (RSI)")
    args = p.parse_args()
    if get_tier(args.tier).accelerator and not (args.allow_cpu or args.rehearse):
        try:  # before any reference is rendered: a GPU tier on a CPU backend stops here, naming the fix
            require_accelerator(f"walking.py --tier {args.tier}")
        except ValueError as err:
            raise SystemExit(f"walking.py: {err}") from err
    if args.mjcf is None:
        args.mjcf = fixture_file(FIXTURES[args.robot][0])
    if args.seconds is None:  # a rehearsal renders only what its evaluation horizon needs (size, not protocol)
        from niljax.robots import get_spec

        spec = get_spec(args.robot)
        horizon_s = (int(spec.metrics.get("eval_horizon", 400)) + 2) / spec.control_hz
        args.seconds = horizon_s if args.rehearse else 8.0
    from niljax.train.run import train

    t0 = time.time()
    probe = build_config(args, reference="")
    config = build_config(args, prepare_reference(args, probe))
    if args.reference_only:
        print(f"[walking] reference bundle ready: {config.reference}")
        return
    run_dir = train(config)
    summary_path = run_dir / "summary.json"
    summary = json.loads(summary_path.read_text())
    summary["expert"] = expert_row(config)
    summary["wall_time_s"] = round(time.time() - t0, 1)
    summary["command"] = "python experiments/walking.py " + " ".join(
        f"--{k.replace('_', '-')}" + _flag_value(v)
        for k, v in vars(args).items() if v not in (None, False) and k != "set") + "".join(
        f" --set {shlex.quote(item)}" for item in args.set or ())
    summary_path.write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps({k: summary[k] for k in ("before", "after", "expert", "wall_time_s")}, indent=2))


if __name__ == "__main__":
    main()
