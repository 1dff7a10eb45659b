"""Run-folder logging: the metrics file stays valid after a torn write and is cut back on resume."""

from __future__ import annotations

import json

import numpy as np

from niljax.train.run_logging import MetricsLog, RunLogger, scalarize


def test_scalarize_keeps_only_scalars():
    out = scalarize({"a": np.float32(1.5), "b": np.arange(3), "c": 2, "d": "text", "e": np.array([[4.0]])})
    assert out == {"a": 1.5, "c": 2, "e": 4.0}


def test_torn_line_is_ignored_and_repair_cuts_to_checkpoint(tmp_path):
    log = MetricsLog(tmp_path / "metrics.jsonl")
    for step in (100, 200, 300):
        log.write(step, {"loss": step / 100})
    with open(log.path, "a") as f:  # what a SIGKILL mid-write leaves behind
        f.write('{"step": 400, "lo')
    assert [r["step"] for r in log.read()] == [100, 200, 300]
    kept = log.repair(max_step=200)
    assert kept == 2
    lines = log.path.read_text().splitlines()
    assert [json.loads(line)["step"] for line in lines] == [100, 200]
    log.write(300, {"loss": 3.0})
    assert [r["step"] for r in log.read()] == [100, 200, 300]


def test_run_logger_writes_tensorboard_and_curve(tmp_path):
    logger = RunLogger(tmp_path)
    for step in range(1, 4):
        logger.log(step * 10, {"eval/return": float(step), "train/loss": 1.0 / step})
    png = logger.plot(["eval/return", "missing/key"])
    logger.close()
    assert png is not None and png.stat().st_size > 1000
    assert any((tmp_path / "tb").iterdir())
    assert logger.plot(["missing/key"]) is None


def test_side_by_side_video_plays_in_real_time_with_labels_and_marks_a_fall(tmp_path):
    import imageio.v3 as iio
    import numpy as np

    from niljax.train.run import write_side_by_side_video

    t, h, w = 100, 32, 32  # 1 s at 100 Hz
    agent = np.full((t, h, w, 3), 200, np.uint8)
    masks = np.zeros((t, h, w), bool)
    path = write_side_by_side_video(tmp_path / "r.mp4", agent, masks, agent.copy(), masks.copy(), 100.0,
                                    alive_steps=60)
    meta = iio.immeta(path, plugin="pyav") if _has_pyav() else iio.immeta(path)
    frames = iio.imread(path)
    assert len(frames) == 50 and abs(meta["fps"] - 50.0) < 1e-6  # 100 Hz control -> 50 fps, 1 s of video
    panel = frames.shape[2] // 2
    before, after = frames[10], frames[40]  # steps 20 and 80: before and after the fall at step 60
    assert after[h:, :panel - 10].mean() < before[h:, :panel - 10].mean() - 20  # the agent panel is dimmed
    assert np.abs(after[h:, panel + 10:].astype(int) - before[h:, panel + 10:]).mean() < 3  # reference is not
    assert (before[:12] < 100).any()  # a label is drawn in the top rows


def _has_pyav() -> bool:
    try:
        import av  # noqa: F401
    except ImportError:
        return False
    return True
