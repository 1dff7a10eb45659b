"""BRO networks (flax.linen): BroNet trunk, quantile critic ensemble, tanh-Gaussian actor, optimistic head.

Contract (all unbatched-agnostic: any leading batch shape `...` works):
- `BroNet(width, depth)`: `x f32[..., D] -> f32[..., width]`. Dense -> LayerNorm -> ReLU, then `depth` residual
  blocks `x + LN(Dense(ReLU(LN(Dense(x)))))`, the blocks stacked with `nn.scan` (params carry a leading
  `depth` axis; one block is traced once whatever the depth). Orthogonal init, scale sqrt(2).
- `CriticEnsemble(width, depth, n_quantiles, n_critics)`: `(obs f32[..., O], act f32[..., A]) ->
  f32[n_critics, ..., n_quantiles]`; independent BroNets via `nn.vmap` (params carry a leading critic axis).
- `Actor(act_dim, width, depth)`: `obs -> (mean f32[..., A], std f32[..., A])` of the pre-tanh Gaussian;
  log-std squashed into [log_std_min, log_std_max] with tanh, as the official code does.
- `OptimisticActor(act_dim, width, depth)`: `(obs, mean_c) -> mean_o = mean_c + shift(obs, mean_c)`; the
  shift layer has no bias and orthogonal init scale 0.01 (starts near the conservative mean). Its std is
  `std_c * std_multiplier`, applied by the caller.
Static: widths, depths, quantile count, critic count, action dim. Changing any of them recompiles.
Follows naumix/BiggerRegularizedOptimistic `jaxrl/networks/{common,critic_net,policies}.py`.
"""

from __future__ import annotations

import math

import flax.linen as nn
import jax
import jax.numpy as jnp

_SQRT2 = math.sqrt(2.0)


def orthogonal(scale: float = _SQRT2) -> nn.initializers.Initializer:
    """Orthogonal kernel initializer (the official `default_init`, scale sqrt(2) unless given).

    Same values as `jax.nn.initializers.orthogonal(scale)` for the same key (tested to ~1e-6), but the QR is a
    Householder loop in jnp instead of LAPACK. Why: under `nn.vmap`/`nn.scan` the init is a *batched* QR, and
    jaxlib's batched CPU LAPACK kernels wait on the intra-op thread pool (`ParallelBatchMap`); with several
    CPU devices on few cores every pool thread ends up waiting and the program deadlocks (seen with 2 forced
    host devices on a 2-core machine, at init and at BRO's in-graph full resets). Pure jnp cannot starve.
    """

    def init(key: jax.Array, shape: tuple[int, ...], dtype: jnp.dtype = jnp.float32) -> jax.Array:
        if len(shape) < 2:
            raise ValueError(f"orthogonal init needs a shape of rank >= 2, got {shape}")
        n_rows, n_cols = math.prod(shape) // shape[-1], shape[-1]
        tall = (max(n_rows, n_cols), min(n_rows, n_cols))
        q = householder_q(jax.random.normal(key, tall, dtype))
        q = q.T if n_rows < n_cols else q
        return jnp.asarray(scale, dtype) * q.reshape(shape)

    return init


def householder_q(z: jax.Array) -> jax.Array:
    """Q of the QR factorisation of a tall `z f32[m, k]` (m >= k) with diag(R) > 0, by Householder reflections.

    That sign convention makes Q unique, so it equals LAPACK's `q * sign(diag(r))` (what `jax.random.orthogonal`
    returns) up to rounding. k sequential rank-1 steps of O(m k): fine for initialisation, not for hot loops.
    """
    m, k = z.shape
    rows = jnp.arange(m)

    def reflect(j, carry):
        r, vs, diag = carry
        x = jnp.where(rows >= j, r[:, j], 0.0)
        norm = jnp.linalg.norm(x)
        alpha = -jnp.where(x[j] >= 0, 1.0, -1.0) * norm
        v = x.at[j].add(-alpha)
        v = v / jnp.maximum(jnp.linalg.norm(v), jnp.finfo(z.dtype).tiny)
        r = r - 2.0 * jnp.outer(v, v @ r)
        return r, vs.at[j].set(v), diag.at[j].set(alpha)

    _, vs, diag = jax.lax.fori_loop(0, k, reflect, (z, jnp.zeros((k, m), z.dtype), jnp.zeros((k,), z.dtype)))

    def apply(i, q):  # Q = H_0 ... H_{k-1} I[:, :k], applied right to left
        v = vs[k - 1 - i]
        return q - 2.0 * jnp.outer(v, v @ q)

    q = jax.lax.fori_loop(0, k, apply, jnp.eye(m, k, dtype=z.dtype))
    return q * jnp.sign(diag)[None, :]


class _ResidualBlock(nn.Module):
    """One BroNet residual block, written as an `nn.scan` body: `(x, None) -> (x + LN(Dense(ReLU(LN(Dense x)))), None)`."""

    width: int

    @nn.compact
    def __call__(self, x: jax.Array, _: None) -> tuple[jax.Array, None]:
        y = nn.Dense(self.width, kernel_init=orthogonal())(x)
        y = nn.relu(nn.LayerNorm()(y))
        y = nn.LayerNorm()(nn.Dense(self.width, kernel_init=orthogonal())(y))
        return x + y, None


class BroNet(nn.Module):
    """BroNet trunk without output layer: `f32[..., D] -> f32[..., width]`."""

    width: int
    depth: int

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        x = nn.relu(nn.LayerNorm()(nn.Dense(self.width, kernel_init=orthogonal())(x)))
        if self.depth > 0:
            blocks = nn.scan(
                _ResidualBlock,
                variable_axes={"params": 0},
                split_rngs={"params": True},
                length=self.depth,
            )(self.width, name="blocks")
            x, _ = blocks(x, None)
        return x


class QuantileCritic(nn.Module):
    """One quantile critic: `(obs, act) -> f32[..., n_quantiles]` (BroNet on concat(obs, act) + Dense)."""

    width: int
    depth: int
    n_quantiles: int

    @nn.compact
    def __call__(self, obs: jax.Array, act: jax.Array) -> jax.Array:
        h = BroNet(self.width, self.depth)(jnp.concatenate([obs, act], axis=-1))
        return nn.Dense(self.n_quantiles, kernel_init=orthogonal())(h)


class CriticEnsemble(nn.Module):
    """`n_critics` independent quantile critics: `(obs, act) -> f32[n_critics, ..., n_quantiles]`."""

    width: int
    depth: int
    n_quantiles: int
    n_critics: int = 2

    @nn.compact
    def __call__(self, obs: jax.Array, act: jax.Array) -> jax.Array:
        ensemble = nn.vmap(
            QuantileCritic,
            variable_axes={"params": 0},
            split_rngs={"params": True},
            in_axes=None,
            out_axes=0,
            axis_size=self.n_critics,
        )
        return ensemble(self.width, self.depth, self.n_quantiles, name="critics")(obs, act)


class Actor(nn.Module):
    """Conservative tanh-Gaussian actor: `obs -> (mean, std)` of the pre-tanh Gaussian, each `f32[..., A]`."""

    act_dim: int
    width: int
    depth: int
    log_std_min: float = -10.0
    log_std_max: float = 2.0

    @nn.compact
    def __call__(self, obs: jax.Array) -> tuple[jax.Array, jax.Array]:
        h = BroNet(self.width, self.depth)(obs)
        mean = nn.Dense(self.act_dim, kernel_init=orthogonal())(h)
        log_std = nn.Dense(self.act_dim, kernel_init=orthogonal(1.0))(h)
        log_std = self.log_std_min + (self.log_std_max - self.log_std_min) * 0.5 * (1.0 + jnp.tanh(log_std))
        return mean, jnp.exp(log_std)


class OptimisticActor(nn.Module):
    """Optimistic mean head: `(obs, mean_c) -> mean_o = mean_c + Dense_nobias(BroNet(concat(obs, mean_c)))`."""

    act_dim: int
    width: int
    depth: int
    shift_init_scale: float = 0.01

    @nn.compact
    def __call__(self, obs: jax.Array, mean_c: jax.Array) -> jax.Array:
        h = BroNet(self.width, self.depth)(jnp.concatenate([obs, mean_c], axis=-1))
        shift = nn.Dense(self.act_dim, use_bias=False, kernel_init=orthogonal(self.shift_init_scale))(h)
        return mean_c + shift


def tanh_gaussian_sample(
    rng: jax.Array, mean: jax.Array, std: jax.Array
) -> tuple[jax.Array, jax.Array]:
    """Reparameterised sample of tanh(N(mean, std)) and its log-probability.

    Returns `(action f32[..., A] in (-1, 1), log_prob f32[...])`. The tanh log-det uses the stable form
    `2 (log 2 - u - softplus(-2u))` (as TFP's Tanh bijector), so no epsilon is needed.
    """
    noise = jax.random.normal(rng, mean.shape, mean.dtype)
    u = mean + std * noise
    log_prob_u = -0.5 * noise**2 - jnp.log(std) - 0.5 * math.log(2.0 * math.pi)
    log_det = 2.0 * (math.log(2.0) - u - jax.nn.softplus(-2.0 * u))
    return jnp.tanh(u), jnp.sum(log_prob_u - log_det, axis=-1)
