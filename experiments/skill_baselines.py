"""Reference points for the skill table, with C MuJoCo (host, no training): the task's success and normalised
task reward of (a) zero action (the PD servos hold the start pose: "standing") and (b) open-loop tracking of
the scripted keyframe reference (its joint angles as PD targets, 100 Hz: what a perfect imitator of the
reference's joints would do, without feedback). Same predicate and reward code as training
(`niljax.sim.skills.TaskModel`), same horizon as the bundle (the reference length).

    python experiments/skill_baselines.py --robot h1 --out experiments/results/sitting_task_cpu/baselines.json
"""

from __future__ import annotations

import argparse
import json
import sys
import types
from pathlib import Path

import numpy as np


def rollout(scene, targets: np.ndarray, noise: float, seed: int) -> dict[str, float]:
    """targets f[T, nu] PD targets per control step -> task success (0/1), normalised task reward, fell."""
    import jax.numpy as jnp
    import mujoco

    from niljax.sim.skills import TaskModel, episode_success

    m = scene.mj_model
    task = TaskModel(scene, walk_target=float(scene.spec.metrics.get("walk_target_speed", 1.0)))
    d = mujoco.MjData(m)
    d.qpos[:] = scene.home_qpos
    d.qpos[scene.joint_qpos_adr] += np.random.default_rng(seed).uniform(-noise, noise, scene.nu)
    mujoco.mj_forward(m, d)
    fall = scene.spec.fall
    oks, rewards, alive = [], [], True
    for t in range(len(targets)):
        d.ctrl[:] = np.clip(targets[t], scene.ctrl_range[:, 0], scene.ctrl_range[:, 1])
        for _ in range(scene.n_substeps):
            mujoco.mj_step(m, d)
        upright = d.xmat[scene.torso_body_id].reshape(3, 3)[2, 2]
        tilt = float(np.arccos(np.clip(upright, -1, 1)))
        alive = alive and not (d.xpos[scene.root_body_id, 2] < fall.get("min_root_height", -np.inf)
                               or tilt > np.deg2rad(fall.get("max_tilt_deg", 180)))
        vel = np.zeros(6)
        mujoco.mj_objectVelocity(m, d, mujoco.mjtObj.mjOBJ_BODY, scene.root_body_id, vel, 0)
        data = types.SimpleNamespace(xpos=d.xpos, xmat=d.xmat.reshape(-1, 3, 3), qpos=d.qpos)
        phys = types.SimpleNamespace(root_pos=jnp.asarray(d.xpos[scene.root_body_id]), torso_tilt=jnp.float32(tilt),
                                     root_linvel=jnp.asarray(vel[3:], jnp.float32))
        out = task.step(data, phys)
        oks.append(float(out["task_ok"]) * alive)
        rewards.append(float(out["task_reward"]) * alive)
    ok = np.asarray(oks)[:, None]
    return {"task_success": float(episode_success(ok, np.ones_like(ok), task.min_steps)[0]),
            "task_reward_norm": float(np.sum(rewards) / len(targets)), "fell": float(not alive)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--robot", default="h1")
    p.add_argument("--skills", nargs="+", default=["sitting", "hanging", "balancing"])
    p.add_argument("--episodes", type=int, default=4)
    p.add_argument("--noise", type=float, default=0.05, help="start joint noise (rad), as eval_reset_noise")
    p.add_argument("--out", default="experiments/results/sitting_task_cpu/baselines.json")
    args = p.parse_args()
    from niljax.robots import load_skill_scene

    results = {}
    for name in args.skills:
        scene = load_skill_scene(args.robot, name)
        ref = scene.reference_qpos[1:, scene.joint_qpos_adr]  # step t targets the reference's frame t + 1
        hold = np.repeat(scene.home_ctrl[None], len(ref), 0)
        res = {}
        for label, targets in (("zero_action", hold), ("scripted_open_loop", ref)):
            eps = [rollout(scene, targets, args.noise, seed) for seed in range(args.episodes)]
            res[label] = {k: float(np.mean([e[k] for e in eps])) for k in eps[0]}
            res[label]["per_episode"] = eps
        results[name] = dict(res, horizon=len(ref))
        print(name, {k: {kk: vv for kk, vv in v.items() if kk != "per_episode"} for k, v in res.items()})
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(dict(results, robot=args.robot, command="python " + " ".join(sys.argv)), indent=2)
                   + "\n")


if __name__ == "__main__":
    main()
