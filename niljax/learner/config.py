"""`BROConfig`: every BRO hyperparameter, importable without jax (CLI help and configs stay fast)."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

# Official reset list is [15001, 50001, 250001, ...] checked against a 1-based step counter *after* inserting the
# step: a reset fires once more than 15,000 env steps have been collected. Here: fires in the iteration whose
# collection takes the env-step counter from <= r to > r.
OFFICIAL_RESET_STEPS: tuple[int, ...] = (15_000, 50_000, 250_000, 500_000, 750_000, 1_000_000, 1_500_000, 2_000_000)

_LR_SCALINGS = ("none", "sqrt", "linear")


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
    # data and schedule
    batch_size: int = 128
    replay_ratio: float = 10.0  # gradient updates per env step at the reference batch size
    reference_batch_size: int = 128  # batch size at which replay_ratio is counted (official batch)
    updates_per_iteration: int | None = None  # explicit K per iteration of N env steps; None -> derived
    lr_batch_scaling: str = "none"  # scale actor/critic lr by (batch_size / reference_batch_size)^p
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
        if not self.replay_ratio > 0:
            raise ValueError(f"BROConfig.replay_ratio must be > 0, got {self.replay_ratio}")
        if self.updates_per_iteration is not None and self.updates_per_iteration < 1:
            raise ValueError(f"BROConfig.updates_per_iteration must be >= 1 or None, got {self.updates_per_iteration}")
        if self.lr_batch_scaling not in _LR_SCALINGS:
            raise ValueError(f"BROConfig.lr_batch_scaling must be one of {_LR_SCALINGS}, got {self.lr_batch_scaling!r}")
        if not isinstance(self.reset_steps, tuple) or any((not isinstance(r, int)) or r < 0 for r in self.reset_steps):
            raise ValueError(f"BROConfig.reset_steps must be a tuple of non-negative ints, got {self.reset_steps!r}")
        if list(self.reset_steps) != sorted(set(self.reset_steps)):
            raise ValueError(f"BROConfig.reset_steps must be strictly increasing, got {self.reset_steps}")
        if max(self.reset_steps, default=0) >= 2**31 - 1:
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
        if unknown:
            raise ValueError(f"unknown BROConfig fields: {sorted(unknown)}")
        d = dict(d)
        if "reset_steps" in d:
            d["reset_steps"] = tuple(d["reset_steps"])
        return cls(**d)

    def resolved_target_entropy(self, act_dim: int) -> float:
        """Target entropy, -act_dim/2 unless set."""
        return -act_dim / 2.0 if self.target_entropy is None else float(self.target_entropy)

    def lr_scale(self) -> float:
        """Multiplier on actor/critic learning rates for the configured batch-size scaling rule."""
        ratio = self.batch_size / self.reference_batch_size
        return {"none": 1.0, "sqrt": math.sqrt(ratio), "linear": ratio}[self.lr_batch_scaling]

    def num_updates_per_iteration(self, num_envs: int) -> int:
        """K = sequential gradient updates per iteration of `num_envs` env steps.

        Explicit `updates_per_iteration` wins; otherwise K = max(1, round(replay_ratio * num_envs *
        reference_batch_size / batch_size)), which keeps the number of *replayed samples* per collected
        transition at the official value (replay_ratio * reference_batch_size) while larger batches cut the
        number of sequential steps (see docs/learner.md).
        """
        if num_envs < 1:
            raise ValueError(f"num_envs must be >= 1, got {num_envs}")
        if self.updates_per_iteration is not None:
            return self.updates_per_iteration
        return max(1, round(self.replay_ratio * num_envs * self.reference_batch_size / self.batch_size))

    def effective_replay_ratio(self, num_envs: int) -> float:
        """Replay ratio actually realised, in updates per env step at the reference batch size."""
        k = self.num_updates_per_iteration(num_envs)
        return k * self.batch_size / (num_envs * self.reference_batch_size)
