"""Reward landscape along the reference vs simple alternatives, before any long run (issue 12, item 5).

For a looped LocoMuJoCo walk it renders, with the training renderer, (a) the reference itself, (b) the robot
standing at its home pose, (c) the reference's joint motion with the root pinned at the start ("walking in
place"), and (d) the reference delayed by 0.25 s, each under both camera anchors ("agent": the track camera,
"reference": the camera on the reference's root path), and reports the mean mask IoU against the reference.

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

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from niljax.render import BatchRenderer, RenderConfig  # noqa: E402
from niljax.render.camera import anchor_camera  # noqa: E402
from niljax.sim.replay import kinematic_data  # noqa: E402
from niljax.reward.terms import mask_iou  # noqa: E402
from niljax.robots import load_robot  # noqa: E402
from niljax.sim.looping import loop_qpos, resample_qpos, root_planar_indices  # noqa: E402


def looped_reference(scene, trajectory: str, fps: float, seconds: float,  # noqa: ANN001
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
    root = scene.root_body_id
    batch = 16
    renderer = BatchRenderer(scene.mj_model, scene.robot_geom_mask,
                             RenderConfig(height=args.size, width=args.size, backend="jax"), batch)

    @jax.jit
    def render(q: jax.Array, shift: jax.Array):
        data = kinematic_data(scene, q)
        return renderer.render(anchor_camera(data, renderer.cam_id, shift))

    def render_all(qpos: np.ndarray, anchor: str) -> np.ndarray:
        masks = []
        for i in range(0, t, batch):
            q = qpos[i:i + batch]
            n = len(q)
            q = np.concatenate([q, np.repeat(q[-1:], batch - n, 0)])
            shift = np.zeros((batch, 3), np.float32)
            if anchor == "reference":  # camera on the reference's root path instead of this pose's root
                # the reference's displacement since the start replaces this pose's (as in training)
                ref_root = _roots(scene, ref[i:i + batch]) - _roots(scene, ref[:1])
                ref_root = np.concatenate([ref_root, np.repeat(ref_root[-1:], batch - n, 0)])
                shift = (ref_root - (_roots(scene, q) - _roots(scene, qpos[:1]))).astype(np.float32)
            masks.append(np.asarray(render(jnp.asarray(q), jnp.asarray(shift))[1])[:n])
        return np.concatenate(masks)

    variants = {"reference": ref}
    variants["standing_home"] = np.repeat(scene.home_qpos[None], t, 0)
    pinned = ref.copy()
    pinned[:, ix], pinned[:, iy] = ref[0, ix], ref[0, iy]
    variants["walking_in_place"] = pinned
    lag = int(0.25 * hz)
    variants["delayed_0.25s"] = np.concatenate([np.repeat(ref[:1], lag, 0), ref[:-lag]])
    half = ref.copy()  # walks at half the reference's speed
    half[:, ix] = ref[0, ix] + (ref[:, ix] - ref[0, ix]) * 0.5
    variants["half_speed_root"] = half
    results = {}
    for anchor in ("agent", "reference"):
        ref_masks = render_all(ref, anchor)
        for name, q in variants.items():
            iou = np.asarray(mask_iou(jnp.asarray(render_all(q, anchor)), jnp.asarray(ref_masks)))
            results[f"{anchor}/{name}"] = {"iou_mean": float(iou.mean()), "iou_last_second": float(iou[-int(hz):].mean())}
            print(f"anchor={anchor:9s} {name:18s} IoU mean {iou.mean():.3f}  last 1 s {iou[-int(hz):].mean():.3f}")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"args": vars(args), "results": results}, indent=2) + "\n")


def _roots(scene, qpos: np.ndarray) -> np.ndarray:  # noqa: ANN001
    from niljax.sim.replay import kinematic_poses

    return kinematic_poses(scene, qpos)["xpos"][:, scene.root_body_id]


if __name__ == "__main__":
    main()
