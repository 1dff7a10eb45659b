"""Rendering stage: rgb uint8[N,H,W,3] + robot mask bool[N,H,W] from the follow camera.

- `BatchRenderer` / `RenderConfig` (renderer.py): batched, jittable; backends "warp" (MuJoCo Warp batch
  renderer via `mujoco.mjx`), "hull" (pure JAX, meshes as unions of convex pieces: hull_backend.py; what "auto"
  picks without warp) and "jax" (pure-JAX primitive ray caster, meshes as ellipsoids).
- `render_opengl` (opengl.py): one-off high-quality frames with `mujoco.Renderer`, same camera and mask rule.
- camera.py: MuJoCo's pinhole camera model (pixel rays) shared by the backends; the `follow` camera itself
  comes from `niljax.robots.load_robot` (track mode on the root body).
- `contact_sheet` (contact_sheet.py): a PNG grid of frames and masks, `python -m niljax.render.contact_sheet`.
See docs/rendering.md.
"""

from __future__ import annotations

from niljax._lazy import lazy_exports

# Lazy exports (niljax._lazy): importing a light name (a config) does not import jax or mujoco.
_EXPORTS = {
    'BatchRenderer': 'niljax.render.renderer',
    'CameraView': 'niljax.render.config',
    'RenderConfig': 'niljax.render.config',
    'mask_iou': 'niljax.render.metrics',
    'render_opengl': 'niljax.render.opengl',
    'warp_available': 'niljax.render.warp_backend',
}


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

__all__ = [
    "BatchRenderer",
    "CameraView",
    "RenderConfig",
    "mask_iou",
    "render_opengl",
    "warp_available",
]
