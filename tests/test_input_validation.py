"""One validation per input (issue 31): an input several commands take is checked by one function, and each
command that takes it refuses a bad value the same way, with the valid values (docs/architecture.md, "One
validation per input"). Each test sends one bad input through every command that takes it.

- skill name: `train`, `plan` (flags), `evaluate` and `score` (a run whose config names it), the Python API;
- camera view: `train`, `plan`, `reference` (`--views`, `--camera`), `landscape`;
- a video's segmented masks: `reference` (import) and `score` (a video): the same numbers, the same refusal;
- run folder: `evaluate` and `score`.
Nothing here trains or compiles a training iteration: every refusal comes before that.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from niljax.cli import main

REF_FLAGS = ["--robot", "toy_arm", "--backend", "replay", "--height", "32", "--width", "32", "--encoder.kind", "toy",
             "--clip-len", "4", "--no-progress"]


def _flat(text: str) -> str:
    """stderr without tyro's box drawing and line wrapping, so a message reads as one line."""
    return " ".join(re.sub(r"[│╭╮╰╯─]", " ", text).split())


@pytest.fixture(scope="module")
def toy(tmp_path_factory) -> dict[str, Path]:
    """A toy-arm wave (20 frames at 100 Hz) and its replay reference bundle (32x32, toy encoder), made with
    `niljax reference`; the video of the same wave rendered clean and with a floor that turns textured."""
    from niljax.reference.first_frame import render_qpos
    from niljax.reference.video_io import write_video
    from niljax.robots import load_robot
    from niljax.train.demo import demo_trajectory

    root = tmp_path_factory.mktemp("inputs")
    scene = load_robot("toy_arm", plain_background=True)
    qpos = demo_trajectory(scene, 40, 100.0)[:20]
    np.savez(root / "wave.npz", qpos=qpos, frequency=100.0)
    assert main(["reference", *REF_FLAGS, "--trajectory", str(root / "wave.npz"), "--out", str(root / "ref")]) == 0
    rgb, masks = render_qpos(scene, qpos, 32, 32)
    good = write_video(root / "good.mp4", rgb, 100.0)
    yy, xx = np.mgrid[:32, :32]
    checker = ((yy // 2 + xx // 2) % 2).astype(bool) & (yy > 20)
    for t in range(2, len(rgb)):  # from frame 2 on, a textured floor the background segmenter calls robot
        floor = checker & ~masks[t]
        rgb[t][floor] = (rgb[t][floor] * 0.5).astype(np.uint8)
    floor = write_video(root / "floor.mp4", rgb, 100.0)
    return {"root": root, "wave": root / "wave.npz", "bundle": root / "ref" / "bundle", "good": good, "floor": floor}


def _run_folder(path: Path, bundle: Path, *, checkpoint: bool = True, **fields) -> Path:
    """A run folder as `niljax train` leaves it (config.json, a checkpoint folder), with `fields` in its config."""
    from niljax.train.config import TrainConfig

    config = {**TrainConfig(reference=str(bundle), robot="toy_arm").to_dict(), **fields}
    (path / "checkpoints" / "8").mkdir(parents=True) if checkpoint else path.mkdir(parents=True)
    (path / "config.json").write_text(json.dumps(config))
    return path


# ------------------------------------------------------------------------------------------------- skill name
def test_unknown_skill_is_refused_by_every_command_that_takes_one(toy, tmp_path, capsys) -> None:
    from niljax.robots.skills import list_skills
    from niljax.train.config import TrainConfig

    expected = f"unknown skill 'nosuch'; registered skills: {', '.join(list_skills())}"
    for command in ("train", "plan"):  # was: plan said "fits", train blamed the bundle
        with pytest.raises(SystemExit) as exc:
            main([command, "--reference", str(toy["bundle"]), "--robot", "toy_arm", "--skill", "nosuch"])
        assert exc.value.code == 2
        assert expected in _flat(capsys.readouterr().err), command
    run = _run_folder(tmp_path / "run", toy["bundle"], skill="nosuch")
    for argv in (["evaluate", str(run)], ["score", str(run)]):
        assert main(argv) == 2
        assert expected in _flat(capsys.readouterr().err), argv[0]
    with pytest.raises(ValueError, match=re.escape(expected)):
        TrainConfig(skill="nosuch")
    assert TrainConfig(skill="walking").skill == "walking"  # a registered one passes


# ------------------------------------------------------------------------------------------------ camera view
def test_unknown_camera_is_refused_by_every_command_that_takes_one(toy, tmp_path, capsys) -> None:
    expected = "unknown camera 'side': this scene's cameras are follow"
    bundle = str(toy["bundle"])
    runs = [
        ["train", "--reference", bundle, "--run-dir", str(tmp_path / "r1"), "--render.views", "side"],
        ["train", "--reference", bundle, "--run-dir", str(tmp_path / "r2"), "--render.camera", "side"],
        ["plan", "--reference", bundle, "--robot", "toy_arm", "--render.views", "side", "--no-flops"],
        ["plan", "--reference", bundle, "--robot", "toy_arm", "--render.views", "follow", "--render.views", "side@90",
         "--no-flops"],
        ["reference", *REF_FLAGS, "--trajectory", str(toy["wave"]), "--views", "side", "--out", str(tmp_path / "v")],
        ["reference", *REF_FLAGS, "--trajectory", str(toy["wave"]), "--camera", "side", "--out", str(tmp_path / "c")],
        ["landscape", bundle, "--render.views", "side", "--out", str(tmp_path / "l")],
    ]
    for argv in runs:
        assert main(argv) == 2, argv
        err = _flat(capsys.readouterr().err)
        assert expected in err and "Traceback" not in err, (argv, err)
    # nothing was written by the refused commands
    assert not any((tmp_path / name).exists() for name in ("r1", "r2", "v", "c", "l"))


# ------------------------------------------------------------------------------------- a video's segmented masks
def _problems(err: str) -> str:
    return err.split("masks look wrong: ", 1)[1].split(". Check the video", 1)[0]


def test_implausible_masks_are_refused_by_reference_and_score_alike(toy, tmp_path, capsys) -> None:
    """The textured-floor video: `niljax reference` refused its masks while `niljax score` reported their IoU;
    both now refuse them with the same numbers, and --force lets either go on with the numbers recorded."""
    ref = ["reference", *REF_FLAGS[:2], "--backend", "import", *REF_FLAGS[4:], "--videos", str(toy["floor"]),
           "--trajectory", str(toy["wave"]), "--out", str(tmp_path / "ref")]
    assert main(ref) == 2
    from_reference = _flat(capsys.readouterr().err)
    out = tmp_path / "score"
    assert main(["score", str(toy["floor"]), "--reference", str(toy["bundle"]), "--out", str(out)]) == 2
    from_score = _flat(capsys.readouterr().err)
    assert "18 of 20 frames" in from_reference and _problems(from_score) == _problems(from_reference)
    assert "--force to score them anyway" in from_score and not out.exists()

    assert main(["score", str(toy["floor"]), "--reference", str(toy["bundle"]), "--out", str(out), "--force"]) == 0
    checks = json.loads((out / "score.json").read_text())["mask_checks"]
    assert checks["ok"] is False and checks["forced"] is True and checks["bad_frames"] == 18
    # the clean video of the same motion passes the same check
    clean = tmp_path / "clean"
    assert main(["score", str(toy["good"]), "--reference", str(toy["bundle"]), "--out", str(clean)]) == 0
    checks = json.loads((clean / "score.json").read_text())["mask_checks"]
    assert checks["ok"] is True and checks["forced"] is False and checks["first_frame_iou"] > 0.9
    capsys.readouterr()
    # the thresholds are checked the same way too
    for argv in (["score", str(toy["good"]), "--reference", str(toy["bundle"]), "--min-first-frame-iou", "1.5"],
                 [*ref[:-2], "--min-first-frame-iou", "1.5", "--out", str(tmp_path / "t")]):
        assert main(argv) == 2
        assert "mask check thresholds out of range: --min-first-frame-iou 1.5" in _flat(capsys.readouterr().err)


# ------------------------------------------------------------------------------------------------- run folder
def test_run_folder_checks_are_shared_by_evaluate_and_score(toy, tmp_path, capsys) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    no_checkpoint = _run_folder(tmp_path / "fresh", toy["bundle"], checkpoint=False)
    moved = _run_folder(tmp_path / "moved", tmp_path / "no-bundle-here")
    cases = [(empty, "is not a run folder (no config.json)"), (no_checkpoint, "has no checkpoint to evaluate"),
             (moved, "is not there any more (moved or deleted)")]
    for folder, expected in cases:
        for command in ("evaluate", "score"):
            assert main([command, str(folder)]) == 2
            err = _flat(capsys.readouterr().err)
            assert expected in err, (command, folder.name, err)
            if folder is moved:
                assert f"niljax {command} {folder} --reference PATH_TO_BUNDLE" in err
