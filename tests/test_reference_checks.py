"""Issue 19: sanity checks of segmented reference masks (first-frame agreement, area, connectivity), and the
`niljax reference` refusal (exit 2 with the numbers) unless `--force`. Synthetic masks; no JAX compile except in
the one CLI test that also checks `--force` (toy encoder, 32x32)."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

from niljax.reference.checks import _largest_component_numpy, check_masks, largest_component_share


def _robot(h: int = 48, w: int = 48, dx: int = 0) -> np.ndarray:
    """A stick figure: torso, arms and two legs in one 8-connected piece, shifted right by dx."""
    m = np.zeros((h, w), bool)
    m[10:26, 20 + dx:28 + dx] = True  # torso
    m[4:10, 22 + dx:26 + dx] = True  # head
    m[12:14, 12 + dx:36 + dx] = True  # arms
    m[26:42, 20 + dx:23 + dx] = True  # legs
    m[26:42, 25 + dx:28 + dx] = True
    return m


def _walk(n: int = 20) -> np.ndarray:
    return np.stack([_robot(dx=(t % 5) - 2) for t in range(n)])


def test_largest_component_share_counts_8_connected_pieces():
    m = np.zeros((10, 10), bool)
    m[0:3, 0:10] = True  # 30 px
    m[6:8, 0:5] = True  # 10 px, separate
    assert largest_component_share(m) == pytest.approx(0.75)
    d = np.eye(6, dtype=bool)  # a diagonal line is one 8-connected piece
    assert largest_component_share(d) == 1.0
    assert largest_component_share(np.zeros((4, 4), bool)) == 0.0


def test_numpy_fallback_matches_opencv(monkeypatch):
    cv2 = pytest.importorskip("cv2")
    rng = np.random.default_rng(0)
    for p in (0.3, 0.5, 0.6, 0.8):
        for _ in range(5):
            m = rng.random((23, 31)) < p
            _, _, stats, _ = cv2.connectedComponentsWithStats(m.astype(np.uint8), connectivity=8)
            assert _largest_component_numpy(m) == stats[1:, cv2.CC_STAT_AREA].max()
    m = rng.random((40, 40)) < 0.55
    expected = largest_component_share(m)
    monkeypatch.setitem(sys.modules, "cv2", None)  # `import cv2` raises ImportError: the numpy path
    assert largest_component_share(m) == expected


def test_a_walking_robot_passes_with_its_numbers():
    masks = _walk()
    checks = check_masks(masks, masks[0])
    assert checks.ok, checks.problems
    summary = checks.to_summary()
    assert summary["first_frame_iou"] == 1.0 and summary["bad_frames"] == 0
    assert summary["area_ratio"]["min"] == summary["area_ratio"]["max"] == 1.0
    assert summary["connectivity"]["min"] == 1.0 and len(summary["per_frame"]["area_ratio"]) == 20
    json.dumps(summary)  # goes into report/summary.json as it is


def test_a_textured_floor_counted_as_robot_is_refused_with_the_area_numbers():
    masks = _walk()
    masks[3:, 34:] = True  # the floor from frame 3 on: 14 rows x 48 px next to a 280 px robot
    checks = check_masks(masks, masks[0])
    assert not checks.ok
    msg = checks.message()
    assert "17 of 20 frames" in msg and "first at t=3" in msg and "mask area outside 0.33-3x" in msg, msg
    assert checks.to_summary()["area_ratio"]["max"] > 2.0


def test_a_mask_in_pieces_is_refused_with_the_connectivity_numbers():
    masks = _walk()
    rng = np.random.default_rng(1)
    for t in range(5, 20):  # the robot lost below the arms, specks of background instead
        masks[t, 14:] = False
        masks[t] |= rng.random(masks[t].shape) < 0.04
    checks = check_masks(masks, masks[0])
    assert not checks.ok
    msg = checks.message()
    assert "15 of 20 frames" in msg and "in pieces" in msg and "first at t=5" in msg, msg
    assert checks.connectivity[5:].max() < 0.7 and checks.connectivity[:5].min() == 1.0


def test_another_robot_in_the_first_frame_is_refused_with_the_iou():
    ours = _robot()
    other = np.zeros_like(ours)
    other[8:40, 8:18] = True  # about the same area, another shape and place
    masks = np.stack([other] * 10)
    checks = check_masks(masks, ours)
    assert not checks.ok and checks.first_frame_iou < 0.2
    assert "IoU 0.0" in checks.message() and "another robot" in checks.message()


def test_a_few_bad_frames_are_tolerated_and_thresholds_are_settings():
    masks = _walk()
    masks[7] = False  # two bad frames of 20 (10%, the default share allowed): one lost, one with the floor
    masks[8, 34:] = True
    assert check_masks(masks, masks[0]).ok
    assert not check_masks(masks, masks[0], max_bad_frame_share=0.05).ok
    assert not check_masks(masks, masks[0], area_ratio_range=(0.33, 1.5), max_bad_frame_share=0.0).ok


def test_reference_config_rejects_out_of_range_thresholds():
    from niljax.reference.errors import ReferencePreparationError
    from niljax.reference.pipeline import ReferenceConfig

    for bad in (dict(min_first_frame_iou=1.5), dict(mask_area_range=(2.0, 3.0)), dict(max_bad_mask_frames=-0.1)):
        with pytest.raises(ReferencePreparationError, match="mask check thresholds"):
            ReferenceConfig(videos=("x.mp4",), **bad).validate()


def test_reference_import_refuses_implausible_masks_unless_forced(tmp_path, capsys):
    """A toy-arm video whose floor turns textured from frame 2 on: the fallback segmenter counts the floor as
    robot; `niljax reference` exits 2 naming the numbers and writes nothing; a clean video that starts in
    another pose than our first frame is refused on the first-frame IoU; `--force` writes the bundle and the
    numbers are in report/summary.json."""
    from niljax.cli import main
    from niljax.reference.first_frame import render_qpos
    from niljax.reference.video_io import write_video
    from niljax.robots import load_robot
    from niljax.train.demo import demo_trajectory

    scene = load_robot("toy_arm", plain_background=True)
    qpos = demo_trajectory(scene, 40, 100.0)[:20]
    np.savez(tmp_path / "wave.npz", qpos=qpos, frequency=100.0)
    rgb, masks = render_qpos(scene, qpos, 32, 32)
    good = write_video(tmp_path / "good.mp4", rgb, 100.0)
    yy, xx = np.mgrid[:32, :32]
    checker = ((yy // 2 + xx // 2) % 2).astype(bool) & (yy > 20)
    for t in range(2, len(rgb)):
        floor = checker & ~masks[t]
        rgb[t][floor] = (rgb[t][floor] * 0.5).astype(np.uint8)
    video = write_video(tmp_path / "floor.mp4", rgb, 100.0)
    common = ["reference", "--robot", "toy_arm", "--backend", "import", "--height", "32", "--width", "32",
              "--encoder.kind", "toy", "--clip-len", "4", "--no-progress", "--out", str(tmp_path / "ref")]
    flags = [*common, "--videos", str(video), "--trajectory", str(tmp_path / "wave.npz")]
    assert main(flags) == 2
    err = capsys.readouterr().err
    assert "masks look wrong" in err and "18 of 20 frames" in err and "mask area outside 0.33-3x" in err, err
    assert "--force" in err and "Traceback" not in err
    assert not (tmp_path / "ref").exists()
    # the clean video, but our first frame at the home pose (no --trajectory): the start MSE passes, the IoU not
    assert main([*common, "--videos", str(good)]) == 2
    err = capsys.readouterr().err
    assert "first-frame mask: IoU 0." in err and "another robot, pose or camera" in err, err
    assert not (tmp_path / "ref").exists()

    assert main([*flags, "--force"]) == 0
    summary = json.loads((tmp_path / "ref" / "report" / "summary.json").read_text())
    checks = summary["mask_checks"]
    assert checks["ok"] is False and checks["forced"] is True and checks["bad_frames"] == 18
    assert checks["first_frame_iou"] > 0.9 and checks["area_ratio"]["max"] > 3.0
