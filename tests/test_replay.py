"""Kinematic replay of named joint trajectories (LocoMuJoCo `q_<joint>` arrays) onto robot models."""

from __future__ import annotations

import jax
import mujoco
import numpy as np
import pytest

from niljax.robots import load_robot
from niljax.sim.replay import (
    TrajectoryError,
    kinematic_data,
    kinematic_poses,
    load_trajectory,
    missing_joints,
    qpos_from_named_trajectory,
    trajectory_qpos,
    unknown_joints,
)

pytestmark = pytest.mark.fixtures


@pytest.fixture(scope="module")
def h1_walk(locomujoco_dir):
    scene = load_robot("h1", mjcf_path=locomujoco_dir / "models/unitree_h1/h1.xml")
    traj = load_trajectory(locomujoco_dir / "datasets/02-constspeed_UnitreeH1.npz")
    return scene, traj


def test_h1_walk_maps_every_joint(h1_walk):
    scene, traj = h1_walk
    qpos = trajectory_qpos(scene, traj)
    m = scene.mj_model
    assert qpos.shape == (500, m.nq) and np.all(np.isfinite(qpos))
    for j in range(m.njnt):  # every model joint takes the trajectory's value, frame by frame
        np.testing.assert_array_equal(qpos[:, m.jnt_qposadr[j]], traj[f"q_{m.joint(j).name}"])
    # the dataset carries joints H1 does not have; they are reported, and refused with strict=True
    extra = unknown_joints(scene, traj)
    assert "back_bkx" in extra and "hip_flexion_l" not in extra
    with pytest.raises(TrajectoryError, match="back_bkx"):
        trajectory_qpos(scene, traj, strict=True)
    np.testing.assert_array_equal(qpos_from_named_trajectory(scene, traj, 7), qpos[7])
    with pytest.raises(IndexError):
        qpos_from_named_trajectory(scene, traj, 500)


def test_h1_walk_poses_are_a_walk(h1_walk):
    scene, traj = h1_walk
    poses = kinematic_poses(scene, trajectory_qpos(scene, traj))
    root = poses["xpos"][:, scene.root_body_id]
    assert 0.85 < root[:, 2].min() and root[:, 2].max() < 1.15  # pelvis at walking height
    # walks forward along +x (1.28 m over the 500 frames; the file's dq_pelvis_tx says 1.28 m/s, so its frames
    # are 2 ms apart even though the fixture README says 100 Hz; see docs/robots.md)
    assert root[-1, 0] - root[0, 0] > 1.0 and np.all(np.diff(root[:, 0]) > -1e-3)
    feet_z = poses["xpos"][:, scene.feet_body_ids, 2]
    assert feet_z.min() < 0.15 and feet_z.max() > 0.1  # feet touch down and swing
    # the follow camera tracks the root: constant offset in the world frame
    cam = poses["cam_xpos"][:, scene.camera_id]
    np.testing.assert_allclose(cam - root, np.broadcast_to(cam[0] - root[0], cam.shape), atol=1e-6)


def test_kinematic_data_matches_host_and_jits(h1_walk):
    scene, traj = h1_walk
    qpos = trajectory_qpos(scene, traj)[:16]
    d = jax.jit(lambda q: kinematic_data(scene, q))(qpos.astype(np.float32))
    host = kinematic_poses(scene, qpos)
    np.testing.assert_allclose(d.xpos, host["xpos"], atol=2e-4)
    np.testing.assert_allclose(d.cam_xpos, host["cam_xpos"], atol=2e-4)
    with pytest.raises(ValueError, match="nq"):
        kinematic_data(scene, qpos[:, :5])


def test_missing_joints_error_or_home(locomujoco_dir, h1_walk):
    scene, traj = h1_walk
    partial = {k: v for k, v in traj.items() if "knee" not in k}
    assert missing_joints(scene, partial) == ["knee_angle_l", "knee_angle_r"] and missing_joints(scene, traj) == []
    with pytest.raises(TrajectoryError, match="knee_angle_l.*allow_missing"):
        trajectory_qpos(scene, partial)
    q = trajectory_qpos(scene, partial, allow_missing=True)
    knee = scene.joint_qpos_adr[scene.joint_names.index("knee_angle_l")]
    np.testing.assert_array_equal(q[:, knee], scene.home_qpos[knee])
    # a trajectory for another robot matches nothing: a clear error, not a silent home pose
    a1 = load_trajectory(locomujoco_dir / "datasets/walk_straight_UnitreeA1.npz")
    with pytest.raises(TrajectoryError):
        trajectory_qpos(scene, a1, allow_missing=True)
    with pytest.raises(TrajectoryError, match="length"):
        trajectory_qpos(scene, {"q_knee_angle_l": np.zeros(3), "q_knee_angle_r": np.zeros(4)}, allow_missing=True)


def test_joint_map_onto_the_menagerie_h1(h1_walk):
    """The LocoMuJoCo walk drives the playground/menagerie H1 (free root) through a joint map."""
    try:
        menag = load_robot("h1")
    except Exception as e:  # noqa: BLE001
        pytest.skip(f"no offline H1: {e}")
    _, traj = h1_walk
    jm = {"hip_flexion_l": "left_hip_pitch", "knee_angle_l": "left_knee", "ankle_angle_l": "left_ankle"}
    q = trajectory_qpos(menag, traj, joint_map=jm, allow_missing=True)
    m = menag.mj_model
    adr = m.jnt_qposadr[mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_JOINT, "left_knee")]
    np.testing.assert_array_equal(q[:, adr], traj["q_knee_angle_l"])
