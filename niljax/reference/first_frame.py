"""First frame: the robot at its start pose, seen from the `follow` camera, on a plain background.

Contract:
- `render_qpos(scene, qpos f64[T,nq] | [nq], height, width) -> (rgb uint8[T,H,W,3], mask bool[T,H,W])`: one-off
  OpenGL rendering (host, `mujoco.Renderer`, kinematics only via `mj_forward`) from camera `follow` of a scene
  built with `plain_background=True`. Uses `niljax.render.render_opengl` when that module provides it, else a
  local `mujoco.Renderer` path (rgb pass + segmentation pass; mask = pixels whose geom belongs to the robot).
- `render_first_frame(scene, height, width, qpos=None) -> FirstFrame` (image, mask, camera metadata dict);
  `FirstFrame.save(folder)` writes `first_frame.png`, `first_frame_mask.png` and `first_frame.json`.
- `load_trajectory(path, scene) -> (qpos f64[T,nq], fps)`: LocoMuJoCo-style npz (`q_<joint>` arrays, and
  `frequency` if present; mapped onto the model by `niljax.sim.replay.trajectory_qpos`, joints absent from the
  file, fewer than half, at the home pose) or an npz/npy holding `qpos[T,nq]`.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from niljax.reference.errors import ReferencePreparationError
from niljax.reference.video_io import write_png

CAMERA_NAME = "follow"


def _camera_index(model: Any, camera: str) -> int:
    """`niljax.robots.camera_index` (the one check of a camera name) as a ReferencePreparationError."""
    from niljax.robots.scene import camera_index

    try:
        return camera_index(model, camera)
    except ValueError as err:
        raise ReferencePreparationError(str(err)) from err


def _mujoco_render(scene: Any, qpos: np.ndarray, height: int, width: int, camera: str) -> tuple[np.ndarray, np.ndarray]:
    import mujoco

    model = scene.mj_model
    cam_id = _camera_index(model, camera)
    if model.vis.global_.offwidth < width or model.vis.global_.offheight < height:
        model.vis.global_.offwidth = max(model.vis.global_.offwidth, width)
        model.vis.global_.offheight = max(model.vis.global_.offheight, height)
    robot_geoms = np.asarray(getattr(scene, "robot_geom_mask", np.ones(model.ngeom, bool)), bool)
    # Cheap settings (llvmpipe is ~10x faster without them); restored afterwards.
    saved = (model.vis.quality.offsamples, model.vis.quality.shadowsize)
    model.vis.quality.offsamples, model.vis.quality.shadowsize = 0, 0
    data = mujoco.MjData(model)
    rgb = np.empty((len(qpos), height, width, 3), np.uint8)
    mask = np.empty((len(qpos), height, width), bool)
    try:
        renderer = mujoco.Renderer(model, height=height, width=width)
    finally:
        model.vis.quality.offsamples, model.vis.quality.shadowsize = saved
    with renderer:
        for i, q in enumerate(qpos):
            data.qpos[:] = q
            mujoco.mj_kinematics(model, data)
            mujoco.mj_camlight(model, data)
            renderer.disable_segmentation_rendering()
            renderer.update_scene(data, camera=cam_id)
            renderer.scene.flags[mujoco.mjtRndFlag.mjRND_SHADOW] = False
            renderer.scene.flags[mujoco.mjtRndFlag.mjRND_REFLECTION] = False
            rgb[i] = renderer.render()
            renderer.enable_segmentation_rendering()
            renderer.update_scene(data, camera=cam_id)
            seg = renderer.render()
            ids, types = seg[..., 0], seg[..., 1]
            is_geom = (types == int(mujoco.mjtObj.mjOBJ_GEOM)) & (ids >= 0)
            mask[i] = is_geom & robot_geoms[np.clip(ids, 0, model.ngeom - 1)]
    return rgb, mask


def render_qpos(scene: Any, qpos: np.ndarray, height: int, width: int, *,
                camera: str = CAMERA_NAME, background: str = "plain", azimuth: float = 0.0,
                static: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Render joint configurations: qpos [T,nq] (or [nq]) -> (rgb uint8[T,H,W,3], mask bool[T,H,W]).

    background: "plain" (every non-robot pixel blank) or "scene" (every visible geom: a skill's chair or bar;
    on a `plain_background` scene the floor stays hidden). azimuth: orbit the camera (degrees, a
    `CameraView`'s); static: the camera stays at its pose of frame 0 (the "static" camera anchor)."""
    qpos = np.asarray(qpos, np.float64)
    single = qpos.ndim == 1
    qpos = np.atleast_2d(qpos)
    nq = scene.mj_model.nq
    if qpos.shape[1] != nq:
        raise ReferencePreparationError(f"qpos has {qpos.shape[1]} entries per frame, the model has nq={nq}")
    try:
        from niljax.render import render_opengl  # the render stage's one-off renderer, when present
    except ImportError:
        render_opengl = None
    shifts = [None] * len(qpos)
    if static:  # undo the root's motion since frame 0
        from niljax.sim.replay import kinematic_poses

        root = kinematic_poses(scene, qpos)["xpos"][:, scene.root_body_id]
        shifts = list(root[0][None] - root)
    if render_opengl is not None:
        geoms = getattr(scene, "robot_geom_mask", None)
        frames = [render_opengl(scene.mj_model, q, geoms, camera=camera, height=height, width=width,
                                background=background, azimuth=azimuth, camera_shift=shift)
                  for q, shift in zip(qpos, shifts)]
        rgb = np.stack([np.asarray(f[0]).reshape(height, width, 3) for f in frames]).astype(np.uint8)
        mask = np.stack([np.asarray(f[1]).reshape(height, width) for f in frames]).astype(bool)
    else:
        if azimuth or static:
            raise ReferencePreparationError("camera azimuth / static camera need niljax.render.render_opengl")
        rgb, mask = _mujoco_render(scene, qpos, height, width, camera)
    return (rgb[0], mask[0]) if single else (rgb, mask)


def camera_metadata(scene: Any, height: int, width: int, camera: str = CAMERA_NAME, *, azimuth: float = 0.0,
                    static: bool = False) -> dict[str, Any]:
    """Exact camera description for the bundle: MuJoCo camera fields, the view (azimuth, static) and the robot
    spec's camera settings (the fields `niljax.render.camera.camera_record` compares)."""
    from niljax.render.config import CameraView

    m = scene.mj_model
    cam_id = _camera_index(m, camera)
    meta: dict[str, Any] = dict(
        name=camera, height=int(height), width=int(width), fovy=float(m.cam_fovy[cam_id]),
        mode=int(m.cam_mode[cam_id]), body=m.body(int(m.cam_bodyid[cam_id])).name,
        pos=[float(x) for x in m.cam_pos[cam_id]], quat=[float(x) for x in m.cam_quat[cam_id]],
        azimuth=float(azimuth), static=bool(static), view=CameraView(camera, float(azimuth)).name,
    )
    spec = getattr(scene, "spec", None)
    cam_spec = getattr(spec, "camera", None)
    if cam_spec is not None:
        meta["spec"] = {k: v for k, v in (cam_spec.items() if isinstance(cam_spec, dict) else vars(cam_spec).items())
                        if isinstance(v, (int, float, str, bool))}
    return meta


@dataclass
class FirstFrame:
    """The rendered start frame: image uint8[H,W,3], robot mask bool[H,W], camera metadata, start qpos."""

    image: np.ndarray
    mask: np.ndarray
    camera: dict[str, Any]
    qpos: np.ndarray
    robot: str
    background_rgb: tuple[int, int, int] = (0, 0, 0)
    extra: dict[str, Any] = field(default_factory=dict)

    def save(self, folder: str | Path) -> Path:
        """Write first_frame.png, first_frame_mask.png and first_frame.json into `folder`; returns the PNG path."""
        folder = Path(folder)
        png = write_png(folder / "first_frame.png", self.image)
        write_png(folder / "first_frame_mask.png", self.mask)
        meta = dict(robot=self.robot, camera=self.camera, qpos=[float(x) for x in self.qpos],
                    background_rgb=list(self.background_rgb), image="first_frame.png", mask="first_frame_mask.png",
                    robot_pixels=int(self.mask.sum()), **self.extra)
        (folder / "first_frame.json").write_text(json.dumps(meta, indent=2))
        return png


def render_first_frame(scene: Any, height: int, width: int, *, qpos: np.ndarray | None = None,
                       camera: str = CAMERA_NAME, background: str = "plain", azimuth: float = 0.0,
                       static: bool = False) -> FirstFrame:
    """Render the robot's start pose (`qpos`, default the scene's home pose) at the generator's resolution
    (`background`, `azimuth` as in `render_qpos`; `static` is recorded: frame 0 is the same either way)."""
    q = np.asarray(scene.home_qpos if qpos is None else qpos, np.float64)
    image, mask = render_qpos(scene, q, height, width, camera=camera, background=background, azimuth=azimuth)
    if not mask.any():
        raise ReferencePreparationError(
            f"the robot is not visible in the first frame ({width}x{height}, camera {camera!r}): check the camera"
        )
    bg = np.median(image[~mask].reshape(-1, 3), axis=0) if (~mask).any() else np.zeros(3)
    return FirstFrame(image=image, mask=mask, camera=camera_metadata(scene, height, width, camera, azimuth=azimuth,
                                                                          static=static), qpos=q,
                      robot=str(getattr(scene, "name", "robot")), background_rgb=tuple(int(x) for x in bg))


class TrajectoryRateWarning(UserWarning):
    """A trajectory's stated (or assumed) frame rate disagrees with the rate its own velocities imply."""


def load_trajectory(path: str | Path, scene: Any, *, fps: float | None = None) -> tuple[np.ndarray, float]:
    """Joint trajectory -> (qpos f64[T,nq], fps). See the module docstring for the accepted formats. `path` is
    a file or the name of a walk shipped with niljax (`a1-walk`, `h1-walk`, ...: `niljax.data.mocap_names()`)."""
    from niljax.data import resolve_trajectory
    from niljax.sim import replay

    try:
        path = resolve_trajectory(path)
    except (FileNotFoundError, ValueError) as err:
        raise ReferencePreparationError(f"trajectory file not found: {err}") from err
    try:
        data = np.load(path, allow_pickle=False)
        if isinstance(data, np.ndarray):  # .npy: the qpos array itself
            arrays = {"qpos": data}
        else:
            with data:
                arrays = {k: np.asarray(data[k]) for k in data.files}
    except Exception as err:
        raise ReferencePreparationError(f"cannot read trajectory {path}: {err}") from err
    file_fps = float(arrays["frequency"]) if "frequency" in arrays else None
    rate = fps or file_fps or 100.0
    implied = replay.implied_sample_rate(arrays)
    if implied is not None and not 0.8 < implied / rate < 1.25:
        # A wrong rate silently plays the motion faster or slower than it was recorded.
        source = "given" if fps else ("the file's 'frequency'" if file_fps else "the default, no 'frequency' key")
        warnings.warn(f"{path}: read at {rate:g} Hz ({source}), but its dq_ velocities imply about {implied:.0f} Hz; "
                      f"if the file is really {implied:.0f} Hz, pass trajectory_fps={implied:.0f} "
                      "(`--trajectory-fps`)", TrajectoryRateWarning, stacklevel=2)
    m = scene.mj_model
    if "qpos" in arrays:
        qpos = np.asarray(arrays["qpos"], np.float64)
        if qpos.ndim != 2 or qpos.shape[1] != m.nq:
            raise ReferencePreparationError(f"{path}: qpos has shape {qpos.shape}, the model needs [T, {m.nq}]")
        return qpos, rate
    if not any(k.startswith("q_") for k in arrays):
        raise ReferencePreparationError(
            f"{path}: neither a 'qpos' array nor 'q_<joint>' arrays (keys: {sorted(arrays)[:10]})")
    free_pose = None
    if scene.root_kind == "free":  # a q_<free joint> array [T,7] places the root
        root = next(j for j in range(m.njnt) if m.jnt_bodyid[j] == scene.root_body_id)
        free_pose = arrays.pop(f"q_{m.joint(root).name}", None)
    # joints absent from the file stay at the home pose, as long as at least as many match as are missing
    missing = replay.missing_joints(scene, arrays)
    found = sum(k.startswith("q_") for k in arrays) - len(replay.unknown_joints(scene, arrays))
    try:
        if found < len(missing):
            raise replay.TrajectoryError(f"{found} joint(s) of robot {scene.name!r} matched, {len(missing)} missing")
        return replay.trajectory_qpos(scene, arrays, allow_missing=True, free_pose=free_pose), rate
    except replay.TrajectoryError as err:
        from niljax.robots.spec import robots_fitting_joints

        fits = [f"{name!r}" + (f" (its {naming!r} joint naming)" if naming else "")
                for name, naming in robots_fitting_joints([k[2:] for k in arrays if k.startswith("q_")])
                if name != scene.name or naming]
        hint = (f" Its joint names fit robot {' or '.join(fits)}: pass --robot with that name and --mjcf with a "
                "model that uses these joint names." if fits else
                " Its joint names fit no registered robot; pass --mjcf with the MJCF it was recorded for.")
        raise ReferencePreparationError(
            f"{path}: {err}; model joints: {[m.joint(j).name for j in range(m.njnt)][:8]}... "
            f"Is this trajectory for this robot?{hint}"
        ) from err

