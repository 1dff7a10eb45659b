"""Batched renderer used inside the compiled training step: rgb + robot mask from the follow camera (or K views).

Contract:
  `BatchRenderer(mj_model, robot_geom_mask, config, num_envs)` (or `BatchRenderer.from_scene(scene, ...)` for
  any object with `mj_model` and `robot_geom_mask`, such as `niljax.robots.RobotScene`);
  `render(data: mjx.Data with leading batch axis N, *, shift=None, fovy_factor=None) -> (rgb uint8[N,H,W,3],
  mask bool[N,H,W])`: the first view; `render_views(...)` -> (rgb uint8[V,N,H,W,3], mask bool[V,N,H,W]): every
  view of `config.view_specs()`. Both callable inside `jax.jit`. `mask[n,i,j]` is True where the first surface
  seen through pixel (i,j) belongs to a robot geom.
  A view's camera is orbited by its azimuth about its body (`niljax.render.camera.orbit_camera`), then moved by
  `shift` f32[N,3] (a camera anchor, see `niljax.render.camera.CAMERA_ANCHORS`); `fovy_factor` f32[N] scales
  every view's field of view per env (`RenderConfig.fovy_jitter`).
  Static: the model, N, H, W, backend, background, the views and whether `fovy_factor` is given; a change of
  any of them means a new `BatchRenderer` (the warp render context is cached per (model, N, H, W, camera, rgb
  flag, per-env fovy)) and a recompile of the calling program. Traced: the poses in `data`, `shift`,
  `fovy_factor`; `data` may come from MJX impl "jax" or "warp".
Backgrounds: "plain" replaces every non-robot pixel with `background_color` (what the reference video's first
frame and the encoder see); "scene" keeps what the backend draws (floor etc.).
With `render_rgb=False` the rgb output is all `background_color` (only the mask is computed).
"""

from __future__ import annotations

import logging
import math
from typing import Any

import jax.numpy as jnp
import mujoco
import numpy as np
from mujoco import mjx

from niljax.render.camera import anchor_camera, orbit_camera
from niljax.render.config import CameraView, RenderConfig
from niljax.render.hull_backend import HullRenderer
from niljax.render.jax_backend import JaxRaycaster
from niljax.render.warp_backend import WarpRenderer

log = logging.getLogger(__name__)


def camera_id(mj_model: mujoco.MjModel, name: str) -> int:
    """Index of camera `name`; ValueError listing the model's cameras when it is missing
    (`niljax.robots.camera_index`, the one check of a camera name)."""
    from niljax.robots.scene import camera_index

    return camera_index(mj_model, name)


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
    """Renders N envs' rgb and robot masks from one or more camera views inside jit (see the module docstring)."""

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
        self.views: tuple[CameraView, ...] = config.view_specs()
        cameras = list(dict.fromkeys(v.camera for v in self.views))  # distinct, in order
        self.cam_ids = {name: camera_id(mj_model, name) for name in cameras}
        self.cam_id = self.cam_ids[self.views[0].camera]  # the first view's camera
        for name in cameras:
            mj_model = with_fovy(mj_model, self.cam_ids[name], config.fovy)
        self.mj_model = mj_model
        self.base_fovy = {name: float(mj_model.cam_fovy[cid]) for name, cid in self.cam_ids.items()}
        self.robot_geom_mask = mask
        self.backend = config.resolved_backend()
        log.info("render backend: %s%s", self.backend, " (auto: warp-lang not available)"
                 if config.backend == "auto" and self.backend != "warp" else "")
        self._robot = jnp.asarray(mask)
        self._bg = jnp.asarray(np.array(config.background_color, np.float32))
        self._backends = {name: self._build_backend(name) for name in cameras}

    def _build_backend(self, camera: str) -> Any:
        config, cid = self.config, self.cam_ids[camera]
        if self.backend == "warp":
            return WarpRenderer(
                self.mj_model, num_envs=self.num_envs, height=config.height, width=config.width, cam_id=cid,
                render_rgb=config.render_rgb,
                background_color=config.background_color,  # where no geom is hit ("scene" background)
                per_env_fovy=config.fovy_jitter > 0,
            )
        # the two pure-JAX ray casters share camera, resolution, background and chunking
        common = dict(height=config.height, width=config.width, fovy=self.base_fovy[camera],
                      draw_planes=config.background == "scene", chunk=config.jax_chunk)
        if self.backend == "hull":
            return HullRenderer(self.mj_model, self.robot_geom_mask, tol=config.hull_tol,
                                max_pieces=config.hull_pieces, planes=config.hull_planes,
                                tile_pieces=config.hull_tile_pieces, crowded_tiles=config.hull_crowded_tiles,
                                crowded_pieces=config.hull_crowded_pieces, split=config.hull_split, **common)
        return JaxRaycaster(self.mj_model, self.robot_geom_mask, mesh_proxy=config.mesh_proxy, **common)

    @classmethod
    def from_scene(cls, scene: Any, config: RenderConfig = RenderConfig(), num_envs: int = 1) -> BatchRenderer:
        """Build from any object with `mj_model` and `robot_geom_mask` (e.g. `niljax.robots.RobotScene`)."""
        return cls(scene.mj_model, scene.robot_geom_mask, config, num_envs)

    @property
    def engine(self) -> Any:
        """The first view's backend object (`WarpRenderer`, `HullRenderer` or `JaxRaycaster`)."""
        return self._backends[self.views[0].camera]

    @property
    def num_views(self) -> int:
        """V, the number of views `render_views` returns."""
        return len(self.views)

    def _check(self, data: mjx.Data) -> None:
        n = self.num_envs
        if data.geom_xpos.ndim != 3 or data.geom_xpos.shape[0] != n:
            raise ValueError(
                f"render expects mjx.Data batched over num_envs={n} (geom_xpos [N,ngeom,3]), "
                f"got geom_xpos shape {tuple(data.geom_xpos.shape)}"
            )
        if data.geom_xpos.shape[1] != self.mj_model.ngeom:
            raise ValueError(f"data has {data.geom_xpos.shape[1]} geoms, the model {self.mj_model.ngeom}")

    def render(self, data: mjx.Data, *, shift: jnp.ndarray | None = None,
               fovy_factor: jnp.ndarray | None = None) -> tuple[jnp.ndarray, jnp.ndarray]:
        """rgb uint8[N,H,W,3] and robot mask bool[N,H,W] of the first view for a batched mjx.Data (leading axis
        N = num_envs); `shift` f32[N,3] moves the camera (world metres), `fovy_factor` f32[N] scales its fovy."""
        self._check(data)
        return self._render_view(data, self.views[0], shift, fovy_factor)

    def render_views(self, data: mjx.Data, *, shift: jnp.ndarray | None = None,
                     fovy_factor: jnp.ndarray | None = None) -> tuple[jnp.ndarray, jnp.ndarray]:
        """Every view: rgb uint8[V,N,H,W,3], mask bool[V,N,H,W] (V = `num_views`, in `config.view_specs()` order)."""
        self._check(data)
        out = [self._render_view(data, view, shift, fovy_factor) for view in self.views]
        return jnp.stack([o[0] for o in out]), jnp.stack([o[1] for o in out])

    def _render_view(self, data: mjx.Data, view: CameraView, shift: jnp.ndarray | None,
                     fovy_factor: jnp.ndarray | None) -> tuple[jnp.ndarray, jnp.ndarray]:
        cfg = self.config
        cid = self.cam_ids[view.camera]
        n = self.num_envs
        if view.azimuth:
            body = int(self.mj_model.cam_bodyid[cid])
            data = orbit_camera(data, cid, data.xpos[:, body], view.azimuth)
        if shift is not None:  # after the orbit: the anchor moves the orbited camera, it is not orbited itself
            data = anchor_camera(data, cid, shift)
        backend = self._backends[view.camera]
        if fovy_factor is not None:
            fovy_factor = jnp.asarray(fovy_factor, jnp.float32)
            if fovy_factor.shape != (n,):
                raise ValueError(f"fovy_factor must be f32[{n}], got shape {fovy_factor.shape}")
        if self.backend == "warp":
            fovy = None if fovy_factor is None else self.base_fovy[view.camera] * fovy_factor
            rgb_f, geom_id = backend.render(data, fovy=fovy)
            mask = (geom_id >= 0) & self._robot[jnp.maximum(geom_id, 0)]
        else:
            scale = None
            if fovy_factor is not None:
                half = math.radians(self.base_fovy[view.camera]) / 2
                scale = jnp.tan(half * fovy_factor) / math.tan(half)
            rgb_f, mask, geom_id = backend.render(
                data.geom_xpos, data.geom_xmat, data.cam_xpos[:, cid], data.cam_xmat[:, cid], fov_scale=scale
            )
            if cfg.background == "scene":
                rgb_f = jnp.where((geom_id >= 0)[..., None], rgb_f, self._bg)
        if rgb_f is None or not cfg.render_rgb:
            rgb_f = jnp.broadcast_to(self._bg, (n, cfg.height, cfg.width, 3))
        elif cfg.background == "plain":
            rgb_f = jnp.where(mask[..., None], rgb_f, self._bg)
        return to_uint8(rgb_f), mask

    __call__ = render
