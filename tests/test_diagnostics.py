"""`niljax score` and `niljax landscape` on a test-made replay bundle (toy arm waving, 32x32, pure-JAX renderer,
toy encoder), and `niljax score RUN` on a tiny trained run (slow)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from train_helpers import CLIP, RENDER

from niljax.cli import main

FRAMES = 40  # 0.4 s at the toy arm's 100 Hz


@pytest.fixture(scope="module")
def wave_bundle(tmp_path_factory) -> Path:
    from niljax.encoders.factory import EncoderConfig
    from niljax.robots import load_robot
    from niljax.train.demo import demo_trajectory, make_replay_bundle

    scene = load_robot("toy_arm")
    qpos = demo_trajectory(scene, FRAMES, 1.0 / scene.control_dt)
    return make_replay_bundle(tmp_path_factory.mktemp("diag") / "bundle", "toy_arm", qpos, RENDER,
                              EncoderConfig(kind="toy", clip_len=CLIP), CLIP, source="replay:test-wave", skill="waving")


def test_landscape_ranks_the_reference_first(wave_bundle, tmp_path):
    out = tmp_path / "land"
    code = main(["landscape", str(wave_bundle), "--out", str(out), "--render.backend", "jax",
                 "--shifts", "0.05", "0.15", "--speeds", "0.5", "1.5", "--num-random", "1"])
    assert code == 0
    data = json.loads((out / "landscape.json").read_text())
    assert (out / "landscape.png").stat().st_size > 10_000
    v = data["variants"]
    assert set(v) == {"bundle", "reference", "shift_+0.05s", "shift_+0.15s", "speed_x0.5", "speed_x1.5", "standing",
                      "random_0"}
    assert all(len(e["terms"]["reward/iou"]) == FRAMES for e in v.values())
    # the bundle's own frames are exact; re-rendered with the same renderer the reference is too
    for name in ("bundle", "reference"):
        assert v[name]["iou_mean"] == pytest.approx(1.0) and v[name]["video_mean"] == pytest.approx(1.0, abs=1e-5)
    others = [n for n in v if n not in ("bundle", "reference")]
    assert max(v[n]["total_mean"] for n in others) < v["reference"]["total_mean"] - 0.05, data["ranking"]
    assert v["shift_+0.05s"]["iou_mean"] > v["shift_+0.15s"]["iou_mean"] > v["standing"]["iou_mean"]
    assert data["ranking"][-1] in ("standing", "random_0", "shift_+0.15s"), data["ranking"]
    # every variant starts at the first pose (the shift holds it), so step 0 matches exactly
    assert v["standing"]["terms"]["reward/iou"][0] == pytest.approx(1.0)


def test_landscape_refuses_a_bundle_without_a_trajectory(wave_bundle, tmp_path, capsys):
    from niljax.reward import load_bundle, save_bundle

    b = load_bundle(wave_bundle)
    import dataclasses

    save_bundle(dataclasses.replace(b, qpos=None), tmp_path / "noq")
    assert main(["landscape", str(tmp_path / "noq")]) == 2
    assert "records no joint trajectory" in capsys.readouterr().err


def test_score_video_against_the_bundle(wave_bundle, tmp_path, capsys):
    from niljax.reference.video_io import write_video
    from niljax.reward import load_bundle

    b = load_bundle(wave_bundle)
    write_video(tmp_path / "ref25.mp4", b.frames[::4], 25.0)  # the reference at 25 fps: resampled back to 100 Hz
    write_video(tmp_path / "still.mp4", np.repeat(b.frames[:1], FRAMES, 0), 100.0)
    means = {}
    for name in ("ref25", "still"):
        assert main(["score", str(tmp_path / f"{name}.mp4"), "--reference", str(wave_bundle)]) == 0
        out = tmp_path / f"{name}.mp4.score"
        data = json.loads((out / "score.json").read_text())
        assert (out / "score.png").stat().st_size > 5_000
        assert data["kind"] == "video" and data["segmenter"] == "background-color"
        assert set(data["terms"]) == {"reward/video", "reward/iou", "reward/total"}
        assert len(data["terms"]["reward/iou"]) == data["steps"]
        means[name] = data["means"]
    assert means["ref25"]["iou_mean"] > 0.85
    assert means["still"]["iou_mean"] < 0.5
    assert means["ref25"]["total_mean"] > means["still"]["total_mean"] + 0.4
    capsys.readouterr()
    assert main(["score", str(tmp_path / "still.mp4")]) == 2
    assert "--reference" in capsys.readouterr().err


@pytest.mark.slow
def test_score_run_gives_the_training_reward_per_step(tmp_path):
    import dataclasses

    from train_helpers import make_static_bundle, small_config

    from niljax.train.run import train

    bundle = make_static_bundle(tmp_path / "bundle")
    config = dataclasses.replace(small_config(bundle, tmp_path / "run"), eval_envs=1)
    run_dir = train(config)
    assert main(["score", str(run_dir)]) == 0
    data = json.loads((run_dir / "score" / "score.json").read_text())
    assert data["kind"] == "run" and set(data["terms"]) == {"reward/video", "reward/iou", "reward/penalty",
                                                            "reward/total"}
    total = np.array(data["terms"]["reward/total"])
    parts = np.array(data["terms"]["reward/video"]) + np.array(data["terms"]["reward/iou"]) + np.array(
        data["terms"]["reward/penalty"])
    np.testing.assert_allclose(total, parts, atol=1e-4)  # ζ = β = η = 1
    summary = json.loads((run_dir / "summary.json").read_text())
    assert np.mean(data["terms"]["reward/iou"]) == pytest.approx(summary["after"]["eval/iou_mean"], abs=1e-4)


def test_camera_mismatch_is_a_clear_error(wave_bundle, tmp_path, capsys):
    """The bundle records its camera (name, field of view, placement); a run or a landscape with another one is
    refused before any work, naming both values."""
    import dataclasses

    from train_helpers import small_config

    from niljax.reward import load_bundle
    from niljax.train.run import build_pipeline

    assert load_bundle(wave_bundle).metadata.camera["fovy"] == pytest.approx(40.0)
    assert main(["landscape", str(wave_bundle), "--render.backend", "jax", "--render.fovy", "60"]) == 2
    assert "fovy: bundle 40.0 vs run 60.0" in capsys.readouterr().err
    config = small_config(wave_bundle, tmp_path / "run")
    with pytest.raises(ValueError, match=r"camera differs .* fovy: bundle 40\.0 vs run 55\.0"):
        build_pipeline(dataclasses.replace(config, render=dataclasses.replace(config.render, fovy=55.0)))
