"""Reward landscape on rendered data: the H1 LocoMuJoCo walk replayed kinematically as the reference, scored
against agent videos of (a) the same motion, (b) the same motion shifted in time, (c) the robot standing still
at its first pose, (d) random joint motion (root following the walk).

Encoder: a random-init tiny Flax TimeSformer (no weights can be downloaded here). With random weights the
final-normed CLS embedding barely depends on the input (measured: cosine >= 0.99 for all four videos), so
the video term alone only orders (a) = 1 first; the ordering of the total reward comes from the mask IoU.
With the real Kinetics-400 weights we expect the video term alone to order a > b > c and a > d as well.

Replay and rendering use the project's own pieces: `niljax.sim.replay` (`load_trajectory`, `trajectory_qpos`
maps the walk's `q_<joint>` arrays onto the scene's joints by name; the LocoMuJoCo fixture's names match),
`niljax.render.kinematics.kinematic_data` (batched MJX kinematics, no physics) and the batched renderer
`niljax.render.BatchRenderer` (backend "warp", and "hull", the pure-JAX mesh renderer; 64x64, plain background,
`follow` camera of the scene built by `niljax.robots.load_robot`), all frames in one jitted render call. Physics quantities are zero (no simulation),
so the total here is ζ·video + β·IoU.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import niljax.reward as nr

HW, STRIDE, T, SHIFT = 64, 2, 24, 6  # 64x64 renders, 50 Hz (every 2nd mocap frame), 24 steps, 0.12 s shift


def _render_videos(locomujoco_dir, backend="warp"):
    robots = pytest.importorskip("niljax.robots")
    replay = pytest.importorskip("niljax.sim.replay")
    render = pytest.importorskip("niljax.render")
    from niljax.render.kinematics import kinematic_data

    scene = robots.load_robot("h1", mjcf_path=locomujoco_dir / "models/unitree_h1/h1.xml", plain_background=True)
    m = scene.mj_model
    walk = replay.load_trajectory(locomujoco_dir / "datasets/02-constspeed_UnitreeH1.npz")
    walk_all = replay.trajectory_qpos(scene, walk)  # f64[T_mocap, nq]; raises if a robot joint is missing
    names = [m.joint(j).name for j in range(m.njnt)]
    adr = np.array([m.jnt_qposadr[j] for j in range(m.njnt)])
    root = np.array([n.startswith("pelvis") for n in names])

    steps = np.arange(T + SHIFT) * STRIDE
    walk_q = walk_all[steps]
    rng = np.random.default_rng()
    random_q = walk_q[:T].copy()  # root follows the walk, joints wander randomly from the first pose
    random_q[:, adr[~root]] = walk_q[:1, adr[~root]] + np.cumsum(rng.normal(0, 0.1, (T, (~root).sum())), 0)

    qpos = np.concatenate([walk_q, walk_q[:1], random_q])  # one batch: walk (T+SHIFT), still (1), random (T)
    cfg = render.RenderConfig(height=HW, width=HW, backend=backend, background="plain")
    renderer = render.BatchRenderer(m, scene.robot_geom_mask, cfg, num_envs=len(qpos))
    rgb, mask = jax.jit(renderer.render)(kinematic_data(m, qpos))
    rgb, mask = np.asarray(rgb), np.asarray(mask)
    nw = T + SHIFT
    walk_rgb, walk_mask = rgb[:nw], mask[:nw]
    still_rgb, still_mask = rgb[nw:nw + 1], mask[nw:nw + 1]
    rand_rgb, rand_mask = rgb[nw + 1:], mask[nw + 1:]
    videos = {
        "a_same": (walk_rgb[:T], walk_mask[:T]),
        "b_shifted": (walk_rgb[SHIFT:], walk_mask[SHIFT:]),
        "c_still": (np.repeat(still_rgb, T, 0), np.repeat(still_mask, T, 0)),
        "d_random": (rand_rgb, rand_mask),
    }
    return videos


def _warp_available() -> bool:
    from niljax.render import warp_available

    return warp_available()


@pytest.mark.fixtures
@pytest.mark.parametrize("backend", [
    pytest.param("warp", marks=pytest.mark.skipif(not _warp_available(), reason="warp-lang not installed")),
    "hull",  # the pure-JAX renderer that runs where warp cannot (TPU): the landscape must keep its order
])
def test_reward_landscape_h1_walk(locomujoco_dir, backend):
    encoders = pytest.importorskip("niljax.encoders")
    videos = _render_videos(locomujoco_dir, backend)
    ref_rgb, ref_mask = videos["a_same"]
    assert 0.005 < ref_mask.mean() < 0.5, f"robot covers {ref_mask.mean():.3f} of the frame: camera problem?"

    tsf = encoders.TimesformerConfig.tiny(num_frames=8, image_size=32, patch_size=8)
    enc = nr.timesformer_encoder(tsf, encoders.init_params(tsf, 0), weights_id="random-init/tiny/seed=0")
    bundle = nr.make_bundle(ref_rgb, ref_mask, enc, robot="h1", prompt="replay", source="02-constspeed_UnitreeH1",
                            original_fps=100.0, control_rate_hz=100.0 / STRIDE, resampling=f"stride{STRIDE}",
                            camera={"name": "follow"}, clip_len=8, batch_size=8)
    ref = bundle.to_device()
    labels = list(videos)
    n = len(labels)
    agent_rgb = jnp.asarray(np.stack([videos[k][0] for k in labels]))
    agent_mask = jnp.asarray(np.stack([videos[k][1] for k in labels]))
    zeros = jnp.zeros((n,), jnp.float32)
    physics = {"joint_torques": jnp.zeros((n, 1)), "action": jnp.zeros((n, 1)), "prev_action": jnp.zeros((n, 1)),
               "root_angvel": jnp.zeros((n, 3)), "feet_contact": jnp.zeros((n, 2), bool),
               "feet_vel": jnp.zeros((n, 2, 3)), "torso_tilt": zeros}
    cfg = nr.RewardConfig()

    @jax.jit
    def score(ref, enc, agent_rgb, agent_mask):
        def body(h, k):
            h = nr.push(h, agent_rgb[:, k], agent_mask[:, k], jnp.full((n,), k == 0))
            _, terms = nr.nil_reward(cfg, ref, enc, h, physics, jnp.full((n,), k, jnp.int32))
            return h, terms

        return jax.lax.scan(body, nr.init_history(n, 8, HW, HW), jnp.arange(T))[1]

    terms = score(ref, enc, agent_rgb, agent_mask)
    video = np.asarray(terms["reward/video"]).mean(0)
    iou = np.asarray(terms["reward/iou"]).mean(0)
    total = np.asarray(terms["reward/total"]).mean(0)
    report = {k: dict(video=float(video[i]), iou=float(iou[i]), total=float(total[i])) for i, k in enumerate(labels)}
    print("reward landscape (mean over steps):", report)
    a, b, c, d = range(4)
    np.testing.assert_allclose(np.asarray(terms["reward/iou"])[:, a], 1.0, atol=1e-6)
    np.testing.assert_allclose(np.asarray(terms["reward/video"])[:, a], 1.0, atol=1e-5)
    assert total[a] > total[b] > total[c], report
    assert total[a] > total[d], report
    assert video[a] >= video.max() - 1e-6, report  # video alone, random weights: only "a is best" holds
