"""BRO learner: config, one-pytree learner state, pure update, acting, resets.

Contract:
- `BROConfig`: frozen, hashable dataclass; defaults equal the official BRO code
  (naumix/BiggerRegularizedOptimistic, `jaxrl/bro/bro_learner.py`, `configs/bro_default.py`). `validate()` runs
  in `__post_init__`; `to_dict()` is what gets recorded with a run.
- `LearnerState`: one flax struct pytree per seed (actor, optimistic actor, critics, target critics,
  temperature, optimism and KL-weight duals, their optimiser states, `rng` uint32[2], `step` int32 updates
  since the last reset, `num_resets` int32). `config`, `obs_dim`, `act_dim` are static (not leaves).
- `init_learner(rng, obs_dim, act_dim, cfg) -> LearnerState`; several seeds: `jax.vmap(init_learner, (0, None,
  None, None))` or `init_learners(rngs, ...)`.
- `update(state, batch: Transition[B]) -> (state, metrics dict of f32[])`: pure, one gradient step of every
  part in the official order (critic, Polyak target, actor, optimistic actor, temperature, optimism,
  KL weight), at the per-update tau and learning rates of `cfg.replay_mode`. `jax.vmap` it over seeds; shard
  `batch` over devices for data parallelism (gradients are means over the batch, so XLA's all-reduce
  averages them; `niljax.learner.loop.sample_updates` does it).
- `act_explore(state, obs f32[..., O], rng)` samples the optimistic actor (used for data collection);
  `act_eval(actor_params, obs, cfg)` is tanh of the conservative mean (deterministic evaluation/export).
- `reset_learner(state) -> LearnerState`: full re-initialisation from a fresh key (the official resets
  re-create every network, optimiser and dual variable); `num_resets` increments.
Recompiles when: obs/action dims, batch size or anything in `BROConfig` changes (all static).
"""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp
import optax
from flax import struct

from niljax.learner import losses
from niljax.learner.config import OFFICIAL_RESET_STEPS, BROConfig  # noqa: F401 - re-exported
from niljax.learner.networks import Actor, CriticEnsemble, OptimisticActor, tanh_gaussian_sample
from niljax.learner.replay import Transition


def _dual_param(value: float, lo: float, hi: float) -> float:
    """Raw parameter p with exp(lo + (hi - lo)(1 + tanh p)/2) = value (official `calculate_init_values`)."""
    return math.atanh((math.log(value) - lo) / ((hi - lo) * 0.5) - 1.0)


def dual_value(param: jax.Array, lo: float, hi: float) -> jax.Array:
    """Squashed dual variable: exp(lo + (hi - lo) * (1 + tanh(param)) / 2) (official `Adjustment`)."""
    return jnp.exp(lo + (hi - lo) * 0.5 * (1.0 + jnp.tanh(param)))


@struct.dataclass
class LearnerState:
    """All learner parameters, optimiser states, duals, RNG and counters for one seed (one pytree)."""

    actor_params: Any
    actor_opt: Any
    actor_o_params: Any
    actor_o_opt: Any
    critic_params: Any
    critic_opt: Any
    target_critic_params: Any
    log_temp: jax.Array
    temp_opt: Any
    optimism_param: jax.Array
    optimism_opt: Any
    kl_weight_param: jax.Array
    kl_weight_opt: Any
    rng: jax.Array
    step: jax.Array
    num_resets: jax.Array
    config: BROConfig = struct.field(pytree_node=False)
    obs_dim: int = struct.field(pytree_node=False)
    act_dim: int = struct.field(pytree_node=False)


def networks(cfg: BROConfig, act_dim: int) -> tuple[Actor, OptimisticActor, CriticEnsemble]:
    """The three flax modules for a config."""
    actor = Actor(act_dim, cfg.actor_width, cfg.actor_depth, cfg.log_std_min, cfg.log_std_max)
    actor_o = OptimisticActor(act_dim, cfg.actor_width, cfg.actor_depth)
    critic = CriticEnsemble(cfg.critic_width, cfg.critic_depth, cfg.n_quantiles, cfg.n_critics)
    return actor, actor_o, critic


def optimizers(cfg: BROConfig) -> dict[str, optax.GradientTransformation]:
    """Optimisers as in the official code: AdamW (actor, optimistic actor, critic), Adam b1=0.5 for duals, at
    the per-update learning rates of the replay mode (`BROConfig.per_update_learning_rates`)."""
    lr = cfg.per_update_learning_rates()
    return {
        "actor": optax.adamw(lr["actor"], weight_decay=cfg.weight_decay),
        "critic": optax.adamw(lr["critic"], weight_decay=cfg.weight_decay),
        "temp": optax.adam(lr["temp"], b1=cfg.temp_b1),
        "dual": optax.adam(lr["dual"], b1=cfg.dual_b1),
    }


def _fresh(rng: jax.Array, obs_dim: int, act_dim: int, cfg: BROConfig, step: jax.Array,
           num_resets: jax.Array) -> LearnerState:
    rng, k_actor, k_actor_o, k_critic = jax.random.split(rng, 4)
    actor, actor_o, critic = networks(cfg, act_dim)
    obs = jnp.zeros((1, obs_dim), jnp.float32)
    act = jnp.zeros((1, act_dim), jnp.float32)
    actor_params = actor.init(k_actor, obs)["params"]
    actor_o_params = actor_o.init(k_actor_o, obs, act)["params"]
    critic_params = critic.init(k_critic, obs, act)["params"]
    opt = optimizers(cfg)
    log_temp = jnp.asarray(math.log(cfg.init_temperature), jnp.float32)
    opt_param = jnp.asarray(_dual_param(cfg.init_optimism, cfg.dual_log_min, cfg.dual_log_max), jnp.float32)
    klw_param = jnp.asarray(_dual_param(cfg.init_kl_weight, cfg.dual_log_min, cfg.dual_log_max), jnp.float32)
    return LearnerState(
        actor_params=actor_params,
        actor_opt=opt["actor"].init(actor_params),
        actor_o_params=actor_o_params,
        actor_o_opt=opt["actor"].init(actor_o_params),
        critic_params=critic_params,
        critic_opt=opt["critic"].init(critic_params),
        target_critic_params=critic_params,
        log_temp=log_temp,
        temp_opt=opt["temp"].init(log_temp),
        optimism_param=opt_param,
        optimism_opt=opt["dual"].init(opt_param),
        kl_weight_param=klw_param,
        kl_weight_opt=opt["dual"].init(klw_param),
        rng=rng,
        step=step,
        num_resets=num_resets,
        config=cfg,
        obs_dim=obs_dim,
        act_dim=act_dim,
    )


def init_learner(rng: jax.Array, obs_dim: int, act_dim: int, cfg: BROConfig) -> LearnerState:
    """Fresh learner for one seed. `rng` is a raw uint32[2] key (`jax.random.PRNGKey`)."""
    if obs_dim < 1 or act_dim < 1:
        raise ValueError(f"obs_dim and act_dim must be >= 1, got {obs_dim}, {act_dim}")
    return _fresh(rng, obs_dim, act_dim, cfg, jnp.zeros((), jnp.int32), jnp.zeros((), jnp.int32))


def init_learners(rngs: jax.Array, obs_dim: int, act_dim: int, cfg: BROConfig) -> LearnerState:
    """Learners for several seeds, stacked on a leading seed axis: `rngs uint32[S, 2]`."""
    return jax.vmap(lambda r: init_learner(r, obs_dim, act_dim, cfg))(rngs)


def reset_learner(state: LearnerState) -> LearnerState:
    """Full reset (every network, optimiser and dual re-initialised) from a key split off the state's RNG."""
    rng, key = jax.random.split(state.rng)
    fresh = _fresh(key, state.obs_dim, state.act_dim, state.config, jnp.zeros((), jnp.int32), state.num_resets + 1)
    return fresh.replace(rng=rng)


def reset_fires(cfg: BROConfig, env_steps_before: jax.Array, env_steps_after: jax.Array, *, num_envs: int
                ) -> jax.Array:
    """bool[]: True when a reset step r of `cfg.resolved_reset_steps(num_envs)` (the configured steps, scaled
    in large_batch mode) satisfies before <= r < after (int32 counters). `num_envs` (static): envs per seed."""
    steps = cfg.resolved_reset_steps(num_envs)
    if not steps:
        return jnp.zeros((), bool)
    r = jnp.asarray(steps, jnp.int32)
    return jnp.any((env_steps_before <= r) & (r < env_steps_after))


def _spread(q: jax.Array) -> jax.Array:
    """Critic disagreement: mean absolute deviation over the critic axis (= |q1 - q2| / 2 for two critics, as
    the official code; unlike std its gradient stays finite when the critics agree)."""
    return jnp.mean(jnp.abs(q - jnp.mean(q, axis=0)), axis=0)


def update(state: LearnerState, batch: Transition) -> tuple[LearnerState, dict[str, jax.Array]]:
    """One BRO update on a batch `Transition[B]` (official order); returns the new state and scalar metrics."""
    cfg = state.config
    if batch.obs.ndim != 2 or batch.obs.shape[-1] != state.obs_dim or batch.action.shape[-1] != state.act_dim:
        raise ValueError(
            f"batch must be Transition[B] with obs [B, {state.obs_dim}] and action [B, {state.act_dim}], "
            f"got obs {batch.obs.shape}, action {batch.action.shape} (vmap over seeds outside update)"
        )
    actor, actor_o, critic = networks(cfg, state.act_dim)
    opt = optimizers(cfg)
    taus = losses.quantile_midpoints(cfg.n_quantiles)
    rng, k_next, k_actor, k_opt = jax.random.split(state.rng, 4)
    alpha = jnp.exp(state.log_temp)

    # --- critic ---
    mean_n, std_n = actor.apply({"params": state.actor_params}, batch.next_obs)
    next_act, next_logp = tanh_gaussian_sample(k_next, mean_n, std_n)
    next_q = critic.apply({"params": state.target_critic_params}, batch.next_obs, next_act)
    target = losses.critic_target(batch.reward, batch.terminated, next_q, next_logp, alpha=alpha,
                                  discount=cfg.discount, pessimism=cfg.pessimism)

    def critic_loss_fn(p: Any) -> tuple[jax.Array, jax.Array]:
        q = critic.apply({"params": p}, batch.obs, batch.action)  # [C, B, Q]
        loss = sum(losses.quantile_huber_loss(q[c], target, taus, cfg.kappa) for c in range(cfg.n_critics))
        return loss, q

    (critic_loss, q_pred), g = jax.value_and_grad(critic_loss_fn, has_aux=True)(state.critic_params)
    upd, critic_opt = opt["critic"].update(g, state.critic_opt, state.critic_params)
    critic_params = optax.apply_updates(state.critic_params, upd)
    tau = cfg.per_update_tau()  # = cfg.tau in official mode
    target_params = jax.tree.map(lambda p, tp: tau * p + (1.0 - tau) * tp, critic_params,
                                 state.target_critic_params)

    # --- conservative actor ---
    def actor_loss_fn(p: Any) -> tuple[jax.Array, tuple[jax.Array, jax.Array]]:
        mean, std = actor.apply({"params": p}, batch.obs)
        a, logp = tanh_gaussian_sample(k_actor, mean, std)
        q = critic.apply({"params": critic_params}, batch.obs, a)
        q = jnp.mean(jnp.mean(q, axis=0) - cfg.pessimism * _spread(q), axis=-1)
        return jnp.mean(alpha * logp - q), (-jnp.mean(logp), jnp.mean(std))

    (actor_loss, (entropy, std_mean)), g = jax.value_and_grad(actor_loss_fn, has_aux=True)(state.actor_params)
    upd, actor_opt = opt["actor"].update(g, state.actor_opt, state.actor_params)
    actor_params = optax.apply_updates(state.actor_params, upd)

    # --- optimistic actor (against the updated conservative actor and critic) ---
    beta = dual_value(state.optimism_param, cfg.dual_log_min, cfg.dual_log_max)
    kl_weight = dual_value(state.kl_weight_param, cfg.dual_log_min, cfg.dual_log_max)
    mean_c, std_c = jax.lax.stop_gradient(actor.apply({"params": actor_params}, batch.obs))
    std_o = std_c * cfg.std_multiplier

    def actor_o_loss_fn(p: Any) -> tuple[jax.Array, jax.Array]:
        mean_o = actor_o.apply({"params": p}, batch.obs, mean_c)
        a, _ = tanh_gaussian_sample(k_opt, mean_o, std_o)
        q = critic.apply({"params": critic_params}, batch.obs, a)
        q_ub = jnp.mean(jnp.mean(q, axis=0) + beta * _spread(q), axis=-1)
        # official: KL(N(mean_o, std_o / std_multiplier) || N(mean_c, std_c)), summed over action dims
        kl = losses.gaussian_kl(mean_o, std_o / cfg.std_multiplier, mean_c, std_c)
        return jnp.mean(-q_ub) + kl_weight * jnp.mean(kl), jnp.mean(kl)

    (actor_o_loss, kl), g = jax.value_and_grad(actor_o_loss_fn, has_aux=True)(state.actor_o_params)
    upd, actor_o_opt = opt["actor"].update(g, state.actor_o_opt, state.actor_o_params)
    actor_o_params = optax.apply_updates(state.actor_o_params, upd)

    # --- temperature and the two duals ---
    target_entropy = cfg.resolved_target_entropy(state.act_dim)
    g = jax.grad(lambda lt: losses.temperature_loss(jnp.exp(lt), entropy, target_entropy))(state.log_temp)
    upd, temp_opt = opt["temp"].update(g, state.temp_opt, state.log_temp)
    log_temp = optax.apply_updates(state.log_temp, upd)

    kl_per_dim = kl / state.act_dim
    g = jax.grad(lambda p: losses.optimism_loss(dual_value(p, cfg.dual_log_min, cfg.dual_log_max), kl_per_dim,
                                                cfg.kl_target, cfg.pessimism))(state.optimism_param)
    upd, optimism_opt = opt["dual"].update(g, state.optimism_opt, state.optimism_param)
    optimism_param = optax.apply_updates(state.optimism_param, upd)
    g = jax.grad(lambda p: losses.kl_weight_loss(dual_value(p, cfg.dual_log_min, cfg.dual_log_max), kl_per_dim,
                                                 cfg.kl_target))(state.kl_weight_param)
    upd, kl_weight_opt = opt["dual"].update(g, state.kl_weight_opt, state.kl_weight_param)
    kl_weight_param = optax.apply_updates(state.kl_weight_param, upd)

    new_state = state.replace(
        actor_params=actor_params, actor_opt=actor_opt, actor_o_params=actor_o_params, actor_o_opt=actor_o_opt,
        critic_params=critic_params, critic_opt=critic_opt, target_critic_params=target_params,
        log_temp=log_temp, temp_opt=temp_opt, optimism_param=optimism_param, optimism_opt=optimism_opt,
        kl_weight_param=kl_weight_param, kl_weight_opt=kl_weight_opt, rng=rng, step=state.step + 1,
    )
    metrics = {
        "critic_loss": critic_loss,
        "q_mean": jnp.mean(q_pred),
        "q_uncertainty": jnp.mean(_spread(q_pred)),
        "target_mean": jnp.mean(target),
        "reward_mean": jnp.mean(batch.reward),
        "actor_loss": actor_loss,
        "entropy": entropy,
        "actor_std": std_mean,
        "temperature": alpha,
        "actor_o_loss": actor_o_loss,
        "kl_per_dim": kl_per_dim,
        "optimism": beta,
        "kl_weight": kl_weight,
    }
    return new_state, metrics


def act_explore(state: LearnerState, obs: jax.Array, rng: jax.Array) -> jax.Array:
    """Exploration action from the optimistic actor: tanh(N(mean_o, std_c * std_multiplier)), `f32[..., A]`."""
    cfg = state.config
    actor, actor_o, _ = networks(cfg, state.act_dim)
    mean_c, std_c = actor.apply({"params": state.actor_params}, obs)
    mean_o = actor_o.apply({"params": state.actor_o_params}, obs, mean_c)
    action, _ = tanh_gaussian_sample(rng, mean_o, std_c * cfg.std_multiplier)
    return action


def act_conservative(state: LearnerState, obs: jax.Array, rng: jax.Array) -> jax.Array:
    """Stochastic action from the conservative actor (the official `sample_actions`)."""
    actor, _, _ = networks(state.config, state.act_dim)
    mean, std = actor.apply({"params": state.actor_params}, obs)
    action, _ = tanh_gaussian_sample(rng, mean, std)
    return action


def act_eval(actor_params: Any, obs: jax.Array, cfg: BROConfig, act_dim: int) -> jax.Array:
    """Deterministic evaluation action tanh(mean_c), `f32[..., A]` in (-1, 1)."""
    actor, _, _ = networks(cfg, act_dim)
    mean, _ = actor.apply({"params": actor_params}, obs)
    return jnp.tanh(mean)
