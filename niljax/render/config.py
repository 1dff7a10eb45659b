"""`RenderConfig`: the renderer's settings, importable without jax or mujoco (CLI help and configs stay fast)."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Literal

import tyro

Backend = Literal["warp", "hull", "jax", "auto"]


@dataclasses.dataclass(frozen=True)
class RenderConfig:
    """Renderer settings. Defaults follow the paper: 224x224, plain background, follow camera.

    backend: "warp" (MuJoCo Warp batch renderer via mjx), "hull" (pure JAX: exact primitives, meshes as unions
    of convex pieces), "jax" (pure-JAX primitive ray caster, meshes as ellipsoids), or "auto" (warp when warp-lang
    is installed, else hull). fovy: overrides the camera's vertical field of view (deg).
    mesh_proxy: how the jax backend approximates mesh geoms. jax_chunk: envs per `lax.map` step (jax and hull).
    hull_*: the hull backend's mesh decomposition (pieces per mesh, planes per piece, tolerance in metres) and the
    most pieces traced per 8x8 pixel tile (see niljax/render/hull_backend.py).
    """

    height: Annotated[int, tyro.conf.arg(aliases=("--height",))] = 224  # pixels; same flag in `niljax reference`
    width: Annotated[int, tyro.conf.arg(aliases=("--width",))] = 224
    backend: Backend = "warp"
    background: Literal["plain", "scene"] = "plain"
    background_color: tuple[float, float, float] = (1.0, 1.0, 1.0)
    camera: str = "follow"
    camera_anchor: str = "agent"  # "agent" | "reference" | "both": applied by the training loop, see
    # niljax.render.camera.CAMERA_ANCHORS
    fovy: float | None = None
    render_rgb: bool = True
    mesh_proxy: Literal["ellipsoid", "kdop", "box"] = "ellipsoid"
    jax_chunk: int = 8
    hull_pieces: int = 32
    hull_planes: int = 24
    hull_tol: float = 0.002
    hull_tile_pieces: int = 64

    def __post_init__(self) -> None:
        if not (isinstance(self.height, int) and isinstance(self.width, int)) or self.height < 8 or self.width < 8:
            raise ValueError(f"RenderConfig height/width must be ints >= 8, got {self.height}x{self.width}")
        if self.backend not in ("warp", "hull", "jax", "auto"):
            raise ValueError(f"RenderConfig.backend must be 'warp', 'hull', 'jax' or 'auto', got {self.backend!r}")
        if self.camera_anchor not in ("agent", "reference", "both"):
            raise ValueError("RenderConfig.camera_anchor must be 'agent', 'reference' or 'both', got "
                             f"{self.camera_anchor!r}")
        if self.background not in ("plain", "scene"):
            raise ValueError(f"RenderConfig.background must be 'plain' or 'scene', got {self.background!r}")
        if len(self.background_color) != 3 or not all(0.0 <= c <= 1.0 for c in self.background_color):
            raise ValueError(f"RenderConfig.background_color must be 3 floats in [0,1], got {self.background_color}")
        if self.fovy is not None and not 1.0 <= self.fovy <= 170.0:
            raise ValueError(f"RenderConfig.fovy must be in [1, 170] degrees, got {self.fovy}")
        if self.jax_chunk < 1:
            raise ValueError(f"RenderConfig.jax_chunk must be >= 1, got {self.jax_chunk}")
        if self.hull_pieces < 1 or self.hull_planes < 7 or self.hull_tol <= 0 or self.hull_tile_pieces < 1:
            raise ValueError("RenderConfig.hull_* must be hull_pieces >= 1, hull_planes >= 7, hull_tol > 0, "
                             f"hull_tile_pieces >= 1; got {self.hull_pieces}, {self.hull_planes}, {self.hull_tol}, "
                             f"{self.hull_tile_pieces}")

    def resolved_backend(self) -> Literal["warp", "hull", "jax"]:
        """The backend that will actually run ("auto" resolved against the installed packages)."""
        if self.backend == "auto":
            from niljax.render.warp_backend import warp_available  # imports jax and mujoco: only when asked

            return "warp" if warp_available() else "hull"
        return self.backend
