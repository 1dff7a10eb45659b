"""`niljax play RUN`: the exported policy in C MuJoCo (`mujoco.MjData`, `mj_step`), an mp4 and its protocol score.

Contract:
- `export_scene(export, mjcf=None) -> RobotScene`: the robot's model through the registry (`niljax.robots`),
  the file the run used (or `mjcf`); ValueError when its fingerprint is not the one the policy was trained on.
- `Perturbation(friction=1, mass=1, action_delay=0, obs_noise=0, seed=0)`: what the C rollout changes.
  friction scales every geom's sliding friction; mass scales the mass and inertia of every robot body (the
  PD gains stay the model's); action_delay k: the actuators get the action computed k control steps earlier
  (zero-action PD targets, i.e. home, before that; the observation's previous-action entry keeps showing
  the policy's own outputs); obs_noise sigma: gaussian noise of that std on the proprioceptive entries of the observation
  (everything before `prev_action`), seeded by `seed`.
- `rollout_c(export, scene, steps=None, perturbation, frame_every=0, renderer=None, on_step=None) -> Trajectory`:
  from the protocol's start state (reference state 0, or the home pose at rest), `steps` control steps
  (default: the protocol's horizon). Like the JAX evaluation, the robot keeps stepping after a fall but the
  score stops counting there. A non-finite state ends the physics (that step counts as a fall).
- `protocol_scores(...)`: the paper protocol's numbers from per-step arrays, the same for MJX and C MuJoCo:
  `walk_loco_sum` (`niljax.sim.metrics.episode_walk_return`), `fell`, `length`, `distance`, and over a skill
  scene `task_success` / `task_reward_norm` (`niljax.sim.skills`).
- `play(path, out=None, ...) -> dict`: rollout + scores, `out` (default EXPORT/play.mp4, offscreen rendering,
  `MUJOCO_GL=egl` headless) and `play.json` beside it; `viewer=True` opens MuJoCo's passive viewer (needs a
  display: `NoDisplayError` otherwise) and plays in real time.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import mujoco
import numpy as np

from niljax.deploy import controller as ctl
from niljax.deploy.errors import NoDisplayError
from niljax.deploy.export import Export, load_export

__all__ = ["Perturbation", "Trajectory", "c_scores", "export_scene", "play", "protocol_scores", "rollout_c"]


@dataclasses.dataclass(frozen=True)
class Perturbation:
    """What a C MuJoCo rollout changes from the nominal model and controller (see the module docstring)."""

    friction: float = 1.0
    mass: float = 1.0
    action_delay: int = 0
    obs_noise: float = 0.0
    seed: int = 0

    def __post_init__(self) -> None:
        if not (self.friction > 0 and self.mass > 0):
            raise ValueError(f"friction and mass scales must be > 0, got {self.friction}, {self.mass}")
        if self.action_delay < 0 or self.obs_noise < 0:
            raise ValueError(f"action_delay and obs_noise must be >= 0, got {self.action_delay}, {self.obs_noise}")

    @property
    def nominal(self) -> bool:
        return self.friction == 1.0 and self.mass == 1.0 and self.action_delay == 0 and self.obs_noise == 0.0

    def label(self) -> str:
        parts = []
        if self.friction != 1.0:
            parts.append(f"friction x{self.friction:g}")
        if self.mass != 1.0:
            parts.append(f"mass x{self.mass:g}")
        if self.action_delay:
            parts.append(f"action delay {self.action_delay} step" + ("s" if self.action_delay > 1 else ""))
        if self.obs_noise:
            parts.append(f"obs noise sigma {self.obs_noise:g}")
        return ", ".join(parts) or "nominal"

    def apply(self, m: mujoco.MjModel, root_body_id: int) -> mujoco.MjModel:
        """A copy of `m` with the friction and mass scales applied (the model itself is untouched)."""
        m = copy.deepcopy(m)
        if self.friction != 1.0:
            m.geom_friction[:, 0] *= self.friction
        if self.mass != 1.0:
            inside = np.zeros(m.nbody, bool)
            inside[root_body_id] = True
            for b in range(root_body_id + 1, m.nbody):
                inside[b] = inside[m.body_parentid[b]]
            m.body_mass[inside] *= self.mass
            m.body_inertia[inside] *= self.mass
        return m


@dataclasses.dataclass(frozen=True)
class Trajectory:
    """Per-control-step records of one episode (T steps; index t = after step t+1)."""

    joint_pos: np.ndarray  # f64[T, nu] actuated joint positions
    root_pos: np.ndarray  # f64[T, 3] root body origin (as the env reads it after a step)
    root_vel_x: np.ndarray  # f64[T] world forward velocity of the root
    fell: np.ndarray  # bool[T] fall (or non-finite state) detected on that step
    actions: np.ndarray  # f32[T, nu] the policy's outputs
    start_x: float
    qpos: np.ndarray  # f64[T, nq]
    xpos: np.ndarray  # f64[T, nbody, 3]
    xmat: np.ndarray  # f64[T, nbody, 3, 3]
    torso_tilt: np.ndarray  # f64[T]
    root_linvel: np.ndarray  # f64[T, 3]
    saturated: np.ndarray  # int[T] actuators at their force limit after the step's last physics step
    frames: list[np.ndarray] = dataclasses.field(default_factory=list)
    frame_steps: list[int] = dataclasses.field(default_factory=list)


def export_scene(export: Export, mjcf: str | None = None, *, visible_floor: bool = False) -> Any:
    """The scene the policy was trained in, through the registry; fingerprint-checked. `visible_floor`: draw the
    floor and skybox even when the run rendered a plain background (only colours and geom groups differ, the
    physics is the same: the floor collides either way)."""
    from niljax.deploy.run_env import load_scene

    model = export.info["model"]
    path = mjcf or model.get("mjcf")
    if path and not Path(path).is_file():
        if mjcf:
            raise FileNotFoundError(f"--mjcf {mjcf}: no such file")
        path = None  # the recorded file is gone: try the registry's sources (the fingerprint decides)
    scene = load_scene(export.info["robot"], mjcf=path, skill=model.get("skill", ""),
                       plain_background=bool(model.get("plain_background", True)) and not visible_floor)
    if scene.model_fingerprint() != model["fingerprint"]:
        raise ValueError(f"the model of {export.info['robot']!r} loaded here ({scene.asset_path}, fingerprint "
                         f"{scene.model_fingerprint()}) is not the one the policy was trained on ({model.get('mjcf')}, "
                         f"fingerprint {model['fingerprint']}); pass --mjcf PATH_OF_THAT_MODEL")
    export.spec.check_model(scene.mj_model)
    return scene


def _start_state(export: Export) -> tuple[np.ndarray | None, np.ndarray | None]:
    proto = export.info["protocol"]
    if proto.get("start_qpos") is None:
        return None, None
    return np.asarray(proto["start_qpos"], float), np.asarray(proto["start_qvel"], float)


def rollout_c(export: Export, scene: Any, steps: int | None = None, perturbation: Perturbation = Perturbation(),
              frame_every: int = 0, renderer: Any = None, on_step: Callable[[Any, Any, int], None] | None = None
              ) -> Trajectory:
    """One C MuJoCo episode of the exported policy (see the module docstring)."""
    spec, policy = export.spec, export.policy
    steps = int(steps or export.info["protocol"]["horizon"])
    m = perturbation.apply(scene.mj_model, spec.root_body_id)
    d = mujoco.MjData(m)
    q0, v0 = _start_state(export)
    ctl.reset(spec, m, d, q0, v0)
    rng = np.random.default_rng(perturbation.seed)
    n_proprio = 10 + 2 * spec.nu  # observation entries before prev_action
    start_x = float(ctl.physics(spec, d).root_pos[0])
    memory = ctl.ActionMemory(spec.nu)
    pending = [np.zeros(spec.nu, np.float32)] * perturbation.action_delay  # zero actions = home targets
    rec: dict[str, list] = {k: [] for k in ("joint_pos", "root_pos", "root_vel_x", "fell", "actions", "qpos", "xpos",
                                            "xmat", "torso_tilt", "root_linvel", "saturated")}
    limited = m.actuator_forcelimited.astype(bool)
    limit = np.where(limited, np.abs(m.actuator_forcerange).max(-1), np.inf)
    frames, frame_steps = [], []
    finite = True
    for t in range(steps):
        obs = ctl.observation(spec, d, memory.shown, t)
        if perturbation.obs_noise:
            obs[:n_proprio] += (perturbation.obs_noise * rng.standard_normal(n_proprio)).astype(np.float32)
        action = policy(obs)
        pending.append(action)
        applied = pending.pop(0)
        ctrl, _ = ctl.control(spec, applied)
        memory.push(ctl.control(spec, action)[1])  # the observation's previous action: the policy's own outputs
        if finite:
            finite = ctl.step(spec, m, d, ctrl)
        phys = ctl.physics(spec, d)
        rec["joint_pos"].append(d.qpos[spec.qpos_adr].copy())
        rec["root_pos"].append(phys.root_pos)
        rec["root_vel_x"].append(phys.root_linvel[0])
        rec["root_linvel"].append(phys.root_linvel)
        rec["torso_tilt"].append(phys.torso_tilt)
        rec["fell"].append(ctl.fell(spec, phys) or not finite)
        rec["actions"].append(action)
        rec["saturated"].append(int(np.sum(np.abs(d.actuator_force) >= limit * (1 - 1e-9))))
        rec["qpos"].append(d.qpos.copy())
        rec["xpos"].append(d.xpos.copy())
        rec["xmat"].append(d.xmat.reshape(-1, 3, 3).copy())
        if renderer is not None and frame_every and t % frame_every == 0:
            renderer.update_scene(d, camera=scene.camera_id)
            frames.append(renderer.render().copy())
            frame_steps.append(t)
        if on_step is not None:
            on_step(m, d, t)
    arr = {k: np.asarray(v) for k, v in rec.items()}
    arr["fell"] = arr["fell"].astype(bool)
    return Trajectory(start_x=start_x, frames=frames, frame_steps=frame_steps, **arr)


def protocol_scores(root_vel_x: np.ndarray, fell: np.ndarray, root_x: np.ndarray, start_x: float, target: float,
                    task_ok: np.ndarray | None = None, task_reward: np.ndarray | None = None,
                    min_steps: int | None = None) -> dict[str, float]:
    """The protocol's episode numbers from per-step arrays [T] (as `NilTrainer.evaluate` computes them)."""
    from niljax.sim.metrics import episode_walk_return

    fell = np.asarray(fell, bool)
    steps = len(fell)
    fallen_before = (np.cumsum(fell) - fell) > 0
    alive = ~fallen_before
    length = int(alive.sum())
    out = {
        "walk_loco_sum": float(episode_walk_return(np.asarray(root_vel_x, np.float32), fell, target)),
        "fell": float(fell.any()),
        "length": float(length),
        "distance": float(np.asarray(root_x)[max(length - 1, 0)] - start_x),
    }
    if task_ok is not None:
        from niljax.sim.skills import episode_success

        live_ok = np.where(alive, np.asarray(task_ok, np.float32), 0.0)
        out["task_success"] = float(episode_success(live_ok[:, None], alive[:, None].astype(np.float32), min_steps)[0])
        out["task_reward_norm"] = float(np.where(alive, task_reward, 0.0).sum() / steps)
    return out


def c_scores(traj: Trajectory, export: Export, scene: Any) -> dict[str, float]:
    """`protocol_scores` of a C MuJoCo trajectory (over a skill scene, its task metrics through the JAX
    `TaskModel`, vmapped over the recorded steps)."""
    target = float(export.info["protocol"]["walk_target_speed"])
    task_ok = task_reward = min_steps = None
    if hasattr(scene, "task_info"):
        import jax
        import jax.numpy as jnp

        from niljax.sim.skills import TaskModel

        task = TaskModel(scene, walk_target=target)

        def one(qpos: Any, xpos: Any, xmat: Any, root_pos: Any, tilt: Any, linvel: Any) -> Any:
            data = _Fields(qpos=qpos, xpos=xpos, xmat=xmat)
            phys = _Fields(root_pos=root_pos, torso_tilt=tilt, root_linvel=linvel)
            return task.step(data, phys)

        def f32(x: Any) -> Any:  # the JAX env's precision
            return jnp.asarray(x, jnp.float32)

        res = jax.vmap(one)(f32(traj.qpos), f32(traj.xpos), f32(traj.xmat), f32(traj.root_pos), f32(traj.torso_tilt),
                            f32(traj.root_linvel))
        task_ok, task_reward, min_steps = np.asarray(res["task_ok"]), np.asarray(res["task_reward"]), task.min_steps
    return protocol_scores(traj.root_vel_x, traj.fell, traj.root_pos[:, 0], traj.start_x, target, task_ok, task_reward,
                           min_steps)


class _Fields:
    """Attribute access to arrays (what `TaskModel.step` reads of an mjx.Data / PhysicsQuantities)."""

    def __init__(self, **fields: Any) -> None:
        self.__dict__.update(fields)


def _write_video(path: Path, traj: Trajectory, export: Export, fps: float, label: str) -> Path:
    import imageio.v2 as imageio
    from PIL import Image, ImageDraw

    dt = export.spec.control_dt
    target = float(export.info["protocol"]["walk_target_speed"])
    per_step = np.exp(-np.square(traj.root_vel_x - target))
    fallen = np.cumsum(traj.fell) - traj.fell > 0
    running = np.cumsum(np.where(fallen, 0.0, per_step))
    fall_step = int(np.argmax(traj.fell)) if traj.fell.any() else None
    out = []
    for frame, t in zip(traj.frames, traj.frame_steps):
        image = Image.fromarray(frame)
        draw = ImageDraw.Draw(image)
        text = f"{export.info['robot']}  C MuJoCo  {label}\nt {(t + 1) * dt:5.2f} s   score {running[t]:6.1f}"
        if fall_step is not None and t >= fall_step:
            text += "   fell"
        draw.rectangle((0, 0, image.width, 30), fill=(0, 0, 0))  # a banner: readable on any background
        draw.multiline_text((6, 3), text, fill=(255, 255, 255))
        out.append(np.asarray(image))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.stem + ".tmp.mp4")
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="os.fork", category=RuntimeWarning)
        imageio.mimwrite(tmp, out, fps=fps, macro_block_size=1)
    os.replace(tmp, path)
    return path


def play(path: str | Path, out: str | Path | None = None, *, steps: int | None = None, viewer: bool = False,
         video: bool = True, perturbation: Perturbation = Perturbation(), mjcf: str | None = None, width: int = 480,
         height: int = 360, max_fps: float = 50.0) -> dict[str, Any]:
    """Play the export at `path` (export or run folder) in C MuJoCo; returns the scores (also in play.json)."""
    export = load_export(path)
    scene = export_scene(export, mjcf, visible_floor=True)
    if width % 2 or height % 2 or width < 16 or height < 16:
        raise ValueError(f"video size must be even and >= 16, got {width}x{height}")
    hz = 1.0 / export.spec.control_dt
    stride = max(1, int(np.ceil(hz / max_fps)))
    renderer = None
    out = Path(out) if out is not None else export.path / "play.mp4"
    if video:
        m = scene.mj_model
        m.vis.global_.offwidth, m.vis.global_.offheight = max(m.vis.global_.offwidth, width), \
            max(m.vis.global_.offheight, height)
        renderer = mujoco.Renderer(m, height, width)
    on_step = None
    handle = None
    if viewer:
        if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
            raise NoDisplayError("--viewer needs a display (DISPLAY or WAYLAND_DISPLAY is unset); without one, "
                                 "`niljax play` writes the mp4 only")
        from mujoco import viewer as mj_viewer

        state: dict[str, Any] = {"t0": time.perf_counter()}

        def on_step(m: Any, d: Any, t: int) -> None:  # real time in the passive viewer
            nonlocal handle
            if handle is None:
                handle = mj_viewer.launch_passive(m, d)
                state["t0"] = time.perf_counter()
            handle.sync()
            lag = (t + 1) * export.spec.control_dt - (time.perf_counter() - state["t0"])
            if lag > 0:
                time.sleep(lag)

    try:
        traj = rollout_c(export, scene, steps, perturbation, frame_every=stride if video else 0, renderer=renderer,
                         on_step=on_step)
    finally:
        if handle is not None:
            handle.close()
        if renderer is not None:
            renderer.close()
    scores = c_scores(traj, export, scene)
    result = {"robot": export.info["robot"], "simulator": f"C MuJoCo {mujoco.__version__} (mj_step, float64)",
              "perturbation": dataclasses.asdict(perturbation), "label": perturbation.label(),
              "steps": len(traj.fell), "scores": scores,
              "mjx_training_eval": export.info["source"].get("training_eval", {}).get("eval/walk_loco_sum")}
    if video:
        result["video"] = str(_write_video(out, traj, export, hz / stride, perturbation.label()))
    json_path = out.with_suffix(".json")
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(result, indent=2) + "\n")
    return result
