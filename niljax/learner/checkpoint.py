"""Orbax checkpoints of the whole training state, and policy export for inference.

Contract:
- `save_checkpoint(directory, state: LoopState, *, extra=None)` writes `directory/state` (orbax
  StandardCheckpointer: learner parameters, optimiser states, duals, replay contents and ring counters, env
  states, RNG keys, step counters) and `directory/meta.json` (BROConfig, dims, S, N, iteration, `extra`).
  `directory` must not exist yet unless `overwrite=True`.
- `restore_checkpoint(directory, like: LoopState) -> LoopState` restores into the structure, shapes, dtypes
  and shardings of `like` (e.g. `loop.init(0)`); raises if the saved config differs from `like`'s. Values are
  bit-identical, so continuing gives exactly the metrics an uninterrupted run would.
- `export_policy(directory, learner, seed_index=0)` writes the conservative actor's parameters
  (`directory/actor_params`) and `directory/policy.json` (network settings, dims, full config), enough to
  rebuild the policy without the training script. `learner` may be stacked over seeds (leading axis S).
- `load_policy(directory) -> Policy`: `Policy(obs f32[..., O]) -> action f32[..., A]`, deterministic
  `tanh(mean)` of the conservative actor, jitted.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import orbax.checkpoint as ocp

from niljax.learner import bro
from niljax.learner.loop import LoopState
from niljax.learner.networks import Actor

POLICY_FORMAT = "niljax-bro-policy"
POLICY_VERSION = 1


def _layout(state: LoopState) -> dict[str, Any]:
    """Settings that must match between a checkpoint and its restore target (works on abstract states)."""
    learner = state.learner
    return {
        "config": learner.config.to_dict(),
        "obs_dim": learner.obs_dim,
        "act_dim": learner.act_dim,
        "num_seeds": int(state.obs.shape[0]),
        "num_envs": int(state.obs.shape[1]),
    }


def save_checkpoint(directory: str | Path, state: LoopState, *, extra: dict[str, Any] | None = None,
                    overwrite: bool = False) -> Path:
    """Save the full `LoopState` plus a JSON of settings; returns the directory."""
    directory = Path(directory).absolute()
    if directory.exists() and not overwrite:
        raise FileExistsError(f"checkpoint directory {directory} already exists (pass overwrite=True)")
    directory.mkdir(parents=True, exist_ok=True)
    ckptr = ocp.StandardCheckpointer()
    ckptr.save(directory / "state", state, force=True)
    ckptr.wait_until_finished()
    meta = _layout(state) | {"iteration": int(state.iteration), "env_steps": int(state.env_steps),
                             "extra": extra or {}}
    (directory / "meta.json").write_text(json.dumps(meta, indent=2))
    return directory


def restore_checkpoint(directory: str | Path, like: LoopState) -> LoopState:
    """Restore a `LoopState` saved by `save_checkpoint` into the layout of `like` (concrete, or abstract from
    `BROLoop.abstract_state()`)."""
    directory = Path(directory).absolute()
    meta_path = directory / "meta.json"
    if not meta_path.is_file():
        raise FileNotFoundError(f"no checkpoint at {directory} (missing meta.json)")
    meta = json.loads(meta_path.read_text())
    want = _layout(like)
    for key in ("config", "obs_dim", "act_dim", "num_seeds", "num_envs"):
        if meta[key] != want[key]:
            raise ValueError(f"checkpoint {key} differs from the target state: saved {meta[key]!r}, "
                             f"target {want[key]!r}")
    abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, like)
    return ocp.StandardCheckpointer().restore(directory / "state", abstract)


def export_policy(directory: str | Path, learner: bro.LearnerState, seed_index: int = 0) -> Path:
    """Write the deterministic conservative policy of one seed (params + policy.json).

    Multi-process runs: call it on every process (orbax writes collectively); only process 0 writes policy.json.
    """
    directory = Path(directory).absolute()
    params = learner.actor_params
    if learner.step.ndim == 1:  # stacked over seeds
        num_seeds = learner.step.shape[0]
        if not 0 <= seed_index < num_seeds:
            raise IndexError(f"seed_index {seed_index} out of range for {num_seeds} seeds")
        params = jax.tree.map(lambda x: x[seed_index], params)
    directory.mkdir(parents=True, exist_ok=True)
    # In a multi-process run every process calls this (orbax saves collectively); process 0 writes the JSON.
    ckptr = ocp.StandardCheckpointer()
    ckptr.save(directory / "actor_params", params, force=True)
    ckptr.wait_until_finished()
    if jax.process_index() != 0:
        return directory
    cfg = learner.config
    info = {
        "format": POLICY_FORMAT,
        "version": POLICY_VERSION,
        "obs_dim": learner.obs_dim,
        "act_dim": learner.act_dim,
        "actor": {"width": cfg.actor_width, "depth": cfg.actor_depth, "log_std_min": cfg.log_std_min,
                  "log_std_max": cfg.log_std_max},
        "action": "tanh(mean) of the conservative actor, in [-1, 1]",
        "config": cfg.to_dict(),
    }
    (directory / "policy.json").write_text(json.dumps(info, indent=2))
    return directory


@dataclasses.dataclass(frozen=True)
class Policy:
    """Deterministic exported policy: call with `obs f32[..., obs_dim]` to get `action f32[..., act_dim]`."""

    actor: Actor
    params: Any
    obs_dim: int
    act_dim: int

    def __call__(self, obs: jax.Array) -> jax.Array:
        obs = jnp.asarray(obs, jnp.float32)
        if obs.shape[-1] != self.obs_dim:
            raise ValueError(f"policy expects observations with last dim {self.obs_dim}, got shape {obs.shape}")
        return _policy_apply(self.actor, self.params, obs)


@jax.jit(static_argnums=0)
def _policy_apply(actor: Actor, params: Any, obs: jax.Array) -> jax.Array:
    mean, _ = actor.apply({"params": params}, obs)
    return jnp.tanh(mean)


def load_policy(directory: str | Path) -> Policy:
    """Rebuild an exported policy from `policy.json` + `actor_params` (no training code needed)."""
    directory = Path(directory).absolute()
    info_path = directory / "policy.json"
    if not info_path.is_file():
        raise FileNotFoundError(f"no exported policy at {directory} (missing policy.json)")
    info = json.loads(info_path.read_text())
    if info.get("format") != POLICY_FORMAT or info.get("version") != POLICY_VERSION:
        raise ValueError(f"{info_path} is not a {POLICY_FORMAT} v{POLICY_VERSION} file")
    a = info["actor"]
    actor = Actor(info["act_dim"], a["width"], a["depth"], a["log_std_min"], a["log_std_max"])
    abstract = jax.eval_shape(lambda: actor.init(jax.random.PRNGKey(0), jnp.zeros((1, info["obs_dim"])))["params"])
    params = ocp.StandardCheckpointer().restore(directory / "actor_params", abstract)
    return Policy(actor, params, info["obs_dim"], info["act_dim"])
