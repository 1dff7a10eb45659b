"""Batched renderer used inside the compiled training step: rgb + robot mask from the follow camera.

Contract:
  `BatchRenderer(mj_model, robot_geom_mask, config, num_envs)` (or `BatchRenderer.from_scene(scene, ...)` for
  any object with `mj_model` and `robot_geom_mask`, such as `niljax.robots.RobotScene`);
  `render(data: mjx.Data with leading batch axis N) -> (rgb uint8[N,H,W,3], mask bool[N,H,W])`, callable inside
  `jax.jit`. `mask[n,i,j]` is True where the first surface seen through pixel (i,j) belongs to a robot geom.
  Static: the model, N, H, W, backend, background and camera; a change of any of them means a new
  `BatchRenderer` (the warp render context is cached per (model, N, H, W, camera, rgb flag)) and a recompile
  of the calling program. Only the poses in `data` are traced; `data` may come from MJX impl "jax" or "warp".
Backgrounds: "plain" replaces every non-robot pixel with `background_color` (what the reference video's first
frame and the encoder see); "scene" keeps what the backend draws (floor etc.).
With `render_rgb=False` the rgb output is all `background_color` (only the mask is computed).
"""

from __future__ import annotations

import logging
from typing import Any

import jax.numpy as jnp
import mujoco
import numpy as np
from mujoco import mjx

from niljax.render.config import RenderConfig
from niljax.render.hull_backend import HullRenderer
from niljax.render.jax_backend import JaxRaycaster
from niljax.render.warp_backend import WarpRenderer

log = logging.getLogger(__name__)


def camera_id(mj_model: mujoco.MjModel, name: str) -> int:
    """Index of camera `name`; ValueError listing the model's cameras when it is missing."""
    cid = mujoco.mj_name2id(mj_model, mujoco.mjtObj.mjOBJ_CAMERA, name)
    if cid < 0:
        names = [mj_model.camera(i).name for i in range(mj_model.ncam)]
        raise ValueError(f"camera {name!r} not in the model (cameras: {names}); build the scene with a follow camera")
    return cid


_FOVY_COPIES: dict[tuple[int, int, float], tuple[mujoco.MjModel, mujoco.MjModel]] = {}


def with_fovy(mj_model: mujoco.MjModel, cam_id: int, fovy: float | None) -> mujoco.MjModel:
    """The model itself when `fovy` is None (or already equal), else a cached copy whose camera `cam_id` has
    that vertical field of view (cached so repeated calls reuse one copy, and its GL context / warp context)."""
    if fovy is None or float(mj_model.cam_fovy[cam_id]) == float(fovy):
        return mj_model
    key = (id(mj_model), cam_id, float(fovy))
    hit = _FOVY_COPIES.get(key)
    if hit is not None and hit[0] is mj_model:
        return hit[1]
    model = mj_model.__copy__()
    model.cam_fovy[cam_id] = fovy
    _FOVY_COPIES[key] = (mj_model, model)
    return model


def to_uint8(rgb: jnp.ndarray) -> jnp.ndarray:
    """f32 [0,1] -> uint8 with rounding."""
    return jnp.clip(jnp.round(rgb * 255.0), 0, 255).astype(jnp.uint8)


class BatchRenderer:
    """Renders N envs' follow-camera rgb and robot masks inside jit (see the module docstring)."""

    def __init__(
        self, mj_model: mujoco.MjModel, robot_geom_mask: Any, config: RenderConfig = RenderConfig(), num_envs: int = 1
    ) -> None:
        mask = np.asarray(robot_geom_mask)
        if mask.dtype != bool or mask.shape != (mj_model.ngeom,):
            raise ValueError(f"robot_geom_mask must be bool[ngeom={mj_model.ngeom}], got {mask.dtype}{list(mask.shape)}")
        if not mask.any():
            raise ValueError("robot_geom_mask selects no geom: the mask would always be empty")
        if not isinstance(num_envs, int) or num_envs < 1:
            raise ValueError(f"num_envs must be a positive int, got {num_envs!r}")
        self.config = config
        self.num_envs = num_envs
        self.cam_id = camera_id(mj_model, config.camera)
        self.mj_model = with_fovy(mj_model, self.cam_id, config.fovy)
        self.robot_geom_mask = mask
        self.backend = config.resolved_backend()
        log.info("render backend: %s%s", self.backend, " (auto: warp-lang not available)"
                 if config.backend == "auto" and self.backend != "warp" else "")
        self._robot = jnp.asarray(mask)
        self._bg = jnp.asarray(np.array(config.background_color, np.float32))
        if self.backend == "warp":
            self._warp = WarpRenderer(
                self.mj_model,
                num_envs=num_envs,
                height=config.height,
                width=config.width,
                cam_id=self.cam_id,
                render_rgb=config.render_rgb,
                background_color=config.background_color,  # where no geom is hit ("scene" background)
            )
        else:  # the two pure-JAX ray casters share camera, resolution, background and chunking
            common = dict(height=config.height, width=config.width,
                          fovy=float(self.mj_model.cam_fovy[self.cam_id]),
                          draw_planes=config.background == "scene", chunk=config.jax_chunk)
            if self.backend == "hull":
                self._jax = HullRenderer(self.mj_model, mask, tol=config.hull_tol,
                                         max_pieces=config.hull_pieces, planes=config.hull_planes,
                                         tile_pieces=config.hull_tile_pieces, **common)
            else:
                self._jax = JaxRaycaster(self.mj_model, mask, mesh_proxy=config.mesh_proxy, **common)

    @classmethod
    def from_scene(cls, scene: Any, config: RenderConfig = RenderConfig(), num_envs: int = 1) -> BatchRenderer:
        """Build from any object with `mj_model` and `robot_geom_mask` (e.g. `niljax.robots.RobotScene`)."""
        return cls(scene.mj_model, scene.robot_geom_mask, config, num_envs)

    def render(self, data: mjx.Data) -> tuple[jnp.ndarray, jnp.ndarray]:
        """rgb uint8[N,H,W,3] and robot mask bool[N,H,W] for a batched mjx.Data (leading axis N = num_envs)."""
        n = self.num_envs
        if data.geom_xpos.ndim != 3 or data.geom_xpos.shape[0] != n:
            raise ValueError(
                f"render expects mjx.Data batched over num_envs={n} (geom_xpos [N,ngeom,3]), "
                f"got geom_xpos shape {tuple(data.geom_xpos.shape)}"
            )
        if data.geom_xpos.shape[1] != self.mj_model.ngeom:
            raise ValueError(f"data has {data.geom_xpos.shape[1]} geoms, the model {self.mj_model.ngeom}")
        cfg = self.config
        if self.backend == "warp":
            rgb_f, geom_id = self._warp.render(data)
            mask = (geom_id >= 0) & self._robot[jnp.maximum(geom_id, 0)]
        else:
            rgb_f, mask, geom_id = self._jax.render(
                data.geom_xpos, data.geom_xmat, data.cam_xpos[:, self.cam_id], data.cam_xmat[:, self.cam_id]
            )
            if cfg.background == "scene":
                rgb_f = jnp.where((geom_id >= 0)[..., None], rgb_f, self._bg)
        if rgb_f is None or not cfg.render_rgb:
            rgb_f = jnp.broadcast_to(self._bg, (n, cfg.height, cfg.width, 3))
        elif cfg.background == "plain":
            rgb_f = jnp.where(mask[..., None], rgb_f, self._bg)
        return to_uint8(rgb_f), mask

    __call__ = render
