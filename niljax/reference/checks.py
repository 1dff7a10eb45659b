"""Sanity checks of a segmented reference's masks (import / diffusers backends), before anything is embedded.

A segmenter that goes wrong (the background-colour fallback on a video with a textured floor, a video of
another robot, SAM2 drifting off the robot) still returns one mask per frame, so a wrong bundle would be written
with exit code 0. Three cheap numbers catch most of it, all relative to our rendered first-frame mask (the
robot's known silhouette at the start pose):

- first-frame agreement: IoU of the segmented frame 0 with the rendered first-frame mask (another robot, pose,
  camera, or a segmenter that could not separate robot and background gives a low IoU);
- area: each frame's mask area / the rendered mask's area (a floor or shadows counted as robot: far above 1;
  a robot lost or cut into pieces: far below 1);
- connectivity: the largest 8-connected component's share of each frame's mask, divided by the same share of
  the rendered mask (specks of texture or a robot in pieces: well below 1).

Contract: `check_masks(masks bool[T,H,W], first_mask bool[H,W], ...) -> MaskChecks` (numbers + `problems`, an
empty list when the masks look right); `largest_component_share(mask bool[H,W]) -> float` (OpenCV when it is
importable, else a numpy label propagation). `niljax reference` refuses (exit 2) when `problems` is not empty,
unless `--force`; the numbers go into `report/summary.json` under `mask_checks`. `niljax score` makes the same
check of a video's masks (`refuse_implausible_masks`, same thresholds and flags) before scoring them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


def _largest_component_numpy(mask: np.ndarray) -> int:
    """Pixels in the largest 8-connected component of bool[H,W] (min-label propagation + pointer jumping)."""
    h, w = mask.shape
    size = h * w
    labels = np.where(mask, np.arange(size).reshape(h, w), size)  # background: `size` (never a minimum)
    while True:
        padded = np.pad(labels, 1, constant_values=size)
        new = labels
        for dy in (0, 1, 2):
            for dx in (0, 1, 2):
                new = np.minimum(new, padded[dy:dy + h, dx:dx + w])
        new = np.where(mask, new, size)
        flat = np.append(new.ravel(), size)  # a label is the index of a pixel of the same component
        while True:  # pointer jumping: follow labels to their smallest reachable index
            jumped = flat[flat]
            if np.array_equal(jumped, flat):
                break
            flat = jumped
        new = flat[:-1].reshape(h, w)
        if np.array_equal(new, labels):
            break
        labels = new
    _, counts = np.unique(labels[mask], return_counts=True)
    return int(counts.max())


def largest_component_share(mask: np.ndarray) -> float:
    """Share of the mask's pixels in its largest 8-connected component (1.0 = one piece; 0.0 for an empty mask)."""
    mask = np.asarray(mask, bool)
    total = int(mask.sum())
    if total == 0:
        return 0.0
    try:
        import cv2
    except ImportError:
        largest = _largest_component_numpy(mask)
    else:
        _, _, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
        largest = int(stats[1:, cv2.CC_STAT_AREA].max())
    return largest / total


@dataclass
class MaskChecks:
    """Per-frame numbers of `check_masks` and the problems found (empty = the masks look right)."""

    first_frame_iou: float
    first_mask_pixels: int
    first_mask_connectivity: float
    area_ratio: np.ndarray  # f64[T]: mask area / rendered first-frame mask area
    connectivity: np.ndarray  # f64[T]: largest-component share / the rendered mask's share
    bad_frames: np.ndarray  # int[K]: frames outside the area range or below the connectivity ratio
    thresholds: dict[str, Any]
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def message(self) -> str:
        """One paragraph: what looks wrong, with the numbers."""
        return "; ".join(self.problems)

    def to_summary(self) -> dict[str, Any]:
        """JSON-ready numbers for report/summary.json (per-frame lists rounded to 3 decimals)."""
        def stats(x: np.ndarray) -> dict[str, float]:
            return dict(min=round(float(x.min()), 3), median=round(float(np.median(x)), 3),
                        max=round(float(x.max()), 3))

        return dict(
            ok=self.ok, problems=list(self.problems), first_frame_iou=round(self.first_frame_iou, 4),
            first_mask_pixels=self.first_mask_pixels,
            first_mask_connectivity=round(self.first_mask_connectivity, 4),
            area_ratio=stats(self.area_ratio), connectivity=stats(self.connectivity),
            bad_frames=int(len(self.bad_frames)), bad_frame_indices=[int(i) for i in self.bad_frames[:50]],
            thresholds=self.thresholds,
            per_frame=dict(area_ratio=[round(float(x), 3) for x in self.area_ratio],
                           connectivity=[round(float(x), 3) for x in self.connectivity]),
        )


# The default thresholds, shared by `niljax reference` and `niljax score` (their --min-first-frame-iou,
# --mask-area-range, --min-mask-connectivity, --max-bad-mask-frames flags).
MIN_FIRST_FRAME_IOU = 0.6
MASK_AREA_RANGE = (0.33, 3.0)
MIN_CONNECTIVITY = 0.7
MAX_BAD_FRAME_SHARE = 0.1


def threshold_problem(min_first_frame_iou: float, area_ratio_range: tuple[float, float], min_connectivity: float,
                      max_bad_frame_share: float) -> str | None:
    """What is wrong with a set of thresholds (as the flags name them), None when they are usable."""
    lo, hi = area_ratio_range
    if not (0 <= min_first_frame_iou <= 1 and 0 <= lo <= 1 <= hi and 0 <= min_connectivity <= 1
            and 0 <= max_bad_frame_share <= 1):
        return (f"mask check thresholds out of range: --min-first-frame-iou {min_first_frame_iou} and "
                f"--min-mask-connectivity {min_connectivity} and --max-bad-mask-frames "
                f"{max_bad_frame_share} must lie in [0, 1], --mask-area-range {lo} {hi} must have lo <= 1 <= hi")
    return None


def check_masks(masks: np.ndarray, first_mask: np.ndarray, *, min_first_frame_iou: float = MIN_FIRST_FRAME_IOU,
                area_ratio_range: tuple[float, float] = MASK_AREA_RANGE, min_connectivity: float = MIN_CONNECTIVITY,
                max_bad_frame_share: float = MAX_BAD_FRAME_SHARE) -> MaskChecks:
    """Compare segmented masks bool[T,H,W] with the rendered first-frame mask bool[H,W] (see the module docstring).

    Problems: frame 0's IoU with `first_mask` below `min_first_frame_iou`; more than `max_bad_frame_share` of the
    frames with an area ratio outside `area_ratio_range` or a connectivity ratio below `min_connectivity`.
    """
    from niljax.reference.segment import mask_iou

    masks = np.asarray(masks, bool)
    first_mask = np.asarray(first_mask, bool)
    if masks.ndim != 3 or masks.shape[1:] != first_mask.shape:
        raise ValueError(f"masks {masks.shape} do not match the first-frame mask {first_mask.shape}")
    lo, hi = area_ratio_range
    first_pixels = int(first_mask.sum())
    base = largest_component_share(first_mask)
    iou = float(mask_iou(masks[0], first_mask))
    area = masks.reshape(len(masks), -1).sum(1) / max(first_pixels, 1)
    conn = np.array([largest_component_share(m) for m in masks]) / max(base, 1e-9)
    bad_area = (area < lo) | (area > hi)
    bad_conn = conn < min_connectivity
    bad = np.nonzero(bad_area | bad_conn)[0]
    thresholds = dict(min_first_frame_iou=min_first_frame_iou, area_ratio_range=[lo, hi],
                      min_connectivity=min_connectivity, max_bad_frame_share=max_bad_frame_share)
    problems = []
    if iou < min_first_frame_iou:
        problems.append(
            f"the segmented first frame agrees poorly with the robot's rendered first-frame mask: IoU {iou:.2f} < "
            f"{min_first_frame_iou} (the video shows another robot, pose or camera, or the segmenter cannot "
            "separate robot and background)")
    if len(bad) > max_bad_frame_share * len(masks):
        parts = []
        if bad_area.any():
            i_lo, i_hi = int(np.argmin(area)), int(np.argmax(area))
            parts.append(f"{int(bad_area.sum())} with a mask area outside {lo:g}-{hi:g}x the first frame's "
                         f"{first_pixels} px (min {area[i_lo]:.2f}x at t={i_lo}, max {area[i_hi]:.2f}x at t={i_hi})")
        if bad_conn.any():
            i_c = int(np.argmin(conn))
            parts.append(f"{int(bad_conn.sum())} in pieces (largest connected part's share relative to the first "
                         f"frame's {base:.2f} below {min_connectivity:g}, min {conn[i_c]:.2f} at t={i_c})")
        problems.append(
            f"{len(bad)} of {len(masks)} frames (more than {100 * max_bad_frame_share:g}%) have implausible masks, "
            f"first at t={int(bad[0])}: " + "; ".join(parts)
            + " (a textured floor, shadows or a background the segmenter mistakes for the robot, or a robot it "
            "loses)")
    return MaskChecks(first_frame_iou=iou, first_mask_pixels=first_pixels, first_mask_connectivity=base,
                      area_ratio=area, connectivity=conn, bad_frames=bad, thresholds=thresholds, problems=problems)


def refuse_implausible_masks(masks: np.ndarray, first_mask: np.ndarray, *, source: str, segmenter: str,
                             force: bool = False, instead: str = "write the bundle anyway and inspect "
                             "report/contact_sheet.png", **thresholds: Any) -> MaskChecks:
    """`check_masks`, refusing masks that look wrong with a MaskCheckError (unless `force`) that names the numbers
    and the ways out. The one check of a video's segmented masks: `niljax reference` (import / diffusers) and
    `niljax score` (a video) both call it, with the same thresholds and flags; `instead` says what `--force`
    does for the caller."""
    from niljax.reference.errors import MaskCheckError

    checks = check_masks(masks, first_mask, **thresholds)
    if not checks.ok and not force:
        raise MaskCheckError(
            f"{source}: the {segmenter} masks look wrong: {checks.message()}. Check the video (a "
            "plain background like our first frame's, the same robot), use SAM2 (--sam2-checkpoint), adjust "
            "the thresholds (--min-first-frame-iou, --mask-area-range, --min-mask-connectivity, "
            f"--max-bad-mask-frames), or pass --force to {instead}.")
    return checks
