"""Follow-camera geometry shared by every render backend.

The camera is MuJoCo's: it looks along its frame's -z axis, x is image-right, y is image-up, `fovy` is the
vertical field of view in degrees, pixels are sampled at their centres, row 0 is the top of the image.
The follow camera itself (distance, height, azimuth, fovy from the robot's TOML) is baked into the model by
`niljax.robots.load_robot` as a camera named `follow` in track mode (fixed world offset and heading).
The renderers read the camera pose from `data.cam_xpos / cam_xmat` (computed by MuJoCo/MJX kinematics), so
any camera in the model works; only `fovy` can be overridden at render time (`RenderConfig.fovy`).
"""

from __future__ import annotations

import math
from typing import Any

import jax.numpy as jnp
import numpy as np


def pixel_rays(height: int, width: int, fovy_deg: float) -> jnp.ndarray:
    """Camera-frame ray directions f32[H, W, 3] (unnormalised, z = -1) through pixel centres, row 0 on top."""
    half_h = math.tan(math.radians(fovy_deg) / 2.0)
    half_w = half_h * width / height
    u = (np.arange(width) + 0.5) / width  # 0..1 left to right
    v = (np.arange(height) + 0.5) / height  # 0..1 top to bottom
    x = -half_w + 2 * half_w * u
    y = half_h - 2 * half_h * v
    xx, yy = np.meshgrid(x, y)
    return jnp.asarray(np.stack([xx, yy, -np.ones_like(xx)], axis=-1), dtype=jnp.float32)


#: Where the follow camera is anchored while training (`RenderConfig.camera_anchor`):
#: "agent"      - MuJoCo's track camera: a fixed offset from the agent's root (the paper's "camera follows the
#:                agent"). On a plain background the image is then blind to the root's translation.
#: "reference"  - the same offset from the *reference's* root at the current index (its path relative to the
#:                episode start), i.e. the camera moves exactly as the reference video's camera did: lagging or
#:                drifting away from the reference shows up as a shifted silhouette. Needs `root_pos` in the bundle.
#:                The IoU then falls off a cliff: 0.25 s behind the reference (0.3 m) it is ~0.07 on H1.
#: "both"       - the frames and video term use the reference anchor; the mask IoU is the mean of the two
#:                anchors' IoUs (pose from the agent-anchored view, path from the reference-anchored one), which
#:                ranks standing < walking in place < walking along the reference (experiments/walk_landscape.py).
#: "static"     - a camera that does not move: it stays where the follow camera was at reference frame 0 (the
#:                reference video's static camera). An episode that starts at reference index s > 0 places it
#:                where the reference's root was at frame 0 (needs `root_pos` in the bundle when s can be > 0).
CAMERA_ANCHORS: tuple[str, ...] = ("agent", "reference", "both", "static")


def orbit_camera(data, camera_ids: Any, pivot: jnp.ndarray, degrees: float):  # noqa: ANN001, ANN201 - mjx.Data
    """Rotate cameras `camera_ids` (int or sequence) of a batched mjx.Data by `degrees` about the vertical axis
    through `pivot` f32[N,3] (world): position and orientation turn together, so the camera keeps looking at the
    pivot from a new azimuth; jittable, `degrees` static (0 returns `data` unchanged)."""
    if degrees == 0:
        return data
    ids = np.atleast_1d(np.asarray(camera_ids, np.int32))
    a = math.radians(float(degrees))
    rot = jnp.asarray([[math.cos(a), -math.sin(a), 0.0], [math.sin(a), math.cos(a), 0.0], [0.0, 0.0, 1.0]],
                      data.cam_xpos.dtype)
    pos = data.cam_xpos[:, ids]  # [N,K,3]
    pivot = pivot[:, None, :].astype(pos.dtype)
    pos = pivot + jnp.einsum("ij,nkj->nki", rot, pos - pivot)
    mat = jnp.einsum("ij,nkjl->nkil", rot, data.cam_xmat[:, ids])
    return data.replace(cam_xpos=data.cam_xpos.at[:, ids].set(pos), cam_xmat=data.cam_xmat.at[:, ids].set(mat))


def static_anchor_shift(reference_root: jnp.ndarray | None, start_index: jnp.ndarray, agent_root: jnp.ndarray,
                        agent_start_root: jnp.ndarray) -> jnp.ndarray:
    """Camera shift f32[N,3] that holds a track camera still at its reference-frame-0 pose (anchor "static").

    The agent's displacement since its episode start is undone, and an episode that started at reference index
    s is moved back by the reference's own displacement from frame 0 to s (reference_root f32[T,3]; None: the
    episodes must start at index 0)."""
    shift = -(agent_root - agent_start_root)
    if reference_root is not None:
        last = reference_root.shape[0] - 1
        shift = shift + reference_root[0] - reference_root[jnp.clip(start_index, 0, last)]
    return shift


def anchor_camera(data, camera_id: Any, shift: jnp.ndarray):  # noqa: ANN001, ANN201 - mjx.Data in and out
    """Move camera(s) `camera_id` (int or sequence) of a batched mjx.Data by `shift` f32[N,3] (world); jittable.

    Only `cam_xpos` changes (the orientation of a track camera does not depend on its position), which is what
    every render backend reads.
    """
    ids = np.atleast_1d(np.asarray(camera_id, np.int32))
    return data.replace(cam_xpos=data.cam_xpos.at[:, ids].add(shift.astype(data.cam_xpos.dtype)[:, None, :]))


def reference_anchor_shift(reference_root: jnp.ndarray, time_index: jnp.ndarray, start_index: jnp.ndarray,
                           agent_root: jnp.ndarray, agent_start_root: jnp.ndarray) -> jnp.ndarray:
    """Camera shift f32[N,3] that re-anchors a track camera from the agent's root to the reference's path.

    reference_root f32[T,3] (bundle `root_pos`), time_index / start_index int32[N] (current and episode-start
    reference indices), agent_root f32[N,3] (now), agent_start_root f32[N,3] (at the episode start). The
    reference's displacement since the episode start replaces the agent's.
    """
    last = reference_root.shape[0] - 1
    ref_now = reference_root[jnp.clip(time_index, 0, last)]
    ref_start = reference_root[jnp.clip(start_index, 0, last)]
    return (ref_now - ref_start) - (agent_root - agent_start_root)


#: Camera fields a bundle records (Stage 1's first-frame metadata, `make_replay_bundle`) that must equal the
#: run's camera; floats compared to 1e-4. `azimuth` and `static` are the view's orbit (degrees) and whether the
#: camera stayed at its first-frame pose (bundles written before they existed read as 0 and False).
CAMERA_FIELDS: tuple[str, ...] = ("name", "fovy", "mode", "body", "pos", "quat", "azimuth", "static")
_CAMERA_DEFAULTS: dict[str, Any] = {"azimuth": 0.0, "static": False}


def camera_record(mj_model: Any, config: Any, view: Any = None) -> dict[str, Any]:
    """The camera a renderer with `config` (a RenderConfig) uses on `mj_model` (a mujoco.MjModel) for `view` (a
    `CameraView`; None: the config's first view): {name, fovy (the config's override or the model's), mode,
    body, pos, quat (MuJoCo camera fields), azimuth, static, view (the view's spec)}, JSON-able."""
    from niljax.robots.scene import camera_index

    view = view if view is not None else config.view_specs()[0]
    cid = camera_index(mj_model, view.camera)  # ValueError naming the model's cameras
    fovy = float(config.fovy) if config.fovy is not None else float(mj_model.cam_fovy[cid])
    return {"name": view.camera, "fovy": fovy, "mode": int(mj_model.cam_mode[cid]),
            "body": mj_model.body(int(mj_model.cam_bodyid[cid])).name,
            "pos": [float(x) for x in mj_model.cam_pos[cid]], "quat": [float(x) for x in mj_model.cam_quat[cid]],
            "azimuth": float(view.azimuth), "static": config.camera_anchor == "static", "view": view.name}


def camera_mismatches(recorded: dict[str, Any], actual: dict[str, Any], tol: float = 1e-4) -> list[str]:
    """'field: bundle X vs run Y' for every `CAMERA_FIELDS` entry both dicts have and that differs (a field a
    bundle predates is compared as its default)."""
    out = []
    for key in CAMERA_FIELDS:
        if key not in actual or (key not in recorded and key not in _CAMERA_DEFAULTS):
            continue
        a, b = recorded.get(key, _CAMERA_DEFAULTS.get(key)), actual[key]
        if isinstance(a, (int, float, list, tuple)) and not isinstance(a, bool) and key != "name" and key != "body":
            same = np.shape(a) == np.shape(b) and np.allclose(np.asarray(a, float), np.asarray(b, float), atol=tol)
        else:
            same = a == b
        if not same:
            out.append(f"{key}: bundle {a!r} vs run {b!r}")
    return out
