"""The two published walking metrics, as pure jittable functions (NIL_METHOD.md "Robots and results").

- `locomujoco_walk_reward(root_vel_x, target)`: exp(-(v_x - v_target)^2) per control step (LocoMuJoCo style;
  NIL's "environment reward", H1 target 1.25 m/s, summed over the evaluation horizon).
- `episode_walk_return(vel_x[T, ...], fell[T, ...], target)`: the paper-protocol "environment reward" of an
  episode: the per-step LocoMuJoCo reward summed over the steps up to and including the first fall, 0 after.
- `kinematic_walk_return(root_pos[T, 3], hz, target, horizon)`: the same score for a reference trajectory
  (velocity from its root path), the "expert" row of `niljax table`.
- `humanoidbench_walk_reward(...)`: HumanoidBench `h1-walk`, r = small_control * standing * upright * move in
  [0, 1], with `tolerance` re-implemented from dm_control's `rewards.tolerance` (gaussian / linear / quadratic).
All inputs are jax arrays with arbitrary leading batch dims; outputs are f32 with those batch dims.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

__all__ = ["tolerance", "locomujoco_walk_reward", "humanoidbench_walk_reward", "episode_walk_return",
           "kinematic_walk_return"]


def tolerance(x: jnp.ndarray, bounds: tuple[float, float] = (0.0, 0.0), margin: float = 0.0,
              sigmoid: str = "gaussian", value_at_margin: float = 0.1) -> jnp.ndarray:
    """dm_control `rewards.tolerance`: 1 inside `bounds`, decaying with distance/margin outside.

    sigmoid: "gaussian" | "linear" | "quadratic" (the three HumanoidBench uses). margin=0: a 0/1 indicator.
    """
    lower, upper = bounds
    if lower > upper:
        raise ValueError(f"tolerance: lower bound {lower} > upper bound {upper}")
    if margin < 0:
        raise ValueError(f"tolerance: margin must be >= 0, got {margin}")
    x = jnp.asarray(x, jnp.float32)
    in_bounds = (lower <= x) & (x <= upper)
    if margin == 0:
        return in_bounds.astype(jnp.float32)
    d = jnp.where(x < lower, lower - x, x - upper) / margin
    if sigmoid == "gaussian":
        scale = np.sqrt(-2 * np.log(value_at_margin))
        v = jnp.exp(-0.5 * (d * scale) ** 2)
    elif sigmoid == "linear":
        scaled = d * (1.0 - value_at_margin)
        v = jnp.where(jnp.abs(scaled) < 1, 1 - scaled, 0.0)
    elif sigmoid == "quadratic":
        scaled = d * np.sqrt(1.0 - value_at_margin)
        v = jnp.where(jnp.abs(scaled) < 1, 1 - scaled**2, 0.0)
    else:
        raise ValueError(f"tolerance: unknown sigmoid {sigmoid!r} (gaussian | linear | quadratic)")
    return jnp.where(in_bounds, 1.0, v).astype(jnp.float32)


def locomujoco_walk_reward(root_vel_x: jnp.ndarray, target: float = 1.25) -> jnp.ndarray:
    """exp(-(v_x - target)^2): 1 at the target forward speed (world x, m/s)."""
    return jnp.exp(-jnp.square(jnp.asarray(root_vel_x, jnp.float32) - target))


def humanoidbench_walk_reward(head_height: jnp.ndarray, torso_upright: jnp.ndarray, actuator_force: jnp.ndarray,
                              com_vel_x: jnp.ndarray, stand_height: float = 1.65,
                              walk_speed: float = 1.0) -> jnp.ndarray:
    """HumanoidBench h1-walk reward in [0, 1].

    Args:
      head_height: [...] metres. torso_upright: [...] z-component of the torso z-axis (1 = upright).
      actuator_force: [..., nu] applied actuator forces. com_vel_x: [...] centre-of-mass forward speed.
      stand_height: 1.65 for H1 (HumanoidBench's `_STAND_HEIGHT`); walk_speed: 1.0 for h1-walk.
    """
    standing = tolerance(head_height, (stand_height, float("inf")), margin=stand_height / 4)
    upright = tolerance(torso_upright, (0.9, float("inf")), margin=1.9, sigmoid="linear", value_at_margin=0.0)
    small_control = tolerance(actuator_force, margin=10.0, sigmoid="quadratic", value_at_margin=0.0).mean(-1)
    small_control = (4.0 + small_control) / 5.0
    move = tolerance(com_vel_x, (walk_speed, float("inf")), margin=walk_speed, sigmoid="linear", value_at_margin=0.0)
    move = (5.0 * move + 1.0) / 6.0
    return small_control * standing * upright * move


def episode_walk_return(root_vel_x: jnp.ndarray, fell: jnp.ndarray, target: float) -> jnp.ndarray:
    """Sum over time (axis 0) of exp(-(v_x - target)^2) while alive; a fall at step k counts step k, then 0.

    root_vel_x f32[T, ...], fell bool[T, ...] (True on the step the fall is detected) -> f32[...].
    """
    fell = jnp.asarray(fell, bool)
    fallen_before = jnp.cumsum(fell.astype(jnp.int32), axis=0) - fell.astype(jnp.int32) > 0
    return jnp.sum(jnp.where(fallen_before, 0.0, locomujoco_walk_reward(root_vel_x, target)), axis=0)


def kinematic_walk_return(root_pos: np.ndarray, hz: float, target: float, horizon: int) -> float:
    """Paper-protocol score of a reference root path f[T, 3] sampled at `hz`: forward speed by finite
    differences, `horizon` steps from the start (the path must cover them), no falls."""
    root_pos = np.asarray(root_pos, np.float64)
    if len(root_pos) < horizon + 1:
        raise ValueError(f"the reference covers {len(root_pos) - 1} steps, the protocol needs {horizon}: loop it "
                         "longer (niljax reference --duration)")
    vel_x = np.diff(root_pos[: horizon + 1, 0]) * hz
    return float(np.sum(np.exp(-np.square(vel_x - target))))
