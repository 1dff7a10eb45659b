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
