"""Aspect and resolution alignment with the training camera.

Contract: `align_frames(frames uint8[T,H,W,3], height, width, ...) -> uint8[T,height,width,3]`.
If the aspect ratio W/H differs from width/height by more than `aspect_tol` (relative), this raises
`AspectMismatchError` unless `allow_crop=True`, in which case the frames are centre-cropped (or padded with
`pad_value`, `mode="pad"`) to the target aspect first. Then every frame is resized (area filter when
shrinking, bicubic when growing). `align_masks` does the same for bool[T,H,W] with nearest-neighbour resizing.
"""

from __future__ import annotations

import numpy as np

from niljax.reference.errors import AspectMismatchError, ReferencePreparationError


def aspect_error(src_hw: tuple[int, int], dst_hw: tuple[int, int]) -> float:
    """Relative aspect-ratio difference |a_src / a_dst - 1| with a = width / height."""
    return abs((src_hw[1] / src_hw[0]) / (dst_hw[1] / dst_hw[0]) - 1.0)


def crop_box(src_hw: tuple[int, int], dst_hw: tuple[int, int]) -> tuple[int, int, int, int]:
    """Centre crop (top, left, h, w) of a src image that has the dst aspect ratio."""
    h, w = src_hw
    target = dst_hw[1] / dst_hw[0]
    if w / h > target:  # too wide
        cw = max(1, int(round(h * target)))
        return 0, (w - cw) // 2, h, cw
    ch = max(1, int(round(w / target)))
    return (h - ch) // 2, 0, ch, w


def _check(src_hw, height, width, aspect_tol, allow_crop) -> float:
    if height < 2 or width < 2:
        raise ReferencePreparationError(f"target size must be at least 2x2, got {height}x{width}")
    err = aspect_error(src_hw, (height, width))
    if err > aspect_tol and not allow_crop:
        raise AspectMismatchError(
            f"video is {src_hw[1]}x{src_hw[0]} (aspect {src_hw[1] / src_hw[0]:.3f}) but the training camera is "
            f"{width}x{height} (aspect {width / height:.3f}): {100 * err:.1f}% off, tolerance {100 * aspect_tol:.1f}%. "
            "Pass allow_crop=True (--allow-crop) to centre-crop, or render/generate at the camera's aspect."
        )
    return err


def _pad_box(src_hw, dst_hw):
    h, w = src_hw
    target = dst_hw[1] / dst_hw[0]
    if w / h > target:
        nh = int(round(w / target))
        return (nh - h) // 2, nh - h - (nh - h) // 2, 0, 0
    nw = int(round(h * target))
    return 0, 0, (nw - w) // 2, nw - w - (nw - w) // 2


def align_frames(
    frames: np.ndarray,
    height: int,
    width: int,
    *,
    aspect_tol: float = 0.02,
    allow_crop: bool = False,
    mode: str = "crop",
    pad_value: tuple[int, int, int] = (0, 0, 0),
) -> np.ndarray:
    """Bring uint8[T,H,W,3] to uint8[T,height,width,3] (see module docstring)."""
    from PIL import Image

    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise ReferencePreparationError(f"expected frames [T,H,W,3], got {frames.shape}")
    src_hw = frames.shape[1:3]
    err = _check(src_hw, height, width, aspect_tol, allow_crop)
    if err > 1e-9:
        if mode == "crop":
            t, l, h, w = crop_box(src_hw, (height, width))
            frames = frames[:, t:t + h, l:l + w]
        elif mode == "pad":
            pt, pb, pl, pr = _pad_box(src_hw, (height, width))
            frames = np.stack([np.pad(f, ((pt, pb), (pl, pr), (0, 0)), constant_values=0) for f in frames])
            if any(pad_value):
                fill = np.zeros(frames.shape[1:3], bool)
                fill[:pt] = fill[frames.shape[1] - pb:] = True
                fill[:, :pl] = fill[:, frames.shape[2] - pr:] = True
                frames[:, fill] = np.asarray(pad_value, np.uint8)
        else:
            raise ReferencePreparationError(f"mode must be 'crop' or 'pad', got {mode!r}")
    if frames.shape[1:3] == (height, width):
        return np.ascontiguousarray(frames)
    shrink = frames.shape[1] * frames.shape[2] > height * width
    resample = Image.Resampling.BOX if shrink else Image.Resampling.BICUBIC
    return np.stack([np.asarray(Image.fromarray(f).resize((width, height), resample)) for f in frames])


def align_masks(masks: np.ndarray, height: int, width: int, *, aspect_tol: float = 0.02,
                allow_crop: bool = False, mode: str = "crop") -> np.ndarray:
    """bool[T,H,W] -> bool[T,height,width] with the same crop/pad as `align_frames` (nearest resize)."""
    from PIL import Image

    masks = np.asarray(masks, dtype=bool)
    src_hw = masks.shape[1:3]
    err = _check(src_hw, height, width, aspect_tol, allow_crop)
    if err > 1e-9:
        if mode == "crop":
            t, l, h, w = crop_box(src_hw, (height, width))
            masks = masks[:, t:t + h, l:l + w]
        else:
            pt, pb, pl, pr = _pad_box(src_hw, (height, width))
            masks = np.pad(masks, ((0, 0), (pt, pb), (pl, pr)))
    if masks.shape[1:3] == (height, width):
        return masks
    return np.stack([
        np.asarray(Image.fromarray(m.astype(np.uint8) * 255).resize((width, height), Image.Resampling.NEAREST)) > 127
        for m in masks
    ])
