"""`BROConfig`: every BRO hyperparameter, importable without jax (CLI help and configs stay fast).

Replay ratio in users' terms (docs/learner.md, "Replay ratio"): `updates_per_env_step` is BRO's replay ratio
(BRO 10, BRO-fast 2) and `batch_size` the batch of one update. `replay_mode` says how it is realised with N
envs per iteration:
- "official": K = round(updates_per_env_step * N) sequential updates of `batch_size` per iteration of N env
  steps; every per-update rate is BRO's. With N = 1 and batch 128 this is the official code.
- "large_batch" (parallel off-policy, as FastTD3): each update on `batch_size` = m * `reference_batch_size`
  samples stands in for m official updates; K = round(updates_per_env_step * N / m) keeps BRO's replayed
  samples per transition (or `updates_per_iteration` sets K, e.g. 2 as FastTD3). Per update: tau ->
  1 - (1 - tau)^m, actor/critic lr * m^p (p from `large_batch_lr_scaling`: 0, 1/2, 1), temperature and
  dual lr * m; a reset at env step r moves to r * (BRO's samples per transition) / (realised samples per
  transition), so it fires after as many replayed samples as in BRO.
`replay_ratio_report(cfg, N)` / `format_replay_ratio(cfg, N)` state what a run realises (printed at the start).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

# Official reset list is [15001, 50001, 250001, ...] checked against a 1-based step counter *after* inserting the
# step: a reset fires once more than 15,000 env steps have been collected. Here: fires in the iteration whose
# collection takes the env-step counter from <= r to > r.
OFFICIAL_RESET_STEPS: tuple[int, ...] = (15_000, 50_000, 250_000, 500_000, 750_000, 1_000_000, 1_500_000, 2_000_000)

_LR_SCALINGS = ("none", "sqrt", "linear")
REPLAY_MODES = ("official", "large_batch")
_INT32_MAX = 2**31 - 1
# Fields renamed by issue 13: a recorded config with an old name gets an error naming the replacement.
_RENAMED = {
    "replay_ratio": "updates_per_env_step (replay_mode='official': K = updates_per_env_step * N sequential "
                    "updates; the old samples-per-transition accounting is replay_mode='large_batch')",
    "lr_batch_scaling": "large_batch_lr_scaling (read only with replay_mode='large_batch')",
}


@dataclasses.dataclass(frozen=True)
class BROConfig:
    """Every BRO hyperparameter. Defaults = official BRO (replay ratio 10 with one env)."""

    # networks
    critic_width: int = 512
    critic_depth: int = 2
    actor_width: int = 256
    actor_depth: int = 1
    n_quantiles: int = 100
    n_critics: int = 2
    kappa: float = 1.0
    log_std_min: float = -10.0
    log_std_max: float = 2.0
    # optimisation
    actor_lr: float = 3e-4
    critic_lr: float = 3e-4
    weight_decay: float = 1e-4  # AdamW for actor, optimistic actor and critics (optax default, as official)
    temp_lr: float = 3e-4
    temp_b1: float = 0.5
    dual_lr: float = 3e-5
    dual_b1: float = 0.5
    discount: float = 0.99
    tau: float = 0.005
    init_temperature: float = 1.0
    target_entropy: float | None = None  # None -> -act_dim / 2
    # optimistic exploration
    init_optimism: float = 1.0
    init_kl_weight: float = 0.25
    kl_target: float = 0.05  # per action dimension
    std_multiplier: float = 0.75
    pessimism: float = 0.0  # official BRO: 0 (mean of the critics, no clipped double-Q)
    dual_log_min: float = -10.0
    dual_log_max: float = 7.5
    # data and schedule (replay ratio: module docstring and docs/learner.md)
    updates_per_env_step: float = 10.0  # BRO's replay ratio: 10 (BRO), 2 (BRO-fast)
    batch_size: int = 128
    replay_mode: str = "official"  # "official" | "large_batch" (REPLAY_MODES)
    updates_per_iteration: int | None = None  # explicit K per iteration of N env steps; None -> derived
    reference_batch_size: int = 128  # BRO's batch: large_batch mode's unit m = batch_size / reference_batch_size
    large_batch_lr_scaling: str = "sqrt"  # large_batch: actor/critic lr * m^p, p = 0 | 1/2 | 1 (none|sqrt|linear)
    random_steps: int = 2_500  # env steps (summed over envs) of uniform random actions before updates start
    reset_steps: tuple[int, ...] = OFFICIAL_RESET_STEPS
    replay_capacity: int = 1_000_000

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise ValueError naming the first bad field."""
        positive_ints = ("critic_width", "actor_width", "n_quantiles", "n_critics", "batch_size",
                         "reference_batch_size", "replay_capacity")
        for name in positive_ints:
            v = getattr(self, name)
            if not isinstance(v, int) or v < 1:
                raise ValueError(f"BROConfig.{name} must be a positive int, got {v!r}")
        for name in ("critic_depth", "actor_depth", "random_steps"):
            v = getattr(self, name)
            if not isinstance(v, int) or v < 0:
                raise ValueError(f"BROConfig.{name} must be a non-negative int, got {v!r}")
        for name in ("actor_lr", "critic_lr", "temp_lr", "dual_lr", "weight_decay", "pessimism"):
            if getattr(self, name) < 0:
                raise ValueError(f"BROConfig.{name} must be >= 0, got {getattr(self, name)}")
        for name in ("init_temperature", "init_optimism", "init_kl_weight", "kappa", "kl_target", "std_multiplier"):
            if not getattr(self, name) > 0:
                raise ValueError(f"BROConfig.{name} must be > 0, got {getattr(self, name)}")
        if not 0.0 <= self.discount <= 1.0:
            raise ValueError(f"BROConfig.discount must be in [0, 1], got {self.discount}")
        if not 0.0 < self.tau <= 1.0:
            raise ValueError(f"BROConfig.tau must be in (0, 1], got {self.tau}")
        if not self.log_std_min < self.log_std_max:
            raise ValueError("BROConfig.log_std_min must be < log_std_max")
        if not self.dual_log_min < math.log(self.init_optimism) < self.dual_log_max:
            raise ValueError("BROConfig.init_optimism must lie strictly inside exp([dual_log_min, dual_log_max])")
        if not self.dual_log_min < math.log(self.init_kl_weight) < self.dual_log_max:
            raise ValueError("BROConfig.init_kl_weight must lie strictly inside exp([dual_log_min, dual_log_max])")
        if not self.updates_per_env_step > 0:
            raise ValueError(f"BROConfig.updates_per_env_step must be > 0, got {self.updates_per_env_step}")
        if self.updates_per_iteration is not None and (not isinstance(self.updates_per_iteration, int)
                                                       or self.updates_per_iteration < 1):
            raise ValueError(f"BROConfig.updates_per_iteration must be a positive int or None, got "
                             f"{self.updates_per_iteration!r}")
        if self.replay_mode not in REPLAY_MODES:
            raise ValueError(f"BROConfig.replay_mode must be one of {REPLAY_MODES}, got {self.replay_mode!r}")
        if self.large_batch_lr_scaling not in _LR_SCALINGS:
            raise ValueError(f"BROConfig.large_batch_lr_scaling must be one of {_LR_SCALINGS}, got "
                             f"{self.large_batch_lr_scaling!r}")
        if self.replay_mode == "large_batch" and self.batch_size < self.reference_batch_size:
            raise ValueError(f"BROConfig.replay_mode='large_batch' needs batch_size >= reference_batch_size "
                             f"({self.batch_size} < {self.reference_batch_size}): each update stands for "
                             "batch_size / reference_batch_size BRO updates; use replay_mode='official'")
        if not isinstance(self.reset_steps, tuple) or any((not isinstance(r, int)) or r < 0 for r in self.reset_steps):
            raise ValueError(f"BROConfig.reset_steps must be a tuple of non-negative ints, got {self.reset_steps!r}")
        if list(self.reset_steps) != sorted(set(self.reset_steps)):
            raise ValueError(f"BROConfig.reset_steps must be strictly increasing, got {self.reset_steps}")
        if max(self.reset_steps, default=0) >= _INT32_MAX:
            raise ValueError("BROConfig.reset_steps must fit int32 (env-step counters are int32)")

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly dict of every field (what a run records)."""
        d = dataclasses.asdict(self)
        d["reset_steps"] = list(self.reset_steps)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> BROConfig:
        """Inverse of `to_dict`; unknown keys raise."""
        unknown = set(d) - {f.name for f in dataclasses.fields(cls)}
        renamed = sorted(unknown & set(_RENAMED))
        if renamed:
            raise ValueError("renamed BROConfig fields (docs/learner.md, 'Replay ratio'): "
                             + "; ".join(f"{old} -> {_RENAMED[old]}" for old in renamed))
        if unknown:
            raise ValueError(f"unknown BROConfig fields: {sorted(unknown)}")
        d = dict(d)
        if "reset_steps" in d:
            d["reset_steps"] = tuple(d["reset_steps"])
        return cls(**d)

    def resolved_target_entropy(self, act_dim: int) -> float:
        """Target entropy, -act_dim/2 unless set."""
        return -act_dim / 2.0 if self.target_entropy is None else float(self.target_entropy)

    # ------------------------------------------------------------------ replay ratio and per-update rates
    def update_multiple(self) -> float:
        """m: how many BRO updates one update stands for (batch_size / reference_batch_size in large_batch
        mode, 1 in official mode)."""
        if self.replay_mode == "large_batch":
            return self.batch_size / self.reference_batch_size
        return 1.0

    def per_update_tau(self) -> float:
        """Polyak rate applied per update: 1 - (1 - tau)^m (the target moves as after m BRO updates); exactly
        `tau` when m = 1."""
        m = self.update_multiple()
        return self.tau if m == 1.0 else 1.0 - (1.0 - self.tau) ** m

    def per_update_learning_rates(self) -> dict[str, float]:
        """Learning rates per update: actor/critic * m^p (p: none 0, sqrt 1/2, linear 1), temperature and duals
        * m (their Adam steps are about lr each, so one step of m * lr moves them as m BRO steps do).
        Official mode (m = 1): the configured rates."""
        m = self.update_multiple()
        p = {"none": 0.0, "sqrt": 0.5, "linear": 1.0}[self.large_batch_lr_scaling]
        net = m**p if self.replay_mode == "large_batch" else 1.0
        return {"actor": self.actor_lr * net, "critic": self.critic_lr * net, "temp": self.temp_lr * m,
                "dual": self.dual_lr * m}

    def num_updates_per_iteration(self, num_envs: int) -> int:
        """K = sequential gradient updates per iteration of `num_envs` env steps (per seed).

        Explicit `updates_per_iteration` wins. Otherwise official: max(1, round(updates_per_env_step * N));
        large_batch: max(1, round(updates_per_env_step * N / m)), which keeps BRO's replayed samples per
        collected transition (updates_per_env_step * reference_batch_size).
        """
        if not isinstance(num_envs, int) or num_envs < 1:
            raise ValueError(f"num_envs must be a positive int, got {num_envs!r}")
        if self.updates_per_iteration is not None:
            return self.updates_per_iteration
        return max(1, round(self.updates_per_env_step * num_envs / self.update_multiple()))

    def samples_per_transition(self, num_envs: int) -> float:
        """Replayed samples per collected transition actually realised: K * batch_size / N."""
        return self.num_updates_per_iteration(num_envs) * self.batch_size / num_envs

    def official_samples_per_transition(self) -> float:
        """What BRO at this ratio replays per transition: updates_per_env_step * reference_batch_size."""
        return self.updates_per_env_step * self.reference_batch_size

    def resolved_reset_steps(self, num_envs: int) -> tuple[int, ...]:
        """Reset steps in env steps per seed. Official mode: `reset_steps`. large_batch: each r scaled by
        BRO's / the realised samples per transition (a reset after as many replayed samples as in BRO); a step
        past int32 (the env-step counter's range) is dropped, it could never fire."""
        if self.replay_mode != "large_batch":
            return self.reset_steps
        scale = self.official_samples_per_transition() / self.samples_per_transition(num_envs)
        scaled = sorted({round(r * scale) for r in self.reset_steps})
        return tuple(r for r in scaled if r < _INT32_MAX)


def replay_ratio_report(cfg: BROConfig, num_envs: int) -> dict[str, Any]:
    """What a run with `num_envs` envs per seed realises, next to BRO's values at the same
    `updates_per_env_step` (JSON-friendly; `format_replay_ratio` prints it)."""
    k = cfg.num_updates_per_iteration(num_envs)
    rates = cfg.per_update_learning_rates()
    return {
        "replay_mode": cfg.replay_mode,
        "num_envs": num_envs,
        "batch_size": cfg.batch_size,
        "updates_per_iteration": k,
        "sequential_updates_per_env_step": k / num_envs,
        "samples_per_transition": cfg.samples_per_transition(num_envs),
        "update_multiple": cfg.update_multiple(),
        "bro_updates_per_env_step": cfg.updates_per_env_step,
        "bro_samples_per_transition": cfg.official_samples_per_transition(),
        "tau_per_update": cfg.per_update_tau(),
        "learning_rates_per_update": rates,
        "reset_steps": list(cfg.resolved_reset_steps(num_envs)),
        "bro_reset_steps": list(cfg.reset_steps),
    }


def format_replay_ratio(cfg: BROConfig, num_envs: int) -> str:
    """Two lines for the start of a run: the realised ratio (sequential updates per env step, samples per
    transition) against BRO's, and the per-update rates and reset steps it implies."""
    r = replay_ratio_report(cfg, num_envs)
    lr = r["learning_rates_per_update"]
    mode = r["replay_mode"]
    if mode == "large_batch":
        mode += f", each update = {r['update_multiple']:.3g} BRO updates of {cfg.reference_batch_size}"
    resets = r["reset_steps"] if r["reset_steps"] == r["bro_reset_steps"] else \
        f"{r['reset_steps']} (BRO: {r['bro_reset_steps']})"
    return (
        f"replay ratio ({mode}): {r['updates_per_iteration']} sequential updates of batch {r['batch_size']} per "
        f"iteration of {num_envs} env steps = {r['sequential_updates_per_env_step']:.4g} updates per env step "
        f"(BRO: {r['bro_updates_per_env_step']:.4g}), {r['samples_per_transition']:.4g} replayed samples per "
        f"transition (BRO: {r['bro_samples_per_transition']:.4g})\n"
        f"per update: tau {r['tau_per_update']:.4g}, lr actor {lr['actor']:.3g} critic {lr['critic']:.3g} "
        f"temperature {lr['temp']:.3g} duals {lr['dual']:.3g}; resets at env steps {resets}"
    )
