"""BRO losses as pure functions of arrays (no networks inside), so each is testable against hand values.

Shapes: `B` batch, `Q` quantiles, `C` critics (2), `A` action dim. All f32.
- `quantile_midpoints(Q) -> f32[Q]`: tau_i = (2i + 1) / (2Q).
- `quantile_huber_loss(pred f32[B, Q], target f32[B, Q'], taus f32[Q], kappa)`: QR-DQN loss, summed over
  predicted quantiles, averaged over batch and target quantiles (official `calculate_quantile_huber_loss`).
- `critic_target(reward f32[B], terminated f32[B], next_q f32[C, B, Q], next_log_prob f32[B], ...) -> f32[B, Q]`:
  `r + gamma (1 - terminated) (mean_c next_q - pessimism |q1 - q2| / 2 - alpha log pi)`; truncation is NOT a
  terminal (it bootstraps), mean of the critics, no clipped double-Q.
- `gaussian_kl(mean_p, std_p, mean_q, std_q) -> f32[...]`: KL(N_p || N_q) summed over the last axis.
- `temperature_loss`, `optimism_loss`, `kl_weight_loss`: the dual objectives of the official
  `jaxrl/bro/temperature.py`, written in the dual variable's value.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def quantile_midpoints(n_quantiles: int) -> jax.Array:
    """Quantile fractions tau_i = (i + 0.5) / n for i = 0..n-1, `f32[n]`."""
    if n_quantiles < 1:
        raise ValueError(f"n_quantiles must be >= 1, got {n_quantiles}")
    return (jnp.arange(n_quantiles, dtype=jnp.float32) + 0.5) / n_quantiles


def huber(x: jax.Array, kappa: float = 1.0) -> jax.Array:
    """Elementwise Huber: 0.5 x^2 if |x| <= kappa else kappa (|x| - 0.5 kappa)."""
    ax = jnp.abs(x)
    return jnp.where(ax <= kappa, 0.5 * x**2, kappa * (ax - 0.5 * kappa))


def quantile_huber_loss(pred: jax.Array, target: jax.Array, taus: jax.Array, kappa: float = 1.0) -> jax.Array:
    """Quantile Huber loss of predicted quantiles `pred f32[B, Q]` against target samples `target f32[B, Q']`.

    td[b, i, j] = target[b, j] - pred[b, i];
    loss = mean_{b, j} sum_i |tau_i - 1{td < 0}| * huber(td, kappa) / kappa. Target is not differentiated.
    """
    if pred.ndim != 2 or target.ndim != 2 or pred.shape[0] != target.shape[0]:
        raise ValueError(f"pred must be [B, Q] and target [B, Q'], got {pred.shape} and {target.shape}")
    if taus.shape != (pred.shape[-1],):
        raise ValueError(f"taus must have shape ({pred.shape[-1]},), got {taus.shape}")
    td = jax.lax.stop_gradient(target)[:, None, :] - pred[:, :, None]
    weight = jnp.abs(taus[None, :, None] - jax.lax.stop_gradient((td < 0).astype(td.dtype)))
    return jnp.mean(jnp.sum(weight * huber(td, kappa) / kappa, axis=1))


def critic_target(
    reward: jax.Array,
    terminated: jax.Array,
    next_q: jax.Array,
    next_log_prob: jax.Array,
    *,
    alpha: jax.Array | float,
    discount: float,
    pessimism: float = 0.0,
) -> jax.Array:
    """Distributional soft TD target `f32[B, Q]` from target-critic quantiles `next_q f32[C, B, Q]`.

    Bootstraps unless `terminated` (1.0 = true terminal state); truncated transitions bootstrap.
    """
    if next_q.ndim != 3:
        raise ValueError(f"next_q must be [n_critics, B, Q], got shape {next_q.shape}")
    q = jnp.mean(next_q, axis=0)
    if pessimism != 0.0:
        q = q - pessimism * jnp.mean(jnp.abs(next_q - q), axis=0)  # |q1 - q2| / 2 for two critics
    keep = (1.0 - terminated.astype(q.dtype))[:, None]
    target = reward[:, None] + discount * keep * (q - alpha * next_log_prob[:, None])
    return jax.lax.stop_gradient(target)


def gaussian_kl(mean_p: jax.Array, std_p: jax.Array, mean_q: jax.Array, std_q: jax.Array) -> jax.Array:
    """KL(N(mean_p, std_p) || N(mean_q, std_q)) for diagonal Gaussians, summed over the last axis."""
    return jnp.sum(
        jnp.log(std_q / std_p) + (std_p**2 + (mean_p - mean_q) ** 2) / (2.0 * std_q**2) - 0.5, axis=-1
    )


def temperature_loss(alpha: jax.Array, entropy: jax.Array, target_entropy: float) -> jax.Array:
    """alpha * (H - H_target): gradient descent lowers alpha when entropy is above target, raises it below."""
    return alpha * jax.lax.stop_gradient(entropy - target_entropy)


def optimism_loss(beta: jax.Array, kl_per_dim: jax.Array, kl_target: float, pessimism: float = 0.0) -> jax.Array:
    """(beta - pessimism) * (KL - KL_target): optimism shrinks when the optimistic actor drifts past the target."""
    return (beta - pessimism) * jax.lax.stop_gradient(kl_per_dim - kl_target)


def kl_weight_loss(kl_weight: jax.Array, kl_per_dim: jax.Array, kl_target: float) -> jax.Array:
    """-lambda * (KL - KL_target): the KL weight grows when KL is above target, shrinks below."""
    return -kl_weight * jax.lax.stop_gradient(kl_per_dim - kl_target)
