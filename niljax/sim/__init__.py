"""Simulation stage: batched MJX env, walking metrics, kinematic replay, brax wrapper.

- `NilEnv(scene, EnvConfig)`: `reset(rng) -> State`, `step(State, action[nu]) -> State` (one env; vmap it),
  `reset_done(State)` (auto-reset); `BatchedEnv(env, N)`: jitted batched reset/step with eager checks.
- `PhysicsQuantities`: applied torques, actions, root velocities, feet contacts/velocities, tilt, head height.
- `locomujoco_walk_reward`, `humanoidbench_walk_reward`, `tolerance`: the published walking metrics.
- `niljax.sim.replay`: named joint trajectories (LocoMuJoCo `q_<joint>`) -> qpos, kinematic poses.
- `niljax.sim.brax_env.BraxEnv`: a `brax.envs.Env` view of a NilEnv.
"""

from niljax.sim.env import BatchedEnv, EnvConfig, NilEnv, PhysicsQuantities, State, check_action
from niljax.sim.metrics import humanoidbench_walk_reward, locomujoco_walk_reward, tolerance

__all__ = [
    "BatchedEnv", "EnvConfig", "NilEnv", "PhysicsQuantities", "State", "check_action",
    "humanoidbench_walk_reward", "locomujoco_walk_reward", "tolerance",
]
