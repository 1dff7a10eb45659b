"""Run-folder logging: JSONL metrics, TensorBoard events, learning-curve PNGs.

The host side of training. Nothing here is traced. A run folder holds:

- `config.json`     the resolved config (written once, before anything trains),
- `metrics.jsonl`   one JSON object per logged step (`{"step": int, "time": float, **scalars}`),
- `tb/`             TensorBoard event files (tensorboardX),
- `curves.png`      learning curves of selected keys,
- `checkpoints/`    orbax checkpoints (owned by the learner's checkpoint module).

`metrics.jsonl` is append-only and flushed + fsynced per write, so a SIGKILL leaves at most a torn last line.
`MetricsLog.repair(max_step)` (called on resume) drops a torn line and every record past the restored
checkpoint's step, so the file stays a valid, monotone log of what the resumed run will produce again.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np


def _to_scalar(value: Any) -> float | int | None:
    try:
        arr = np.asarray(value)
    except Exception:  # noqa: BLE001 - non-numeric metrics are skipped, not fatal
        return None
    if arr.size != 1 or arr.dtype.kind not in "biuf":
        return None
    item = arr.reshape(()).item()
    if isinstance(item, float) and not math.isfinite(item):
        return float(item)  # kept: a NaN in the log is information, json writes it as NaN
    return item


def scalarize(metrics: Mapping[str, Any]) -> dict[str, float | int]:
    """Keep the scalar-valued entries of `metrics` as Python numbers (device arrays are pulled to host)."""
    out: dict[str, float | int] = {}
    for key, value in metrics.items():
        scalar = _to_scalar(value)
        if scalar is not None:
            out[key] = scalar
    return out


class MetricsLog:
    """Append-only JSONL metrics file that survives being killed mid-write."""

    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def write(self, step: int, metrics: Mapping[str, Any]) -> dict[str, Any]:
        record = {"step": int(step), "time": time.time(), **scalarize(metrics)}
        line = json.dumps(record, allow_nan=True) + "\n"
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(line)
            f.flush()
            os.fsync(f.fileno())
        return record

    def read(self) -> list[dict[str, Any]]:
        """All complete records (a torn trailing line is ignored)."""
        if not self.path.exists():
            return []
        records = []
        with open(self.path, encoding="utf-8") as f:
            for line in f:
                if not line.endswith("\n"):
                    break
                try:
                    records.append(json.loads(line))
                except json.JSONDecodeError:
                    break
        return records

    def repair(self, max_step: int | None) -> int:
        """Rewrite the file keeping complete records with `step <= max_step` (all if None). Returns kept count."""
        records = [r for r in self.read() if max_step is None or r["step"] <= max_step]
        tmp = self.path.with_suffix(".jsonl.tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            for r in records:
                f.write(json.dumps(r, allow_nan=True) + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)
        return len(records)


class RunLogger:
    """JSONL + TensorBoard + curve PNG for one run folder. Use as `logger.log(step, metrics)`."""

    def __init__(self, run_dir: str | os.PathLike[str], *, tensorboard: bool = True, enabled: bool = True):
        # enabled=False (every process but the first of a multi-process run): log/plot/repair write nothing.
        self.run_dir = Path(run_dir)
        self.enabled = enabled
        self.metrics = MetricsLog(self.run_dir / "metrics.jsonl")
        self._tb = None
        self._tensorboard = tensorboard and enabled
        self._purge_step: int | None = None
        if not enabled:
            return
        self.run_dir.mkdir(parents=True, exist_ok=True)

    def repair(self, max_step: int | None) -> int:
        """`MetricsLog.repair` when enabled (see there); 0 otherwise.

        A resumed run repeats the steps after its checkpoint, so the TensorBoard writer is reopened with
        `purge_step = max_step + 1`: TensorBoard then hides what the killed run logged past the checkpoint
        instead of showing both timelines on top of each other.
        """
        if not self.enabled:
            return 0
        if max_step is not None:
            self._purge_step = max(int(max_step) + 1, 0)
            if self._tb is not None:  # already writing: reopen so the purge marker comes first
                self._tb.close()
                self._tb = None
        return self.metrics.repair(max_step)

    def _writer(self) -> "_SyncEventWriter":
        if self._tb is None:
            self._tb = _SyncEventWriter(self.run_dir / "tb", purge_step=self._purge_step)
        return self._tb

    def log(self, step: int, metrics: Mapping[str, Any]) -> dict[str, Any]:
        if not self.enabled:
            return scalarize(metrics)
        record = self.metrics.write(step, metrics)
        if self._tensorboard:
            self._writer().add_scalars(int(step), {k: v for k, v in record.items() if k not in ("step", "time")})
        return record

    def plot(self, keys: Iterable[str], filename: str = "curves.png") -> Path | None:
        """Plot the given metric keys against env steps into `run_dir/filename`. None if nothing to plot."""
        if not self.enabled:
            return None
        return plot_curves(self.metrics.read(), keys, self.run_dir / filename)

    def close(self) -> None:
        if self._tb is not None:
            self._tb.close()


class _SyncEventWriter:
    """TensorBoard event file written synchronously (flushed + fsynced per call), like `metrics.jsonl`.

    tensorboardX's SummaryWriter queues events for a background thread that writes them every `flush_secs`, so a
    SIGKILL lost up to two minutes of TensorBoard steps; this writes the same records (tensorboardX's public
    `EventsWriter` and scalar summaries) in the calling thread and flushes them to disk (flush + fsync) per call.
    `purge_step` (a resumed run: the checkpoint step + 1) starts the file with TensorBoard's SessionLog.START
    marker, which hides what the killed run logged at or after that step. The file name carries the pid and nanoseconds (tensorboardX's is per second), so a resumed
    run never overwrites the file of the run it resumes.
    """

    def __init__(self, folder: Path, *, purge_step: int | None = None):
        from tensorboardX.event_file_writer import EventsWriter
        from tensorboardX.proto.event_pb2 import Event, SessionLog

        folder.mkdir(parents=True, exist_ok=True)
        self._events = EventsWriter(str(folder / "events"), f".{os.getpid()}.{time.time_ns()}")
        if purge_step is not None:
            self._events.write_event(Event(wall_time=time.time(), step=purge_step,
                                           session_log=SessionLog(status=SessionLog.START)))
        self._sync()

    def add_scalars(self, step: int, values: Mapping[str, float | int]) -> None:
        from tensorboardX.proto.event_pb2 import Event
        from tensorboardX.summary import scalar

        for key, value in values.items():
            self._events.write_event(Event(wall_time=time.time(), step=step, summary=scalar(key, float(value))))
        self._sync()

    def _sync(self) -> None:
        # tensorboardX's public `EventsWriter.flush` ("flushes the event file to disk"): its RecordWriter flushes
        # and fsyncs the file (tensorboardX >= 2.6.5, the pinned minimum; test_run_logging counts the fsyncs)
        self._events.flush()

    def close(self) -> None:
        self._events.close()


def plot_curves(records: list[dict[str, Any]], keys: Iterable[str], out: Path) -> Path | None:
    """One subplot per key present in `records`; x axis = env steps."""
    keys = [k for k in keys if any(k in r for r in records)]
    if not keys:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(keys), figsize=(4 * len(keys), 3), squeeze=False)
    for ax, key in zip(axes[0], keys):
        pts = [(r["step"], r[key]) for r in records if key in r]
        xs, ys = zip(*pts)
        ax.plot(xs, ys, marker="o", markersize=3)
        ax.set_title(key)
        ax.set_xlabel("env steps")
        ax.grid(alpha=0.3)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.stem + ".tmp.png")
    fig.savefig(tmp, dpi=100)
    plt.close(fig)
    os.replace(tmp, out)
    return out
