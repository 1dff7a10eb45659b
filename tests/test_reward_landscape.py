"""Reward landscape on rendered data: the H1 LocoMuJoCo walk replayed kinematically as the reference, scored
against agent videos of (a) the same motion, (b) the same motion delayed in time, (c) the robot standing still
at its first pose, (d) random joint motion (root following the walk). The variants, rendering and scoring are
`niljax landscape`'s own (`niljax.diagnostics.landscape`, `niljax.reward.score_videos`).

Encoder: a random-init tiny Flax TimeSformer (no weights can be downloaded here). With random weights the
final-normed CLS embedding barely depends on the input (measured: cosine >= 0.99 for all four videos), so
the video term alone only orders (a) = 1 first; the ordering of the total reward comes from the mask IoU.
With the real Kinetics-400 weights we expect the video term alone to order a > b > c and a > d as well.

Replay and rendering use the project's own pieces: `niljax.sim.replay` (`load_trajectory`, `trajectory_qpos`
maps the walk's `q_<joint>` arrays onto the scene's joints by name; the LocoMuJoCo fixture's names match),
`niljax.render.kinematics.kinematic_data` (batched MJX kinematics, no physics) and the batched renderer
`niljax.render.BatchRenderer` (backend "warp", and "hull", the pure-JAX mesh renderer; 64x64, plain background,
`follow` camera of the scene built by `niljax.robots.load_robot`), all frames in one jitted render call. There is
no simulation, so no penalties: the total here is ζ·video + β·IoU.
"""

from __future__ import annotations

import numpy as np
import pytest

import niljax.reward as nr

HW, STRIDE, T, SHIFT = 64, 2, 24, 6  # 64x64 renders, 50 Hz (every 2nd mocap frame), 24 steps, 0.12 s delay


def _render_videos(locomujoco_dir, backend="warp"):
    robots = pytest.importorskip("niljax.robots")
    replay = pytest.importorskip("niljax.sim.replay")
    render = pytest.importorskip("niljax.render")
    from niljax.diagnostics.landscape import landscape_variants, render_poses

    scene = robots.load_robot("h1", mjcf_path=locomujoco_dir / "models/unitree_h1/h1.xml", plain_background=True)
    walk = replay.load_trajectory(locomujoco_dir / "datasets/02-constspeed_UnitreeH1.npz")
    walk_all = replay.trajectory_qpos(scene, walk)  # f64[T_mocap, nq]; raises if a robot joint is missing
    walk_q = walk_all[np.arange(T) * STRIDE]
    hz = 100.0 / STRIDE
    # the same variants `niljax landscape` scores: delayed by SHIFT steps, standing at the first pose, and the
    # actuated joints wandering randomly from the first pose (root following the walk)
    variants = landscape_variants(scene, walk_q, hz, shifts_s=(SHIFT / hz,), speeds=(), num_random=1, seed=None)
    names = {"a_same": "reference", "b_shifted": f"shift_{SHIFT / hz:+g}s", "c_still": "standing",
             "d_random": "random_0"}
    cfg = render.RenderConfig(height=HW, width=HW, backend=backend, background="plain")
    rgb, mask = render_poses(scene, np.concatenate([variants[n] for n in names.values()]), cfg, batch=4 * T)
    return {k: (rgb[i * T:(i + 1) * T], mask[i * T:(i + 1) * T]) for i, k in enumerate(names)}


def _warp_available() -> bool:
    from niljax.render import warp_available

    return warp_available()


@pytest.mark.fixtures
@pytest.mark.parametrize("backend", [
    pytest.param("warp", marks=pytest.mark.skipif(not _warp_available(), reason="warp-lang not installed")),
    # the pure-JAX renderer that runs where warp cannot (TPU): the landscape must keep its order (slow: its mesh
    # decomposition and 64x64 renders of 73 poses take minutes on 2 cores)
    pytest.param("hull", marks=pytest.mark.slow),
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
    agent_rgb = np.stack([videos[k][0] for k in labels])
    agent_mask = np.stack([videos[k][1] for k in labels])
    terms = nr.score_videos(nr.RewardConfig(), ref, enc, agent_rgb, agent_mask)  # what `niljax landscape` runs
    video = terms["reward/video"].mean(1)
    iou = terms["reward/iou"].mean(1)
    total = terms["reward/total"].mean(1)
    report = {k: dict(video=float(video[i]), iou=float(iou[i]), total=float(total[i])) for i, k in enumerate(labels)}
    print("reward landscape (mean over steps):", report)
    a, b, c, d = range(4)
    np.testing.assert_allclose(terms["reward/iou"][a], 1.0, atol=1e-6)
    np.testing.assert_allclose(terms["reward/video"][a], 1.0, atol=1e-5)
    assert total[a] > total[b] > total[c], report
    assert total[a] > total[d], report
    assert video[a] >= video.max() - 1e-6, report  # video alone, random weights: only "a is best" holds
