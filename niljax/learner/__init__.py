"""niljax.learner: BRO (Bigger, Regularized, Optimistic) with a device-resident replay buffer.

Stage contract (docs/architecture.md, docs/learner.md):
- `BROConfig` (defaults = official BRO), `init_learner(rng, obs_dim, act_dim, cfg) -> LearnerState`,
  `update(state, batch: Transition[B]) -> (state, metrics)` (pure; vmap over seeds),
  `act_explore` / `act_eval`, `reset_learner`.
- Device replay: `Transition`, `ReplayBuffer`, `replay_init/replay_insert/replay_sample`.
- `BROLoop`: collect + insert + K updates as one jitted iteration over any pure `env_reset/env_step`.
- Checkpoints: `save_checkpoint/restore_checkpoint` (bit-for-bit resume), `export_policy/load_policy`.
"""

from niljax.learner.bro import (
    BROConfig,
    LearnerState,
    act_conservative,
    act_eval,
    act_explore,
    init_learner,
    init_learners,
    reset_fires,
    reset_learner,
    update,
)
from niljax.learner.checkpoint import export_policy, load_policy, restore_checkpoint, save_checkpoint
from niljax.learner.loop import BROLoop, LoopState
from niljax.learner.replay import ReplayBuffer, Transition, replay_init, replay_insert, replay_sample

__all__ = [
    "BROConfig", "BROLoop", "LearnerState", "LoopState", "ReplayBuffer", "Transition", "act_conservative",
    "act_eval", "act_explore", "export_policy", "init_learner", "init_learners", "load_policy", "replay_init",
    "replay_insert", "replay_sample", "reset_fires", "reset_learner", "restore_checkpoint", "save_checkpoint",
    "update",
]
