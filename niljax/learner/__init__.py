"""niljax.learner: BRO (Bigger, Regularized, Optimistic) with a device-resident replay buffer.

Stage contract (docs/architecture.md, docs/learner.md):
- `BROConfig` (defaults = official BRO), `init_learner(rng, obs_dim, act_dim, cfg) -> LearnerState`,
  `update(state, batch: Transition[B]) -> (state, metrics)` (pure; vmap over seeds),
  `act_explore` / `act_eval`, `reset_learner`.
- Device replay: `Transition`, `ReplayBuffer`, `replay_init/replay_insert/replay_sample`, `finite_rows`,
  `replay_insert_counted` (the insert and how many rows it rejected).
- `BROLoop`: collect + insert + K updates as one jitted iteration over any pure `env_reset/env_step`.
- Checkpoints: `save_checkpoint/restore_checkpoint` (bit-for-bit resume), `export_policy/load_policy`.
- Replay ratio: `replay_ratio_report` (and `niljax.learner.config.format_replay_ratio`, jax-free) state what a
  run realises; `sample_updates(..., sharding=batch_sharding(mesh))` is the data-parallel learner.
"""

from __future__ import annotations

from niljax._lazy import lazy_exports

# Lazy exports (niljax._lazy): importing a light name (a config) does not import jax or mujoco.
_EXPORTS = {
    'BROConfig': 'niljax.learner.config',
    'BROLoop': 'niljax.learner.loop',
    'LearnerState': 'niljax.learner.bro',
    'LoopState': 'niljax.learner.loop',
    'ReplayBuffer': 'niljax.learner.replay',
    'Transition': 'niljax.learner.replay',
    'act_conservative': 'niljax.learner.bro',
    'act_eval': 'niljax.learner.bro',
    'act_explore': 'niljax.learner.bro',
    'batch_sharding': 'niljax.learner.loop',
    'export_policy': 'niljax.learner.checkpoint',
    'finite_rows': 'niljax.learner.replay',
    'init_learner': 'niljax.learner.bro',
    'init_learners': 'niljax.learner.bro',
    'load_policy': 'niljax.learner.checkpoint',
    'replay_init': 'niljax.learner.replay',
    'replay_insert': 'niljax.learner.replay',
    'replay_insert_counted': 'niljax.learner.replay',
    'replay_ratio_report': 'niljax.learner.config',
    'replay_sample': 'niljax.learner.replay',
    'reset_fires': 'niljax.learner.bro',
    'reset_learner': 'niljax.learner.bro',
    'restore_checkpoint': 'niljax.learner.checkpoint',
    'sample_updates': 'niljax.learner.loop',
    'save_checkpoint': 'niljax.learner.checkpoint',
    'update': 'niljax.learner.bro',
}


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

__all__ = [
    "BROConfig",
    "BROLoop",
    "LearnerState",
    "LoopState",
    "ReplayBuffer",
    "Transition",
    "act_conservative",
    "act_eval",
    "act_explore",
    "batch_sharding",
    "export_policy",
    "finite_rows",
    "init_learner",
    "init_learners",
    "load_policy",
    "replay_init",
    "replay_insert",
    "replay_insert_counted",
    "replay_ratio_report",
    "replay_sample",
    "reset_fires",
    "reset_learner",
    "restore_checkpoint",
    "sample_updates",
    "save_checkpoint",
    "update",
]
