"""Skill tasks: per-step success predicates and hand-designed task rewards, pure and jittable.

Contract:
- `TaskModel(scene: SkillScene, walk_target=...)` reads the scene's `task_info` (host arrays, baked in as
  constants). `TaskModel.step(data: mjx.Data, phys: PhysicsQuantities) -> {"task_ok": f32 (0/1), "task_reward":
  f32 in [0, 1]}` for ONE env (vmap for a batch). `NilEnv` adds both to `State.metrics` when its scene is a
  `SkillScene`.
- Kinds (`task.kind` in the skill file; `TASK_KINDS`):
  - "seated": ok = root (pelvis) over the seat rectangle (+ margin), at most `max_height` above the seat top
    and above it, the feet bodies within `feet_tolerance` of their start height (on the floor), torso tilt
    under `max_tilt_deg`. Reward = closeness of the root to the scripted sit's final root position (gaussian,
    margin 0.5 m) x upright x (0.5 + 0.5 feet on the floor).
  - "hanging": ok = every hand point within `hand_tolerance` of the bar's axis and every foot more than
    `feet_clearance` above its start height. Reward = feet lift (linear, 0 at the start height, 1 at
    3 x clearance) x hands on the bar x (0.5 + 0.5 x small root speed).
  - "balanced": ok = |board tilt| <= `tilt_tolerance_deg`, torso tilt <= `upright_tolerance_deg`, root no more
    than `drop` (0.15 m) below its start height. Reward = level board x upright x standing height.
  - "walking": ok = torso tilt under 45 deg and forward speed >= half the target; reward = LocoMuJoCo's
    exp(-(v_x - v_target)^2) x upright.
- `episode_success(ok f[T, ...], alive f[T, ...], min_steps) -> f32[...]`: 1 where `ok` held (while alive)
  for at least `min_steps` consecutive control steps (the skill's `min_duration_s` at the control rate).
- The normalised task reward of an episode is the mean of `task_reward` over the evaluation horizon, 0 after a
  fall (so in [0, 1]; 1 = the task held perfectly from the first step).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from niljax.sim.metrics import locomujoco_walk_reward, tolerance

__all__ = ["TASK_KINDS", "TaskModel", "episode_success"]

TASK_KINDS = ("seated", "hanging", "balanced", "walking")


class TaskModel:
    """Success predicate + task reward of one skill scene (see the module docstring)."""

    def __init__(self, scene: Any, walk_target: float = 1.0) -> None:
        info = scene.task_info
        self.kind = info["kind"]
        if self.kind not in TASK_KINDS:
            raise ValueError(f"skill {scene.skill.name!r} ({scene.skill.origin}): task.kind {self.kind!r} is not one "
                             f"of {TASK_KINDS}")
        needs = {"seated": ("seat_center",), "hanging": ("bar_pos", "hand_body_ids"), "balanced": ("board_qpos_adr",),
                 "walking": ()}[self.kind]
        missing = [k for k in needs if k not in info]
        if missing:
            role = {"seat_center": "an object with role = 'seat'", "bar_pos": "an object with role = 'bar'",
                    "hand_body_ids": "the robot's hands", "board_qpos_adr": "an object with role = 'board'"}
            raise ValueError(f"skill {scene.skill.name!r}: task kind {self.kind!r} needs "
                             f"{', '.join(role[k] for k in missing)}")
        self.info = info
        self.params = dict(info.get("params", {}))
        self.min_steps = int(info["min_steps"])
        self.walk_target = float(walk_target)
        self.scene = scene

    def _p(self, key: str, default: float) -> float:
        return float(self.params.get(key, default))

    def step(self, data: Any, phys: Any) -> dict[str, jax.Array]:
        """{"task_ok": f32 0/1, "task_reward": f32 in [0, 1]} for one env's mjx.Data and PhysicsQuantities."""
        ok, reward = getattr(self, f"_{self.kind}")(data, phys)
        return {"task_ok": ok.astype(jnp.float32), "task_reward": jnp.clip(reward, 0.0, 1.0).astype(jnp.float32)}

    def _feet_lift(self, data: Any) -> jax.Array:
        feet = self.scene.feet_body_ids
        return data.xpos[feet][:, 2] - jnp.asarray(self.info["feet_start_z"])

    def _upright(self, phys: Any, max_deg: float) -> tuple[jax.Array, jax.Array]:
        ok = phys.torso_tilt <= np.deg2rad(max_deg)
        soft = tolerance(phys.torso_tilt, (0.0, float(np.deg2rad(max_deg))), margin=1.0, sigmoid="linear",
                         value_at_margin=0.0)
        return ok, soft

    def _seated(self, data: Any, phys: Any) -> tuple[jax.Array, jax.Array]:
        i = self.info
        root = phys.root_pos
        centre, half = jnp.asarray(i["seat_center"]), jnp.asarray(i["seat_half"])
        margin = self._p("seat_margin", 0.05)
        over = jnp.all(jnp.abs(root[:2] - centre[:2]) <= half + margin)
        height = root[2] - i["seat_top"]
        on = (height > 0.0) & (height <= self._p("max_height", 0.35) * i["scale"])
        feet_down = jnp.all(jnp.abs(self._feet_lift(data)) <= self._p("feet_tolerance", 0.05))
        upright_ok, upright = self._upright(phys, self._p("max_tilt_deg", 45.0))
        ok = over & on & feet_down & upright_ok
        dist = jnp.linalg.norm(root - jnp.asarray(i["root_end"]))
        close = tolerance(dist, (0.0, 0.05), margin=0.5)
        return ok, close * upright * (0.5 + 0.5 * feet_down.astype(jnp.float32))

    def _hand_points(self, data: Any) -> jax.Array:
        ids = self.info["hand_body_ids"]
        off = jnp.asarray(self.info["hand_offsets"])
        return data.xpos[ids] + jnp.einsum("nij,nj->ni", data.xmat[ids], off)

    def _hanging(self, data: Any, phys: Any) -> tuple[jax.Array, jax.Array]:
        i = self.info
        rel = self._hand_points(data) - jnp.asarray(i["bar_pos"])
        axis = jnp.asarray(i["bar_axis"])
        dist = jnp.linalg.norm(rel - (rel @ axis)[:, None] * axis, axis=-1)
        tol, clear = self._p("hand_tolerance", 0.05), self._p("feet_clearance", 0.05) * i["scale"]
        lift = self._feet_lift(data)
        ok = jnp.all(dist <= tol) & jnp.all(lift > clear)
        hands = jnp.prod(tolerance(dist, (0.0, tol), margin=0.1))
        lifted = tolerance(jnp.min(lift), (3.0 * clear, float("inf")), margin=3.0 * clear, sigmoid="linear",
                           value_at_margin=0.0)
        still = tolerance(jnp.linalg.norm(phys.root_linvel), (0.0, 0.2), margin=1.0)
        return ok, lifted * hands * (0.5 + 0.5 * still)

    def _balanced(self, data: Any, phys: Any) -> tuple[jax.Array, jax.Array]:
        i = self.info
        tilt = jnp.abs(data.qpos[i["board_qpos_adr"]])
        tilt_tol = float(np.deg2rad(self._p("tilt_tolerance_deg", 5.0)))
        upright_ok, upright = self._upright(phys, self._p("upright_tolerance_deg", 20.0))
        drop = self._p("drop", 0.15) * i["scale"]
        height_ok = phys.root_pos[2] >= i["root_start"][2] - drop
        ok = (tilt <= tilt_tol) & upright_ok & height_ok
        level = tolerance(tilt, (0.0, tilt_tol), margin=0.3)
        tall = tolerance(phys.root_pos[2], (float(i["root_start"][2]) - drop, float("inf")), margin=0.3)
        return ok, level * upright * tall

    def _walking(self, data: Any, phys: Any) -> tuple[jax.Array, jax.Array]:
        upright_ok, upright = self._upright(phys, 45.0)
        ok = upright_ok & (phys.root_linvel[0] >= 0.5 * self.walk_target)
        return ok, locomujoco_walk_reward(phys.root_linvel[0], self.walk_target) * upright


def episode_success(ok: jax.Array, alive: jax.Array, min_steps: int) -> jax.Array:
    """1.0 where `ok` (f/bool[T, ...]) held while `alive` for >= `min_steps` consecutive steps (axis 0), else 0."""
    good = (jnp.asarray(ok) > 0) & (jnp.asarray(alive) > 0)

    def body(run, g):
        run = jnp.where(g, run + 1, 0)
        return run, run

    _, runs = jax.lax.scan(body, jnp.zeros(good.shape[1:], jnp.int32), good)
    return (jnp.max(runs, axis=0) >= min_steps).astype(jnp.float32)
