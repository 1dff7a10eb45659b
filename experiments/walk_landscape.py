"""Reward landscape along the reference vs simple alternatives, before any long run (issue 12, item 5).

For a looped LocoMuJoCo walk it renders, with the training renderer, (a) the reference itself, (b) the robot
standing at its home pose (and at the reference's first pose), (c) the reference's joint motion with the root
pinned at the start ("walking in place"), and (d) the reference delayed by 0.25 s, each under both camera
anchors ("agent": the track camera, "reference": the camera on the reference's root path), and reports the mean
mask IoU against the reference. Rendering, camera anchoring and the shared variants are `niljax landscape`'s
(`niljax.diagnostics.landscape`); `niljax landscape BUNDLE` scores the full reward of a replayed bundle.

    python experiments/walk_landscape.py --robot h1 --mjcf ../shared/locomujoco/models/unitree_h1/h1.xml \
        --trajectory ../shared/locomujoco/datasets/02-constspeed_UnitreeH1.npz --trajectory-fps 500
    python experiments/walk_landscape.py --robot a1 --mjcf ../shared/locomujoco/models/unitree_a1/unitree_a1_torque.xml \
        --trajectory ../shared/locomujoco/datasets/walk_straight_UnitreeA1.npz --trajectory-fps 500 --frames 0 500 \
        --size 48 --out experiments/results/walk_landscape_a1.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from niljax import _runtime

_runtime.configure()

import numpy as np

from niljax.diagnostics.landscape import landscape_variants, render_poses, root_positions
from niljax.reference.segment import mask_iou
from niljax.render import RenderConfig
from niljax.robots import load_robot
from niljax.sim.looping import loop_qpos, resample_qpos, root_planar_indices


def looped_reference(scene, trajectory: str, fps: float, seconds: float,
                     frames: tuple[int, int] | None = None) -> np.ndarray:
    from niljax.reference.first_frame import load_trajectory

    qpos, rate = load_trajectory(trajectory, scene, fps=fps)
    if frames is not None:
        qpos = qpos[frames[0]:frames[1]]
    hz = 1.0 / scene.control_dt
    q = resample_qpos(qpos, rate, hz, scene.mj_model)
    return loop_qpos(q, int(round(seconds * hz)) + 1, root_planar_indices(scene), model=scene.mj_model)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--robot", default="h1")
    p.add_argument("--mjcf")
    p.add_argument("--trajectory", required=True)
    p.add_argument("--trajectory-fps", type=float, default=None)
    p.add_argument("--seconds", type=float, default=4.0)
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--frames", type=int, nargs=2, default=None, metavar=("START", "END"),
                   help="use these trajectory frames only (A1's fixture: 0 500, its first take)")
    p.add_argument("--out", default="experiments/results/walk_landscape_h1.json")
    args = p.parse_args()

    scene = load_robot(args.robot, mjcf_path=args.mjcf, plain_background=True)
    hz = 1.0 / scene.control_dt
    ref = looped_reference(scene, args.trajectory, args.trajectory_fps, args.seconds, args.frames)
    ix, iy = root_planar_indices(scene)
    t = len(ref)
    cfg = RenderConfig(height=args.size, width=args.size, backend="jax")

    def render_all(qpos: np.ndarray, anchor: str) -> np.ndarray:
        shift = None
        if anchor == "reference":  # camera on the reference's root path instead of this pose's root (as in training)
            ref_root, root = root_positions(scene, ref), root_positions(scene, qpos)
            shift = (ref_root - ref_root[:1]) - (root - root[:1])
        return render_poses(scene, qpos, cfg, camera_shift=shift, batch=16)[1]

    # `niljax landscape`'s variants (delayed, standing at the first pose) plus this probe's own
    lag_s = round(int(0.25 * hz) / hz, 6)
    common = landscape_variants(scene, ref, hz, shifts_s=(lag_s,), speeds=(), num_random=0)
    variants = {"reference": ref, "standing_home": np.repeat(scene.home_qpos[None], t, 0),
                "standing_first_pose": common["standing"]}
    pinned = ref.copy()
    pinned[:, ix], pinned[:, iy] = ref[0, ix], ref[0, iy]
    variants["walking_in_place"] = pinned
    variants["delayed_0.25s"] = common[f"shift_{lag_s:+g}s"]
    half = ref.copy()  # walks at half the reference's speed
    half[:, ix] = ref[0, ix] + (ref[:, ix] - ref[0, ix]) * 0.5
    variants["half_speed_root"] = half
    results = {}
    for anchor in ("agent", "reference"):
        ref_masks = render_all(ref, anchor)
        for name, q in variants.items():
            iou = mask_iou(render_all(q, anchor), ref_masks)
            results[f"{anchor}/{name}"] = {"iou_mean": float(iou.mean()), "iou_last_second": float(iou[-int(hz):].mean())}
            print(f"anchor={anchor:9s} {name:20s} IoU mean {iou.mean():.3f}  last 1 s {iou[-int(hz):].mean():.3f}")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"args": vars(args), "results": results}, indent=2) + "\n")


if __name__ == "__main__":
    main()
