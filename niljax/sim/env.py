"""Batched MJX environment (MuJoCo Playground style): `NilEnv.reset(rng) -> State`, `NilEnv.step(State, a) -> State`.

Contract (one env; batch with `jax.vmap` or `BatchedEnv`):
- `reset(rng: PRNGKey) -> State`, `step(state, action f32[nu] in [-1, 1]) -> State`; both pure and jittable.
  Static (baked into the compiled program, changing them recompiles): the scene, `EnvConfig`, the batch size.
- `State.obs` f32[obs_dim]: [projected gravity in the root frame (3), root linear velocity in the root frame
  (3), root angular velocity in the root frame (3), root height (1), actuated joint positions minus home
  (nu), actuated joint velocities x 0.1 (nu), previous action (nu)] + [time_index / horizon (1)] when
  `EnvConfig.obs_time_index` (divided by `time_scale`, default `horizon`) + [sin, cos of 2 pi time_index /
  phase_period (2)] when `EnvConfig.phase_period`.
- Actions: clipped to [-1, 1]; PD robots: target = home + action * action_scale (clipped to the joint range);
  torque robots: ctrl = action * torque_limit. Non-finite action entries are replaced by 0 and counted in
  `metrics["nan_actions"]` (documented handling, never propagated into the physics).
- Control at `spec.control_hz` (100 Hz default), `n_substeps` physics steps inside one `step`.
- `reward` is 0: NIL's reward is computed later in the pipeline from renderings. `metrics` carries the two
  walking metrics (`walk_locomujoco`, `walk_humanoidbench`), `nan_actions`, `fell`, `diverged`, `root_vel_x`;
  with a skill scene (`niljax.robots.load_skill_scene`) also `task_ok` (the skill's success predicate this
  step, 0/1) and `task_reward` (its hand-designed reward in [0, 1]), see `niljax.sim.skills`.
- Termination (`done`=1, `info["truncation"]`=0): fall (root below `fall.min_root_height` or torso tilt above
  `fall.max_tilt_deg`) or non-finite physics state (`metrics["diverged"]` = 1; that step's `obs` and `physics`
  are zeros, never NaN, and `reset_done` replaces the NaN `data` by the reset state). Truncation (`done`=1, `info["truncation"]`=1): the
  time index reached `horizon` (the reference's end; `horizon` control steps when the episode started at 0).
  The learner bootstraps on truncation only.
- `info`: `time_index` int32 (reference frame index: start index at reset, +1 per step), `step_count` int32,
  `truncation` f32, `rng` key, `prev_action` f32[nu], `final_obs` f32[obs_dim] (the observation before any
  auto-reset: use it for bootstrapping), `first_data` (the mjx.Data after reset, used by auto-reset),
  `start_root` f32[3] (the root body's position at the current episode's start).
- Reference state initialisation (`NilEnv(..., start_states=(qpos[T,nq], qvel[T,nv]))`): episodes start from
  the reference's recorded state at their start index instead of the home pose at rest.
- Auto-reset (`BatchedEnv.step` / `reset_done`): Playground style, `done` stays visible for the step it
  happened; data/obs/physics/time_index are replaced by the env's reset state (same physics pose as at reset,
  a fresh start index when `random_start`).
- `PhysicsQuantities` (what the reward stage needs each step): see the class.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
import mujoco
import numpy as np
from flax import struct
from mujoco import mjx

from niljax.robots.scene import RobotScene
from niljax.sim.metrics import humanoidbench_walk_reward, locomujoco_walk_reward
from niljax.sim.skills import TaskModel

__all__ = ["EnvConfig", "NilEnv", "State", "PhysicsQuantities", "BatchedEnv", "check_action"]


@dataclasses.dataclass(frozen=True)
class EnvConfig:
    """Static env settings (hashable; a change recompiles).

    impl: MJX backend, "jax" or "warp". horizon: the time index at which episodes are truncated (the training
    loop sets it to the last reference index; with start index 0 it is the episode length in control steps).
    random_start / max_start: reset's `time_index` is 0, or uniform in [0, max_start).
    obs_time_index: append time_index / horizon to the observation. reset_noise: uniform joint-position noise
    (rad) at reset. contact_threshold: a foot is in contact when its lowest floor-colliding geom point is
    below this height (m). terminate_on_fall: end episodes on a fall (ignored for fixed-base robots).
    walk_target_speed / stand_height: override the spec's metric targets.
    """

    impl: str = "jax"
    horizon: int = 1000
    random_start: bool = False
    max_start: int = 0
    obs_time_index: bool = False
    time_scale: int | None = None  # the observed phase is time_index / time_scale (None: horizon); keep it equal
    # between a training env and an evaluation env that runs another horizon, so the policy sees the same input
    phase_period: int | None = None  # also observe a clock (sin, cos of 2 pi time_index / phase_period): the
    # phase of a periodic (looped) reference, which a small MLP cannot read off time_index / time_scale
    reset_noise: float = 0.0
    contact_threshold: float = 0.01
    terminate_on_fall: bool = True
    walk_target_speed: float | None = None
    stand_height: float | None = None
    # warp only: MuJoCo Warp's contact buffer is shared by the whole vmapped batch and overflow silently drops
    # contacts (robots sink through the floor). None -> 16384; raise it for batches beyond ~1000 envs.
    naconmax: int | None = None
    njmax: int | None = None  # warp only: constraint rows per world

    def __post_init__(self) -> None:
        if self.impl not in ("jax", "warp"):
            raise ValueError(f"EnvConfig.impl must be 'jax' or 'warp', got {self.impl!r}")
        if self.phase_period is not None and self.phase_period < 2:
            raise ValueError(f"EnvConfig.phase_period must be None or >= 2, got {self.phase_period}")
        if self.time_scale is not None and self.time_scale < 1:
            raise ValueError(f"EnvConfig.time_scale must be None or >= 1, got {self.time_scale}")
        if self.horizon < 1:
            raise ValueError(f"EnvConfig.horizon must be >= 1, got {self.horizon}")
        if self.random_start and self.max_start < 1:
            raise ValueError("EnvConfig.random_start needs max_start >= 1")


@struct.dataclass
class PhysicsQuantities:
    """Per-step physical quantities for penalties and metrics (one env; batch dims lead when vmapped).

    joint_torques f32[nu] (applied actuator forces), action f32[nu] (sanitised, clipped), prev_action f32[nu],
    root_angvel f32[3] / root_linvel f32[3] (world frame, root body origin), root_pos f32[3], root_quat f32[4]
    (w, x, y, z), feet_contact bool[n_feet], feet_vel f32[n_feet,3] (world linear velocity of the feet bodies),
    torso_tilt f32 (rad from upright), torso_upright f32 (cos of tilt), head_height f32, com_vel f32[3].
    """

    joint_torques: jax.Array
    action: jax.Array
    prev_action: jax.Array
    root_angvel: jax.Array
    root_linvel: jax.Array
    root_pos: jax.Array
    root_quat: jax.Array
    feet_contact: jax.Array
    feet_vel: jax.Array
    torso_tilt: jax.Array
    torso_upright: jax.Array
    head_height: jax.Array
    com_vel: jax.Array


@struct.dataclass
class State:
    """Env state pytree: `data` (mjx.Data), `obs`, `reward`, `done`, `metrics`, `info`, `physics`."""

    data: Any
    obs: jax.Array
    reward: jax.Array
    done: jax.Array
    metrics: dict[str, jax.Array]
    info: dict[str, Any]
    physics: PhysicsQuantities


def check_action(action: Any, nu: int) -> None:
    """Eager shape check: ValueError naming expected vs got. Works for [nu] and [N, nu] arrays."""
    shape = tuple(np.shape(action))
    if len(shape) == 0 or shape[-1] != nu:
        raise ValueError(f"action has shape {shape}; expected (..., {nu}) (the robot has {nu} actuators)")


class NilEnv:
    """One environment over a `RobotScene`; see the module docstring for the full contract."""

    def __init__(self, scene: RobotScene, config: EnvConfig = EnvConfig(),
                 start_states: tuple[np.ndarray, np.ndarray] | None = None) -> None:
        """`start_states` = (qpos f[T, nq], qvel f[T, nv]): reference state initialisation. An episode that
        starts at reference index s starts from state s (plus `reset_noise`) instead of the home pose at rest;
        the arrays become constants of the compiled program."""
        self.scene, self.config = scene, config
        self._start_qpos = self._start_qvel = None
        if start_states is not None:
            sq, sv = (np.asarray(x, np.float32) for x in start_states)
            m = scene.mj_model
            if sq.ndim != 2 or sq.shape[1] != m.nq or sv.shape != (len(sq), m.nv) or not np.isfinite(sq).all():
                raise ValueError(f"start_states must be finite (qpos[T, nq={m.nq}], qvel[T, nv={m.nv}]), got "
                                 f"{sq.shape} and {sv.shape}")
            if config.random_start and config.max_start > len(sq):
                raise ValueError(f"max_start={config.max_start} exceeds the {len(sq)} start states")
            self._start_qpos, self._start_qvel = sq, sv
        spec, m = scene.spec, scene.mj_model
        self.mj_model = m
        # This process's own device: MJX's default is jax.devices()[0], which belongs to process 0 in a
        # multi-process run (and would be baked into every other process's programs).
        self.mjx_model = mjx.put_model(m, impl=config.impl, device=jax.local_devices()[0])
        self.nu = scene.nu
        self.n_substeps = scene.n_substeps
        self.dt = scene.control_dt
        fall = spec.fall
        self.fall_enabled = bool(config.terminate_on_fall and fall.get("enabled", True) and scene.root_kind != "fixed")
        self.min_root_height = float(fall.get("min_root_height", -np.inf))
        self.max_tilt = float(np.deg2rad(fall.get("max_tilt_deg", 180.0)))
        self.walk_target = float(config.walk_target_speed if config.walk_target_speed is not None
                                 else spec.metrics.get("walk_target_speed", 1.0))
        self.stand_height = float(config.stand_height if config.stand_height is not None
                                  else spec.metrics.get("stand_height", 1.65))
        self.pd = spec.actuation["mode"] == "pd"
        # Host constants (become XLA constants when traced).
        self._home_qpos = np.asarray(scene.home_qpos, np.float32)
        self._home_ctrl = np.asarray(scene.home_ctrl, np.float32)
        self._scale = np.asarray(scene.action_scale, np.float32)
        self._torque = np.asarray(scene.torque_limit, np.float32)
        lo, hi = scene.ctrl_range[:, 0], scene.ctrl_range[:, 1]
        self._ctrl_lo = np.where(np.isfinite(lo), lo, -1e9).astype(np.float32)
        self._ctrl_hi = np.where(np.isfinite(hi), hi, 1e9).astype(np.float32)
        self._qadr, self._vadr = scene.joint_qpos_adr, scene.joint_qvel_adr
        self._robot_bodies = np.nonzero(_subtree_mask(m, scene.root_body_id))[0]
        self._body_mass = m.body_mass[self._robot_bodies].astype(np.float32)
        foot_geoms = np.nonzero(scene.geom_foot_index >= 0)[0]
        self._foot_geoms = foot_geoms
        self._foot_of_geom = scene.geom_foot_index[foot_geoms]
        self._geom_aabb = m.geom_aabb[foot_geoms].astype(np.float32)
        self.obs_dim = 10 + 3 * self.nu + (1 if config.obs_time_index else 0) + (2 if config.phase_period else 0)
        self._warp_template = None
        # A skill scene (niljax.robots.skill_scene.SkillScene) adds its task's predicate and reward to the metrics.
        self.task = TaskModel(scene, walk_target=self.walk_target) if hasattr(scene, "task_info") else None
        self.trace_counts = {"reset": 0, "step": 0}  # Python counters: +1 per trace (tests count compiles)

    # ------------------------------------------------------------------ physics helpers
    def _point_vel(self, data: Any, body: np.ndarray | int, point: jax.Array) -> jax.Array:
        """World linear velocity of points fixed to `body` (static index or index array); cvel is expressed at
        the subtree com of each body's tree root."""
        root = self.mj_model.body_rootid[body]
        cvel = data.cvel[body]
        return cvel[..., 3:] + jnp.cross(cvel[..., :3], point - data.subtree_com[root])

    def physics_quantities(self, data: Any, action: jax.Array, prev_action: jax.Array) -> PhysicsQuantities:
        """Compute `PhysicsQuantities` from an mjx.Data (after forward/step) for one env."""
        sc = self.scene
        rb, tb, hb = sc.root_body_id, sc.torso_body_id, sc.head_body_id
        root_pos = data.xpos[rb]
        root_linvel = self._point_vel(data, rb, root_pos)
        root_angvel = data.cvel[rb, :3]
        torso_z = data.xmat[tb][:, 2]
        upright = jnp.clip(torso_z[2], -1.0, 1.0)
        head = data.xpos[hb] + data.xmat[hb] @ jnp.asarray(sc.head_offset, jnp.float32)
        if sc.n_feet:
            feet = sc.feet_body_ids
            feet_vel = self._point_vel(data, feet, data.xpos[feet])
            g = self._foot_geoms
            rot_z = data.geom_xmat[g][:, 2, :]  # third row: world z of each local axis
            c, h = self._geom_aabb[:, :3], self._geom_aabb[:, 3:]
            low = data.geom_xpos[g][:, 2] + jnp.sum(rot_z * c, -1) - jnp.sum(jnp.abs(rot_z) * h, -1)
            lowest = jax.ops.segment_min(low, jnp.asarray(self._foot_of_geom), num_segments=sc.n_feet)
            feet_contact = lowest < self.config.contact_threshold
        else:
            feet_vel = jnp.zeros((0, 3), jnp.float32)
            feet_contact = jnp.zeros((0,), bool)
        rbodies = self._robot_bodies
        vel_i = self._point_vel(data, rbodies, data.xipos[rbodies])
        com_vel = (self._body_mass[:, None] * vel_i).sum(0) / max(float(self._body_mass.sum()), 1e-9)
        return PhysicsQuantities(
            joint_torques=data.actuator_force, action=action, prev_action=prev_action, root_angvel=root_angvel,
            root_linvel=root_linvel, root_pos=root_pos, root_quat=data.xquat[rb], feet_contact=feet_contact,
            feet_vel=feet_vel, torso_tilt=jnp.arccos(upright), torso_upright=upright, head_height=head[2],
            com_vel=com_vel)

    def _obs(self, data: Any, phys: PhysicsQuantities, time_index: jax.Array) -> jax.Array:
        rot = data.xmat[self.scene.root_body_id]  # root frame -> world
        parts = [
            rot.T @ jnp.array([0.0, 0.0, -1.0]),
            rot.T @ phys.root_linvel,
            rot.T @ phys.root_angvel,
            phys.root_pos[2:3],
            data.qpos[self._qadr] - self._home_qpos[self._qadr],
            0.1 * data.qvel[self._vadr],
            phys.prev_action,
        ]
        if self.config.obs_time_index:
            scale = self.config.time_scale or self.config.horizon
            parts.append(jnp.reshape(time_index.astype(jnp.float32) / scale, (1,)))
        if self.config.phase_period:
            angle = 2.0 * jnp.pi * time_index.astype(jnp.float32) / self.config.phase_period
            parts.append(jnp.stack([jnp.sin(angle), jnp.cos(angle)]))
        return jnp.concatenate(parts).astype(jnp.float32)

    def _metrics(self, phys: PhysicsQuantities, nan_count: jax.Array, fell: jax.Array,
                 diverged: jax.Array) -> dict[str, jax.Array]:
        return {
            "walk_locomujoco": locomujoco_walk_reward(phys.root_linvel[0], self.walk_target),
            "walk_humanoidbench": humanoidbench_walk_reward(phys.head_height, phys.torso_upright, phys.joint_torques,
                                                            phys.com_vel[0], self.stand_height),
            "root_vel_x": phys.root_linvel[0].astype(jnp.float32),
            "nan_actions": nan_count.astype(jnp.float32),
            "fell": fell.astype(jnp.float32),
            "diverged": diverged.astype(jnp.float32),
        }

    def _model(self) -> Any:
        # warp: a fresh pytree per trace, so state the FFI attaches while tracing never outlives that trace
        return jax.tree.map(lambda x: x, self.mjx_model) if self.config.impl == "warp" else self.mjx_model

    def _make_data(self) -> Any:
        if self.config.impl == "warp":
            kw = {"naconmax": self.config.naconmax or 16384}
            if self.config.njmax:
                kw["njmax"] = self.config.njmax
            return mjx.make_data(self.mj_model, impl="warp", device=jax.local_devices()[0], **kw)
        return mjx.make_data(self.mjx_model, device=jax.local_devices()[0])

    # ------------------------------------------------------------------ API
    def reset(self, rng: jax.Array) -> State:
        """Reset one env to the home pose (plus `reset_noise`); time_index = start index."""
        self.trace_counts["reset"] += 1
        rng, k_noise, k_start = jax.random.split(rng, 3)
        start = self._start_index(k_start)
        data = self._posed_data(self._make_data(), k_noise, start)
        zero = jnp.zeros(self.nu, jnp.float32)
        phys = self.physics_quantities(data, zero, zero)
        obs = self._obs(data, phys, start)
        info = {"time_index": start, "step_count": jnp.int32(0), "truncation": jnp.float32(0.0), "rng": rng,
                "prev_action": zero, "final_obs": obs, "first_data": data,
                "start_root": data.xpos[self.scene.root_body_id]}
        metrics = self._metrics(phys, jnp.int32(0), jnp.bool_(False), jnp.bool_(False))
        if self.task is not None:
            metrics.update(self.task.step(data, phys))
        return State(data=data, obs=obs, reward=jnp.float32(0.0), done=jnp.float32(0.0), metrics=metrics,
                     info=info, physics=phys)

    def _posed_data(self, data: Any, key: jax.Array, start: jax.Array) -> Any:
        """`data` at the home pose at rest, or at reference state `start` (`start_states`), plus uniform
        `reset_noise` on the actuated joints; forward-computed."""
        qpos = jnp.asarray(self._home_qpos)
        qvel = jnp.zeros_like(data.qvel)
        if self._start_qpos is not None:
            qpos, qvel = jnp.asarray(self._start_qpos)[start], jnp.asarray(self._start_qvel)[start]
        if self.config.reset_noise > 0:
            noise = jax.random.uniform(key, (self.nu,), minval=-1.0, maxval=1.0) * self.config.reset_noise
            qpos = qpos.at[self._qadr].add(noise)
        data = data.replace(qpos=qpos, qvel=qvel, ctrl=jnp.asarray(self._home_ctrl))
        return mjx.forward(self._model(), data)

    def _start_index(self, key: jax.Array) -> jax.Array:
        if self.config.random_start:
            return jax.random.randint(key, (), 0, self.config.max_start, dtype=jnp.int32)
        return jnp.int32(0)

    def step(self, state: State, action: jax.Array) -> State:
        """Advance one control step (n_substeps physics steps). No auto-reset here (see `BatchedEnv`)."""
        self.trace_counts["step"] += 1
        action = jnp.asarray(action, jnp.float32)
        if action.shape != (self.nu,):
            raise ValueError(f"action has shape {action.shape}; expected ({self.nu},) for one env "
                             "(vmap for a batch)")
        finite = jnp.isfinite(action)
        nan_count = jnp.sum(~finite)
        action = jnp.clip(jnp.where(finite, action, 0.0), -1.0, 1.0)
        if self.pd:
            ctrl = jnp.clip(self._home_ctrl + action * self._scale, self._ctrl_lo, self._ctrl_hi)
        else:
            ctrl = action * self._torque
        data = state.data.replace(ctrl=ctrl)
        if self.config.impl == "warp":  # warp's FFI step leaks tracers out of lax loops: unroll (n_substeps is small)
            for _ in range(self.n_substeps):
                data = mjx.step(self._model(), data)
        else:
            data = jax.lax.fori_loop(0, self.n_substeps, lambda _, d: mjx.step(self._model(), d), data)
        prev = state.info["prev_action"]
        phys = self.physics_quantities(data, action, prev)
        diverged = ~(jnp.all(jnp.isfinite(data.qpos)) & jnp.all(jnp.isfinite(data.qvel)))
        fell = jnp.bool_(False)
        if self.fall_enabled:
            fell = (phys.root_pos[2] < self.min_root_height) | (phys.torso_tilt > self.max_tilt)
        terminated = fell | diverged
        # A diverged env (non-finite qpos/qvel) ends here and is reset by `reset_done`; its physics quantities
        # are zeroed so that nothing downstream (penalties, walking metrics, the reward) sees a NaN.
        phys = jax.tree.map(lambda x: jnp.where(diverged, jnp.zeros_like(x), x), phys)
        step_count = state.info["step_count"] + 1
        time_index = state.info["time_index"] + 1
        # Truncate at the reference's end: time_index starts at the reset's start index, so an episode that
        # starts at a random offset ends where the reference ends (not `horizon` steps later, past its end).
        truncated = (time_index >= self.config.horizon) & ~terminated
        obs = self._obs(data, phys, time_index)
        obs = jnp.where(diverged, jnp.zeros_like(obs), obs)  # never hand NaNs to the learner
        info = dict(state.info, time_index=time_index, step_count=step_count,
                    truncation=truncated.astype(jnp.float32), prev_action=action, final_obs=obs)
        metrics = self._metrics(phys, nan_count, fell, diverged)
        if self.task is not None:
            metrics.update(self.task.step(data, phys))
        return State(data=data, obs=obs, reward=jnp.float32(0.0), done=(terminated | truncated).astype(jnp.float32),
                     metrics=metrics, info=info, physics=phys)

    def reset_done(self, state: State) -> State:
        """Auto-reset one env where `done`: the reset physics, a fresh start index, zero prev_action. `done`,
        `truncation`, `metrics` and `final_obs` keep the finished step's values.

        The reset physics is the stored `info["first_data"]` (no extra work) when `reset_noise` is 0 and there
        are no `start_states`; otherwise a freshly posed state (noisy home pose, or the reference's state at the
        new start index), which costs one `mjx.forward` per env per call (computed for
        every env under vmap, kept where done)."""
        first = state.info["first_data"]
        if self.config.reset_noise > 0 or self._start_qpos is not None:
            rng, k_start, k_noise = jax.random.split(state.info["rng"], 3)
            start = self._start_index(k_start)
            first = self._posed_data(first, k_noise, start)
        else:
            rng, k_start = jax.random.split(state.info["rng"])
            start = self._start_index(k_start)
        zero = jnp.zeros(self.nu, jnp.float32)
        phys0 = self.physics_quantities(first, zero, zero)
        obs0 = self._obs(first, phys0, start)
        done = state.done > 0.5

        def pick(a: Any, b: Any) -> Any:
            return jnp.where(done, a, b)

        if self.config.impl == "warp":
            # rebuilding a DataWarp through tree.map registers it with warp's FFI and leaks tracers: swap the
            # public fields only (the backend's private buffers are recomputed by the next step)
            data = state.data.replace(**{f.name: pick(getattr(first, f.name), getattr(state.data, f.name))
                                         for f in dataclasses.fields(state.data) if not f.name.startswith("_")})
        else:
            data = jax.tree.map(pick, first, state.data)
        info = dict(state.info, rng=rng, time_index=jnp.where(done, start, state.info["time_index"]),
                    step_count=jnp.where(done, 0, state.info["step_count"]),
                    prev_action=jnp.where(done, zero, state.info["prev_action"]),
                    start_root=jnp.where(done, first.xpos[self.scene.root_body_id], state.info["start_root"]))
        return state.replace(data=data, obs=jnp.where(done, obs0, state.obs), info=info,
                             physics=jax.tree.map(pick, phys0, state.physics))


def _subtree_mask(m: mujoco.MjModel, root: int) -> np.ndarray:
    inside = np.zeros(m.nbody, bool)
    inside[root] = True
    for b in range(root + 1, m.nbody):
        inside[b] = inside[m.body_parentid[b]]
    return inside


class BatchedEnv:
    """N envs: jitted `reset(rng) -> State[N]` and `step(state, action[N, nu]) -> State[N]` with auto-reset.

    `step` validates the action shape eagerly (ValueError) before calling the compiled function; inside a larger
    jitted program use `env.step` / `env.reset_done` under `jax.vmap` directly (what `step_fn` returns).
    """

    def __init__(self, env: NilEnv, num_envs: int) -> None:
        if num_envs < 1:
            raise ValueError(f"num_envs must be >= 1, got {num_envs}")
        self.env, self.num_envs = env, num_envs
        self._reset = jax.jit(jax.vmap(env.reset))
        self._step = jax.jit(self.step_fn(auto_reset=True))
        self._step_no_reset = jax.jit(self.step_fn(auto_reset=False))

    def step_fn(self, auto_reset: bool = True):  # noqa: ANN201 - returns a traced function
        """The un-jitted batched step `(State[N], f32[N, nu]) -> State[N]` to embed in a bigger program."""
        def f(state: State, action: jax.Array) -> State:
            s = jax.vmap(self.env.step)(state, action)
            return jax.vmap(self.env.reset_done)(s) if auto_reset else s
        return f

    def reset(self, rng: jax.Array) -> State:
        """Reset all N envs from one key."""
        return self._reset(jax.random.split(rng, self.num_envs))

    def step(self, state: State, action: jax.Array, auto_reset: bool = True) -> State:
        """One control step for all N envs; action shape must be (N, nu)."""
        if tuple(np.shape(action)) != (self.num_envs, self.env.nu):
            raise ValueError(f"action has shape {tuple(np.shape(action))}; expected ({self.num_envs}, "
                             f"{self.env.nu}) = (num_envs, nu)")
        return (self._step if auto_reset else self._step_no_reset)(state, action)
