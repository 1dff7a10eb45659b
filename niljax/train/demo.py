"""The embedded CPU demo (`niljax demo`, the README's main command).

A fixed-base 3-link toy arm (robots/toy_arm.toml, primitives only) learns to imitate a reference made by the
replay backend: a smooth joint trajectory rendered from the follow camera at 64x64 on a plain background.
The reward is the NIL reward (video term with a tiny random-init TimeSformer, mask IoU, regularisers); the
learner is BRO with small networks. About 5 minutes on a 2-core CPU. It writes a normal run folder
(config, metrics.jsonl, TensorBoard, curves.png, checkpoints, policy, rollout.mp4 with the reference side
by side, summary.json with the evaluation before and after training) and prints the before/after numbers.

Honesty check built in: the summary states the untrained policy's evaluation (step 0) next to the trained
one, measured the same way (deterministic actor, full reference length, same seeds).
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from pathlib import Path

import numpy as np
import tyro

from niljax.encoders.factory import EncoderConfig
from niljax.learner.config import BROConfig
from niljax.render import RenderConfig
from niljax.reward import PenaltyScales, RewardConfig
from niljax.train.config import TrainConfig

DEMO_ROBOT = "toy_arm"


def demo_trajectory(scene, num_frames: int, control_hz: float) -> np.ndarray:
    """qpos[T, nq]: home pose plus smooth, distinct sinusoids on every actuated joint (within limits)."""
    t = np.arange(num_frames) / control_hz
    qpos = np.repeat(scene.home_qpos[None, :], num_frames, axis=0)
    for j, adr in enumerate(scene.joint_qpos_adr):
        amp = 0.6 - 0.1 * j
        lo, hi = scene.joint_range[j]
        wave = scene.home_qpos[adr] + amp * np.sin(2 * math.pi * 0.7 * t + 1.3 * j)
        qpos[:, adr] = np.clip(wave, lo + 1e-3 if np.isfinite(lo) else -np.inf, hi - 1e-3 if np.isfinite(hi) else np.inf)
    return qpos


def render_trajectory_views(scene, qpos: np.ndarray, render: RenderConfig,
                            batch: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """Render qpos[T, nq] from every view of `render` with the batch renderer (kinematics only): rgb
    uint8[V,T,H,W,3], mask bool[V,T,H,W]. With `camera_anchor="static"` the camera stays at its frame-0 pose."""
    import jax

    from niljax.render import BatchRenderer
    from niljax.render.kinematics import kinematic_data

    renderer = BatchRenderer(scene.mj_model, scene.robot_geom_mask, render, batch)
    static = render.camera_anchor == "static"

    @jax.jit
    def render_fn(data, shift):  # noqa: ANN001, ANN202 - mjx.Data, f32[B,3]
        return renderer.render_views(data, shift=shift if static else None)

    num = len(qpos)
    padded = np.concatenate([qpos, np.repeat(qpos[-1:], (-num) % batch, axis=0)])
    rgbs, masks, root0 = [], [], None
    for i in range(0, len(padded), batch):
        data = kinematic_data(scene.mj_model, padded[i:i + batch])
        root = np.asarray(data.xpos[:, scene.root_body_id])
        root0 = root[0] if root0 is None else root0
        rgb, mask = render_fn(data, (root0[None] - root).astype(np.float32))  # static: back to frame 0's camera
        rgbs.append(np.asarray(rgb))
        masks.append(np.asarray(mask))
    return np.concatenate(rgbs, axis=1)[:, :num], np.concatenate(masks, axis=1)[:, :num]


def render_trajectory(scene, qpos: np.ndarray, render: RenderConfig, batch: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """Render qpos[T, nq] from the first view of `render` (kinematics only): rgb uint8[T,H,W,3], mask bool[T,H,W]."""
    rgb, mask = render_trajectory_views(scene, qpos, dataclasses.replace(render, views=render.views[:1]), batch)
    return rgb[0], mask[0]


def make_replay_bundle(out: Path, robot: str, qpos: np.ndarray, render: RenderConfig,
                       encoder_config: EncoderConfig, clip_len: int, *, source: str, skill: str = "moving",
                       scene=None, extra: dict | None = None) -> Path:  # noqa: ANN001 - a RobotScene
    """Replay backend in miniature: render qpos[T, nq] (at the control rate) of `robot` with the training
    renderer and save it as a reference bundle, with the root's path (`root_pos`, what a reference-anchored
    camera follows). `scene` overrides `load_robot(robot)` (e.g. a robot loaded from an explicit MJCF).
    With several `render.views` it writes a multi-view reference (one bundle per view, `save_view_bundles`)."""
    from niljax.encoders.factory import build_encoder
    from niljax.render.camera import camera_record
    from niljax.reward import make_bundle, save_bundle, save_view_bundles
    from niljax.robots import load_robot
    from niljax.sim.replay import kinematic_poses

    if scene is None:
        scene = load_robot(robot, plain_background=render.background == "plain")
    hz = 1.0 / scene.control_dt
    frames, masks = render_trajectory_views(scene, qpos, render)
    root_pos = kinematic_poses(scene, qpos)["xpos"][:, scene.root_body_id]
    extra = dict(extra or {}, model=dict(mjcf=str(Path(scene.asset_path).resolve()), source=scene.asset_source,
                                         fingerprint=scene.model_fingerprint()))
    encoder = build_encoder(encoder_config)
    camera_words = "static camera" if render.camera_anchor == "static" else "camera follows the agent"
    bundles = {
        view.name: make_bundle(
            frames[v], masks[v], encoder, robot=robot,
            prompt=f"The {robot} agent is {skill}, {camera_words}.", source=source,
            original_fps=hz, control_rate_hz=hz, resampling="none",
            camera=camera_record(scene.mj_model, render, view), clip_len=clip_len,
            extra=extra, root_pos=root_pos, qpos=qpos,
        )
        for v, view in enumerate(render.view_specs())
    }
    if len(bundles) == 1:
        return save_bundle(next(iter(bundles.values())), out, overwrite=True)
    return save_view_bundles(bundles, out, overwrite=True)


def make_demo_reference(out: Path, render: RenderConfig, encoder_config: EncoderConfig, num_frames: int,
                        clip_len: int) -> Path:
    """The demo's reference: the toy arm waving (smooth sinusoids on every joint)."""
    from niljax.robots import load_robot

    scene = load_robot(DEMO_ROBOT)
    qpos = demo_trajectory(scene, num_frames, 1.0 / scene.control_dt)
    return make_replay_bundle(out, DEMO_ROBOT, qpos, render, encoder_config, clip_len,
                              source="replay:demo-sinusoids(0.7 Hz; 0.6/0.5/0.4 rad)", skill="waving")


@dataclasses.dataclass(frozen=True)
class DemoArgs:
    """The embedded CPU demo: a toy arm learns to imitate a replayed reference (about 5 minutes on 2 cores)."""

    out: str = "runs/demo"  # run folder (its reference bundle goes to OUT/reference)
    env_steps: int = 40_000  # training budget in env steps
    num_envs: int = 16
    seed: int = 0
    encoder: str = "timesformer-random"  # timesformer-random (tiny TimeSformer) | toy
    progress: bool = True


def demo_config(args: DemoArgs, reference: Path) -> TrainConfig:
    """The demo's TrainConfig: small everything, same code path as a GPU run."""
    render = RenderConfig(height=64, width=64, backend="jax", background="plain", fovy=40.0)
    return TrainConfig(
        reference=str(reference), robot=DEMO_ROBOT, run_dir=str(Path(args.out) / "run"), seed=args.seed,
        num_envs=args.num_envs, total_env_steps=args.env_steps, iterations_per_call=25,
        eval_every=max(args.env_steps // 4, 1), eval_envs=4, checkpoint_every=max(args.env_steps // 4, 1),
        progress=args.progress, render=render,
        encoder=EncoderConfig(kind=args.encoder, preset="tiny", clip_len=8, seed=args.seed),
        # The arm's base is fixed: torso tilt and foot slip say nothing about it.
        reward=RewardConfig(penalty_scales=PenaltyScales(torso_tilt=0.0, foot_slip=0.0)),
        # Small BRO: a tracking task needs little credit assignment (discount 0.9) and a low starting
        # temperature (rewards are O(1) per step); no resets in a run this short.
        learner=BROConfig(critic_width=128, critic_depth=1, actor_width=128, actor_depth=1, n_quantiles=25,
                          batch_size=128, updates_per_iteration=4, random_steps=1_000, reset_steps=(),
                          replay_capacity=100_000, discount=0.9, init_temperature=0.1),
    )


def run_demo(args: DemoArgs) -> dict:
    from niljax.train.run import train, use_compile_cache

    t0 = time.perf_counter()
    out = Path(args.out)
    probe = demo_config(args, out / "reference")
    use_compile_cache(probe)  # before the reference is rendered and embedded: those programs are cached too
    reference = out / "reference"
    if not (reference / "metadata.json").exists():
        make_demo_reference(reference, probe.render, probe.encoder, num_frames=120, clip_len=probe.reward.clip_len)
    run_dir = train(probe)
    summary = json.loads((run_dir / "summary.json").read_text())
    summary["wall_time_s"] = round(time.perf_counter() - t0, 1)
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    before, after = summary["before"], summary["after"]
    print(f"\n[niljax demo] wrote {run_dir} in {summary['wall_time_s']} s")
    for key in ("eval/iou_mean", "eval/video_mean", "eval/nil_return"):
        print(f"  {key:<18} untrained {before[key]:8.3f}   trained {after[key]:8.3f}")
    print(f"  curves: {run_dir / 'curves.png'}   video: {run_dir / 'rollout.mp4'}")
    return summary


def demo_main(argv: list[str]) -> int:
    args = tyro.cli(DemoArgs, args=argv, prog="niljax demo")
    run_demo(args)
    return 0
