"""How long does a robot stay up when its PD targets simply follow the reference's joints (no feedback)?

A diagnostic for imitation from a replayed reference: from the reference's state at index t0 (pose and
velocity, as with `reference_start`), step C MuJoCo with the actuated joints' PD targets set to the reference's
next pose every control step, and report the steps until the env's fall test fires (or the horizon) and the
distance walked. If open-loop tracking already falls within a fraction of a second, staying up needs
balance feedback that the policy must learn from the reward.

    python experiments/open_loop_tracking.py --robot h1 --bundle runs/walking3/h1/reference \
        --mjcf ../shared/locomujoco/models/unitree_h1/h1.xml
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import mujoco
import numpy as np

from niljax import _runtime

_runtime.configure()


def main() -> None:
    from niljax.reward import load_bundle
    from niljax.robots import load_robot
    from niljax.train.run import reference_states

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--robot", default="h1")
    p.add_argument("--bundle", required=True)
    p.add_argument("--mjcf")
    p.add_argument("--horizon", type=int, default=400)
    p.add_argument("--starts", type=int, nargs="+", default=[0, 25, 50, 75, 150, 300])
    p.add_argument("--out", default="experiments/results/open_loop_tracking_h1.json")
    args = p.parse_args()
    scene = load_robot(args.robot, mjcf_path=args.mjcf, plain_background=True)
    bundle = load_bundle(args.bundle)
    qpos, qvel = reference_states(scene, bundle)
    m = scene.mj_model
    d = mujoco.MjData(m)
    fall = scene.spec.fall
    min_h, max_tilt = float(fall.get("min_root_height", -1e9)), np.deg2rad(fall.get("max_tilt_deg", 180.0))
    results = []
    # reference_targets: from the reference's state, PD targets = its next pose; hold_start_pose: from the same
    # state, hold its pose; start_pose_at_rest: the reference's pose with zero velocity, held (is the pose itself
    # unstable, or the momentum?); home_pose_at_rest: the home pose at rest, zero action (what a home start gets).
    home = scene.home_qpos.copy()
    for mode in ("reference_targets", "hold_start_pose", "start_pose_at_rest", "home_pose_at_rest"):
        for t0 in args.starts if mode != "home_pose_at_rest" else [-1]:
            mujoco.mj_resetData(m, d)
            if mode == "home_pose_at_rest":
                d.qpos[:] = home
            else:
                d.qpos[:], d.qvel[:] = qpos[t0], (qvel[t0] if mode != "start_pose_at_rest" else 0.0)
            mujoco.mj_forward(m, d)
            x0 = d.xpos[scene.root_body_id, 0]
            steps = 0
            for k in range(args.horizon):
                t = min(t0 + k + 1, len(qpos) - 1) if mode == "reference_targets" else t0
                pose = home if mode == "home_pose_at_rest" else qpos[t]
                d.ctrl[:] = np.clip(pose[scene.joint_qpos_adr], scene.ctrl_range[:, 0], scene.ctrl_range[:, 1])
                for _ in range(scene.n_substeps):
                    mujoco.mj_step(m, d)
                steps = k + 1
                up = d.xmat[scene.torso_body_id].reshape(3, 3)[2, 2]
                if d.xpos[scene.root_body_id, 2] < min_h or np.arccos(np.clip(up, -1, 1)) > max_tilt:
                    break
            results.append({"mode": mode, "start_index": t0, "steps_up": steps,
                                "distance": float(d.xpos[scene.root_body_id, 0] - x0)})
            print(f"{mode:18s} start {t0:4d}: up for {steps:4d} steps, walked {results[-1]['distance']:.2f} m")
    Path(args.out).write_text(json.dumps({"args": vars(args), "results": results}, indent=2) + "\n")


if __name__ == "__main__":
    main()
