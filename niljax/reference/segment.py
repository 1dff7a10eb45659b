"""Robot masks for every reference frame.

Contract: a segmenter maps frames uint8[T,H,W,3] plus the known robot mask of frame 0 (bool[H,W], from our
renderer's first frame) to masks bool[T,H,W]. Two implementations:

- `BackgroundColorSegmenter` (fallback, no weights): the first frame is rendered on a plain background, and the
  generator is asked to keep it. The background colour is estimated per frame as the median of the border
  pixels, fitted as colour = a + b*row (a plain colour or a vertical gradient, robust to slow drift); a pixel is "robot" when its RGB distance to that colour exceeds a
  threshold calibrated on frame 0 against the known mask (the threshold maximising IoU there). Small
  connected specks are removed. Limits: it fails when the generated video invents a textured background,
  floor, or shadows; when robot parts have the background colour; when the robot touches the border on
  all sides (the border fit then sees robot, not background); and with strong compression artefacts around
  thin parts. Check the contact sheet.
- `Sam2VideoSegmenter`: SAM2's video predictor (torch, offline) built from the package's bundled hydra config,
  prompted with `add_new_mask` on frame 0 and propagated forward. Without a checkpoint it only runs when
  `allow_random_init=True` (tests: plumbing and shapes, not quality).
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from tqdm.auto import tqdm

from niljax.reference.errors import ReferencePreparationError, require


class Segmenter(Protocol):
    """frames uint8[T,H,W,3], first_mask bool[H,W] -> masks bool[T,H,W]."""

    name: str

    def segment(self, frames: np.ndarray, first_mask: np.ndarray) -> np.ndarray: ...


def mask_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of bool masks over the last two axes (1.0 when both are empty)."""
    a = np.asarray(a, bool)
    b = np.asarray(b, bool)
    inter = (a & b).sum(axis=(-2, -1))
    union = (a | b).sum(axis=(-2, -1))
    return np.where(union > 0, inter / np.maximum(union, 1), 1.0)


def _check_inputs(frames: np.ndarray, first_mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    frames = np.asarray(frames)
    first_mask = np.asarray(first_mask, bool)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ReferencePreparationError(f"expected frames uint8[T,H,W,3], got {frames.dtype}{frames.shape}")
    if first_mask.shape != frames.shape[1:3]:
        raise ReferencePreparationError(
            f"first-frame mask {first_mask.shape} does not match the frame size {frames.shape[1:3]}"
        )
    if not first_mask.any():
        raise ReferencePreparationError("the first-frame robot mask is empty: the robot is not in view")
    if first_mask.all():
        raise ReferencePreparationError("the first-frame robot mask covers the whole image: no background")
    return frames, first_mask


def _border_rows(h: int, w: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    sel = np.zeros((h, w), bool)
    sel[:width] = sel[-width:] = True
    sel[:, :width] = sel[:, -width:] = True
    ys, xs = np.nonzero(sel)
    return ys, xs


def background_model(frame: np.ndarray, width: int = 2) -> np.ndarray:
    """Background colour per row, f32[H,3]: a robust linear fit colour = a + b*y over the border pixels.

    Covers a constant colour and MuJoCo's vertical skybox gradient; robot pixels touching the border are
    rejected as outliers (two refits keeping the 70% best-fitting pixels).
    """
    h, w = frame.shape[:2]
    ys, xs = _border_rows(h, w, width)
    y = ys.astype(np.float32) / max(h - 1, 1)
    colours = frame[ys, xs].astype(np.float32)
    design = np.stack([np.ones_like(y), y], axis=1)
    keep = np.ones(len(y), bool)
    for _ in range(3):
        coef, *_ = np.linalg.lstsq(design[keep], colours[keep], rcond=None)
        resid = np.linalg.norm(colours - design @ coef, axis=1)
        keep = resid <= np.quantile(resid, 0.7) + 1e-6
    rows = np.stack([np.ones(h, np.float32), np.arange(h, dtype=np.float32) / max(h - 1, 1)], axis=1)
    return (rows @ coef).astype(np.float32)


@dataclass
class BackgroundColorSegmenter:
    """Fallback segmenter: distance from a plain background colour (see the module docstring for its limits).

    Attributes:
      background_rgb: fixed background colour; None = per frame, a robust linear-in-y fit to the border pixels.
      threshold: RGB distance (0-441) above which a pixel is robot; None = calibrate on frame 0.
      border: border width in pixels used to estimate the background colour.
      min_component_frac: connected components smaller than this fraction of the frame are dropped (needs cv2).
    """

    background_rgb: tuple[int, int, int] | None = None
    threshold: float | None = None
    border: int = 2
    min_component_frac: float = 0.0005
    name: str = "background-color"

    def _distance(self, frames: np.ndarray) -> np.ndarray:
        f = frames.astype(np.float32)
        if self.background_rgb is not None:
            bg = np.broadcast_to(np.asarray(self.background_rgb, np.float32), (len(frames), frames.shape[1], 3))
        else:
            bg = np.stack([background_model(x, self.border) for x in frames])
        return np.linalg.norm(f - bg[:, :, None, :], axis=-1)

    def calibrate(self, distance0: np.ndarray, first_mask: np.ndarray) -> float:
        """Threshold maximising IoU with the known mask on frame 0."""
        candidates = np.unique(np.quantile(distance0, np.linspace(0.0, 1.0, 257)))
        best_t, best_iou = 30.0, -1.0
        for t in candidates:
            iou = float(mask_iou(distance0 > t, first_mask))
            if iou > best_iou:
                best_t, best_iou = float(t), iou
        self.calibration_iou = best_iou
        return best_t

    def _clean(self, mask: np.ndarray) -> np.ndarray:
        if self.min_component_frac <= 0:
            return mask
        try:
            import cv2
        except ImportError:
            return mask
        n, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
        min_area = self.min_component_frac * mask.size
        keep = np.zeros(n, bool)
        keep[1:] = stats[1:, cv2.CC_STAT_AREA] >= min_area
        return keep[labels]

    def segment(self, frames: np.ndarray, first_mask: np.ndarray) -> np.ndarray:
        """Masks bool[T,H,W] for frames uint8[T,H,W,3], calibrated on frame 0 with `first_mask`."""
        frames, first_mask = _check_inputs(frames, first_mask)
        dist = self._distance(frames)
        threshold = self.threshold if self.threshold is not None else self.calibrate(dist[0], first_mask)
        self.used_threshold = threshold
        return np.stack([self._clean(d > threshold) for d in dist])


@dataclass
class Sam2VideoSegmenter:
    """SAM2 video predictor prompted with the first frame's known mask (torch; imported lazily).

    Attributes:
      config: a config inside the sam2 package (hydra name), e.g. "configs/sam2.1/sam2.1_hiera_t.yaml".
      checkpoint: path to SAM2 weights (.pt). None only with `allow_random_init` (tests).
      device: torch device ("cuda" on a GPU node, "cpu" otherwise).
      hydra_overrides: extra hydra overrides, e.g. ["++model.image_size=256"] for a small test model.
      threshold: mask-logit threshold (SAM2 uses 0).
    """

    config: str = "configs/sam2.1/sam2.1_hiera_l.yaml"
    checkpoint: str | None = None
    device: str = "cpu"
    hydra_overrides: tuple[str, ...] = ()
    allow_random_init: bool = False
    threshold: float = 0.0
    jpeg_quality: int = 95
    name: str = "sam2"

    def build(self):
        """Build (once) and return the `SAM2VideoPredictor`."""
        if getattr(self, "_predictor", None) is not None:
            return self._predictor
        if self.checkpoint is None and not self.allow_random_init:
            raise ReferencePreparationError(
                "SAM2 needs a checkpoint (--sam2-checkpoint path/to/sam2.1_hiera_large.pt); without weights use "
                "the fallback segmenter (--segmenter background)"
            )
        if self.checkpoint is not None and not os.path.isfile(self.checkpoint):
            raise ReferencePreparationError(f"SAM2 checkpoint not found: {self.checkpoint}")
        require("torch", "torch")
        build_sam = require("sam2.build_sam")
        self._predictor = build_sam.build_sam2_video_predictor(
            self.config, ckpt_path=self.checkpoint, device=self.device,
            hydra_overrides_extra=list(self.hydra_overrides),
        )
        return self._predictor

    def segment(self, frames: np.ndarray, first_mask: np.ndarray) -> np.ndarray:
        """Masks bool[T,H,W]: frame 0 prompted with `first_mask` (object id 1), propagated to the end."""
        import torch
        from PIL import Image

        frames, first_mask = _check_inputs(frames, first_mask)
        predictor = self.build()
        masks = np.zeros(frames.shape[:3], bool)
        seen = np.zeros(len(frames), bool)
        with tempfile.TemporaryDirectory(prefix="niljax_sam2_") as tmp, torch.inference_mode():
            # SAM2's video loader reads a folder of "<index>.jpg" frames.
            for i, frame in enumerate(frames):
                Image.fromarray(frame).save(os.path.join(tmp, f"{i:05d}.jpg"), quality=self.jpeg_quality)
            state = predictor.init_state(video_path=tmp)
            predictor.add_new_mask(state, frame_idx=0, obj_id=1, mask=first_mask)
            for idx, obj_ids, logits in tqdm(predictor.propagate_in_video(state), total=len(frames),
                                             desc="SAM2 propagation", leave=False):
                k = list(obj_ids).index(1)
                masks[idx] = (logits[k, 0] > self.threshold).cpu().numpy()
                seen[idx] = True
        if not seen.all():
            raise ReferencePreparationError(f"SAM2 produced masks for {seen.sum()} of {len(frames)} frames")
        return masks
