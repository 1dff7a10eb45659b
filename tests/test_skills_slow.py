"""Skills under jit (slow): each skill scene for H1 steps a batch of 32 for 200 steps with finite state and
renders rgb + mask with both renderers; Stage 1 turns each skill's scripted keyframes into a replay bundle that
loads; and the NIL reward along the scripted motion beats a robot standing at the start pose (landscape).

One compiled renderer per skill (N = 32, 32x32, "scene" background: the skill's objects are drawn, the floor
is not) serves the physics check and the landscape. Encoder: a random-init tiny TimeSformer, so, as in
tests/test_reward_landscape.py, the ordering of the total comes mostly from the mask IoU.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import niljax.reward as nr
from niljax.render import BatchRenderer, RenderConfig
from niljax.render.kinematics import kinematic_data
from niljax.robots import load_skill_scene

pytestmark = pytest.mark.slow

SKILLS = ("sitting", "hanging", "balancing")
N, HW = 32, 32


@pytest.fixture(scope="module")
def built():
    cache = {}

    def get(skill):
        if skill not in cache:
            scene = load_skill_scene("h1", skill, plain_background=True)
            cfg = RenderConfig(height=HW, width=HW, backend="jax", background="scene")
            renderer = BatchRenderer.from_scene(scene, cfg, N)
            cache[skill] = (scene, renderer, jax.jit(renderer.render))
        return cache[skill]

    return get


@pytest.mark.parametrize("skill", SKILLS)
def test_skill_scene_steps_32_envs_for_200_steps_and_renders_with_both_backends(built, skill):
    from niljax.sim import EnvConfig, NilEnv

    scene, _, render = built(skill)
    env = NilEnv(scene, EnvConfig(horizon=150, reset_noise=0.02))

    @jax.jit
    def rollout(key):
        state = jax.vmap(env.reset)(jax.random.split(key, N))

        def body(st, k):
            a = jax.random.uniform(k, (N, env.nu), minval=-1.0, maxval=1.0)
            st = jax.vmap(env.reset_done)(jax.vmap(env.step)(st, a))
            return st, (st.metrics["task_ok"], st.metrics["task_reward"])

        return jax.lax.scan(body, state, jax.random.split(key, 200))

    state, (ok, reward) = rollout(jax.random.PRNGKey(0))
    assert bool(jnp.all(jnp.isfinite(state.data.qpos)) & jnp.all(jnp.isfinite(state.obs)))
    assert float(state.metrics["diverged"].sum()) == 0.0
    assert ok.shape == (200, N) and bool(jnp.all((reward >= 0) & (reward <= 1)))
    rgb, mask = render(state.data)
    assert rgb.shape == (N, HW, HW, 3) and mask.shape == (N, HW, HW) and bool(mask.any(axis=(1, 2)).all())
    # the skill's objects are drawn: pixels off the robot that are not the background colour
    off_robot = np.asarray(rgb)[~np.asarray(mask)]
    assert (np.abs(off_robot.astype(int) - 255).sum(-1) > 30).mean() > 0.002
    warp = BatchRenderer.from_scene(scene, RenderConfig(height=HW, width=HW, backend="warp", background="scene"), N)
    rgb_w, mask_w = jax.jit(warp.render)(kinematic_data(scene.mj_model, np.asarray(state.data.qpos)))
    assert rgb_w.shape == (N, HW, HW, 3) and bool(np.asarray(mask_w).any(axis=(1, 2)).all())
    iou = (np.asarray(mask_w) & np.asarray(mask)).sum() / max((np.asarray(mask_w) | np.asarray(mask)).sum(), 1)
    assert iou > 0.5, f"the two renderers disagree on the robot's pixels (IoU {iou:.2f})"


@pytest.mark.parametrize("skill", SKILLS)
def test_reward_along_the_scripted_motion_beats_standing(built, skill):
    scene, _, render = built(skill)
    ref_q = scene.reference_qpos[np.linspace(0, len(scene.reference_qpos) - 1, N).round().astype(int)]
    rgb, mask = render(kinematic_data(scene.mj_model, ref_q))
    still_rgb, still_mask = render(kinematic_data(scene.mj_model, np.repeat(scene.home_qpos[None], N, 0)))
    from niljax import encoders

    tsf = encoders.TimesformerConfig.tiny(num_frames=8, image_size=32, patch_size=8)
    enc = nr.timesformer_encoder(tsf, encoders.init_params(tsf, 0), weights_id="random-init/tiny/seed=0")
    bundle = nr.make_bundle(np.asarray(rgb), np.asarray(mask), enc, robot="h1", prompt=skill, source="keyframes",
                            original_fps=10.0, control_rate_hz=10.0, resampling="none", camera={"name": "follow"},
                            clip_len=8, batch_size=8)
    ref = bundle.to_device()
    agent_rgb = jnp.stack([rgb, still_rgb])
    agent_mask = jnp.stack([mask, still_mask])
    zeros = jnp.zeros((2,), jnp.float32)
    physics = {"joint_torques": jnp.zeros((2, 1)), "action": jnp.zeros((2, 1)), "prev_action": jnp.zeros((2, 1)),
               "root_angvel": jnp.zeros((2, 3)), "feet_contact": jnp.zeros((2, 2), bool),
               "feet_vel": jnp.zeros((2, 2, 3)), "torso_tilt": zeros}
    cfg = nr.RewardConfig()

    def body(h, k):
        h = nr.push(h, agent_rgb[:, k], agent_mask[:, k], jnp.full((2,), k == 0))
        _, terms = nr.nil_reward(cfg, ref, enc, h, physics, jnp.full((2,), k, jnp.int32))
        return h, terms["reward/total"]

    total = np.asarray(jax.lax.scan(body, nr.init_history(2, 8, HW, HW), jnp.arange(N))[1]).mean(0)
    assert total[0] > total[1], f"{skill}: scripted {total[0]:.3f} vs standing {total[1]:.3f}"


@pytest.mark.parametrize("skill", SKILLS)
def test_stage1_replays_the_skill_keyframes_into_a_bundle(tmp_path, skill):
    from niljax.encoders.factory import EncoderConfig
    from niljax.reference.pipeline import ReferenceConfig, prepare_reference
    from niljax.reward import load_bundle

    cfg = ReferenceConfig(out=str(tmp_path / skill), robot="h1", skill=skill, backend="replay", height=32,
                          width=32, replay_fps=20.0, control_rate_hz=20.0, num_candidates=1,
                          encoder=EncoderConfig(kind="toy"), progress=False)
    bundle = load_bundle(prepare_reference(cfg))
    meta = bundle.metadata
    assert meta.extra["skill"] == skill and meta.extra["background"] == "scene"
    assert meta.prompt.startswith("The H1 agent is ") and "camera follows the agent" in meta.prompt
    scene = load_skill_scene("h1", skill, plain_background=True)
    assert len(bundle.frames) == round(scene.skill.duration_s * 20) + 1
    assert bundle.qpos.shape[1] == scene.mj_model.nq and bundle.masks.any(axis=(1, 2)).all()
    assert meta.extra["model"]["fingerprint"] == scene.model_fingerprint()
