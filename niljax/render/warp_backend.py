"""MuJoCo Warp batch render backend, reached through `mujoco.mjx` (GPU fast path; also runs on CPU).

Contract: `WarpRenderer(mj_model, num_envs, height, width, cam_id, render_rgb, background_color)`;
`render(data: mjx.Data batched [N]) -> (rgb f32[N,H,W,3] in [0,1] | None, geom_id int32[N,H,W])`, jittable.
The render context (BVH, ray buffers, output buffers sized for `nworld = N`) is built once per
(model, N, H, W, rgb on/off, camera) and cached in this module: building a second `WarpRenderer` with the same
key reuses it. Changing N or the resolution needs a new context (and recompiles the calling program).

Physics may run with either MJX implementation. `mjx.render_with_segmentation` only accepts a warp-kind
Model/Data pair, so the renderer keeps its own warp Model (`mjx.put_model(impl="warp")`) and a one-world warp
Data template, and per call builds a warp Data carrying only what the render kernel reads: `geom_xpos`,
`geom_xmat`, `cam_xpos`, `cam_xmat` (public fields of every mjx.Data), light poses (taken from warp Data, or
computed here from `xpos/xmat/subtree_com` for jax Data, which has none) and `qpos` for the batch size. The
other template fields are never read by the kernel, so XLA drops them.
"""

from __future__ import annotations

import threading
from typing import Any

import jax
import jax.numpy as jnp
import mujoco
import numpy as np
from mujoco import mjx

_CACHE: dict[tuple[Any, ...], tuple[mujoco.MjModel, Any]] = {}
_CACHE_LOCK = threading.Lock()


def warp_available() -> bool:
    """True when warp-lang is importable and mjx was built with its Warp bridge."""
    try:
        import mujoco.mjx.warp as mjxw

        return bool(mjxw.WARP_INSTALLED)
    except ImportError:  # pragma: no cover - depends on the install
        return False


#: JAX platforms MuJoCo Warp's kernels run on (its FFI handlers are registered for "cpu" and "CUDA" only).
WARP_PLATFORMS = ("cpu", "gpu", "cuda")


def warp_runs_on(platform: str | None = None) -> bool:
    """True when MuJoCo Warp can run on `platform` (default: JAX's default backend): CPU or CUDA, not TPU."""
    return (platform or jax.default_backend()).lower() in WARP_PLATFORMS


def render_context(
    mj_model: mujoco.MjModel,
    num_envs: int,
    height: int,
    width: int,
    cam_id: int,
    render_rgb: bool,
    background_color: tuple[float, float, float] = (0.0, 0.0, 0.0),
    per_env_fovy: bool = False,
) -> Any:
    """The cached `mjx.create_render_context` for this (model, N, H, W, camera, rgb flag, sky colour, fovy mode).
    `per_env_fovy`: rays computed in the kernel from each world's `cam_fovy` instead of precomputed once."""
    background_color = tuple(float(c) for c in background_color)
    key = (id(mj_model), num_envs, height, width, cam_id, render_rgb, background_color, per_env_fovy)
    with _CACHE_LOCK:
        hit = _CACHE.get(key)
        if hit is not None and hit[0] is mj_model:
            return hit[1]
        rc = mjx.create_render_context(
            mj_model,
            nworld=num_envs,
            cam_res=(width, height),
            render_rgb=render_rgb,
            render_depth=False,
            render_seg=True,
            cam_active=[cam_id],
            use_textures=True,
            use_shadows=False,
            background_color=(*background_color, 1.0),
            use_precomputed_rays=not per_env_fovy,
        )
        _CACHE[key] = (mj_model, rc)  # keeps the model alive so id() stays unique
        return rc


def light_poses(mj_model: mujoco.MjModel, d: mjx.Data) -> tuple[jnp.ndarray, jnp.ndarray]:
    """Light positions and directions f32[N,nlight,3] from batched body poses (MuJoCo's mj_camlight rules)."""
    m = mj_model
    n = d.geom_xpos.shape[0]
    if m.nlight == 0:
        z = jnp.zeros((n, 0, 3), jnp.float32)
        return z, z
    body = np.asarray(m.light_bodyid)
    target = np.maximum(np.asarray(m.light_targetbodyid), 0)
    xpos, xmat, com = d.xpos[:, body], d.xmat[:, body], d.subtree_com[:, body]
    pos_fixed = xpos + jnp.einsum("nlij,lj->nli", xmat, jnp.asarray(m.light_pos, jnp.float32))
    dir_fixed = jnp.einsum("nlij,lj->nli", xmat, jnp.asarray(m.light_dir, jnp.float32))
    pos_track = xpos + jnp.asarray(m.light_pos0, jnp.float32)
    pos_com = com + jnp.asarray(m.light_poscom0, jnp.float32)
    dir0 = jnp.broadcast_to(jnp.asarray(m.light_dir0, jnp.float32), dir_fixed.shape)
    mode = np.asarray(m.light_mode)[None, :, None]
    pos = jnp.where(mode == 1, pos_track, jnp.where(mode == 2, pos_com, pos_fixed))
    tgt = jnp.where(mode == 4, d.subtree_com[:, target], d.xpos[:, target])
    to_target = tgt - pos
    to_target = to_target / jnp.maximum(jnp.linalg.norm(to_target, axis=-1, keepdims=True), 1e-9)
    has_target = (np.asarray(m.light_targetbodyid) >= 0)[None, :, None]
    xdir = jnp.where((mode == 1) | (mode == 2), dir0, dir_fixed)
    xdir = jnp.where(((mode == 3) | (mode == 4)) & has_target, to_target, xdir)
    return pos.astype(jnp.float32), xdir.astype(jnp.float32)


class WarpRenderer:
    """Segmentation (and optionally rgb) from one camera for a fixed batch of `num_envs` worlds."""

    def __init__(
        self,
        mj_model: mujoco.MjModel,
        *,
        num_envs: int,
        height: int,
        width: int,
        cam_id: int,
        render_rgb: bool,
        background_color: tuple[float, float, float] = (0.0, 0.0, 0.0),
        per_env_fovy: bool = False,
    ) -> None:
        if not warp_available():
            raise RuntimeError("the warp render backend needs warp-lang (pip install warp-lang); use backend='jax'")
        if not warp_runs_on():
            raise ValueError(f"the warp renderer cannot run on {jax.default_backend().upper()}: MuJoCo Warp has CPU "
                             "and CUDA kernels only; use --render.backend hull (pure JAX)")
        self.mj_model = mj_model
        self.num_envs, self.height, self.width, self.cam_id = num_envs, height, width, cam_id
        self.render_rgb = render_rgb
        self.mx = mjx.put_model(mj_model, impl="warp", device=jax.local_devices()[0])
        self.per_env_fovy = per_env_fovy
        self.rc = render_context(mj_model, num_envs, height, width, cam_id, render_rgb, background_color,
                                 per_env_fovy)
        self.template = mjx.make_data(mj_model, impl="warp", naconmax=1, njmax=1, device=jax.local_devices()[0])

    def _warp_data(self, d: mjx.Data) -> mjx.Data:
        n = self.num_envs
        if d.impl == mjx.Impl.WARP:
            light_xpos, light_xdir = d._impl.light_xpos, d._impl.light_xdir
        else:
            light_xpos, light_xdir = light_poses(self.mj_model, d)
        t = self.template
        f32 = jnp.float32
        out = t.replace(
            qpos=jnp.broadcast_to(t.qpos, (n,) + t.qpos.shape),
            geom_xpos=d.geom_xpos.astype(f32),
            geom_xmat=d.geom_xmat.astype(f32),
            cam_xpos=d.cam_xpos.astype(f32),
            cam_xmat=d.cam_xmat.astype(f32),
        )
        impl = out._impl.replace(
            light_xpos=light_xpos,
            light_xdir=light_xdir,
            flexvert_xpos=jnp.broadcast_to(t._impl.flexvert_xpos, (n,) + t._impl.flexvert_xpos.shape),
            _jax_token=jnp.zeros((n,), jnp.int32),
        )
        return out.replace(_impl=impl)

    def render(self, d: mjx.Data, fovy: jnp.ndarray | None = None) -> tuple[jnp.ndarray | None, jnp.ndarray]:
        """(rgb f32[N,H,W,3] in [0,1] or None when rgb is off, geom id int32[N,H,W], -1 = nothing hit).

        fovy f32[N] or None: the camera's field of view per env (degrees); needs `per_env_fovy=True` (MuJoCo
        Warp then reads `cam_fovy[world, camera]` per world instead of using its precomputed rays)."""
        ctx = self.rc.pytree()
        mx = self.mx
        if fovy is not None:
            if not self.per_env_fovy:
                raise ValueError("WarpRenderer.render(fovy=...) needs a renderer built with per_env_fovy=True")
            base = jnp.broadcast_to(jnp.asarray(self.mj_model.cam_fovy, jnp.float32)[None, :],
                                    (self.num_envs, self.mj_model.ncam))
            mx = mx.replace(cam_fovy=base.at[:, self.cam_id].set(jnp.asarray(fovy, jnp.float32)))
        dw = mjx.refit_bvh(mx, self._warp_data(d), ctx)  # BVH bounds follow the new poses
        rgb_packed, _, seg, _ = mjx.render_with_segmentation(mx, dw, ctx)
        # The context renders only `cam_id` (cam_active=[cam_id]): its outputs are indexed by position among the
        # active cameras, 0, not by the model's camera id (which is not 0 once a scene has a world camera first).
        geom_id = mjx.get_segmentation(ctx, 0, seg)
        rgb = mjx.get_rgb(ctx, 0, rgb_packed) if self.render_rgb else None
        return rgb, geom_id
