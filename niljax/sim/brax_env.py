"""A `brax.envs.Env` view of a `NilEnv`, so brax-style tooling (wrappers, rollouts) can drive it.

Contract: `BraxEnv(env).reset(rng)` / `.step(state, action)` take and return `brax.envs.base.State` for ONE env;
`pipeline_state` holds the full niljax `State` (mjx data, physics quantities, info), `obs/reward/done/metrics`
mirror it, and `info` is the niljax info minus `first_data` (brax wrappers such as `AutoResetWrapper` keep their
own copy). No auto-reset inside: compose with brax's wrappers (`brax.envs.wrappers.training.wrap`).
brax is imported lazily, only when this module is imported.
"""

from __future__ import annotations

import jax
from brax.envs.base import Env as _BraxBase
from brax.envs.base import State as BraxState

from niljax.sim.env import NilEnv, State

__all__ = ["BraxEnv"]


class BraxEnv(_BraxBase):
    """Adapter: niljax `NilEnv` -> brax `Env` (backend name "mjx")."""

    def __init__(self, env: NilEnv) -> None:
        self.env = env

    def _wrap(self, s: State) -> BraxState:
        info = {k: v for k, v in s.info.items() if k != "first_data"}
        return BraxState(pipeline_state=s, obs=s.obs, reward=s.reward, done=s.done, metrics=dict(s.metrics),
                         info=info)

    def reset(self, rng: jax.Array) -> BraxState:
        """brax reset: one env."""
        return self._wrap(self.env.reset(rng))

    def step(self, state: BraxState, action: jax.Array) -> BraxState:
        """brax step: one env; the niljax state travels in `pipeline_state`."""
        inner: State = state.pipeline_state
        # brax wrappers may edit info (e.g. truncation, steps); merge those edits back in.
        info = dict(inner.info, **{k: v for k, v in state.info.items() if k in inner.info})
        new = self.env.step(inner.replace(info=info), action)
        out = self._wrap(new)
        extra = {k: v for k, v in state.info.items() if k not in out.info}
        return out.replace(info=dict(out.info, **extra))

    @property
    def observation_size(self) -> int:
        """Observation length."""
        return self.env.obs_dim

    @property
    def action_size(self) -> int:
        """Action length (nu)."""
        return self.env.nu

    @property
    def backend(self) -> str:
        """Physics backend name."""
        return "mjx"

    @property
    def dt(self) -> float:
        """Control period in seconds."""
        return self.env.dt
