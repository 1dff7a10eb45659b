"""What `niljax doctor` reads about this machine, without judging it: package versions, accelerators seen outside
jax, an OpenGL context, encoder weights on disk, the install command for a missing piece.

Nothing here imports jax, torch or transformers; nothing touches the network.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import io
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

DEFAULT_ENCODER = "facebook/timesformer-base-finetuned-k400"
WEIGHT_FILES = (
    "model.safetensors",
    "model.safetensors.index.json",
    "pytorch_model.bin",
    "pytorch_model.bin.index.json",
)


def package_version(dist: str) -> str | None:
    """The installed version of distribution `dist` (from its metadata; nothing imported), None if absent."""
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Swallow what imports print (e.g. mjx's 'Failed to import warp', warp's banner)."""
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        yield


def repo_root() -> Path | None:
    """The checkout niljax runs from (with scripts/setup.sh), None for an installed wheel."""
    root = Path(__file__).resolve().parents[2]
    return root if (root / "scripts" / "setup.sh").is_file() and (root / "pyproject.toml").is_file() else None


def install_fix(*extras: str, accel: str | None = None) -> str:
    """The one command that installs `extras` here: scripts/setup.sh in a checkout, else pip."""
    if repo_root() is not None:
        prefix = f"NILJAX_ACCEL={accel} " if accel else ""
        wanted = ",".join(["assets", "warp", *[e for e in extras if e not in ("assets", "warp")]])
        return f"{prefix}bash scripts/setup.sh {wanted}"
    names = ",".join([*extras, *([accel] if accel and accel != "cpu" else [])])
    return f"pip install 'niljax[{names}]'"


def hardware() -> dict[str, Any]:
    """Accelerators seen outside jax: NVIDIA GPUs (nvidia-smi), TPUs (/dev/accel*, TPU_ACCELERATOR_TYPE)."""
    hw: dict[str, Any] = {"nvidia_smi": None, "gpus": [], "cuda_driver": None, "tpu": False}
    smi = shutil.which("nvidia-smi")
    if smi:
        hw["nvidia_smi"] = smi
        try:
            out = subprocess.run(
                [smi, "--query-gpu=name,memory.total,driver_version", "--format=csv,noheader"],
                check=False,
                capture_output=True,
                text=True,
                timeout=20,
            )
            hw["gpus"] = [line.strip() for line in out.stdout.splitlines() if line.strip()]
            banner = subprocess.run([smi], check=False, capture_output=True, text=True, timeout=20).stdout
            m = re.search(r"CUDA Version:\s*(\d+)\.(\d+)", banner)
            hw["cuda_driver"] = f"{m.group(1)}.{m.group(2)}" if m else None
        except (OSError, subprocess.SubprocessError) as err:
            hw["gpus"] = [f"nvidia-smi failed: {err}"]
    accel_nodes = sorted(str(p) for p in Path("/dev").glob("accel*"))
    hw["tpu"] = bool(accel_nodes or os.environ.get("TPU_ACCELERATOR_TYPE"))
    hw["tpu_devices"] = accel_nodes
    return hw


def cuda_extra(hw: dict[str, Any]) -> str:
    """The jax CUDA extra that matches the driver `hardware()` saw (cuda12 unless the driver is CUDA 13+)."""
    major = int(str(hw.get("cuda_driver") or "12").split(".")[0])
    return "cuda13" if major >= 13 else "cuda12"


def opengl_probe() -> dict[str, Any]:
    """Create a tiny GL context in a subprocess (a broken GL stack may crash rather than raise)."""
    gl = os.environ.get("MUJOCO_GL", "egl")
    code = "import mujoco; c = mujoco.GLContext(8, 8); c.make_current(); c.free(); print('ok')"
    try:
        out = subprocess.run(
            [sys.executable, "-c", code],
            check=False,
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "MUJOCO_GL": gl},
        )
    except (OSError, subprocess.SubprocessError) as err:
        return {"usable": False, "MUJOCO_GL": gl, "error": str(err)}
    if out.returncode == 0 and out.stdout.strip().endswith("ok"):
        return {"usable": True, "MUJOCO_GL": gl}
    tail = (out.stderr.strip().splitlines() or [f"exit code {out.returncode}"])[-1]
    return {"usable": False, "MUJOCO_GL": gl, "error": tail[:300]}


def hf_hub_cache() -> Path:
    """The Hugging Face hub cache folder ($HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub)."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    home = (
        os.environ.get("HF_HOME")
        or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "huggingface"
    )
    return Path(home).expanduser() / "hub"


def _weights_in(folder: Path) -> str | None:
    if not (folder / "config.json").is_file():
        return None
    for name in WEIGHT_FILES:
        if (folder / name).is_file():
            return name
    return None


def find_encoder_weights(source: str) -> dict[str, Any]:
    """Where `source` (folder, weights file or hub id) would load from, looking at files only."""
    path = Path(source).expanduser()
    looked = [str(path)]
    if path.is_file():
        return {"found": True, "path": str(path), "file": path.name, "looked": looked}
    if path.is_dir():
        name = _weights_in(path)
        if name:
            return {"found": True, "path": str(path), "file": name, "looked": looked}
    if re.match(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$", source) and not path.exists():
        repo = hf_hub_cache() / ("models--" + source.replace("/", "--"))
        looked.append(str(repo / "snapshots"))
        snapshots = (
            sorted((repo / "snapshots").glob("*"), key=lambda p: p.stat().st_mtime, reverse=True)
            if (repo / "snapshots").is_dir()
            else []
        )
        for snap in snapshots:
            name = _weights_in(snap)
            if name:
                return {"found": True, "path": str(snap), "file": name, "looked": looked}
    return {"found": False, "looked": looked}


def writable_folder(path: Path) -> bool:
    """Whether `path` can be written, or created: the nearest folder that exists on the way up is writable."""
    for folder in (path, *path.parents):
        if folder.exists():
            return folder.is_dir() and os.access(folder, os.W_OK)
    return False
