"""The observation and control law of a trained policy, in numpy, for C MuJoCo (`mujoco.MjData`).

This is the deployable mirror of `niljax.sim.NilEnv`'s observation and action handling; a test
(tests/test_deploy.py) checks it against the JAX env on the same states, so the two cannot drift apart.
Needs only numpy and mujoco (no JAX): copy this file and `numpy_policy.py` to run a policy anywhere.

Contract:
- `ControllerSpec`: everything the observation and the control law depend on (indices into the model, home
  pose, action scaling, PD targets' clip range, torque limits, control rate, time features, fall condition),
  `to_dict()` / `from_dict()` as plain JSON (what `policy.json` holds under "controller").
  `ControllerSpec.from_env(env)` reads it off a `NilEnv` (its scene and `EnvConfig`).
- `physics(spec, d) -> Physics`: root position, world-frame root linear/angular velocity at the root body's
  origin, torso tilt; the same formulas as `NilEnv.physics_quantities` (cvel shifted from the subtree com).
- `observation(spec, d, prev_action, time_index) -> f32[obs_dim]`: the layout of `ControllerSpec.layout()`,
  identical to `NilEnv._obs` (projected gravity, root lin/ang velocity in the root frame, root height, joint
  positions minus home, 0.1 x joint velocities, previous action, [t / time_scale], [sin, cos of the phase]).
  The "previous action" entry is what the JAX env puts there: `PhysicsQuantities.prev_action` of the step just
  taken, which is the action *before* the one that step applied. So the observation that decides action t
  shows action t - 2 (zeros for t < 2). `ActionMemory` keeps that bookkeeping.
- `control(spec, action) -> (ctrl f64[nu], action f32[nu])`: non-finite entries -> 0, clip to [-1, 1]; PD
  robots: ctrl = clip(home_ctrl + action * action_scale, ctrl_lo, ctrl_hi) (the model's position actuators
  apply kp / kd at every physics step); torque robots: ctrl = action * torque_limit.
- `fell(spec, phys) -> bool`: root below `min_root_height` or torso tilt above `max_tilt` (when enabled).
- `reset(spec, m, d, qpos, qvel)`, `step(spec, m, d, ctrl)`: the env's reset (set the state, ctrl = home
  targets, `mj_forward`) and control step (`n_substeps` x `mj_step`). Like `mjx.step`, `mj_step` leaves the
  position-dependent quantities (xpos, xmat, cvel) at the state before its last integration, and `physics`
  reads them as the JAX env does.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import mujoco
import numpy as np

__all__ = ["ActionMemory", "ControllerSpec", "Physics", "control", "fell", "observation", "physics", "reset", "step"]

SPEC_FORMAT = "niljax-controller"
SPEC_VERSION = 1

_ARRAYS = ("qpos_adr", "qvel_adr", "home_qpos", "home_ctrl", "action_scale", "torque_limit", "ctrl_lo", "ctrl_hi")


@dataclasses.dataclass(frozen=True)
class ControllerSpec:
    """What a policy's observation and control law need (see the module docstring). Arrays are numpy."""

    robot: str
    nq: int
    nv: int
    nu: int
    root_body_id: int  # the robot's root body (its pose is read from xpos/xmat, never from qpos[0:7])
    root_tree_id: int  # body_rootid of the root: cvel is expressed at this tree's subtree com
    torso_body_id: int
    qpos_adr: np.ndarray  # int[nu] qpos address of each actuated joint (actuator order)
    qvel_adr: np.ndarray  # int[nu]
    home_qpos: np.ndarray  # f32[nq]; the observation's joint positions are relative to it
    pd: bool  # position actuators (True) or motors (False)
    home_ctrl: np.ndarray  # f32[nu] PD targets at home
    action_scale: np.ndarray  # f32[nu] rad per unit action (PD)
    torque_limit: np.ndarray  # f32[nu] N m per unit action (torque)
    ctrl_lo: np.ndarray  # f32[nu] PD target clip (the joint range; +-1e9 where unlimited)
    ctrl_hi: np.ndarray
    control_dt: float
    n_substeps: int
    obs_time_index: bool
    time_scale: int  # the observed phase is time_index / time_scale
    phase_period: int | None  # also sin, cos of 2 pi time_index / phase_period
    fall_enabled: bool
    min_root_height: float
    max_tilt: float  # rad

    def __post_init__(self) -> None:
        for name in _ARRAYS:
            dtype = np.int64 if name.endswith("_adr") else np.float32
            object.__setattr__(self, name, np.asarray(getattr(self, name), dtype))
        for name in ("qpos_adr", "qvel_adr", "home_ctrl", "action_scale", "torque_limit", "ctrl_lo", "ctrl_hi"):
            if getattr(self, name).shape != (self.nu,):
                raise ValueError(f"ControllerSpec.{name} must have shape ({self.nu},) (nu), got "
                                 f"{getattr(self, name).shape}")
        if self.home_qpos.shape != (self.nq,):
            raise ValueError(f"ControllerSpec.home_qpos must have shape ({self.nq},) (nq), got {self.home_qpos.shape}")
        if self.n_substeps < 1 or self.time_scale < 1:
            raise ValueError(f"ControllerSpec: n_substeps and time_scale must be >= 1, got {self.n_substeps}, "
                             f"{self.time_scale}")

    @property
    def obs_dim(self) -> int:
        return 10 + 3 * self.nu + (1 if self.obs_time_index else 0) + (2 if self.phase_period else 0)

    def layout(self) -> list[dict[str, Any]]:
        """The observation's entries in order: name, start, size and what they hold (units, scaling)."""
        nu = self.nu
        parts = [
            ("gravity", 3, "unit gravity vector (0, 0, -1) in the root body frame"),
            ("root_linvel", 3, "root body origin linear velocity, m/s, root frame"),
            ("root_angvel", 3, "root body angular velocity, rad/s, root frame"),
            ("root_height", 1, "root body origin height above the floor, m"),
            ("joint_pos", nu, "actuated joint positions minus the home pose, rad (or m), actuator order"),
            ("joint_vel", nu, "actuated joint velocities x 0.1, actuator order"),
            ("prev_action", nu, ("the action before the last one applied, in [-1, 1]: the observation deciding "
                                 "action t shows action t - 2 (zeros for t < 2), as the JAX env does")),
        ]
        if self.obs_time_index:
            parts.append(("time", 1, f"control step index / {self.time_scale}"))
        if self.phase_period:
            parts.append(("phase", 2, f"sin, cos of 2 pi step / {self.phase_period}"))
        out, start = [], 0
        for name, size, what in parts:
            out.append({"name": name, "start": start, "size": size, "description": what})
            start += size
        return out

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON (lists for arrays)."""
        out: dict[str, Any] = {"format": SPEC_FORMAT, "version": SPEC_VERSION}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            out[f.name] = value.tolist() if isinstance(value, np.ndarray) else value
        return out

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> ControllerSpec:
        """Inverse of `to_dict`; ValueError for another format or missing fields."""
        if raw.get("format") != SPEC_FORMAT or raw.get("version") != SPEC_VERSION:
            raise ValueError(f"not a {SPEC_FORMAT} v{SPEC_VERSION} record (format {raw.get('format')!r}, "
                             f"version {raw.get('version')!r})")
        names = [f.name for f in dataclasses.fields(cls)]
        missing = [n for n in names if n not in raw]
        if missing:
            raise ValueError(f"controller record lacks {missing}")
        return cls(**{n: raw[n] for n in names})

    @classmethod
    def from_env(cls, env: Any) -> ControllerSpec:
        """The spec of a `niljax.sim.NilEnv` (its scene, `EnvConfig` and derived fall / actuation settings)."""
        scene, config = env.scene, env.config
        m = scene.mj_model
        lo, hi = scene.ctrl_range[:, 0], scene.ctrl_range[:, 1]
        return cls(
            robot=scene.name, nq=int(m.nq), nv=int(m.nv), nu=int(scene.nu), root_body_id=int(scene.root_body_id),
            root_tree_id=int(m.body_rootid[scene.root_body_id]), torso_body_id=int(scene.torso_body_id),
            qpos_adr=scene.joint_qpos_adr, qvel_adr=scene.joint_qvel_adr, home_qpos=scene.home_qpos, pd=bool(env.pd),
            home_ctrl=scene.home_ctrl, action_scale=scene.action_scale, torque_limit=scene.torque_limit,
            ctrl_lo=np.where(np.isfinite(lo), lo, -1e9), ctrl_hi=np.where(np.isfinite(hi), hi, 1e9),
            control_dt=float(env.dt), n_substeps=int(env.n_substeps), obs_time_index=bool(config.obs_time_index),
            time_scale=int(config.time_scale or config.horizon), phase_period=config.phase_period or None,
            fall_enabled=bool(env.fall_enabled), min_root_height=float(env.min_root_height),
            max_tilt=float(env.max_tilt))

    def check_model(self, m: mujoco.MjModel) -> None:
        """ValueError when `m` is not the model this spec was made for (sizes, indices)."""
        got = (int(m.nq), int(m.nv), int(m.nu))
        if got != (self.nq, self.nv, self.nu):
            raise ValueError(f"the model has (nq, nv, nu) = {got}, the policy was trained on {(self.nq, self.nv, self.nu)}")
        if max(self.root_body_id, self.torso_body_id) >= m.nbody:
            raise ValueError(f"the model has {m.nbody} bodies; the policy's root/torso body ids do not fit it")


class ActionMemory:
    """The observation's previous-action entry over an episode: `shown` is what `observation` gets as
    `prev_action`; call `push(action)` with each sanitised action once it is applied (see the module docstring)."""

    def __init__(self, nu: int) -> None:
        self.last = np.zeros(nu, np.float32)
        self.shown = np.zeros(nu, np.float32)

    def push(self, action: np.ndarray) -> None:
        self.shown, self.last = self.last, np.asarray(action, np.float32).copy()


@dataclasses.dataclass(frozen=True)
class Physics:
    """Per-step quantities the observation, the fall check and the scores read (float64)."""

    root_pos: np.ndarray  # [3] world
    root_linvel: np.ndarray  # [3] world, at the root body's origin
    root_angvel: np.ndarray  # [3] world
    torso_tilt: float  # rad from upright


def physics(spec: ControllerSpec, d: mujoco.MjData) -> Physics:
    """Root pose and velocity and torso tilt of `d` (as `NilEnv.physics_quantities` computes them)."""
    rb = spec.root_body_id
    cvel = d.cvel[rb]
    root_pos = d.xpos[rb].copy()
    linvel = cvel[3:] + np.cross(cvel[:3], root_pos - d.subtree_com[spec.root_tree_id])
    upright = float(np.clip(d.xmat[spec.torso_body_id][8], -1.0, 1.0))  # world z of the torso's z axis
    return Physics(root_pos=root_pos, root_linvel=linvel, root_angvel=cvel[:3].copy(), torso_tilt=float(np.arccos(upright)))


def observation(spec: ControllerSpec, d: mujoco.MjData, prev_action: np.ndarray, time_index: int,
                phys: Physics | None = None) -> np.ndarray:
    """The policy's observation f32[obs_dim] of `d` (layout: `spec.layout()`)."""
    phys = physics(spec, d) if phys is None else phys
    rot_t = d.xmat[spec.root_body_id].reshape(3, 3).T  # world -> root frame
    parts = [
        rot_t @ np.array([0.0, 0.0, -1.0]),
        rot_t @ phys.root_linvel,
        rot_t @ phys.root_angvel,
        phys.root_pos[2:3],
        d.qpos[spec.qpos_adr] - spec.home_qpos[spec.qpos_adr],
        0.1 * d.qvel[spec.qvel_adr],
        np.asarray(prev_action, np.float64).reshape(spec.nu),
    ]
    if spec.obs_time_index:
        parts.append(np.array([np.float32(time_index) / np.float32(spec.time_scale)]))
    if spec.phase_period:
        angle = np.float32(2.0 * np.pi) * np.float32(time_index) / np.float32(spec.phase_period)
        parts.append(np.array([np.sin(angle), np.cos(angle)]))
    return np.concatenate(parts).astype(np.float32)


def control(spec: ControllerSpec, action: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`(ctrl f64[nu], sanitised action f32[nu])` for a policy action (see the module docstring)."""
    action = np.asarray(action, np.float32).reshape(spec.nu)
    action = np.clip(np.where(np.isfinite(action), action, np.float32(0.0)), -1.0, 1.0).astype(np.float32)
    if spec.pd:
        ctrl = np.clip(spec.home_ctrl + action * spec.action_scale, spec.ctrl_lo, spec.ctrl_hi)
    else:
        ctrl = action * spec.torque_limit
    return ctrl.astype(np.float64), action


def fell(spec: ControllerSpec, phys: Physics) -> bool:
    """The env's fall condition (False when the robot cannot fall: fixed base, or disabled)."""
    if not spec.fall_enabled:
        return False
    return bool(phys.root_pos[2] < spec.min_root_height or phys.torso_tilt > spec.max_tilt)


def reset(spec: ControllerSpec, m: mujoco.MjModel, d: mujoco.MjData, qpos: np.ndarray | None = None,
          qvel: np.ndarray | None = None) -> None:
    """Put `d` in the start state: `qpos` / `qvel` (default: the home pose at rest), PD targets at home, forward."""
    mujoco.mj_resetData(m, d)
    d.qpos[:] = spec.home_qpos if qpos is None else qpos
    d.qvel[:] = 0.0 if qvel is None else qvel
    d.ctrl[:] = spec.home_ctrl if spec.pd else 0.0
    mujoco.mj_forward(m, d)


def step(spec: ControllerSpec, m: mujoco.MjModel, d: mujoco.MjData, ctrl: np.ndarray) -> bool:
    """One control step: set `ctrl`, `n_substeps` x `mj_step`. Returns False when the state became non-finite."""
    d.ctrl[:] = ctrl
    for _ in range(spec.n_substeps):
        mujoco.mj_step(m, d)
    return bool(np.isfinite(d.qpos).all() and np.isfinite(d.qvel).all())
