"""Video file I/O for Stage 1 (imageio + its bundled ffmpeg).

Contract:
- `read_video(path, fps=None) -> (frames uint8[T,H,W,3], fps float)`. Raises `VideoReadError` for a missing
  file, an unreadable/corrupt file, a video with no frames, or an unknown frame rate (unless `fps=` is given,
  which overrides whatever the container says). Grayscale / RGBA inputs are converted to RGB.
- `write_video(path, frames, fps)` writes an H.264 mp4 (or any format imageio knows by the suffix) atomically:
  a temporary file in the same folder is renamed into place only after a successful write.
Everything here is host-side numpy; nothing is jitted.
"""

from __future__ import annotations

import math
import os
import tempfile
from pathlib import Path

import numpy as np

from niljax.reference.errors import VideoReadError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp")


def as_rgb_frames(frames: np.ndarray, *, what: str = "video") -> np.ndarray:
    """Validate and normalise a frame stack to uint8[T,H,W,3].

    Accepts uint8 or float in [0,1] (what diffusers returns), with 1, 3 or 4 channels (or none, [T,H,W]).
    """
    arr = np.asarray(frames)
    if arr.ndim == 3:
        arr = arr[..., None]
    if arr.ndim != 4:
        raise VideoReadError(f"{what}: expected frames [T,H,W,3], got shape {arr.shape}")
    if arr.shape[0] == 0:
        raise VideoReadError(f"{what}: the video has no frames")
    if arr.shape[1] < 2 or arr.shape[2] < 2:
        raise VideoReadError(f"{what}: frames are too small ({arr.shape[1]}x{arr.shape[2]})")
    channels = arr.shape[-1]
    if channels == 1:
        arr = np.repeat(arr, 3, axis=-1)
    elif channels == 4:
        arr = arr[..., :3]
    elif channels != 3:
        raise VideoReadError(f"{what}: expected 1, 3 or 4 channels, got {channels}")
    if arr.dtype != np.uint8:
        if np.issubdtype(arr.dtype, np.floating):
            if not np.all(np.isfinite(arr)):
                raise VideoReadError(f"{what}: frames contain NaN or inf")
            arr = np.clip(np.rint(arr * 255.0), 0, 255).astype(np.uint8)
        else:
            arr = np.clip(arr, 0, 255).astype(np.uint8)
    return np.ascontiguousarray(arr)


def _ffmpeg_detail(err: Exception) -> str:
    """An imageio/ffmpeg error without ffmpeg's version and build banner: its last few meaningful lines."""
    lines = [ln.strip() for ln in str(err).splitlines() if ln.strip()]
    banner = ("ffmpeg version", "built with", "configuration:", "lib", "=== stderr ===")
    kept = [ln for ln in lines if not ln.startswith(banner)]
    return " | ".join(kept[-4:]) or type(err).__name__


def expected_frame_count(meta: dict) -> int | None:
    """Frames the container declares (duration x fps, or nframes), None when it does not say."""
    nframes = meta.get("nframes")
    if isinstance(nframes, (int, float)) and math.isfinite(nframes) and nframes > 0:
        return int(nframes)
    duration, rate = meta.get("duration"), meta.get("fps")
    try:
        duration, rate = float(duration), float(rate)
    except (TypeError, ValueError):
        return None
    if not (math.isfinite(duration) and math.isfinite(rate) and duration > 0 and rate > 0):
        return None
    return int(round(duration * rate))


def read_video(path: str | os.PathLike, *, fps: float | None = None,
               allow_partial: bool = False) -> tuple[np.ndarray, float]:
    """Read a whole video into memory.

    Args:
      path: video file (mp4, mov, webm, gif, ... anything ffmpeg reads).
      fps: frame rate override; required when the container has no usable frame rate.
      allow_partial: accept a file that decodes to fewer frames than its container declares (a file cut
        short or damaged); by default that is a `VideoReadError` with both numbers.
    Returns:
      (frames uint8[T,H,W,3], fps) with fps > 0.
    """
    import imageio.v3 as iio

    path = Path(path)
    if not path.exists():
        raise VideoReadError(f"video file not found: {path}")
    if not path.is_file():
        raise VideoReadError(f"not a file: {path}")
    if path.stat().st_size == 0:
        raise VideoReadError(f"video file is empty (0 bytes): {path}")
    if fps is not None and not (math.isfinite(fps) and fps > 0):
        raise VideoReadError(f"fps override must be a positive number, got {fps!r}")
    try:
        frames = iio.imread(path, index=None)
    except Exception as err:  # imageio raises many types for corrupt input
        raise VideoReadError(f"cannot decode video {path}: {type(err).__name__}: {_ffmpeg_detail(err)}") from err
    frames = as_rgb_frames(frames, what=str(path))
    if frames.ndim == 4 and frames.shape[0] == 1 and path.suffix.lower() in IMAGE_SUFFIXES:
        raise VideoReadError(f"{path} is a still image, not a video")
    container_fps = None
    meta = {}
    try:
        meta = iio.immeta(path)
        container_fps = meta.get("fps")
        if container_fps is None and path.suffix.lower() == ".gif" and meta.get("duration"):
            container_fps = 1000.0 / float(meta["duration"])  # gif: duration per frame in ms
    except Exception:
        container_fps = None
    if fps is None:
        if container_fps is None or not math.isfinite(float(container_fps)) or float(container_fps) <= 0:
            raise VideoReadError(
                f"{path}: the frame rate is missing or unknown ({container_fps!r}); pass fps= explicitly"
            )
        fps = float(container_fps)
    declared = expected_frame_count(meta) if path.suffix.lower() != ".gif" else None  # gif: duration per frame
    if declared is not None and not allow_partial:
        missing = declared - len(frames)
        if missing > max(2, 0.05 * declared):
            raise VideoReadError(
                f"{path}: decoded only {len(frames)} of the {declared} frames its container declares "
                f"({float(meta.get('duration', 0)):.2f} s at {float(meta.get('fps', 0)):g} fps): the file looks cut "
                "short or damaged. Download or export it again, or accept the decoded frames with "
                "--allow-partial-video (allow_partial=True)")
    return frames, float(fps)


def atomic_path(path: Path) -> Path:
    """A fresh temporary path next to `path` (same folder, same suffix) for write-then-rename."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    return Path(tmp)


def write_video(path: str | os.PathLike, frames: np.ndarray, fps: float, *, quality: int = 8) -> Path:
    """Write frames uint8[T,H,W,3] as a video at `fps`, atomically. Returns the path.

    H.264 needs even sizes: odd heights/widths are padded by one edge row/column.
    """
    import imageio.v2 as iio2

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    frames = as_rgb_frames(frames, what="frames to write")
    if not (math.isfinite(fps) and fps > 0):
        raise VideoReadError(f"fps must be a positive number, got {fps!r}")
    pad_h, pad_w = frames.shape[1] % 2, frames.shape[2] % 2
    if pad_h or pad_w:
        frames = np.pad(frames, ((0, 0), (0, pad_h), (0, pad_w), (0, 0)), mode="edge")
    tmp = atomic_path(path)
    try:
        if path.suffix.lower() in (".mp4", ".mov", ".mkv", ".avi", ".webm"):
            with iio2.get_writer(tmp, fps=fps, quality=quality, macro_block_size=1, format="FFMPEG") as writer:
                for frame in frames:
                    writer.append_data(frame)
        else:
            iio2.mimwrite(tmp, list(frames), fps=fps)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def write_png(path: str | os.PathLike, image: np.ndarray) -> Path:
    """Write one uint8[H,W,3] (or bool/uint8 [H,W]) image as PNG, atomically."""
    from PIL import Image

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    arr = np.asarray(image)
    if arr.dtype == bool:
        arr = arr.astype(np.uint8) * 255
    tmp = atomic_path(path)
    try:
        Image.fromarray(arr).save(tmp, format="PNG")
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path
