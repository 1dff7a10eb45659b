"""Device-resident ring replay buffer for state observations and actions (never images).

Contract:
- `Transition(obs f32[..., O], action f32[..., A], reward f32[...], next_obs f32[..., O],
  terminated f32[...], truncated f32[...])`, flags as 0.0/1.0. `next_obs` is the true next observation (before
  any auto-reset). `terminated` stops bootstrapping; `truncated` (time limit) does not.
- `ReplayBuffer` (flax struct pytree): `data: Transition` with leading axis `capacity`, `insert_pos int32[]`,
  `size int32[]`. Capacity is fixed at `replay_init` (it is the static leading dim: changing it recompiles).
- `replay_init(capacity, obs_dim, act_dim)`; `replay_insert(buf, batch)` writes the K finite transitions of a
  batch of `N <= capacity` at `insert_pos .. insert_pos + K - 1 (mod capacity)` (ring, oldest overwritten, order
  kept); a transition with any NaN/inf value is rejected (not stored: one diverged env never reaches the
  critic; `finite_rows` tells which; `replay_insert_counted` also returns how many were rejected, for a
  metric, from the same check);
  `replay_sample(buf, rng, batch_size)` draws indices uniformly from `[0, size)` (with replacement).
All three are pure and jittable; several seeds = `jax.vmap` over a stacked buffer. Counters are int32
(capacity < 2^31).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct


@struct.dataclass
class Transition:
    """One (or a batch of) environment transition(s); see the module docstring for field meanings."""

    obs: jax.Array
    action: jax.Array
    reward: jax.Array
    next_obs: jax.Array
    terminated: jax.Array
    truncated: jax.Array


@struct.dataclass
class ReplayBuffer:
    """Ring buffer pytree: `data` fields have leading dim `capacity`; `insert_pos`, `size` int32 scalars."""

    data: Transition
    insert_pos: jax.Array
    size: jax.Array

    @property
    def capacity(self) -> int:
        """Static capacity (leading dim of the stored arrays)."""
        return self.data.reward.shape[-1]


def replay_init(capacity: int, obs_dim: int, act_dim: int) -> ReplayBuffer:
    """Empty buffer of `capacity` transitions, zero-filled f32 storage."""
    if capacity < 1:
        raise ValueError(f"replay capacity must be >= 1, got {capacity}")
    if obs_dim < 1 or act_dim < 1:
        raise ValueError(f"obs_dim and act_dim must be >= 1, got {obs_dim}, {act_dim}")
    z = lambda *s: jnp.zeros((capacity, *s), jnp.float32)
    data = Transition(z(obs_dim), z(act_dim), z(), z(obs_dim), z(), z())
    return ReplayBuffer(data, jnp.zeros((), jnp.int32), jnp.zeros((), jnp.int32))


def _check_batch(buf: ReplayBuffer, batch: Transition) -> int:
    n = batch.reward.shape[0] if batch.reward.ndim == 1 else -1
    if n < 1:
        raise ValueError(f"insert expects a batch of transitions with reward shape [N], got {batch.reward.shape}")
    for name in ("obs", "action", "next_obs", "terminated", "truncated"):
        got, want = getattr(batch, name).shape, (n, *getattr(buf.data, name).shape[1:])
        if got != want:
            raise ValueError(f"transition field {name!r} has shape {got}, expected {want}")
    if n > buf.capacity:
        raise ValueError(f"cannot insert {n} transitions into a buffer of capacity {buf.capacity}")
    return n


def finite_rows(batch: Transition) -> jax.Array:
    """bool[N]: True where every value of transition i (obs, action, reward, next_obs, flags) is finite."""
    def row_ok(x: jax.Array) -> jax.Array:
        return jnp.all(jnp.isfinite(x.reshape(x.shape[0], -1)), axis=1)

    return jnp.stack([row_ok(x) for x in jax.tree.leaves(batch)]).all(axis=0)


def replay_insert(buf: ReplayBuffer, batch: Transition) -> ReplayBuffer:
    """Ring-insert the finite transitions of a batch of N (leading axis N), in order; returns the new buffer.

    Non-finite rows are dropped (scattered out of bounds with `mode="drop"`), so the slots they would have
    taken keep their old contents and the counters advance by the number kept: same shapes, no recompile.
    """
    return replay_insert_counted(buf, batch)[0]


def replay_insert_counted(buf: ReplayBuffer, batch: Transition) -> tuple[ReplayBuffer, jax.Array]:
    """`replay_insert`, also returning how many rows it dropped as non-finite (int32 scalar): one finiteness
    check serves both the insert and a caller's rejected-transition metric."""
    _check_batch(buf, batch)
    cap = buf.capacity
    keep = finite_rows(batch)
    rank = jnp.cumsum(keep.astype(jnp.int32)) - 1  # position among the kept rows
    idx = jnp.where(keep, (buf.insert_pos + rank) % cap, cap)  # cap: out of bounds, dropped
    data = jax.tree.map(lambda store, x: store.at[idx].set(x.astype(store.dtype), mode="drop"), buf.data, batch)
    kept = jnp.sum(keep.astype(jnp.int32))
    return ReplayBuffer(
        data=data,
        insert_pos=(buf.insert_pos + kept) % cap,
        size=jnp.minimum(buf.size + kept, cap).astype(jnp.int32),
    ), jnp.int32(keep.shape[0]) - kept


def replay_sample(buf: ReplayBuffer, rng: jax.Array, batch_size: int) -> Transition:
    """Uniform sample (with replacement) of `batch_size` stored transitions. Sampling an empty buffer returns
    slot 0 (zeros); the training loop never samples before its random warm-up has filled the buffer."""
    idx = jax.random.randint(rng, (batch_size,), 0, jnp.maximum(buf.size, 1))
    return jax.tree.map(lambda store: store[idx], buf.data)
