"""Best-of-N selection of generated reference videos (the paper's criteria).

For each candidate (uint8[T,H,W,3]) against our rendered first frame (uint8[H,W,3], same size — align first):
- `flow_variance`: Farneback optical flow between consecutive frames (on frames downscaled so the longer side is
  at most `flow_size` px, flow expressed in pixels of that size), then the variance over time of the flow at
  each pixel, averaged over pixels and both components. Smooth motion keeps the flow steady; jitter and
  flicker make it jump. Lower is better.
- `first_frame_mse`: mean over frames of the pixel MSE (values in [0,1]) to our first frame: a candidate whose
  robot changes shape/colour or leaves the frame drifts away from it. Lower is better.
- `start_mse`: the same MSE for the candidate's own frame 0 only (used for the robot-mismatch check).
- `score = flow_variance / mean(flow_variance) + mse_weight * first_frame_mse / mean(first_frame_mse)`
  (each criterion normalised by its mean over the candidates so neither unit dominates); lowest wins.
`select_best(...)` returns the chosen index (or the user's `override`) and the table (list of dicts).
Host-side numpy + cv2.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from niljax.reference.errors import ReferencePreparationError, require


@dataclass(frozen=True)
class CandidateScore:
    """One row of the selection table."""

    index: int
    num_frames: int
    flow_variance: float
    first_frame_mse: float
    start_mse: float
    score: float = float("nan")
    selected: bool = False


def _downscale(frames: np.ndarray, size: int) -> np.ndarray:
    cv2 = require("cv2")
    h, w = frames.shape[1:3]
    scale = min(1.0, size / max(h, w))
    if scale >= 1.0:
        return frames
    nh, nw = max(8, int(round(h * scale))), max(8, int(round(w * scale)))
    return np.stack([cv2.resize(f, (nw, nh), interpolation=cv2.INTER_AREA) for f in frames])


def flow_variance(frames: np.ndarray, *, flow_size: int = 128) -> float:
    """Temporal variance of dense optical flow (see module docstring). Needs at least 3 frames."""
    from niljax.reference.resample import farneback_flow

    frames = np.asarray(frames)
    if frames.shape[0] < 3:
        raise ReferencePreparationError(f"flow variance needs at least 3 frames, got {frames.shape[0]}")
    small = _downscale(frames, flow_size)
    flows = np.stack([farneback_flow(small[i], small[i + 1]) for i in range(len(small) - 1)])
    return float(flows.var(axis=0).mean())


def first_frame_mse(frames: np.ndarray, first_frame: np.ndarray) -> np.ndarray:
    """Per-frame MSE (values scaled to [0,1]) between frames uint8[T,H,W,3] and first_frame uint8[H,W,3]: f64[T]."""
    frames = np.asarray(frames)
    first_frame = np.asarray(first_frame)
    if frames.shape[1:] != first_frame.shape:
        raise ReferencePreparationError(
            f"candidate frames {frames.shape[1:]} and first frame {first_frame.shape} differ in size; align first"
        )
    diff = frames.astype(np.float32) / 255.0 - first_frame.astype(np.float32)[None] / 255.0
    return (diff**2).reshape(len(frames), -1).mean(axis=1).astype(np.float64)


def score_candidates(candidates: list[np.ndarray], first_frame: np.ndarray, *, mse_weight: float = 1.0,
                     flow_size: int = 128) -> list[CandidateScore]:
    """Score every candidate; the lowest `score` is the best (ties go to the lower index)."""
    if not candidates:
        raise ReferencePreparationError("no candidate videos to select from")
    rows = []
    for i, frames in enumerate(candidates):
        mse = first_frame_mse(frames, first_frame)
        rows.append(dict(index=i, num_frames=int(len(frames)), flow_variance=flow_variance(frames, flow_size=flow_size),
                         first_frame_mse=float(mse.mean()), start_mse=float(mse[0])))
    fv = np.array([r["flow_variance"] for r in rows])
    ms = np.array([r["first_frame_mse"] for r in rows])
    scores = fv / max(fv.mean(), 1e-12) + mse_weight * ms / max(ms.mean(), 1e-12)
    return [CandidateScore(**r, score=float(s)) for r, s in zip(rows, scores)]


def select_best(candidates: list[np.ndarray], first_frame: np.ndarray, *, override: int | None = None,
                mse_weight: float = 1.0, flow_size: int = 128) -> tuple[int, list[CandidateScore]]:
    """Pick the best candidate (or `override`, an index the user chose). Returns (index, table)."""
    table = score_candidates(candidates, first_frame, mse_weight=mse_weight, flow_size=flow_size)
    if override is not None:
        if not 0 <= override < len(candidates):
            raise ReferencePreparationError(f"selection override {override} out of range for {len(candidates)} candidates")
        best = int(override)
    else:
        best = int(np.argmin([r.score for r in table]))
    table = [CandidateScore(**{**asdict(r), "selected": r.index == best}) for r in table]
    return best, table


def format_table(table: list[CandidateScore]) -> str:
    """The selection table as aligned text (one row per candidate, '*' marks the chosen one)."""
    lines = [f"{'':2}{'idx':>4} {'frames':>7} {'flow_var':>11} {'mse_first':>11} {'mse_start':>11} {'score':>8}"]
    for r in table:
        lines.append(f"{'*' if r.selected else ' ':2}{r.index:>4} {r.num_frames:>7} {r.flow_variance:>11.4g} "
                     f"{r.first_frame_mse:>11.4g} {r.start_mse:>11.4g} {r.score:>8.3f}")
    return "\n".join(lines)
