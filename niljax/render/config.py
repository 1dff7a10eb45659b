"""`RenderConfig`: the renderer's settings, importable without jax or mujoco (CLI help and configs stay fast)."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Literal

import tyro

Backend = Literal["warp", "hull", "jax", "auto"]


@dataclasses.dataclass(frozen=True)
class CameraView:
    """One camera view: a model camera (`camera`, e.g. the robot's "follow" track camera) orbited by `azimuth`
    degrees about the vertical axis through the body it is attached to (the world origin for a world camera).

    Written "CAMERA" or "CAMERA@AZIMUTH" (`parse`, `name`), e.g. "follow", "follow@45", "follow@-90".
    """

    camera: str = "follow"
    azimuth: float = 0.0

    def __post_init__(self) -> None:
        if not self.camera or "@" in self.camera:
            raise ValueError(f"CameraView.camera must be a camera name without '@', got {self.camera!r}")
        if not -360.0 <= float(self.azimuth) <= 360.0:
            raise ValueError(f"CameraView.azimuth must be in [-360, 360] degrees, got {self.azimuth}")

    @classmethod
    def parse(cls, spec: str) -> CameraView:
        """"follow" -> CameraView("follow", 0); "follow@45" -> CameraView("follow", 45.0)."""
        name, sep, azimuth = str(spec).partition("@")
        if not sep:
            return cls(name)
        try:
            return cls(name, float(azimuth))
        except ValueError as e:
            raise ValueError(f"camera view {spec!r}: expected CAMERA or CAMERA@AZIMUTH_DEGREES ({e})") from e

    @property
    def name(self) -> str:
        """The spec string: "follow", "follow@45"."""
        return self.camera if self.azimuth == 0 else f"{self.camera}@{self.azimuth:g}"


@dataclasses.dataclass(frozen=True)
class RenderConfig:
    """Renderer settings. Defaults follow the paper: 224x224, plain background, follow camera.

    backend: "warp" (MuJoCo Warp batch renderer via mjx), "hull" (pure JAX: exact primitives, meshes as unions
    of convex pieces), "jax" (pure-JAX primitive ray caster, meshes as ellipsoids), or "auto" (warp when warp-lang
    is installed and JAX runs on a CPU or GPU, else hull). fovy: overrides the camera's vertical field of view (deg).
    Cameras (docs/rendering.md, "Cameras"): `camera` names the model camera and `camera_azimuth` orbits it about
    the vertical axis through its body (degrees); `views` ("CAMERA[@AZIMUTH]" each) renders K views per env
    instead, the reward being computed per view against that view's reference and averaged; `camera_anchor`
    "static" keeps each episode's camera where it was at the episode start (the reference was filmed by a
    camera that stayed at its first-frame pose); `fovy_jitter` j > 0 draws each env's field of view as
    fovy * (1 + u), u ~ U(-j, j), anew at every episode start (training only; evaluation uses fovy).
    mesh_proxy: how the jax backend approximates mesh geoms. jax_chunk: envs per `lax.map` step (jax and hull).
    hull_*: the hull backend's mesh decomposition (at most `hull_pieces` convex pieces per mesh of `hull_planes`
    planes each, split until they stick out by at most `hull_tol` metres, cuts chosen by `hull_split`), the pieces
    traced per tile of ~1/28 of the image (`hull_tile_pieces`), and the crowded pass: the busiest
    `hull_crowded_tiles` of the tiles trace `hull_crowded_pieces` more (see niljax/render/hull_backend.py and
    docs/rendering.md; these defaults reach mask IoU >= 0.95 against OpenGL on every registered robot).
    """

    height: Annotated[int, tyro.conf.arg(aliases=("--height",))] = 224  # pixels; same flag in `niljax reference`
    width: Annotated[int, tyro.conf.arg(aliases=("--width",))] = 224
    backend: Backend = "warp"
    background: Literal["plain", "scene"] = "plain"
    background_color: tuple[float, float, float] = (1.0, 1.0, 1.0)
    camera: str = "follow"
    camera_azimuth: float = 0.0  # degrees; with `views`, give each view's azimuth there instead
    views: tuple[str, ...] = ()  # multi-view: e.g. ("follow", "follow@90"); empty = the one view above
    camera_anchor: str = "agent"  # agent | reference | both | static (niljax.render.camera.CAMERA_ANCHORS)
    fovy: float | None = None
    fovy_jitter: float = 0.0  # fraction: per-env, per-episode field of view fovy * (1 + U(-j, j))
    render_rgb: bool = True
    mesh_proxy: Literal["ellipsoid", "kdop", "box"] = "ellipsoid"
    jax_chunk: int = 8
    hull_pieces: int = 512
    hull_planes: int = 24
    hull_tol: float = 0.002
    hull_tile_pieces: int = 128
    hull_crowded_tiles: float = 0.0625  # fraction of tiles (the busiest) that trace `hull_crowded_pieces` more
    hull_crowded_pieces: int = 384  # pieces beyond `hull_tile_pieces` traced in those tiles
    hull_split: Literal["median", "search"] = "search"  # how meshes are cut into convex pieces (hull_decomp)

    def __post_init__(self) -> None:
        if not (isinstance(self.height, int) and isinstance(self.width, int)) or self.height < 8 or self.width < 8:
            raise ValueError(f"RenderConfig height/width must be ints >= 8, got {self.height}x{self.width}")
        if self.backend not in ("warp", "hull", "jax", "auto"):
            raise ValueError(f"RenderConfig.backend must be 'warp', 'hull', 'jax' or 'auto', got {self.backend!r}")
        if self.camera_anchor not in ("agent", "reference", "both", "static"):
            raise ValueError("RenderConfig.camera_anchor must be 'agent', 'reference', 'both' or 'static', got "
                             f"{self.camera_anchor!r}")
        if not 0.0 <= self.fovy_jitter < 0.5:
            raise ValueError(f"RenderConfig.fovy_jitter must be a fraction in [0, 0.5), got {self.fovy_jitter}")
        if isinstance(self.views, str):
            raise ValueError(f"RenderConfig.views must be a tuple of view specs, got the string {self.views!r}")
        if self.views and (self.camera != "follow" or self.camera_azimuth != 0.0):
            raise ValueError("RenderConfig: give the camera either as `camera`/`camera_azimuth` or as `views`, not "
                             f"both (camera={self.camera!r}, camera_azimuth={self.camera_azimuth}, views={self.views})")
        specs = self.view_specs()  # parses every view: a malformed one is an error here
        names = [v.name for v in specs]
        if len(set(names)) != len(names):
            raise ValueError(f"RenderConfig.views has a view twice: {list(self.views)}")
        if self.background not in ("plain", "scene"):
            raise ValueError(f"RenderConfig.background must be 'plain' or 'scene', got {self.background!r}")
        if len(self.background_color) != 3 or not all(0.0 <= c <= 1.0 for c in self.background_color):
            raise ValueError(f"RenderConfig.background_color must be 3 floats in [0,1], got {self.background_color}")
        if self.fovy is not None and not 1.0 <= self.fovy <= 170.0:
            raise ValueError(f"RenderConfig.fovy must be in [1, 170] degrees, got {self.fovy}")
        if self.jax_chunk < 1:
            raise ValueError(f"RenderConfig.jax_chunk must be >= 1, got {self.jax_chunk}")
        if self.hull_split not in ("median", "search"):
            raise ValueError(f"RenderConfig.hull_split must be 'median' or 'search', got {self.hull_split!r}")
        if self.hull_pieces < 1 or self.hull_planes < 7 or self.hull_tol <= 0 or self.hull_tile_pieces < 1:
            raise ValueError("RenderConfig.hull_* must be hull_pieces >= 1, hull_planes >= 7, hull_tol > 0, "
                             f"hull_tile_pieces >= 1; got {self.hull_pieces}, {self.hull_planes}, {self.hull_tol}, "
                             f"{self.hull_tile_pieces}")
        if not 0.0 <= self.hull_crowded_tiles <= 1.0 or self.hull_crowded_pieces < 0:
            raise ValueError("RenderConfig.hull_crowded_tiles must be a fraction in [0, 1] and hull_crowded_pieces "
                             f">= 0; got {self.hull_crowded_tiles}, {self.hull_crowded_pieces}")

    def view_specs(self) -> tuple[CameraView, ...]:
        """The views rendered per env, in order: `views` parsed, or the single (`camera`, `camera_azimuth`)."""
        if self.views:
            return tuple(CameraView.parse(v) for v in self.views)
        return (CameraView(self.camera, float(self.camera_azimuth)),)

    def resolved_backend(self) -> Literal["warp", "hull", "jax"]:
        """The backend that will actually run ("auto" resolved against the installed packages)."""
        if self.backend == "auto":
            from niljax.render.warp_backend import warp_available, warp_runs_on  # imports jax: only when asked

            return "warp" if warp_available() and warp_runs_on() else "hull"  # a TPU: hull
        return self.backend
