"""The compiled BRO training iteration: collect N env steps -> ring-insert -> K updates, for S seeds at once.

Env interface (one env, unbatched, pure; the loop vmaps over envs and seeds):
- `env_reset(rng uint32[2]) -> (env_state pytree, obs f32[O])`
- `env_step(env_state, action f32[A] in [-1, 1], rng uint32[2]) -> (env_state, Transition)` where the
  Transition carries `obs` (before the step), `action`, `reward`, `next_obs` (true next observation, before
  any reset), `terminated`, `truncated`. The env does NOT auto-reset: the loop resets envs whose episode
  ended (terminated or truncated) with `env_reset` and a `jnp.where` select. For NIL the env step also renders
  and computes the reward; any callable with this signature works.

`LoopState` (flax struct pytree; leading axes shown):
  learner LearnerState[S], replay ReplayBuffer[S], env_state [S, N, ...], obs f32[S, N, O],
  episode_return f32[S, N], rng uint32[S, 2], env_steps int32[] (env steps per seed, the same for all seeds),
  iteration int32[].

One iteration (`BROLoop.iteration`, pure; `BROLoop.step` is it under `jax.jit` with the state donated):
  1. actions: uniform in [-1, 1] while `env_steps < random_steps`, else the optimistic actor (lax.cond on the
     shared scalar counter, so only one branch runs);
  2. N env steps per seed, auto-reset of finished envs, ring insertion of the N transitions;
  3. `env_steps += N`; a full learner reset if a configured reset step was crossed (lax.cond);
  4. if `env_steps >= random_steps`: K = `cfg.num_updates_per_iteration(N)` updates (`sample_updates`, vmapped
     over seeds), each sampling a fresh uniform batch per seed. With a `mesh`, the learner is data-parallel:
     each sampled batch is split over the devices of `data_axis` (seed axis replicated), every device runs the
     update on its B/D rows and XLA's all-reduce averages the gradients; params, optimiser states and the
     replay are replicated (docs/learner.md, "Data parallelism").
Metrics: dict of f32[S] (update metrics averaged over the K updates, zeros during warm-up) plus
`episode_return_sum`, `episodes_completed`, `updates_done`, `reset_fired`, and scalar `env_steps`.
Static: S, N, K, batch size, every config field, the env functions. The iteration compiles once.
Counters are int32 (x64 is off): at most 2^31 - 1 env steps per seed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from niljax.learner import bro
from niljax.learner.config import format_replay_ratio
from niljax.learner.replay import ReplayBuffer, Transition, replay_init, replay_insert, replay_sample

EnvReset = Callable[[jax.Array], tuple[Any, jax.Array]]
EnvStep = Callable[[Any, jax.Array, jax.Array], tuple[Any, Transition]]


def batch_sharding(mesh: Mesh, batch_size: int, data_axis: str = "data") -> NamedSharding:
    """Sharding of a sampled `Transition[B]` that splits the batch axis over `mesh` axis `data_axis` (the
    data-parallel learner); raises ValueError when `batch_size` does not divide over that axis's devices."""
    if data_axis not in mesh.shape:
        raise ValueError(f"mesh has no axis {data_axis!r} (axes: {tuple(mesh.shape)})")
    n_dev = mesh.shape[data_axis]
    if batch_size % n_dev:
        raise ValueError(f"BROConfig.batch_size {batch_size} must divide evenly over the {n_dev} devices of mesh "
                         f"axis {data_axis!r} (data-parallel learner)")
    return NamedSharding(mesh, P(data_axis))


def sample_updates(learner: bro.LearnerState, replay: ReplayBuffer, rng: jax.Array, num_updates: int, *,
                   sharding: NamedSharding | None = None) -> tuple[bro.LearnerState, dict[str, jax.Array]]:
    """`num_updates` (static) sequential BRO updates in a `lax.scan` for one seed, each on a fresh uniform batch
    of `learner.config.batch_size` drawn from `replay`; returns the new learner and the metrics averaged over
    the updates (f32[] each). `vmap` it over seeds.

    `sharding` (from `batch_sharding`): the data-parallel learner. Each sampled batch is constrained to it, so
    with params and replay replicated every device gathers and trains on its own B/D rows and XLA all-reduces
    the gradients (the batch-mean losses make that the one-device update; the sampling noise is drawn from the
    same key, `jax_threefry_partitionable`, so the values match too). Under `vmap` the constraint gains a
    replicated seed axis. Tested against one device on 2 host devices (tests/test_learner.py).
    """
    batch_size = learner.config.batch_size

    def one(state: bro.LearnerState, key: jax.Array) -> tuple[bro.LearnerState, dict[str, jax.Array]]:
        batch = replay_sample(replay, key, batch_size)
        if sharding is not None:
            batch = jax.lax.with_sharding_constraint(batch, sharding)
        return bro.update(state, batch)

    learner, metrics = jax.lax.scan(one, learner, jax.random.split(rng, num_updates))
    return learner, jax.tree.map(lambda m: jnp.mean(m, axis=0), metrics)


@struct.dataclass
class LoopState:
    """Everything a run needs to continue bit-for-bit (see the module docstring for shapes)."""

    learner: bro.LearnerState
    replay: ReplayBuffer
    env_state: Any
    obs: jax.Array
    episode_return: jax.Array
    rng: jax.Array
    env_steps: jax.Array
    iteration: jax.Array


@dataclasses.dataclass
class BROLoop:
    """Builds and runs the compiled collect+insert+update iteration for `num_seeds` x `num_envs`."""

    env_reset: EnvReset
    env_step: EnvStep
    obs_dim: int
    act_dim: int
    config: bro.BROConfig
    num_envs: int
    num_seeds: int = 1
    mesh: Mesh | None = None
    data_axis: str = "data"
    trace_count: int = dataclasses.field(default=0, init=False)

    def __post_init__(self) -> None:
        cfg = self.config
        if self.num_envs < 1 or self.num_seeds < 1:
            raise ValueError(f"num_envs and num_seeds must be >= 1, got {self.num_envs}, {self.num_seeds}")
        if cfg.replay_capacity < self.num_envs:
            raise ValueError(f"replay_capacity ({cfg.replay_capacity}) must be >= num_envs ({self.num_envs})")
        self._sharding = None if self.mesh is None else batch_sharding(self.mesh, cfg.batch_size, self.data_axis)
        self.num_updates = cfg.num_updates_per_iteration(self.num_envs)
        self.step = jax.jit(self.iteration, donate_argnums=0)
        self._init_jit = jax.jit(self._init)

    # ----------------------------------------------------------------- init
    def init(self, seed: int | jax.Array) -> LoopState:
        """Fresh state for all seeds: learners, empty replays, reset envs. `seed` int or uint32[2] key."""
        key = jax.random.PRNGKey(seed) if isinstance(seed, int) else seed
        return self._init_jit(key)

    def abstract_state(self) -> LoopState:
        """Shapes/dtypes of `init(...)` without computing or compiling it (e.g. a restore target)."""
        return jax.eval_shape(self._init, jax.random.PRNGKey(0))

    def _init(self, key: jax.Array) -> LoopState:
        k_learn, k_env, k_loop = jax.random.split(key, 3)
        s, n = self.num_seeds, self.num_envs
        learner = bro.init_learners(jax.random.split(k_learn, s), self.obs_dim, self.act_dim, self.config)
        replay = jax.vmap(lambda _: replay_init(self.config.replay_capacity, self.obs_dim, self.act_dim))(
            jnp.arange(s))
        env_keys = jax.random.split(k_env, s * n).reshape(s, n, -1)
        env_state, obs = jax.vmap(jax.vmap(self.env_reset))(env_keys)
        if obs.shape != (s, n, self.obs_dim):
            raise ValueError(f"env_reset returned obs of shape {obs.shape[2:]}, expected ({self.obs_dim},)")
        return LoopState(
            learner=learner, replay=replay, env_state=env_state, obs=obs.astype(jnp.float32),
            episode_return=jnp.zeros((s, n), jnp.float32), rng=jax.random.split(k_loop, s),
            env_steps=jnp.zeros((), jnp.int32), iteration=jnp.zeros((), jnp.int32),
        )

    # ------------------------------------------------------------ iteration
    def _collect(self, state: LoopState) -> tuple[LoopState, dict[str, jax.Array]]:
        cfg, n = self.config, self.num_envs
        keys = jax.vmap(lambda k: jax.random.split(k, 4))(state.rng)  # [S, 4, 2]
        rng, k_act, k_step, k_reset = keys[:, 0], keys[:, 1], keys[:, 2], keys[:, 3]

        def random_actions(_: Any) -> jax.Array:
            return jax.vmap(lambda k: jax.random.uniform(k, (n, self.act_dim), jnp.float32, -1.0, 1.0))(k_act)

        def policy_actions(_: Any) -> jax.Array:
            return jax.vmap(bro.act_explore)(state.learner, state.obs, k_act)

        actions = jax.lax.cond(state.env_steps < cfg.random_steps, random_actions, policy_actions, None)
        step_keys = jax.vmap(lambda k: jax.random.split(k, n))(k_step)
        env_state, tr = jax.vmap(jax.vmap(self.env_step))(state.env_state, actions, step_keys)
        done = (tr.terminated > 0) | (tr.truncated > 0)  # [S, N]
        reset_keys = jax.vmap(lambda k: jax.random.split(k, n))(k_reset)
        fresh_state, fresh_obs = jax.vmap(jax.vmap(self.env_reset))(reset_keys)

        def select(fresh: jax.Array, old: jax.Array) -> jax.Array:
            return jnp.where(done.reshape(done.shape + (1,) * (old.ndim - 2)), fresh, old)

        env_state = jax.tree.map(select, fresh_state, env_state)
        obs = select(fresh_obs.astype(jnp.float32), tr.next_obs.astype(jnp.float32))
        ep_ret = state.episode_return + tr.reward
        replay = jax.vmap(replay_insert)(state.replay, tr)
        metrics = {
            "episode_return_sum": jnp.sum(jnp.where(done, ep_ret, 0.0), axis=1),
            "episodes_completed": jnp.sum(done, axis=1).astype(jnp.float32),
        }
        new = state.replace(env_state=env_state, obs=obs, episode_return=jnp.where(done, 0.0, ep_ret),
                            replay=replay, rng=rng, env_steps=state.env_steps + n)
        return new, metrics

    def _updates(self, learner: bro.LearnerState, replay: ReplayBuffer, rng: jax.Array
                 ) -> tuple[bro.LearnerState, dict[str, jax.Array]]:
        def one_seed(l: bro.LearnerState, buf: ReplayBuffer, key: jax.Array):
            return sample_updates(l, buf, key, self.num_updates, sharding=self._sharding)

        return jax.vmap(one_seed)(learner, replay, rng)

    def iteration(self, state: LoopState) -> tuple[LoopState, dict[str, jax.Array]]:
        """One pure iteration (see module docstring). Use `self.step` for the jitted, donating version."""
        self.trace_count += 1  # Python side effect: runs once per trace, not per call
        cfg = self.config
        before = state.env_steps
        state, metrics = self._collect(state)

        fire = bro.reset_fires(cfg, before, state.env_steps, num_envs=self.num_envs)
        learner = jax.lax.cond(fire, jax.vmap(bro.reset_learner), lambda l: l, state.learner)

        keys = jax.vmap(jax.random.split)(state.rng)
        rng, k_upd = keys[:, 0], keys[:, 1]
        upd_shape = jax.eval_shape(self._updates, learner, state.replay, k_upd)[1]

        def skip(l: bro.LearnerState, *_: Any) -> tuple[bro.LearnerState, dict[str, jax.Array]]:
            return l, jax.tree.map(lambda sd: jnp.zeros(sd.shape, sd.dtype), upd_shape)

        learning = state.env_steps >= cfg.random_steps
        learner, upd_metrics = jax.lax.cond(learning, self._updates, skip, learner, state.replay, k_upd)
        s = self.num_seeds
        metrics.update(upd_metrics)
        metrics["updates_done"] = jnp.full((s,), self.num_updates, jnp.float32) * learning
        metrics["reset_fired"] = jnp.full((s,), 1.0, jnp.float32) * fire
        metrics["env_steps"] = state.env_steps
        state = state.replace(learner=learner, rng=rng, iteration=state.iteration + 1)
        return state, metrics

    # ------------------------------------------------------------ host side
    def describe_replay_ratio(self) -> str:
        """The realised replay ratio of this loop (`format_replay_ratio`), for the start of a run."""
        return format_replay_ratio(self.config, self.num_envs)

    def run(self, state: LoopState, num_iterations: int) -> tuple[LoopState, list[dict[str, np.ndarray]]]:
        """Run `num_iterations` jitted iterations from the host; returns the final state and host metrics."""
        history = []
        for _ in range(num_iterations):
            state, m = self.step(state)
            history.append(m)
        return state, [jax.tree.map(np.asarray, m) for m in jax.device_get(history)]

    def evaluate(self, learner: bro.LearnerState, rng: jax.Array, num_episodes: int, episode_length: int
                 ) -> jax.Array:
        """Deterministic (conservative-mean) returns `f32[S, num_episodes]`, each episode at most
        `episode_length` steps, stopping at the first terminated/truncated flag. Jitted on first use."""
        fn = _eval_fn(self.env_reset, self.env_step, self.obs_dim, self.act_dim, num_episodes, episode_length)
        return fn(learner, jax.random.split(rng, self.num_seeds))


_EVAL_CACHE: dict[tuple[Any, ...], Callable[..., jax.Array]] = {}


def _eval_fn(env_reset: EnvReset, env_step: EnvStep, obs_dim: int, act_dim: int, num_episodes: int,
             episode_length: int) -> Callable[..., jax.Array]:
    key = (env_reset, env_step, obs_dim, act_dim, num_episodes, episode_length)
    if key in _EVAL_CACHE:
        return _EVAL_CACHE[key]

    def one_seed(learner: bro.LearnerState, rng: jax.Array) -> jax.Array:
        k_reset, k_run = jax.random.split(rng)
        env_state, obs = jax.vmap(env_reset)(jax.random.split(k_reset, num_episodes))

        def body(carry: Any, k: jax.Array) -> tuple[Any, None]:
            env_state, obs, ret, alive = carry
            a = bro.act_eval(learner.actor_params, obs, learner.config, act_dim)
            env_state, tr = jax.vmap(env_step)(env_state, a, jax.random.split(k, num_episodes))
            ret = ret + alive * tr.reward
            alive = alive * (1.0 - jnp.maximum(tr.terminated, tr.truncated))
            return (env_state, tr.next_obs, ret, alive), None

        init = (env_state, obs, jnp.zeros(num_episodes), jnp.ones(num_episodes))
        (_, _, ret, _), _ = jax.lax.scan(body, init, jax.random.split(k_run, episode_length))
        return ret

    fn = jax.jit(jax.vmap(one_seed))
    _EVAL_CACHE[key] = fn
    return fn
