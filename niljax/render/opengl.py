"""One-off high-quality frames with MuJoCo's OpenGL renderer (`mujoco.Renderer`), same camera as training.

Contract: `render_opengl(mj_model, data_or_qpos, robot_geom_mask=None, camera="follow", height=224, width=224,
background="plain", background_color=(1,1,1), fovy=None, azimuth=0.0, camera_shift=None) -> (rgb uint8[H,W,3],
mask bool[H,W])` on the host
(numpy, not jittable). Used for the first frame handed to the video model, rollout videos and as the ground
truth the batched backends are tested against. Headless it needs `MUJOCO_GL=egl` (set by
`niljax._runtime.configure()`; llvmpipe works without a GPU). The mask comes from MuJoCo's segmentation
rendering (`enable_segmentation_rendering`): pixels whose object is a geom of the robot. "plain" background
replaces every non-robot pixel with `background_color`; the rgb itself is rendered with MuJoCo's defaults
(shadows, anti-aliasing), so robot edges differ slightly from the batched renderers' single-sample pixels.
`Renderer`s are cached per (model, H, W) because creating a GL context is slow.
"""

from __future__ import annotations

import copy
import math
from typing import Any, Literal

import mujoco
import numpy as np

from niljax.render.renderer import camera_id, with_fovy

_RENDERERS: dict[tuple[int, int, int], tuple[mujoco.MjModel, mujoco.Renderer]] = {}


def _renderer(mj_model: mujoco.MjModel, height: int, width: int) -> mujoco.Renderer:
    key = (id(mj_model), height, width)
    hit = _RENDERERS.get(key)
    if hit is not None and hit[0] is mj_model:
        return hit[1]
    if mj_model.vis.global_.offwidth < width or mj_model.vis.global_.offheight < height:
        mj_model.vis.global_.offwidth = max(width, mj_model.vis.global_.offwidth)
        mj_model.vis.global_.offheight = max(height, mj_model.vis.global_.offheight)
    r = mujoco.Renderer(mj_model, height=height, width=width)
    _RENDERERS[key] = (mj_model, r)
    return r


def render_opengl(
    mj_model: mujoco.MjModel,
    data_or_qpos: mujoco.MjData | np.ndarray | Any,
    robot_geom_mask: np.ndarray | None = None,
    *,
    camera: str = "follow",
    height: int = 224,
    width: int = 224,
    background: Literal["plain", "scene"] = "plain",
    background_color: tuple[float, float, float] = (1.0, 1.0, 1.0),
    fovy: float | None = None,
    azimuth: float = 0.0,
    camera_shift: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """rgb uint8[H,W,3] and robot mask bool[H,W] of one state (MjData, or a qpos f[nq] run through mj_forward).

    `robot_geom_mask` defaults to "every geom not on the world body". `azimuth` (degrees) orbits the camera about
    the vertical axis through its body and `camera_shift` f[3] then moves it (world metres), as the batched
    renderer's views and anchors do (`niljax.render.camera`); a given MjData is not modified.
    """
    if background not in ("plain", "scene"):
        raise ValueError(f"background must be 'plain' or 'scene', got {background!r}")
    cam = camera_id(mj_model, camera)
    model = with_fovy(mj_model, cam, fovy)
    if isinstance(data_or_qpos, mujoco.MjData):
        data = data_or_qpos
    else:
        qpos = np.asarray(data_or_qpos, dtype=np.float64)
        if qpos.shape != (model.nq,):
            raise ValueError(f"qpos must have shape ({model.nq},), got {qpos.shape}")
        data = mujoco.MjData(model)
        data.qpos[:] = qpos
        mujoco.mj_forward(model, data)
    if azimuth or camera_shift is not None:
        data = copy.copy(data) if isinstance(data_or_qpos, mujoco.MjData) else data
        pivot = data.xpos[model.cam_bodyid[cam]].copy()
        a = math.radians(float(azimuth))
        rot = np.array([[math.cos(a), -math.sin(a), 0.0], [math.sin(a), math.cos(a), 0.0], [0.0, 0.0, 1.0]])
        data.cam_xpos[cam] = pivot + rot @ (data.cam_xpos[cam] - pivot)
        data.cam_xmat[cam] = (rot @ data.cam_xmat[cam].reshape(3, 3)).reshape(-1)
        if camera_shift is not None:
            data.cam_xpos[cam] += np.asarray(camera_shift, np.float64)
    if robot_geom_mask is None:
        robot_geom_mask = np.asarray(model.geom_bodyid != 0)
    robot_geom_mask = np.asarray(robot_geom_mask, bool)
    if robot_geom_mask.shape != (model.ngeom,):
        raise ValueError(f"robot_geom_mask must be bool[{model.ngeom}], got shape {robot_geom_mask.shape}")
    r = _renderer(model, height, width)
    r.update_scene(data, camera=cam)
    r.enable_segmentation_rendering()
    seg = r.render().copy()
    r.disable_segmentation_rendering()
    r.update_scene(data, camera=cam)
    rgb = r.render().copy()
    obj_id, obj_type = seg[..., 0], seg[..., 1]
    is_geom = (obj_type == int(mujoco.mjtObj.mjOBJ_GEOM)) & (obj_id >= 0)
    mask = is_geom & robot_geom_mask[np.clip(obj_id, 0, model.ngeom - 1)]
    if background == "plain":
        bg = np.round(np.asarray(background_color) * 255).astype(np.uint8)
        rgb = np.where(mask[..., None], rgb, bg)
    return rgb.astype(np.uint8), mask
