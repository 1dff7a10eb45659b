"""Kinematic replay: set a robot's joints from a named joint trajectory, frame by frame.

Contract:
- A named trajectory is `dict[str, np.ndarray]` with `q_<joint>` arrays of shape [T] (LocoMuJoCo datasets; the
  `dq_` arrays and any other keys are carried along but unused). `load_trajectory(npz)` reads one.
- `trajectory_qpos(scene, traj) -> f64[T, nq]` maps `q_<joint>` onto the model's joints by name (optionally
  through `joint_map` {trajectory joint -> model joint}). Every 1-dof robot joint (hinge/slide, including the
  LocoMuJoCo root slides/hinges) must be present unless `allow_missing=True` (then it stays at its home value).
  Free joints take their home value (a trajectory has no `q_` array for them) unless `free_pose` is given.
  Trajectory joints the model does not have are ignored (listed by `unknown_joints`) unless `strict=True`;
  `missing_joints` lists the 1-dof robot joints the trajectory lacks.
- `implied_sample_rate(traj) -> float | None`: the frame rate the `dq_` arrays imply (median of velocity over
  frame-to-frame position change); None without enough moving joints. Use it to catch a mislabelled rate.
- `qpos_from_named_trajectory(scene, traj, frame) -> f64[nq]`: one frame.
- `kinematic_data(scene, qpos[T, nq], impl="jax") -> mjx.Data` batched [T]: kinematics, com and cameras
  (`mjx.kinematics`, `com_pos`, `camlight`), enough for rendering from the `follow` camera; jittable in qpos.
- `kinematic_poses(scene, qpos[T, nq]) -> dict` host-side (C MuJoCo `mj_kinematics`): xpos [T,nbody,3],
  xquat [T,nbody,4], geom_xpos, geom_xmat, cam_xpos, cam_xmat.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import jax
import jax.numpy as jnp
import mujoco
import numpy as np
from mujoco import mjx

from niljax.robots.scene import RobotScene

__all__ = [
    "load_trajectory",
    "trajectory_qpos",
    "qpos_from_named_trajectory",
    "unknown_joints",
    "missing_joints",
    "implied_sample_rate",
    "kinematic_data",
    "kinematic_poses",
    "TrajectoryError",
]


class TrajectoryError(ValueError):
    """A named trajectory does not fit the model (missing / unknown joints, ragged lengths)."""


def load_trajectory(path: str | Path) -> dict[str, np.ndarray]:
    """Read an .npz of named arrays (e.g. LocoMuJoCo `q_<joint>` / `dq_<joint>`) into a dict."""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"trajectory file {p} does not exist")
    with np.load(p, allow_pickle=False) as z:
        traj = {k: np.asarray(z[k]) for k in z.files}
    if not any(k.startswith("q_") for k in traj):
        raise TrajectoryError(f"{p}: no `q_<joint>` arrays (keys: {sorted(traj)[:10]}...)")
    return traj


def implied_sample_rate(traj: Mapping[str, np.ndarray], *, min_step: float = 1e-4,
                        min_samples: int = 20) -> float | None:
    """Frames per second implied by a trajectory's own velocities: median over moving frames and joints of
    (dq[t] + dq[t+1]) / 2 / (q[t+1] - q[t]). None when fewer than `min_samples` frame pairs move by more than
    `min_step` (or there are no `q_`/`dq_` pairs). Robust to a few noisy joints; assumes `dq_` is per second."""
    ratios = []
    for key, q in traj.items():
        dq = traj.get("d" + key) if key.startswith("q_") else None
        if dq is None or np.ndim(q) != 1 or np.shape(dq) != np.shape(q) or len(q) < 2:
            continue
        q, dq = np.asarray(q, np.float64), np.asarray(dq, np.float64)
        step = np.diff(q)
        moving = np.abs(step) > min_step
        ratios.append(((dq[:-1] + dq[1:]) / 2.0)[moving] / step[moving])
    ratios = np.concatenate(ratios) if ratios else np.zeros(0)
    ratios = ratios[np.isfinite(ratios) & (ratios > 0)]
    return float(np.median(ratios)) if ratios.size >= min_samples else None


def _one_dof_joints(scene: RobotScene) -> list[tuple[str, int]]:
    m = scene.mj_model
    out = []
    for j in range(m.njnt):
        if int(m.jnt_type[j]) in (int(mujoco.mjtJoint.mjJNT_HINGE), int(mujoco.mjtJoint.mjJNT_SLIDE)):
            out.append((m.joint(j).name, int(m.jnt_qposadr[j])))
    return out


def unknown_joints(scene: RobotScene, traj: Mapping[str, np.ndarray],
                   joint_map: Mapping[str, str] | None = None) -> list[str]:
    """Trajectory joints (`q_<name>`) that map to no joint of the model."""
    names = {n for n, _ in _one_dof_joints(scene)}
    jm = joint_map or {}
    return sorted(k[2:] for k in traj if k.startswith("q_") and jm.get(k[2:], k[2:]) not in names)


def missing_joints(scene: RobotScene, traj: Mapping[str, np.ndarray],
                   joint_map: Mapping[str, str] | None = None) -> list[str]:
    """1-dof robot joints (model names, in model order) that have no `q_` array in the trajectory."""
    jm = joint_map or {}
    have = {jm.get(k[2:], k[2:]) for k in traj if k.startswith("q_")}
    return [n for n, _ in _one_dof_joints(scene) if n not in have]


def trajectory_qpos(scene: RobotScene, traj: Mapping[str, np.ndarray], *, joint_map: Mapping[str, str] | None = None,
                    allow_missing: bool = False, strict: bool = False,
                    free_pose: np.ndarray | None = None) -> np.ndarray:
    """Map a named trajectory onto the model: f64[T, nq] (see the module docstring for the rules).

    Raises TrajectoryError naming the missing joints (and how to allow them) or, with strict=True, the unknown
    ones; or when the `q_` arrays have different lengths.
    """
    jm = joint_map or {}
    q = {jm.get(k[2:], k[2:]): np.asarray(v, np.float64) for k, v in traj.items() if k.startswith("q_")}
    if not q:
        raise TrajectoryError("trajectory has no `q_<joint>` arrays")
    lengths = {v.shape for v in q.values()}
    if len(lengths) != 1 or len(next(iter(lengths))) != 1:
        raise TrajectoryError(f"`q_` arrays must all be 1-D of one length, got shapes {sorted(lengths)}")
    t = next(iter(lengths))[0]
    joints = _one_dof_joints(scene)
    missing = missing_joints(scene, traj, jm)
    if missing and not allow_missing:
        raise TrajectoryError(
            f"trajectory lacks {len(missing)} joint(s) of robot {scene.name!r}: {missing}. Pass allow_missing=True "
            "to keep them at their home values, or joint_map={trajectory_name: model_name} to rename.")
    unknown = unknown_joints(scene, traj, jm)
    if strict and unknown:
        raise TrajectoryError(f"trajectory joints not in robot {scene.name!r}: {unknown} (strict=True)")
    if len(missing) == len(joints):
        raise TrajectoryError(f"no trajectory joint matches robot {scene.name!r} (unknown: {unknown[:10]})")
    out = np.tile(np.asarray(scene.home_qpos, np.float64), (t, 1))
    for name, adr in joints:
        if name in q:
            out[:, adr] = q[name]
    if free_pose is not None:
        fp = np.asarray(free_pose, np.float64)
        if scene.root_kind != "free" or fp.shape != (t, 7):
            raise TrajectoryError(f"free_pose must be [T=7 pos+quat] per frame for a free-joint root, got {fp.shape}")
        m = scene.mj_model
        jf = [j for j in range(m.njnt) if m.jnt_bodyid[j] == scene.root_body_id][0]
        out[:, m.jnt_qposadr[jf]:m.jnt_qposadr[jf] + 7] = fp
    return out


def qpos_from_named_trajectory(scene: RobotScene, traj: Mapping[str, np.ndarray], frame: int,
                               **kwargs: Any) -> np.ndarray:
    """f64[nq] for one frame (same rules and options as `trajectory_qpos`)."""
    qs = trajectory_qpos(scene, traj, **kwargs)
    if not -len(qs) <= frame < len(qs):
        raise IndexError(f"frame {frame} out of range for a trajectory of {len(qs)} frames")
    return qs[frame]


def kinematic_data(scene: RobotScene, qpos: jax.Array, impl: str = "jax", mjx_model: Any = None) -> Any:
    """Batched mjx.Data [T] posed at `qpos` f32[T, nq] (kinematics + com + cameras/lights); jittable.

    Pass `mjx_model` to reuse one (e.g. the env's); otherwise one is put for `impl`.
    """
    device = jax.local_devices()[0]  # this process's device (MJX's default is process 0's)
    m = mjx_model if mjx_model is not None else mjx.put_model(scene.mj_model, impl=impl, device=device)
    qpos = jnp.asarray(qpos, jnp.float32)
    if qpos.ndim != 2 or qpos.shape[1] != scene.mj_model.nq:
        raise ValueError(f"qpos must be [T, nq={scene.mj_model.nq}], got {qpos.shape}")

    def one(q: jax.Array) -> Any:
        d = (mjx.make_data(scene.mj_model, impl="warp", device=device) if impl == "warp"
             else mjx.make_data(m, device=device)).replace(qpos=q)
        d = mjx.kinematics(m, d)
        d = mjx.com_pos(m, d)
        return mjx.camlight(m, d)

    return jax.vmap(one)(qpos)


def kinematic_poses(scene: RobotScene, qpos: np.ndarray) -> dict[str, np.ndarray]:
    """Host-side poses for each frame with C MuJoCo `mj_kinematics` (+ `mj_camlight`)."""
    m = scene.mj_model
    qpos = np.asarray(qpos, np.float64)
    if qpos.ndim != 2 or qpos.shape[1] != m.nq:
        raise ValueError(f"qpos must be [T, nq={m.nq}], got {qpos.shape}")
    d = mujoco.MjData(m)
    keys = ("xpos", "xquat", "geom_xpos", "geom_xmat", "cam_xpos", "cam_xmat")
    out: dict[str, list[np.ndarray]] = {k: [] for k in keys}
    for q in qpos:
        d.qpos[:] = q
        mujoco.mj_kinematics(m, d)
        mujoco.mj_comPos(m, d)
        mujoco.mj_camlight(m, d)
        for k in keys:
            out[k].append(getattr(d, k).copy())
    return {k: np.stack(v) for k, v in out.items()}
