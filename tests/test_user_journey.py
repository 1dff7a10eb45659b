"""The researcher's journey without traps (issue 19): no silent wrong results, no tracebacks, nothing left behind.

Every test drives the `niljax` command in-process (`niljax.cli.main`) the way a user types it, on the toy arm at
32x32 with the toy encoder, and checks the exit code, the message and what is (not) on disk. Nothing here
compiles a training program: every check fails before that.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from niljax.cli import main

sys.path.insert(0, str(Path(__file__).parent))
from train_helpers import small_config  # noqa: E402

REF_FLAGS = ["--robot", "toy_arm", "--backend", "replay", "--height", "32", "--width", "32", "--encoder.kind", "toy",
             "--clip-len", "4", "--no-progress"]
BAD_MJCF = '<mujoco><worldbody><body name="a"><joint/></body></worldbod></mujoco>'


def _err(capsys) -> str:
    return capsys.readouterr().err


def _trajectory(path: Path, frames: slice, phase: float = 0.0) -> Path:
    from niljax.robots import load_robot
    from niljax.train.demo import demo_trajectory

    scene = load_robot("toy_arm")
    qpos = demo_trajectory(scene, 40, 100.0)[frames]
    qpos[:, scene.joint_qpos_adr[0]] += phase
    np.savez(path, qpos=qpos, frequency=100.0)
    return path


@pytest.fixture(scope="module")
def journey(tmp_path_factory) -> dict[str, Path]:
    """A reference made with `niljax reference` (toy arm replay, 32x32, toy encoder, 4-frame clips) and
    a small training config for it."""
    root = tmp_path_factory.mktemp("journey")
    traj = _trajectory(root / "wave.npz", slice(0, 20))
    assert main(["reference", *REF_FLAGS, "--trajectory", str(traj), "--out", str(root / "ref")]) == 0
    config = small_config(root / "ref" / "bundle", root / "unused-run")
    config.save(root / "small.json")
    return dict(root=root, traj=traj, ref=root / "ref", bundle=root / "ref" / "bundle", config=root / "small.json")


def _train(journey, run_dir: Path, *flags: str) -> int:
    return main(["train", "--config", str(journey["config"]), "--run-dir", str(run_dir), *flags])


def _staging(folder: Path) -> list[Path]:
    return sorted(folder.parent.glob(f".{folder.name}.stage-*"))


# ------------------------------------------------------------------------------------ silent wrong results
def test_budget_within_the_random_warmup_is_refused_naming_both_settings(journey, tmp_path, capsys):
    """total_env_steps below learner.random_steps would export an untrained policy with exit code 0."""
    run_dir = tmp_path / "run"
    assert _train(journey, run_dir, "--total-env-steps", "32") == 2  # warm-up is 64 env steps, chunks of 32
    err = _err(capsys)
    assert "train nothing" in err and "total_env_steps = 32" in err and "learner.random_steps = 64" in err
    assert "Traceback" not in err and not run_dir.exists()
    # rounded up to whole chunks: 40 -> 64 env steps reach the warm-up's end, so that budget is not refused
    from niljax.train.run import check_budget

    check_budget(small_config(journey["bundle"], run_dir, total_env_steps=40))


@pytest.mark.parametrize("fps", ["0", "-5"])
def test_trajectory_fps_zero_or_negative_is_rejected(journey, tmp_path, capsys, fps):
    """--trajectory-fps 0 used to fall back silently to the file's rate (`fps or frequency`)."""
    out = tmp_path / "ref"
    code = main(["reference", *REF_FLAGS, "--trajectory", str(journey["traj"]), "--trajectory-fps", fps,
                 "--out", str(out)])
    err = _err(capsys)
    assert code == 2 and "--trajectory-fps must be a positive rate" in err and not out.exists()


def test_partly_decoded_video_is_refused_with_the_numbers(tmp_path):
    """A file cut short used to become a shorter reference without a word."""
    import imageio.v2 as iio2

    from niljax.reference.errors import VideoReadError
    from niljax.reference.generate import ImportGenerator
    from niljax.reference.video_io import read_video

    full = tmp_path / "full.mp4"
    frames = np.repeat(np.linspace(0, 255, 50).astype(np.uint8)[:, None, None, None], 32, axis=1)
    frames = np.ascontiguousarray(np.broadcast_to(frames[:, :, :1], (50, 32, 32, 3)))
    with iio2.get_writer(full, fps=25, macro_block_size=1, format="FFMPEG",
                         output_params=["-movflags", "+faststart"]) as writer:  # index first: a cut file decodes
        for frame in frames:
            writer.append_data(frame)
    cut = tmp_path / "cut.mp4"
    data = full.read_bytes()
    cut.write_bytes(data[: int(len(data) * 0.8)])
    assert len(read_video(full)[0]) == 50
    with pytest.raises(VideoReadError, match=r"decoded only \d+ of the 50 frames its container declares"):
        read_video(cut)
    partial = ImportGenerator([cut], allow_partial=True).generate(frames[0], "", 1)[0]
    assert 2 < len(partial.frames) < 48
    with pytest.raises(VideoReadError, match="--allow-partial-video"):
        ImportGenerator([cut]).generate(frames[0], "", 1)


def test_train_checks_the_bundles_clip_length_and_render_size(journey, tmp_path, capsys):
    """A reward clip length other than the bundle's used to train silently against mismatched embeddings."""
    run_dir = tmp_path / "run"
    assert _train(journey, run_dir, "--clip-len", "8") == 2
    err = _err(capsys)
    assert "reward.clip_len = 8" in err and "4-frame clips" in err and "--clip-len 4" in err
    assert _train(journey, run_dir, "--height", "64", "--width", "64") == 2
    err = _err(capsys)
    assert "64x64" in err and "32x32" in err and "--height 32" in err
    assert not run_dir.exists()


# ------------------------------------------------------------------------------------ tracebacks -> messages
def test_unknown_robot_in_reference_is_a_message(journey, tmp_path, capsys):
    out = tmp_path / "ref"
    code = main(["reference", "--robot", "nosuchbot", "--backend", "replay", "--trajectory", str(journey["traj"]),
                 "--out", str(out), "--no-progress"])
    err = _err(capsys)
    assert code == 2 and "unknown robot 'nosuchbot'" in err and "toy_arm" in err and "Traceback" not in err
    assert not out.exists() and not _staging(out)


def test_malformed_mjcf_names_the_file_in_reference_and_train(journey, tmp_path, capsys):
    bad = tmp_path / "broken_robot.xml"
    bad.write_text(BAD_MJCF)
    out = tmp_path / "ref"
    assert main(["reference", *REF_FLAGS, "--trajectory", str(journey["traj"]), "--mjcf-path", str(bad),
                 "--out", str(out)]) == 2
    err = _err(capsys)
    assert "broken_robot.xml" in err and "XML" in err and "Traceback" not in err and not out.exists()
    run_dir = tmp_path / "run"
    assert _train(journey, run_dir, "--mjcf", str(bad)) == 2  # fails inside build_pipeline, after the bundle
    err = _err(capsys)
    assert "broken_robot.xml" in err and not run_dir.exists()  # and the failed start wrote nothing


@pytest.mark.parametrize("case", ["unknown key", "missing", "bad json", "folder"])
def test_train_config_file_errors_are_messages(tmp_path, capsys, case):
    path = tmp_path / "config.json"
    expect = {"unknown key": "unknown TrainConfig fields: ['bogus']", "missing": "no such file",
              "bad json": "is not valid JSON", "folder": "is a folder"}[case]
    if case == "unknown key":
        path.write_text(json.dumps({"num_envs": 8, "bogus": 1}))
    elif case == "bad json":
        path.write_text("{num_envs: 8")
    elif case == "folder":
        path = tmp_path / "runs"
        path.mkdir()
    assert main(["train", "--config", str(path)]) == 2
    err = _err(capsys)
    assert expect in err and str(path) in err and "Traceback" not in err


def test_debug_flag_shows_the_traceback(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file"):
        main(["--debug", "train", "--config", str(tmp_path / "missing.json")])
    with pytest.raises(Exception, match="unknown robot"):
        main(["reference", "--robot", "nosuchbot", "--out", str(tmp_path / "r"), "--debug", "--backend", "replay",
              "--trajectory", "x.npz"])


def test_evaluate_a_failed_start_or_a_moved_bundle_is_a_message(journey, tmp_path, capsys):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    small_config(journey["bundle"], run_dir).save(run_dir / "config.json")  # what a failed start used to leave
    assert main(["evaluate", str(run_dir)]) == 2
    err = _err(capsys)
    assert "no checkpoint" in err and f"niljax train --config {run_dir / 'config.json'}" in err
    moved = small_config(tmp_path / "bundle-that-moved", run_dir)
    moved.save(run_dir / "config.json")
    (run_dir / "checkpoints" / "64").mkdir(parents=True)
    assert main(["evaluate", str(run_dir)]) == 2
    err = _err(capsys)
    assert "bundle-that-moved" in err and "--reference PATH_TO_BUNDLE" in err and "Traceback" not in err
    assert main(["evaluate", str(tmp_path / "nothing")]) == 2
    assert "no run folder" in _err(capsys)


# ------------------------------------------------------------------------------------ nothing left behind
def test_failed_train_start_writes_nothing(journey, tmp_path, capsys):
    """A failed start used to write config.json, which then refused the corrected command ("different config")."""
    run_dir = tmp_path / "run"
    assert _train(journey, run_dir, "--reference", str(tmp_path / "no-bundle")) == 2
    assert "reference bundle not found" in _err(capsys)
    assert not run_dir.exists()
    from niljax.train.run import _prepare_run_dir

    # the corrected command is accepted by the run folder check (and writes config.json only when it starts)
    fixed = _prepare_run_dir(small_config(journey["bundle"], run_dir), write=False)
    assert Path(fixed.reference).is_absolute() and not run_dir.exists()


def test_reference_failure_leaves_no_folder_and_cleans_a_killed_runs_staging(journey, tmp_path, capsys):
    out = tmp_path / "ref"
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / f".ref.stage-{socket.gethostname()}-{dead.pid}-abc123"  # a SIGKILLed run's staging
    (stale / "bundle").mkdir(parents=True)
    short = _trajectory(tmp_path / "short.npz", slice(10, 13))  # 3 frames < 4-frame clips: fails after rendering
    assert main(["reference", *REF_FLAGS, "--trajectory", str(short), "--out", str(out)]) == 2
    assert "fewer than clip_len" in _err(capsys)
    assert not out.exists() and not _staging(out) and not stale.exists()


def test_overwrite_with_a_bad_input_keeps_the_folder_consistent(journey, tmp_path, capsys):
    """--overwrite with a bad input used to replace the first frame and keep the old bundle."""
    import shutil

    out = tmp_path / "ref"
    shutil.copytree(journey["ref"], out)
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    other = _trajectory(tmp_path / "other.npz", slice(10, 13), phase=0.5)  # another pose, too short
    assert main(["reference", *REF_FLAGS, "--trajectory", str(other), "--out", str(out), "--overwrite"]) == 2
    assert "fewer than clip_len" in _err(capsys)
    after = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert after == before and not _staging(out)
    # a good input replaces every part: the first frame and the bundle come from the same run
    longer = _trajectory(tmp_path / "longer.npz", slice(10, 30), phase=0.5)
    (out / "notes.txt").write_text("mine")
    assert main(["reference", *REF_FLAGS, "--trajectory", str(longer), "--out", str(out), "--overwrite"]) == 0
    capsys.readouterr()
    meta = json.loads((out / "bundle" / "metadata.json").read_text())
    first = json.loads((out / "first_frame.json").read_text())
    assert meta["extra"]["first_frame_qpos"] == first["qpos"]
    assert (out / "first_frame.png").read_bytes() != before[Path("first_frame.png")]
    assert (out / "notes.txt").read_text() == "mine" and not _staging(out)
    assert oct(out.stat().st_mode & 0o777) == oct(0o777 & ~_umask())


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# ------------------------------------------------------------------------------------ friction
def test_train_help_lists_config(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["train", "--help"])
    assert exit_.value.code == 0 and "--config PATH" in capsys.readouterr().out


def test_reference_takes_mjcf_like_train(tmp_path, capsys):
    """`--mjcf` (train's flag) works for `niljax reference` too; `--mjcf-path` still does."""
    bad = tmp_path / "broken_robot.xml"
    bad.write_text(BAD_MJCF)
    traj = _trajectory(tmp_path / "wave.npz", slice(0, 20))
    for flag in ("--mjcf", "--mjcf-path"):
        out = tmp_path / f"ref{flag}"
        assert main(["reference", *REF_FLAGS, "--trajectory", str(traj), flag, str(bad), "--out", str(out)]) == 2
        err = _err(capsys)
        assert "broken_robot.xml" in err and "Traceback" not in err and not out.exists(), (flag, err)
    with pytest.raises(SystemExit):
        main(["reference", "--help"])
    assert "--mjcf " in capsys.readouterr().out


def test_progress_rate_and_eta_exclude_the_first_chunks_compilation():
    """`train()` restarts the bar's clock after the first (compiling) chunk; here with a fake clock: 100 s of
    compilation, then 100 env steps per second."""
    import io

    from tqdm import tqdm

    from niljax.train.run import restart_bar_clock

    now = [0.0]
    bar = tqdm(total=1000, file=io.StringIO(), mininterval=0, miniters=1)
    bar._time = lambda: now[0]
    bar.start_t = bar.last_print_t = 0.0
    now[0] = 100.0  # the first chunk: compilation + 100 steps
    restart_bar_clock(bar, 100)
    for _ in range(3):
        now[0] += 1.0
        bar.update(100)
    info = bar.format_dict
    rate = info["rate"] or (info["n"] - info["initial"]) / info["elapsed"]
    assert info["n"] == 400 and rate == pytest.approx(100.0) and info["elapsed"] == pytest.approx(3.0)
    assert "00:06" in str(bar)  # ETA: 600 steps left at 100 steps/s
    bar.close()


def test_evaluate_writes_its_own_files(journey, tmp_path, monkeypatch, capsys):
    """`niljax evaluate` used to overwrite the training run's rollout.mp4."""
    import types

    import niljax.train.run as run
    import niljax.train.run_folder as run_folder

    run_dir = tmp_path / "run"
    (run_dir / "checkpoints" / "64").mkdir(parents=True)
    small_config(journey["bundle"], run_dir).save(run_dir / "config.json")
    (run_dir / "rollout.mp4").write_bytes(b"the training run's video")
    frames = np.zeros((29, 32, 32, 3), np.uint8)
    masks = np.zeros((29, 32, 32), bool)
    result = {"nil_return": np.ones(2), "iou_mean": np.ones(2), "frames": frames, "masks": masks,
              "fell": np.zeros(2), "length": np.full(2, 29.0)}  # the evaluation's keys the video labels use
    bundle = types.SimpleNamespace(frames=np.zeros((30, 32, 32, 3), np.uint8), masks=np.zeros((30, 32, 32), bool),
                                   metadata=types.SimpleNamespace(control_rate_hz=100.0))
    trainer = types.SimpleNamespace(init=lambda rng: {"x": np.zeros(1)}, evaluate=lambda *a, **k: result)
    monkeypatch.setattr(run, "build_pipeline", lambda config: types.SimpleNamespace(trainer=trainer, bundle=bundle))
    monkeypatch.setattr(run_folder, "checkpoint_manager", lambda *a: None)
    monkeypatch.setattr(run, "restore_checkpoint", lambda *a, **k: types.SimpleNamespace(env_steps=64, learner=None))
    assert main(["evaluate", str(run_dir)]) == 0
    capsys.readouterr()
    assert (run_dir / "rollout.mp4").read_bytes() == b"the training run's video"
    assert (run_dir / "eval_rollout.mp4").stat().st_size > 0
    assert json.loads((run_dir / "eval.json").read_text())["env_steps"] == 64
    # several episodes with start noise: the pipeline is built for them, eval.json keeps each and the spread
    seen = {}
    monkeypatch.setattr(run, "build_pipeline", lambda config: seen.setdefault("config", config) and
                        types.SimpleNamespace(trainer=trainer, bundle=bundle))
    result["nil_return"] = np.array([1.0, 3.0])
    assert main(["evaluate", str(run_dir), "--episodes", "2", "--reset-noise", "0.05", "--no-video"]) == 0
    capsys.readouterr()
    assert (seen["config"].eval_envs, seen["config"].eval_reset_noise) == (2, 0.05)
    written = json.loads((run_dir / "eval.json").read_text())
    assert written["per_episode"]["nil_return"] == [1.0, 3.0] and written["std"]["eval/nil_return"] == 1.0
    assert written["eval/nil_return"] == 2.0 and written["episodes"] == 2


def test_warp_initialises_quietly():
    """Warp's banner, its per-module load lines and (on CPU) the native "CUDA driver not found" warning."""
    pytest.importorskip("warp")
    code = ("from niljax import _runtime; _runtime.quiet_warp(); import warp as wp; "
            "wp.init(); print('ok', wp.get_device('cpu'))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "NILJAX_VERBOSE_WARP": ""})
    assert proc.returncode == 0 and proc.stdout.startswith("ok"), proc.stderr[-2000:]
    assert "initialized" not in proc.stderr and "CUDA driver" not in proc.stderr, proc.stderr


def test_train_takes_render_size_and_clip_length_from_the_bundle(journey, tmp_path, capsys):
    """`niljax train --reference B`: no --height/--width, --clip-len or --encoder.* to repeat (the run
    gets past the bundle checks and fails later, on the MJCF given)."""
    bad = tmp_path / "broken_robot.xml"
    bad.write_text(BAD_MJCF)
    run_dir = tmp_path / "run"
    assert main(["train", "--reference", str(journey["bundle"]), "--mjcf", str(bad),
                 "--run-dir", str(run_dir)]) == 2
    err = _err(capsys)
    assert "broken_robot.xml" in err and "mismatch" not in err and not run_dir.exists()
