"""Batched kinematic poses for rendering without physics (contact sheets, benchmarks, kinematic replays).

`kinematic_data(mj_model, qpos f[N,nq]) -> mjx.Data` (impl "jax", batched over N): positions, geom/camera/
body poses and subtree centres of mass for each qpos, computed by one jitted `vmap` of MJX kinematics (no
dynamics, no contacts: the model's collision flags are cleared on a private copy so that models whose contact
pairs MJX impl "jax" does not support still work). Recompiles per (model, N).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import mujoco
import numpy as np
from mujoco import mjx

_FNS: dict[int, tuple[mujoco.MjModel, Any]] = {}


def _kinematics_fn(mj_model: mujoco.MjModel) -> Any:
    hit = _FNS.get(id(mj_model))
    if hit is not None and hit[0] is mj_model:
        return hit[1]
    m = mj_model.__copy__()
    m.geom_contype[:] = 0
    m.geom_conaffinity[:] = 0
    mx = mjx.put_model(m, impl="jax")
    template = mjx.make_data(mx)

    @jax.jit
    def fn(qpos: jax.Array) -> mjx.Data:
        def one(q: jax.Array) -> mjx.Data:
            d = mjx.kinematics(mx, template.replace(qpos=q))
            d = mjx.com_pos(mx, d)
            return mjx.camlight(mx, d)

        return jax.vmap(one)(qpos)

    _FNS[id(mj_model)] = (mj_model, fn)
    return fn


def kinematic_data(mj_model: mujoco.MjModel, qpos: Any) -> mjx.Data:
    """Batched mjx.Data for qpos f[N, nq] (see the module docstring)."""
    q = np.asarray(qpos)
    if q.ndim != 2 or q.shape[1] != mj_model.nq:
        raise ValueError(f"qpos must have shape (N, nq={mj_model.nq}), got {q.shape}")
    return _kinematics_fn(mj_model)(jnp.asarray(q, jnp.float32))
