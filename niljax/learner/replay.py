"""Device-resident ring replay buffer for state observations and actions (never images).

Contract:
- `Transition(obs f32[..., O], action f32[..., A], reward f32[...], next_obs f32[..., O],
  terminated f32[...], truncated f32[...])`, flags as 0.0/1.0. `next_obs` is the true next observation (before
  any auto-reset). `terminated` stops bootstrapping; `truncated` (time limit) does not.
- `ReplayBuffer` (flax struct pytree): `data: Transition` with leading axis `capacity`, `insert_pos int32[]`,
  `size int32[]`. Capacity is fixed at `replay_init` (it is the static leading dim: changing it recompiles).
- `replay_init(capacity, obs_dim, act_dim)`; `replay_insert(buf, batch)` writes a batch of `N <= capacity`
  transitions at `insert_pos .. insert_pos + N - 1 (mod capacity)` (ring, oldest overwritten);
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


def replay_insert(buf: ReplayBuffer, batch: Transition) -> ReplayBuffer:
    """Ring-insert a batch of N transitions (leading axis N); returns the new buffer."""
    n = _check_batch(buf, batch)
    cap = buf.capacity
    idx = (buf.insert_pos + jnp.arange(n, dtype=jnp.int32)) % cap
    data = jax.tree.map(lambda store, x: store.at[idx].set(x.astype(store.dtype)), buf.data, batch)
    return ReplayBuffer(
        data=data,
        insert_pos=(buf.insert_pos + n) % cap,
        size=jnp.minimum(buf.size + n, cap).astype(jnp.int32),
    )


def replay_sample(buf: ReplayBuffer, rng: jax.Array, batch_size: int) -> Transition:
    """Uniform sample (with replacement) of `batch_size` stored transitions. Sampling an empty buffer returns
    slot 0 (zeros); the training loop never samples before its random warm-up has filled the buffer."""
    idx = jax.random.randint(rng, (batch_size,), 0, jnp.maximum(buf.size, 1))
    return jax.tree.map(lambda store: store[idx], buf.data)
