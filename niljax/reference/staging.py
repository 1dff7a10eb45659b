"""Where Stage 1 writes: every part of a run is made in a hidden staging folder next to `out` and moved into `out`
only once the run has completed, so a failed or killed run leaves `out` exactly as it was.

`staged(config, work)` runs `work(stage_folder)` and publishes the result; `OUTPUT_PARTS` are the names one run
owns in `out` (with --overwrite each is replaced, or removed when this run does not make it).
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from niljax.reference.config import ReferenceConfig

# What one Stage-1 run writes into `out`; with --overwrite every one of them is replaced (or removed when this
# run does not make it), so the folder never mixes parts of two runs.
OUTPUT_PARTS = ("bundle", "first_frame.png", "first_frame_mask.png", "first_frame.json", "candidates", "report",
                "comparison", "views")


def staged(config: ReferenceConfig, work: Callable[[Path], Any]) -> None:
    """Run `work(stage)` in a hidden staging folder next to `out`, then move its parts into `out` (see
    `niljax.reference.pipeline.prepare_reference`)."""
    out = Path(config.out)
    if (out / "bundle").exists() and not config.overwrite:
        raise FileExistsError(f"{out / 'bundle'} exists (pass --overwrite to replace it)")
    out.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_staging(out)
    stage = Path(tempfile.mkdtemp(prefix=f".{out.name}.stage-{socket.gethostname()}-{os.getpid()}-",
                                  dir=out.parent))
    try:
        work(stage)
        publish(stage, out)
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def remove_stale_staging(out: Path) -> None:
    """Remove staging folders of earlier runs for `out` on this host whose process is gone (killed runs)."""
    prefix = f".{out.name}.stage-{socket.gethostname()}-"
    for path in out.parent.glob(f"{glob.escape(prefix)}*"):
        try:
            pid = int(path.name[len(prefix):].split("-", 1)[0])
            os.kill(pid, 0)
        except ProcessLookupError:
            shutil.rmtree(path, ignore_errors=True)
        except (ValueError, PermissionError, OSError):
            continue


def publish(stage: Path, out: Path) -> None:
    """Move a completed run's parts from `stage` into `out`, replacing (or removing) every earlier part."""
    if not out.exists():
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(stage, 0o777 & ~umask)  # mkdtemp made it private; `out` gets a plain mkdir's mode
        os.rename(stage, out)
        stage.mkdir()  # the caller removes it
        return
    replaced = stage / ".replaced"
    replaced.mkdir()
    for name in OUTPUT_PARTS:
        if (out / name).exists() or (out / name).is_symlink():
            os.rename(out / name, replaced / name)
    for leftover in [*out.glob(".bundle.tmp-*"), *out.glob(".bundle.old-*")]:  # interrupted bundle saves
        shutil.rmtree(leftover, ignore_errors=True)
    for item in stage.iterdir():
        if item.name != replaced.name:
            os.rename(item, out / item.name)
