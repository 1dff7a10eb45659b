"""Skills: the registry, the MjSpec skill scenes, the success predicates and task rewards on scripted states.

Default tests run on the host (C MuJoCo kinematics, eager jnp): one scene build per skill, shared by a
module-scoped fixture. Physics under jit, both renderers, Stage-1 replay bundles and the reward landscape are
in tests/test_skills_slow.py (marked slow).
"""

from __future__ import annotations

import types

import jax.numpy as jnp
import mujoco
import numpy as np
import pytest

from niljax.robots import (
    STATIC_CAMERA,
    SkillNotFoundError,
    SkillSpecError,
    get_skill,
    list_skills,
    load_skill_scene,
    register_skill,
    skill_from_dict,
)
from niljax.sim.skills import TaskModel, episode_success

SKILLS = ("sitting", "hanging", "balancing")


@pytest.fixture(scope="module")
def scenes():
    return {name: load_skill_scene("h1", name, plain_background=True) for name in (*SKILLS, "walking")}


def _pose(scene, qpos):
    d = mujoco.MjData(scene.mj_model)
    d.qpos[:] = qpos
    mujoco.mj_kinematics(scene.mj_model, d)
    return d


def _phys(scene, d, root_linvel=(0.0, 0.0, 0.0)):
    upright = d.xmat[scene.torso_body_id].reshape(3, 3)[2, 2]
    return types.SimpleNamespace(root_pos=jnp.asarray(d.xpos[scene.root_body_id]),
                                 torso_tilt=jnp.arccos(jnp.clip(upright, -1.0, 1.0)),
                                 root_linvel=jnp.asarray(root_linvel, jnp.float32))


def _task(scene, qpos, **kw):
    d = _pose(scene, qpos)
    data = types.SimpleNamespace(xpos=d.xpos, xmat=d.xmat.reshape(-1, 3, 3), qpos=d.qpos)  # mjx.Data's layout
    out = TaskModel(scene, walk_target=1.25).step(data, _phys(scene, d, **kw))
    return bool(out["task_ok"] > 0.5), float(out["task_reward"])


# ------------------------------------------------------------------------------------------------ registry
def test_registry_lists_the_paper_skills_and_walking():
    assert set(SKILLS) | {"walking"} <= set(list_skills())
    assert get_skill("sitting").format_prompt("H1") == "The H1 agent is sitting on a chair, camera follows the agent."
    with pytest.raises(SkillNotFoundError, match="registered skills: .*sitting"):
        get_skill("juggling")


def test_bad_skill_files_are_refused_naming_the_field():
    base = {"name": "x", "prompt": "The {robot} agent waves.", "task": {"kind": "seated"}}
    skill_from_dict(base)
    with pytest.raises(SkillSpecError, match="prompt"):
        skill_from_dict(dict(base, prompt="no robot here"))
    with pytest.raises(SkillSpecError, match=r"objects\[0\].anchor"):
        skill_from_dict(dict(base, objects=[{"name": "a", "type": "box", "size": [1, 1, 1], "anchor": "moon"}]))
    with pytest.raises(SkillSpecError, match=r"keyframes\[1\].t"):
        skill_from_dict(dict(base, keyframes=[{"t": 0.0}, {"t": 0.0}]))
    with pytest.raises(SkillSpecError, match="grasp.object"):
        skill_from_dict(dict(base, grasp={"kind": "connect", "object": "nothing"}))


def test_register_skill_adds_a_user_skill():
    spec = register_skill({"name": "test_wave_skill", "prompt": "The {robot} agent is waving.",
                           "task": {"kind": "walking"}})
    assert "test_wave_skill" in list_skills() and get_skill("test_wave_skill") is spec


# ------------------------------------------------------------------------------------------------ scenes
def test_skill_scenes_add_objects_cameras_and_keep_the_robot(scenes):
    walk = scenes["walking"]
    for name in SKILLS:
        s = scenes[name]
        m = s.mj_model
        assert s.static_camera_id >= 0 and m.camera(s.static_camera_id).name == STATIC_CAMERA
        assert m.camera(s.camera_id).name == "follow"
        np.testing.assert_array_equal(s.joint_qpos_adr, walk.joint_qpos_adr)  # robot qpos layout unchanged
        for obj in s.skill.objects:  # objects are drawn, never part of the robot mask
            gid = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_GEOM, obj["name"])
            assert gid >= 0 and not s.robot_geom_mask[gid]
        assert s.robot_geom_mask.sum() == walk.robot_geom_mask.sum()  # proxies are not robot pixels
        assert (s.geom_foot_index >= 0).sum() == (walk.geom_foot_index >= 0).sum()
        assert s.reference_qpos is not None and s.reference_qpos.shape[1] == m.nq
        np.testing.assert_allclose(s.reference_qpos[0], s.home_qpos, atol=1e-9)
    assert scenes["balancing"].mj_model.nq == walk.mj_model.nq + 1  # the board's hinge


def test_chair_sits_under_the_scripted_sit_and_behind_the_start(scenes):
    s = scenes["sitting"]
    info = s.task_info
    end = info["root_end"]
    assert np.all(np.abs(end[:2] - info["seat_center"][:2]) <= info["seat_half"])
    assert info["seat_top"] < end[2] < info["seat_top"] + 0.35
    assert info["seat_center"][0] < info["root_start"][0] - 0.2  # behind the standing robot
    # the reference keeps the feet planted
    feet = [_pose(s, q).xpos[s.feet_body_ids] for q in s.reference_qpos[[0, -1]]]
    np.testing.assert_allclose(feet[0].mean(0), feet[1].mean(0), atol=1e-6)


def test_grasp_holds_the_hands_at_the_bar_in_the_start_pose(scenes):
    s = scenes["hanging"]
    m = s.mj_model
    assert m.neq == 2 and all(m.eq_type[i] == mujoco.mjtEq.mjEQ_CONNECT for i in range(2))
    d = mujoco.MjData(m)
    d.qpos[:] = s.home_qpos
    mujoco.mj_forward(m, d)
    eq_rows = d.efc_type == mujoco.mjtConstraint.mjCNSTR_EQUALITY
    assert eq_rows.sum() == 6 and np.abs(d.efc_pos[eq_rows]).max() < 1e-6  # satisfied, not pulled into place


def test_balancing_starts_on_the_board(scenes):
    s = scenes["balancing"]
    d = _pose(s, s.home_qpos)
    board = mujoco.mj_name2id(s.mj_model, mujoco.mjtObj.mjOBJ_GEOM, "board")
    top = d.geom_xpos[board, 2] + s.mj_model.geom_size[board, 2]
    lows = []
    for gid in np.nonzero(s.geom_foot_index >= 0)[0]:
        c, h = s.mj_model.geom_aabb[gid, :3], s.mj_model.geom_aabb[gid, 3:]
        rot = d.geom_xmat[gid].reshape(3, 3)
        lows.append(d.geom_xpos[gid, 2] + rot[2] @ c - np.abs(rot[2]) @ h)
    assert abs(min(lows) - top) < 0.01


def test_hanging_needs_the_robot_hands():
    import dataclasses

    from niljax.robots.spec import get_spec

    spec = get_spec("h1")
    handless = dataclasses.replace(spec, bodies={k: v for k, v in spec.bodies.items() if k != "hands"})
    with pytest.raises(ValueError, match="hands"):
        load_skill_scene(handless, "hanging")


@pytest.mark.fixtures
def test_skills_need_a_free_root(locomujoco_dir):
    with pytest.raises(ValueError, match="free-joint root"):  # LocoMuJoCo's H1 has named slide root joints
        load_skill_scene("h1", "sitting", mjcf_path=locomujoco_dir / "models/unitree_h1/h1.xml")
    assert load_skill_scene("h1", "walking", mjcf_path=locomujoco_dir / "models/unitree_h1/h1.xml").root_kind == "slides"


# ------------------------------------------------------------------------------------------------ predicates
def test_seated_passes_seated_and_fails_standing(scenes):
    s = scenes["sitting"]
    seated, standing = s.reference_qpos[-1], s.home_qpos
    ok, r_seated = _task(s, seated)
    assert ok
    ok, r_standing = _task(s, standing)
    assert not ok and r_seated > r_standing + 0.3
    away = seated.copy()
    away[0] += 1.0  # seated pose, but a metre in front of the chair (hovering where no seat is)
    assert not _task(s, away)[0]
    lifted = seated.copy()
    lifted[2] += 0.1  # pelvis over the seat, feet off the floor
    assert not _task(s, lifted)[0]


def test_hanging_passes_feet_up_and_fails_standing(scenes):
    s = scenes["hanging"]
    ok, r_hang = _task(s, s.reference_qpos[-1])
    assert ok
    ok, r_stand = _task(s, s.home_qpos)
    assert not ok and r_hang > r_stand + 0.3
    dropped = s.reference_qpos[-1].copy()
    dropped[2] -= 0.3  # let go: hands 30 cm under the bar (feet still tucked)
    assert not _task(s, dropped)[0]


def test_balanced_passes_level_and_fails_tilted(scenes):
    s = scenes["balancing"]
    adr = s.task_info["board_qpos_adr"]
    ok, r_level = _task(s, s.home_qpos)
    assert ok
    tilted = s.home_qpos.copy()
    tilted[adr] = 0.2
    ok, r_tilted = _task(s, tilted)
    assert not ok and r_level > r_tilted
    leaning = s.home_qpos.copy()
    quat = np.zeros(4)
    mujoco.mju_axisAngle2Quat(quat, np.array([1.0, 0.0, 0.0]), np.deg2rad(40.0))
    leaning[3:7] = quat  # the robot leans 40 degrees sideways over a level board
    assert not _task(s, leaning)[0]


def test_walking_needs_forward_speed(scenes):
    s = scenes["walking"]
    ok, r_fast = _task(s, s.home_qpos, root_linvel=(1.25, 0.0, 0.0))
    assert ok and r_fast > 0.99
    ok, r_still = _task(s, s.home_qpos)
    assert not ok and r_still < 0.3


def test_episode_success_needs_a_long_enough_run():
    ok = np.zeros((10, 3), np.float32)
    ok[2:6, 0] = 1  # 4 consecutive steps
    ok[0:3, 1] = ok[4:7, 1] = 1  # two runs of 3
    ok[:, 2] = 1
    alive = np.ones_like(ok)
    alive[5:, 2] = 0  # dead after 5 steps
    np.testing.assert_array_equal(np.asarray(episode_success(ok, alive, 4)), [1.0, 0.0, 1.0])
    np.testing.assert_array_equal(np.asarray(episode_success(ok, alive, 6)), [0.0, 0.0, 0.0])


def test_train_config_takes_skill_and_task_reward():
    import tyro

    from niljax.train.config import TrainConfig

    cfg = tyro.cli(TrainConfig, args=["--reward", "task", "--skill", "sitting", "--reward.no-use-iou"])
    assert cfg.reward_kind == "task" and cfg.skill == "sitting" and not cfg.reward.use_iou
    assert TrainConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match="reward_kind"):
        TrainConfig(reward_kind="env")


def test_g1_skill_scenes_place_the_chair_and_the_grasp():
    sit = load_skill_scene("g1", "sitting")
    info = sit.task_info
    assert np.all(np.abs(info["root_end"][:2] - info["seat_center"][:2]) <= info["seat_half"])
    assert sit.scale < 0.9  # G1 is smaller than H1: the chair shrinks with it
    assert _task(sit, sit.reference_qpos[-1])[0] and not _task(sit, sit.home_qpos)[0]
    hang = load_skill_scene("g1", "hanging")
    d = mujoco.MjData(hang.mj_model)
    d.qpos[:] = hang.home_qpos
    mujoco.mj_forward(hang.mj_model, d)
    assert np.abs(d.efc_pos[d.efc_type == mujoco.mjtConstraint.mjCNSTR_EQUALITY]).max() < 1e-6


@pytest.mark.slow  # ~100 s of CPU (a toy-arm training chunk + evaluation compile)
def test_task_reward_training_chunk_learns_from_the_env_metric(tmp_path):
    """`reward_kind="task"` on a skill scene: the chunk's reward is the env's task reward (nothing rendered), and
    evaluation reports the task's success rate and normalised reward. Toy arm + the object-free walking skill
    (a fixed base never moves: its walking reward is the constant exp(-target^2); the 29-step reference is
    shorter than the skill's 2 s success window, so no episode succeeds)."""
    import sys
    from pathlib import Path

    import jax

    sys.path.insert(0, str(Path(__file__).parent))
    from train_helpers import make_static_bundle, small_config

    from niljax.train.run import build_pipeline

    bundle = make_static_bundle(tmp_path / "bundle")
    with pytest.raises(ValueError, match="--skill"):
        build_pipeline(small_config(bundle, tmp_path / "run", reward_kind="task"))
    pipe = build_pipeline(small_config(bundle, tmp_path / "run", reward_kind="task", skill="walking"))
    trainer = pipe.trainer
    state, metrics = trainer.train_chunk(trainer.init(jax.random.PRNGKey(0)))
    expected = float(np.exp(-trainer.env.walk_target ** 2))  # v_x = 0, upright (the arm's base never tilts)
    assert float(metrics["reward/task"]) == pytest.approx(expected, rel=1e-4)
    assert float(metrics["reward/total"]) == pytest.approx(expected, rel=1e-4)
    assert float(metrics["reward/iou"]) == 0.0  # not rendered while training
    result = jax.device_get(trainer.evaluate(state.learner, jax.random.PRNGKey(1)))
    np.testing.assert_allclose(result["task_reward_norm"], expected, rtol=1e-4)
    np.testing.assert_array_equal(result["task_success"], 0.0)
    assert result["iou_mean"].shape == (2,)  # evaluation still renders and scores NIL's terms
