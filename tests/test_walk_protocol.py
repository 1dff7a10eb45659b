"""The paper's evaluation protocol and the reference-anchored camera, including inside the compiled trainer."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from train_helpers import CLIP, make_static_bundle, small_config

from niljax.render.camera import anchor_camera, reference_anchor_shift
from niljax.sim.metrics import episode_walk_return, kinematic_walk_return


def test_episode_walk_return_scripted_velocity_exact_sum():
    vel = jnp.array([1.25, 1.25, 0.25, 2.25, 1.25], jnp.float32)
    no_fall = jnp.zeros(5, bool)
    expected = 3.0 + 2 * np.exp(-1.0)
    np.testing.assert_allclose(float(episode_walk_return(vel, no_fall, 1.25)), expected, rtol=1e-6)


def test_a_fall_zeroes_the_rest_of_the_episode():
    vel = jnp.full((6, 2), 1.25, jnp.float32)  # two envs
    fell = jnp.zeros((6, 2), bool).at[2, 0].set(True).at[4, 0].set(True)  # env 0 falls at step 2
    out = np.asarray(jax.jit(episode_walk_return, static_argnums=2)(vel, fell, 1.25))
    np.testing.assert_allclose(out, [3.0, 6.0])  # the fall step counts, nothing after it


def test_kinematic_walk_return_needs_the_whole_horizon():
    path = np.zeros((11, 3))
    path[:, 0] = np.arange(11) * 0.0125  # 1.25 m/s at 100 Hz
    assert kinematic_walk_return(path, 100.0, 1.25, 10) == pytest.approx(10.0)
    with pytest.raises(ValueError, match="loop it"):
        kinematic_walk_return(path, 100.0, 1.25, 20)


def test_reference_anchor_moves_the_camera_by_the_reference_displacement_in_jit():
    class Data:  # the one field the anchor touches, as a batched mjx.Data has it
        def __init__(self, cam_xpos):
            self.cam_xpos = cam_xpos

        def replace(self, **kw):
            return Data(**kw)

    jax.tree_util.register_pytree_node(Data, lambda d: ((d.cam_xpos,), None), lambda _, c: Data(*c))
    ref_root = jnp.stack([jnp.arange(10) * 0.1, jnp.zeros(10), jnp.zeros(10)], 1)
    time_index = jnp.array([5, 9, 3])
    start = jnp.array([0, 4, 3])
    agent = jnp.array([[0.2, 0.0, 1.0], [1.0, 0.5, 1.0], [0.0, 0.0, 0.9]])
    agent_start = jnp.array([[0.0, 0.0, 1.0], [0.0, 0.0, 1.0], [0.0, 0.0, 1.0]])
    cams = jnp.zeros((3, 2, 3)).at[:, 1].set(agent + jnp.array([0.0, -3.0, 0.3]))

    @jax.jit
    def f(cams, time_index, start, agent, agent_start):
        shift = reference_anchor_shift(ref_root, time_index, start, agent, agent_start)
        return anchor_camera(Data(cams), 1, shift).cam_xpos

    out = np.asarray(f(cams, time_index, start, agent, agent_start))
    # camera = the agent's start + the reference's displacement since the episode start + the track offset
    ref_disp = np.array([[0.5, 0, 0], [0.5, 0, 0], [0.0, 0, 0]])
    np.testing.assert_allclose(out[:, 1], np.asarray(agent_start) + ref_disp + [0.0, -3.0, 0.3], atol=1e-6)
    np.testing.assert_array_equal(out[:, 0], 0.0)  # other cameras untouched


def test_nil_reward_averages_the_iou_of_two_views():
    from niljax.reward import PenaltyScales, RewardConfig, init_history, nil_reward, push
    from niljax.reward.bundle import ReferenceArrays

    n, h, w = 2, 8, 8
    ref_mask = np.zeros((3, h, w), bool)
    ref_mask[:, 2:6, 2:6] = True
    reference = ReferenceArrays(frames=jnp.zeros((3, h, w, 3), jnp.uint8), masks=jnp.asarray(ref_mask),
                                embeddings=jnp.zeros((3, 4), jnp.float32))
    same = jnp.asarray(np.repeat(ref_mask[:1], n, 0))
    empty = jnp.zeros((n, h, w), bool)
    history = push(init_history(n, 2, h, w), jnp.zeros((n, h, w, 3), jnp.uint8), same, reset=jnp.ones(n, bool))
    config = RewardConfig(use_video=False, clip_len=2, penalty_scales=PenaltyScales(0.0, 0.0, 0.0, 0.0, 0.0))
    _, terms = jax.jit(lambda e: nil_reward(config, reference, None, history, {}, jnp.array([1, 2]),
                                            extra_view_mask=e))(empty)
    np.testing.assert_allclose(np.asarray(terms["reward/iou"]), 0.5)


@pytest.fixture(scope="module")
def moving_bundle(tmp_path_factory):
    """The static toy-arm reference, but its root path moves 1 cm per frame along x (a walking reference)."""
    from niljax.reward import load_bundle, save_bundle

    path = make_static_bundle(tmp_path_factory.mktemp("walk") / "bundle")
    bundle = load_bundle(path)
    root = np.zeros((bundle.num_frames, 3), np.float32)
    root[:, 0] = 0.01 * np.arange(bundle.num_frames)
    return save_bundle(dataclasses.replace(bundle, root_pos=root), path, overwrite=True)


def test_eval_runs_its_own_horizon_and_the_reference_anchor_sees_translation(moving_bundle, tmp_path):
    from niljax.train.run import build_pipeline

    results = {}
    for anchor in ("agent", "reference"):
        config = small_config(moving_bundle, tmp_path / anchor, eval_horizon=45, eval_envs=1)
        config = dataclasses.replace(config, render=dataclasses.replace(config.render, camera_anchor=anchor))
        trainer = build_pipeline(config).trainer
        state = trainer.init(jax.random.PRNGKey(0))
        results[anchor] = jax.device_get(trainer.evaluate(state.learner, jax.random.PRNGKey(1)))
    for r in results.values():
        assert float(r["length"][0]) == 45.0  # past the 29-step reference, no truncation
    # the fixed-base arm cannot follow a reference that travels 0.45 m: only the reference anchor shows it
    assert float(results["reference"]["iou_mean"][0]) < float(results["agent"]["iou_mean"][0]) - 0.1
    assert CLIP == 4


def test_reference_anchor_without_root_path_is_a_clear_error(tmp_path):
    from niljax.train.run import build_pipeline

    bundle = make_static_bundle(tmp_path / "static")
    from niljax.reward import load_bundle, save_bundle

    save_bundle(dataclasses.replace(load_bundle(bundle), root_pos=None), bundle, overwrite=True)
    config = small_config(bundle, tmp_path / "run")
    config = dataclasses.replace(config, render=dataclasses.replace(config.render, camera_anchor="both"))
    with pytest.raises(ValueError, match="root_pos"):
        build_pipeline(config)


def test_reference_state_initialisation_and_phase_clock():
    """Episodes start from the reference's state at their start index; the clock encodes the phase."""
    from niljax.robots import load_robot
    from niljax.sim import EnvConfig, NilEnv

    scene = load_robot("toy_arm")
    m = scene.mj_model
    t = 12
    qpos = np.repeat(scene.home_qpos[None], t, 0).astype(np.float32)
    qpos[:, scene.joint_qpos_adr[0]] += np.linspace(0.0, 0.5, t)
    qvel = np.zeros((t, m.nv), np.float32)
    qvel[:, 0] = np.arange(t) * 0.1
    config = EnvConfig(horizon=t - 1, random_start=True, max_start=t - 1, obs_time_index=True, time_scale=t - 1,
                       phase_period=4)
    env = NilEnv(scene, config, start_states=(qpos, qvel))
    states = jax.jit(jax.vmap(env.reset))(jax.random.split(jax.random.PRNGKey(0), 6))
    start = np.asarray(states.info["time_index"])
    assert len(set(start.tolist())) > 1
    np.testing.assert_allclose(np.asarray(states.data.qpos), qpos[start], atol=1e-6)
    np.testing.assert_allclose(np.asarray(states.data.qvel), qvel[start], atol=1e-6)
    clock = np.asarray(states.obs[:, -2:])
    np.testing.assert_allclose(clock, np.stack([np.sin(np.pi * start / 2), np.cos(np.pi * start / 2)], 1), atol=1e-5)
    assert env.obs_dim == states.obs.shape[1]
    # auto-reset draws a new start and poses the robot there
    done = states.replace(done=jnp.ones(6, jnp.float32))
    again = jax.jit(jax.vmap(env.reset_done))(done)
    new_start = np.asarray(again.info["time_index"])
    np.testing.assert_allclose(np.asarray(again.data.qpos), qpos[new_start], atol=1e-6)
    with pytest.raises(ValueError, match="start_states"):
        NilEnv(scene, config, start_states=(qpos[:, :2], qvel))
