"""Stage 1 end to end on CPU: replay (H1 mocap walk) and import (a re-encoded replay) -> bundle -> report."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from niljax.encoders.factory import EncoderConfig

from niljax.reference.errors import AspectMismatchError, ReferencePreparationError, RobotMismatchError
from niljax.reference.pipeline import ReferenceConfig, prepare_reference
from niljax.reference.segment import mask_iou
from niljax.reference.video_io import write_video

SIZE = 64


@pytest.fixture(scope="module")
def h1_walk(locomujoco_dir):
    """H1 (LocoMuJoCo model) + 0.48 s of its mocap walk rendered at 100 Hz: (model path, npz path, rgb, masks)."""
    from niljax.reference.first_frame import load_trajectory, render_qpos
    from niljax.robots import load_robot

    mjcf = locomujoco_dir / "models/unitree_h1/h1.xml"
    traj = locomujoco_dir / "datasets/02-constspeed_UnitreeH1.npz"
    scene = load_robot("h1", mjcf_path=mjcf, plain_background=True)
    qpos, fps = load_trajectory(traj, scene)
    assert fps == 100.0
    rgb, masks = render_qpos(scene, qpos[:49], SIZE, SIZE)
    return mjcf, traj, rgb, masks


def _base(tmp_path, h1_walk, **kw) -> ReferenceConfig:
    mjcf, traj, _, _ = h1_walk
    cfg = dict(out=str(tmp_path / "ref"), robot="h1", mjcf_path=str(mjcf), trajectory=str(traj), height=SIZE,
               width=SIZE, encoder=EncoderConfig(kind="toy"), progress=False)
    cfg.update(kw)
    return ReferenceConfig(**cfg)


def test_replay_end_to_end_bundle_loads_in_reward(tmp_path, h1_walk):
    from niljax.reward import bundle as rb

    cfg = _base(tmp_path, h1_walk, backend="replay", replay_fps=25.0, trim_end_s=0.48,
                encoder=EncoderConfig(kind="timesformer-random", preset="tiny"), interpolation="flow")
    path = prepare_reference(cfg)
    b = rb.load_bundle(path)
    assert b.frames.shape == (49, SIZE, SIZE, 3) and b.masks.shape == (49, SIZE, SIZE)
    assert b.embeddings.shape == (49, 32) and np.isfinite(b.embeddings).all()
    assert b.metadata.robot == "h1" and b.metadata.control_rate_hz == 100.0 and b.metadata.original_fps == 25.0
    assert b.metadata.prompt == "The H1 agent is walking, camera follows the agent."
    assert b.metadata.camera["name"] == "follow" and b.metadata.encoder.id.startswith("random-init/tiny")
    _, _, rgb, masks = h1_walk
    # replay masks are the renderer's truth: frames on the 25 fps grid match exactly
    np.testing.assert_array_equal(b.masks[::4], masks[::4])
    np.testing.assert_array_equal(b.frames[::4], rgb[::4])
    assert mask_iou(b.masks, masks).mean() > 0.9
    out = Path(cfg.out)
    for f in ("first_frame.png", "first_frame.json", "report/contact_sheet.png", "report/summary.json",
              "candidates/cand_0.mp4"):
        assert (out / f).is_file(), f
    cam = json.loads((out / "first_frame.json").read_text())["camera"]
    assert cam["height"] == SIZE and cam["fovy"] > 0 and len(cam["pos"]) == 3
    summary = json.loads((out / "report/summary.json").read_text())
    assert summary["selected"] == 0 and summary["segmenter"].startswith("ground-truth")


def test_import_end_to_end_fallback_masks(tmp_path, h1_walk):
    from niljax.reward import bundle as rb

    _, _, rgb, masks = h1_walk
    video = write_video(tmp_path / "walk_25fps.mp4", rgb[::4], 25.0)  # 13 frames = 0.48 s at 25 fps
    cfg = _base(tmp_path, h1_walk, backend="import", videos=(str(video),), interpolation="linear")
    path = prepare_reference(cfg)
    b = rb.load_bundle(path)
    assert b.frames.shape[0] == 49 and b.metadata.original_fps == 25.0
    iou = mask_iou(b.masks, masks)
    assert iou.mean() >= 0.9 and iou.min() > 0.75, (iou.mean(), iou.min())
    summary = json.loads((Path(cfg.out) / "report/summary.json").read_text())
    assert summary["segmenter"] == "background-color" and summary["num_frames"] == 49
    checks = summary["mask_checks"]  # issue 19: the import sanity checks pass on a good video, with their numbers
    assert checks["ok"] and checks["first_frame_iou"] > 0.9 and checks["bad_frames"] == 0, checks


def test_bad_inputs_leave_no_bundle(tmp_path, h1_walk):
    _, _, rgb, _ = h1_walk
    cases = []
    # wrong aspect (64 x 96 video for a 64 x 64 camera)
    wide = np.concatenate([rgb[::4], rgb[::4, :, :32]], axis=2)
    cases.append(("aspect", write_video(tmp_path / "wide.mp4", wide, 25.0), AspectMismatchError, "allow-crop"))
    # metadata names another robot
    side = write_video(tmp_path / "other.mp4", rgb[::4], 25.0)
    (tmp_path / "other.mp4.json").write_text(json.dumps({"robot": "g1"}))
    cases.append(("meta", side, RobotMismatchError, "names robot 'g1'"))
    # the video shows something else than our first frame
    alien = np.full_like(rgb[::4], 235)
    alien[:, 10:50, 20:44] = (200, 30, 30)
    cases.append(("alien", write_video(tmp_path / "alien.mp4", alien, 25.0), RobotMismatchError, "MSE"))
    # unreadable file
    bad = tmp_path / "corrupt.mp4"
    bad.write_bytes(b"\x00\x01not a video" * 100)
    cases.append(("corrupt", bad, ReferencePreparationError, "cannot decode"))
    for name, video, err, match in cases:
        cfg = _base(tmp_path, h1_walk, backend="import", videos=(str(video),), out=str(tmp_path / name))
        with pytest.raises(err, match=match):
            prepare_reference(cfg)
        assert not (tmp_path / name / "bundle").exists(), name
        assert not list((tmp_path / name).glob(".bundle*")), name
    with pytest.raises(ReferencePreparationError, match="needs --videos"):
        prepare_reference(_base(tmp_path, h1_walk, backend="import"))


def test_trajectory_loader_maps_joints_through_replay(tmp_path, locomujoco_dir):
    from niljax.reference.first_frame import load_trajectory
    from niljax.robots import load_robot

    scene = load_robot("h1", mjcf_path=locomujoco_dir / "models/unitree_h1/h1.xml", plain_background=True)
    walk = dict(np.load(locomujoco_dir / "datasets/02-constspeed_UnitreeH1.npz"))
    np.savez(tmp_path / "part.npz", **{k: v for k, v in walk.items() if "knee" not in k})
    q, fps = load_trajectory(tmp_path / "part.npz", scene, fps=50.0)
    knee = scene.joint_qpos_adr[scene.joint_names.index("knee_angle_l")]
    assert fps == 50.0 and q.shape == (500, scene.mj_model.nq)
    np.testing.assert_array_equal(q[:, knee], scene.home_qpos[knee])  # a few absent joints: home pose
    with pytest.raises(ReferencePreparationError, match="0 joint.*matched.*this robot"):
        load_trajectory(locomujoco_dir / "datasets/walk_straight_UnitreeA1.npz", scene)
    np.savez(tmp_path / "other.npz", a=np.zeros(3))
    with pytest.raises(ReferencePreparationError, match="neither a 'qpos'"):
        load_trajectory(tmp_path / "other.npz", scene)


def test_cli_reports_errors_with_exit_code(tmp_path, capsys):
    from niljax.reference.cli import reference_main

    code = reference_main(["--out", str(tmp_path / "x"), "--backend", "import", "--videos",
                           str(tmp_path / "missing.mp4"), "--no-progress"])
    assert code == 2
    assert "video file not found" in capsys.readouterr().err


def test_replay_duration_loops_the_walk_and_records_its_path(tmp_path, h1_walk):
    from niljax.reward import load_bundle

    cfg = _base(tmp_path, h1_walk, backend="replay", trajectory_fps=500.0, replay_fps=100.0, duration=1.5,
                height=32, width=32)
    b = load_bundle(prepare_reference(cfg))
    assert b.num_frames == 151  # 1.5 s at 100 Hz from a 1 s clip
    assert b.qpos is not None and b.qpos.shape[0] == 151
    assert 90 <= b.metadata.extra["loop_period_frames"] <= 100  # one gait cycle of the ~1 s clip
    speed = b.root_pos[150, 0] / 1.5
    assert 1.28 * 0.95 < speed < 1.28 * 1.05  # the clip's mean speed, carried across the seam
    with pytest.raises(ReferencePreparationError, match="duration"):
        prepare_reference(_base(tmp_path, h1_walk, backend="replay", duration=-1.0))


def test_import_duration_loops_a_periodic_video(tmp_path, h1_walk):
    """Opt-in looping for an imported (generated) video: its best cycle of frames and masks repeats, and no seam
    changes the robot's mask more than the clip's own frame-to-frame motion does."""
    from niljax.reference.resample import loop_video
    from niljax.reward import load_bundle

    from niljax.reference.first_frame import load_trajectory, render_qpos
    from niljax.robots import load_robot

    mjcf, traj, _, _ = h1_walk
    scene = load_robot("h1", mjcf_path=mjcf, plain_background=True)
    qpos, _ = load_trajectory(traj, scene, fps=500.0)
    rgb, masks = render_qpos(scene, qpos[:480:20], SIZE, SIZE)  # 24 frames of a ~1 s gait cycle
    swing = np.tile(np.arange(24), 3)[:57]  # a periodic motion: a 24-frame cycle, 57 frames
    video = write_video(tmp_path / "swing.mp4", rgb[swing], 100.0)
    b = load_bundle(prepare_reference(_base(tmp_path, h1_walk, backend="import", videos=(str(video),),
                                            duration=1.5)))
    assert b.num_frames == 151 and b.masks.shape[0] == 151
    assert b.metadata.extra["loop_period_frames"] in (24, 48)  # whole cycles of the swing

    def steps(m):  # 1 - IoU between consecutive masks
        return 1.0 - mask_iou(m[1:], m[:-1])

    own = steps(masks[swing])
    assert steps(b.masks).max() <= own.max() + 0.05, (steps(b.masks).max(), own.max())
    looped, looped_masks, start, period = loop_video(rgb[swing], masks[swing], 100, period=24)
    assert period == 24 and looped.shape[0] == looped_masks.shape[0] == 100
    np.testing.assert_array_equal(looped[start + 24], rgb[swing][start])  # the cycle repeats exactly
    with pytest.raises(ReferencePreparationError, match="period"):
        loop_video(rgb[swing], masks[swing], 100, period=len(swing))


def test_replay_multi_view_static_camera_reference_trains_with_the_same_cameras(tmp_path, h1_walk):
    """Stage 1 with --views and --static-camera: one reference per view, a multi-view folder that the training
    run with the same cameras accepts (camera records agree across the two stages) and refuses otherwise."""
    import dataclasses

    from niljax.render import RenderConfig
    from niljax.reward import load_view_bundles
    from niljax.train.config import TrainConfig
    from niljax.train.run import build_pipeline

    mjcf, _, _, _ = h1_walk
    cfg = _base(tmp_path, h1_walk, backend="replay", trajectory_fps=500.0, replay_fps=25.0, trim_end_s=0.32,
                views=("follow", "follow@90"),
                static_camera=True)
    path = prepare_reference(cfg)
    views = load_view_bundles(path)
    assert list(views) == ["follow", "follow@90"]
    assert [b.metadata.camera["azimuth"] for b in views.values()] == [0.0, 90.0]
    assert all(b.metadata.camera["static"] for b in views.values())
    assert all("static camera" in b.metadata.prompt for b in views.values())
    assert (Path(cfg.out) / "views/view1/first_frame.png").is_file()
    # the walker crosses a camera that stays put: in one of the two views its silhouette drifts sideways
    def centre_x(mask: np.ndarray) -> float:
        return float(np.nonzero(mask)[1].mean())
    drift = max(abs(centre_x(b.masks[-1]) - centre_x(b.masks[0])) for b in views.values())
    assert drift > 3.0, drift
    render = RenderConfig(height=SIZE, width=SIZE, backend="jax", views=("follow", "follow@90"),
                          camera_anchor="static")
    train = TrainConfig(reference=str(path), robot="h1", mjcf=str(mjcf), render=render,
                        encoder=EncoderConfig(kind="toy"), num_envs=2, eval_envs=1, progress=False)
    assert build_pipeline(train).trainer.num_views == 2
    with pytest.raises(ValueError, match="static: bundle True vs run False"):
        build_pipeline(dataclasses.replace(train, render=dataclasses.replace(render, camera_anchor="agent")))
