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


def _tb_events(folder):
    """(wall_time, step, kind, payload) from every TFRecord event file in `folder`, in file order."""
    import struct

    from tensorboardX.proto import event_pb2

    events = []
    for path in sorted(folder.iterdir(), key=lambda p: p.stat().st_mtime_ns):
        data = path.read_bytes()
        offset = 0
        while offset + 12 <= len(data):
            (length,) = struct.unpack("<Q", data[offset:offset + 8])
            event = event_pb2.Event.FromString(data[offset + 12:offset + 12 + length])
            offset += 12 + length + 4
            if event.HasField("summary"):
                for value in event.summary.value:
                    events.append((event.step, "scalar", value.tag, value.simple_value))
            elif event.HasField("session_log"):
                events.append((event.step, "session_log", event.session_log.status, None))
    return events


def _tensorboard_view(events):
    """What TensorBoard shows: a SessionLog START at step s purges earlier-written scalars with step >= s."""
    shown = []
    for step, kind, tag, value in events:
        if kind == "session_log" and tag == 1:  # SessionLog.START
            shown = [row for row in shown if row[0] < step]
        elif kind == "scalar":
            shown.append((step, tag, value))
    return shown


def test_resumed_run_hides_tensorboard_steps_logged_after_the_checkpoint(tmp_path):
    killed = RunLogger(tmp_path)  # logs steps 10..50, then is killed (never closed) with a checkpoint at 30
    for step in (10, 20, 30, 40, 50):
        killed.log(step, {"eval/return": float(step)})
    resumed = RunLogger(tmp_path)
    resumed.repair(30)
    for step in (40, 50, 60):
        resumed.log(step, {"eval/return": -float(step)})  # the resumed timeline differs after the checkpoint
    resumed.close()
    view = _tensorboard_view(_tb_events(tmp_path / "tb"))
    assert [(s, v) for s, tag, v in view if tag == "eval/return"] == [
        (10, 10.0), (20, 20.0), (30, 30.0), (40, -40.0), (50, -50.0), (60, -60.0)]
    assert [r["step"] for r in resumed.metrics.read()] == [10, 20, 30, 40, 50, 60]


def test_tensorboard_events_reach_the_disk_per_log_call(tmp_path, monkeypatch):
    """Each `log` call leaves its TensorBoard events on disk (flushed and fsynced, as metrics.jsonl is), through
    tensorboardX's public `EventsWriter.flush`: a SIGKILL right after loses nothing that was logged."""
    import os

    synced: list[int] = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd))[1])
    logger = RunLogger(tmp_path)
    logger.log(10, {"train/loss": 1.0})
    before = len(synced)
    logger.log(20, {"train/loss": 0.5, "eval/return": 2.0})
    # one fsync for metrics.jsonl and at least one for the event file, per call
    assert len(synced) - before >= 2
    events = next((tmp_path / "tb").iterdir())
    size = events.stat().st_size
    logger.log(30, {"train/loss": 0.25})
    assert events.stat().st_size > size  # written through, not queued for a background thread
    logger.close()
