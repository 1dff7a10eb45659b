"""Pure-JAX Pendulum swing-up (gym `Pendulum-v1` dynamics) for learner tests and benchmarks.

Contract (one env, unbatched; batch with `jax.vmap`):
- `pendulum_reset(rng) -> (state PendulumState, obs f32[3])`, obs = (cos th, sin th, th_dot); th ~ U(-pi, pi),
  th_dot ~ U(-1, 1).
- `pendulum_step(state, action f32[1] in [-1, 1], rng) -> (state, Transition)`: torque = 2 * action,
  reward = -(angle_norm(th)^2 + 0.1 th_dot^2 + 0.001 torque^2) (computed before the step, as gym), dt 0.05,
  g 10, m = l = 1, |th_dot| <= 8. Never terminates; `truncated = 1` at step 200 (`EPISODE_LENGTH`). No
  auto-reset: the training loop resets finished envs. A random policy scores about -1200 per episode, a good
  swing-up policy about -150.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct

from niljax.learner.replay import Transition

OBS_DIM = 3
ACT_DIM = 1
EPISODE_LENGTH = 200
_MAX_SPEED, _MAX_TORQUE, _DT, _G, _M, _L = 8.0, 2.0, 0.05, 10.0, 1.0, 1.0


@struct.dataclass
class PendulumState:
    """Angle `theta`, angular velocity `theta_dot`, and `t` (int32 steps taken this episode)."""

    theta: jax.Array
    theta_dot: jax.Array
    t: jax.Array


def _obs(s: PendulumState) -> jax.Array:
    return jnp.stack([jnp.cos(s.theta), jnp.sin(s.theta), s.theta_dot]).astype(jnp.float32)


def pendulum_reset(rng: jax.Array) -> tuple[PendulumState, jax.Array]:
    """Random initial state and its observation."""
    k1, k2 = jax.random.split(rng)
    s = PendulumState(
        theta=jax.random.uniform(k1, (), jnp.float32, -jnp.pi, jnp.pi),
        theta_dot=jax.random.uniform(k2, (), jnp.float32, -1.0, 1.0),
        t=jnp.zeros((), jnp.int32),
    )
    return s, _obs(s)


def pendulum_step(state: PendulumState, action: jax.Array, rng: jax.Array) -> tuple[PendulumState, Transition]:
    """One control step; `rng` is unused (deterministic dynamics) but part of the env interface."""
    del rng
    if action.shape != (ACT_DIM,):
        raise ValueError(f"pendulum action must have shape ({ACT_DIM},), got {action.shape}")
    u = jnp.clip(action[0], -1.0, 1.0) * _MAX_TORQUE
    th, thd = state.theta, state.theta_dot
    angle = ((th + jnp.pi) % (2 * jnp.pi)) - jnp.pi
    reward = -(angle**2 + 0.1 * thd**2 + 0.001 * u**2)
    new_thd = jnp.clip(thd + (3 * _G / (2 * _L) * jnp.sin(th) + 3.0 / (_M * _L**2) * u) * _DT, -_MAX_SPEED, _MAX_SPEED)
    new = PendulumState(theta=th + new_thd * _DT, theta_dot=new_thd, t=state.t + 1)
    tr = Transition(
        obs=_obs(state),
        action=action.astype(jnp.float32),
        reward=reward.astype(jnp.float32),
        next_obs=_obs(new),
        terminated=jnp.zeros((), jnp.float32),
        truncated=(new.t >= EPISODE_LENGTH).astype(jnp.float32),
    )
    return new, tr
