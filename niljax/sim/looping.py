"""Long references from short periodic clips: find the gait cycle, tile it, carry the root forward.

Contract (host-side numpy, nothing traced):
- `root_planar_indices(scene) -> (ix, iy)`: the qpos entries that hold the root's horizontal position (a free
  joint's x/y, or LocoMuJoCo-style root slide joints along world x and y).
- `find_cycle(qpos f64[T, nq], exclude) -> (start, end)`: the frame pair whose poses and velocities agree best
  with `end - start >= min_fraction * T` (the loop `start .. end-1` is one cycle). `exclude` are the qpos
  entries left out of the match (the planar root position, which advances by design).
- `loop_qpos(qpos, num_frames, planar, period=None) -> f64[num_frames, nq]`: tile the cycle; the planar root
  advances by the cycle's displacement every cycle (heading kept: the displacement is added as is), every
  other entry gets a linear ramp over the cycle that cancels the pose mismatch at the seam, so positions are
  continuous and velocities change by at most the mismatch / cycle length.
- `resample_qpos(qpos, src_hz, dst_hz) -> qpos`: linear interpolation in time (quaternions of free joints are
  re-normalised), e.g. a 500 Hz mocap clip to the 100 Hz control rate before rendering.
- `time_grid(num_src, src_rate, dst_rate) -> f64[T']`: the source positions of a resampling, shared with Stage 1's
  video resampling (`niljax.reference.resample`, which may import this stage; never the reverse).

A seam is never a larger jump than the clip's own frame-to-frame motion plus the mismatch / cycle length; the
test checks it on the LocoMuJoCo H1 walk.
"""

from __future__ import annotations

import math

import mujoco
import numpy as np

__all__ = ["root_planar_indices", "find_cycle", "loop_qpos", "resample_qpos", "time_grid", "LoopError"]


class LoopError(ValueError):
    """A clip cannot be looped (too short, no root translation entries, a bad period)."""


def root_planar_indices(scene) -> tuple[int, int]:  # noqa: ANN001 - a niljax.robots.RobotScene
    """qpos indices of the root's world x and y position (free joint, or slide joints along x / y)."""
    m = scene.mj_model
    root = scene.root_body_id
    joints = [j for j in range(m.njnt) if m.jnt_bodyid[j] == root]
    for j in joints:
        if m.jnt_type[j] == mujoco.mjtJoint.mjJNT_FREE:
            adr = int(m.jnt_qposadr[j])
            return adr, adr + 1
    ix = iy = None
    for j in joints:
        if m.jnt_type[j] != mujoco.mjtJoint.mjJNT_SLIDE:
            continue
        axis = np.abs(m.jnt_axis[j])
        if axis[0] > 0.99:
            ix = int(m.jnt_qposadr[j])
        elif axis[1] > 0.99:
            iy = int(m.jnt_qposadr[j])
    if ix is None or iy is None:
        raise LoopError(f"robot {scene.name!r}: its root has no free joint and no x/y slide joints, so a looped "
                        "reference cannot carry the root forward")
    return ix, iy


def _free_quat_slices(m: mujoco.MjModel) -> list[slice]:
    return [slice(int(m.jnt_qposadr[j]) + 3, int(m.jnt_qposadr[j]) + 7) for j in range(m.njnt)
            if m.jnt_type[j] == mujoco.mjtJoint.mjJNT_FREE]


def find_cycle(qpos: np.ndarray, exclude: tuple[int, ...] = (), *, min_fraction: float = 0.5,
               velocity_weight: float = 25.0) -> tuple[int, int]:
    """(start, end): the best loop of at least `min_fraction` of the clip, by pose + velocity mismatch.

    Cost of a pair = sum_j (q[end,j] - q[start,j])^2 + velocity_weight * sum_j (dq[end,j] - dq[start,j])^2 over
    the included entries (dq per frame). Ties go to the longer cycle.
    """
    qpos = np.asarray(qpos, np.float64)
    t = len(qpos)
    if qpos.ndim != 2 or t < 4:
        raise LoopError(f"a clip to loop needs qpos[T>=4, nq], got shape {qpos.shape}")
    keep = np.ones(qpos.shape[1], bool)
    keep[list(exclude)] = False
    q = qpos[:, keep]
    dq = np.gradient(q, axis=0)
    shortest = max(2, int(np.ceil(min_fraction * (t - 1))))
    best = (np.inf, 0, t - 1)
    for length in range(t - 1, shortest - 1, -1):
        cost = np.sum((q[length:] - q[:t - length]) ** 2, 1) + velocity_weight * np.sum(
            (dq[length:] - dq[:t - length]) ** 2, 1)
        i = int(np.argmin(cost))
        if cost[i] < best[0] - 1e-12:
            best = (float(cost[i]), i, i + length)
    return best[1], best[2]


def loop_qpos(qpos: np.ndarray, num_frames: int, planar: tuple[int, int], *, period: int | None = None,
              start: int = 0, model: mujoco.MjModel | None = None) -> np.ndarray:
    """Tile one cycle of `qpos` to `num_frames` frames (see the module docstring).

    `period` (frames) fixes the cycle to `start .. start+period-1`; None finds it with `find_cycle`. `model`
    (optional) lets free-joint quaternions be re-normalised after the seam ramp.
    """
    qpos = np.asarray(qpos, np.float64)
    if num_frames < 1:
        raise LoopError(f"num_frames must be >= 1, got {num_frames}")
    if period is None:
        start, end = find_cycle(qpos, exclude=planar)
    else:
        end = start + int(period)
        if period < 2 or start < 0 or end > len(qpos) - 1:
            raise LoopError(f"period {period} frames from frame {start} does not fit a clip of {len(qpos)} frames")
    length = end - start
    cycle = qpos[start:end].copy()  # frames start .. end-1; frame `end` is where the next cycle begins
    mismatch = qpos[end] - qpos[start]
    displacement = np.zeros(qpos.shape[1])
    ix, iy = planar
    displacement[[ix, iy]] = mismatch[[ix, iy]]
    # Ramp every other entry so that the cycle's last frame leads smoothly into the next cycle's first.
    ramp = np.arange(length)[:, None] / length
    correction = -(mismatch - displacement)[None, :] * ramp
    cycle = cycle + correction
    reps = int(np.ceil(num_frames / length))
    tiled = np.concatenate([cycle + k * displacement for k in range(reps)])[:num_frames]
    if model is not None:
        for sl in _free_quat_slices(model):
            tiled[:, sl] /= np.linalg.norm(tiled[:, sl], axis=1, keepdims=True)
    return tiled


def interpolate_qpos(qpos: np.ndarray, positions: np.ndarray, model: mujoco.MjModel | None = None) -> np.ndarray:
    """qpos[T, nq] at fractional frame `positions` (clamped to [0, T-1]): linear between neighbouring frames,
    free-joint quaternions renormalised when `model` is given."""
    qpos = np.asarray(qpos, np.float64)
    pos = np.clip(np.asarray(positions, np.float64), 0, len(qpos) - 1)
    lo = np.floor(pos).astype(int)
    hi = np.minimum(lo + 1, len(qpos) - 1)
    w = (pos - lo)[:, None]
    out = (1 - w) * qpos[lo] + w * qpos[hi]
    if model is not None:
        for sl in _free_quat_slices(model):
            out[:, sl] /= np.linalg.norm(out[:, sl], axis=1, keepdims=True)
    return out


def time_grid(num_src: int, src_rate: float, dst_rate: float) -> np.ndarray:
    """Fractional source positions (in frames) of a clip of `num_src` frames at `src_rate` resampled to `dst_rate`
    over the same duration: f64[T'], T' = floor((num_src - 1) * dst_rate / src_rate) + 1, position k =
    k * src_rate / dst_rate (no extrapolation). The one grid of every resampling in niljax: joint trajectories
    here (`resample_qpos`), videos and masks in Stage 1 (`niljax.reference.resample`). LoopError (a ValueError)
    for an empty clip or a rate that is not a positive number."""
    if num_src < 1:
        raise LoopError("cannot resample an empty clip")
    if not (math.isfinite(src_rate) and src_rate > 0):
        raise LoopError(f"source rate must be positive, got {src_rate!r}")
    if not (math.isfinite(dst_rate) and dst_rate > 0):
        raise LoopError(f"target rate must be positive, got {dst_rate!r}")
    duration = (num_src - 1) / src_rate
    count = int(math.floor(duration * dst_rate + 1e-9)) + 1
    pos = np.arange(count, dtype=np.float64) * (src_rate / dst_rate)
    return np.minimum(pos, num_src - 1)


def resample_qpos(qpos: np.ndarray, src_hz: float, dst_hz: float, model: mujoco.MjModel | None = None) -> np.ndarray:
    """qpos[T, nq] at `src_hz` -> qpos at `dst_hz` over the same duration (linear in time on `time_grid`; frame 0
    kept)."""
    qpos = np.asarray(qpos, np.float64)
    return interpolate_qpos(qpos, time_grid(len(qpos), src_hz, dst_hz), model)
