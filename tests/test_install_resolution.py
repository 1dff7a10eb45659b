"""Every documented extra set resolves against its lock, on every supported Python (issue 27).

`scripts/test.sh` installs `assets,warp,torch,reference,dev` (+ `export` here, the last documented extra); a GPU
or TPU node adds `cuda12`, `cuda13` or `tpu`. For each Python the README names and each accelerator, uv resolves
pyproject.toml with those extras for Linux x86-64, with the lock scripts/setup.sh would pass to pip as
constraints (requirements/lock-py<XY>-<accel>.txt). A conflict between the lock and what a package pins (the torch
2.13.0 / nvidia-cudnn-cu13 clash of issue 27) fails here, in CI, not on a user's node. A second check: the lock
is complete (every resolved package is pinned in it), so a new dependency cannot slip in at an unlocked version.
The cpu/tpu locks pin no nvidia-*/cuda-*/triton package on purpose (PyPI's CUDA torch pins its own; a CPU torch
brings none), so only those may be resolved without a pin there.

uv reads package metadata from its cache first (`--offline`: the locks pin every version, and a version's
metadata never changes), then from the package index; without uv, or offline with a cold cache, the test skips
with the reason. Regenerate the locks with `bash requirements/lock.sh`.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PYTHONS = ("3.11", "3.12", "3.13")
ACCELS = ("cpu", "cuda12", "cuda13", "tpu")
EXTRAS = ("assets", "warp", "torch", "reference", "export", "dev")
# What only PyPI's CUDA build of torch brings (exact pins of its own): unpinned in the cpu/tpu locks.
TORCH_CUDA_ONLY = re.compile(r"^(nvidia-|cuda-|triton$)")


def _uv() -> str | None:
    try:
        from uv import find_uv_bin  # the `uv` wheel of the dev extra

        return find_uv_bin()
    except (ImportError, FileNotFoundError):
        return shutil.which("uv")


def _index_url() -> str:
    return os.environ.get("UV_DEFAULT_INDEX") or os.environ.get("UV_INDEX_URL") or "https://pypi.org/simple"


def _index_reachable() -> bool:
    try:
        urllib.request.urlopen(_index_url().rstrip("/") + "/pip/", timeout=10).close()
        return True
    except OSError:
        return False


def _pins(text: str) -> dict[str, str]:
    pins = {}
    for line in text.splitlines():
        line = line.split("#")[0].strip()
        if "==" in line:
            name, version = line.split("==", 1)
            pins[re.sub(r"[-_.]+", "-", name).lower()] = version.split(";")[0].strip()
    return pins


def _compile(uv: str, python: str, accel: str, lock: Path, offline: bool) -> subprocess.CompletedProcess:
    cmd = [uv, "pip", "compile", "pyproject.toml", "--quiet", "--no-header", "--no-annotate",
           "--python-version", python,
           "--python-platform", "x86_64-manylinux_2_35" if accel == "tpu" else "x86_64-manylinux_2_28",
           "-c", str(lock), "--no-emit-package", "niljax"]
    for extra in EXTRAS + (() if accel == "cpu" else (accel,)):
        cmd += ["--extra", extra]
    if offline:
        cmd.append("--offline")
    # The machine's certificate store, as pip uses it (uv's own CA list fails behind TLS-inspecting proxies).
    env = dict(os.environ, UV_SYSTEM_CERTS="1", UV_NATIVE_TLS="1")
    return subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=900, check=False, env=env)


def resolve(uv: str, python: str, accel: str, online: bool) -> tuple[str, subprocess.CompletedProcess | None]:
    """("ok" | "conflict" | "no-cache" | "unreachable", result) for one Python and accelerator."""
    lock = REPO / "requirements" / f"lock-py{python.replace('.', '')}-{accel}.txt"
    result = _compile(uv, python, accel, lock, offline=True)
    if result.returncode != 0:
        if not online:
            return "no-cache", result
        result = _compile(uv, python, accel, lock, offline=False)
        if result.returncode != 0 and "No solution found" not in result.stderr:
            return "unreachable", result  # uv could not fetch (network, TLS): no verdict on the lock
    return ("ok" if result.returncode == 0 else "conflict"), result


@pytest.fixture(scope="module")
def resolutions() -> dict[tuple[str, str], tuple[str, subprocess.CompletedProcess | None]]:
    uv = _uv()
    if uv is None:
        pytest.skip("uv is not installed (it comes with the dev extra: scripts/setup.sh ...,dev)")
    online = _index_reachable()
    jobs = [(py, accel) for py in PYTHONS for accel in ACCELS]
    # uv mostly waits on the index when its cache is cold: a few at a time keeps both the wall time and the CPU low.
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = dict(zip(jobs, pool.map(lambda job: resolve(uv, *job, online), jobs)))
    if all(status in ("no-cache", "unreachable") for status, _ in results.values()):
        _, first = results[jobs[0]]
        pytest.skip(f"uv cannot reach {_index_url()} and its cache holds no metadata for the locks: "
                    f"{first.stderr.strip()[-300:]}")
    return results


def test_every_lock_exists() -> None:
    missing = [f"lock-py{py.replace('.', '')}-{accel}.txt" for py in PYTHONS for accel in ACCELS
               if not (REPO / "requirements" / f"lock-py{py.replace('.', '')}-{accel}.txt").is_file()]
    assert not missing, f"requirements/ lacks {missing}; run `bash requirements/lock.sh`"


def test_cpu_and_tpu_locks_leave_torch_cuda_packages_unpinned() -> None:
    """What broke issue 27: a CPU install constrained to jax's cuda13 nvidia pins, which PyPI's torch contradicts."""
    for py in PYTHONS:
        for accel in ("cpu", "tpu"):
            lock = REPO / "requirements" / f"lock-py{py.replace('.', '')}-{accel}.txt"
            pinned = [name for name in _pins(lock.read_text()) if TORCH_CUDA_ONLY.match(name)]
            assert not pinned, f"{lock.name} pins {pinned}; regenerate with `bash requirements/lock.sh`"


# With a cold uv cache (a fresh machine: ~80 MB of index pages and metadata) one resolution took 2 min 40 s
# here, nearly all of it waiting on the network; a warm cache answers all twelve in about 20 s.
@pytest.mark.timeout(1800)
@pytest.mark.parametrize("accel", ACCELS)
@pytest.mark.parametrize("python", PYTHONS)
def test_extras_resolve_against_lock(resolutions, python: str, accel: str) -> None:
    status, result = resolutions[(python, accel)]
    if status in ("no-cache", "unreachable"):
        pytest.skip(f"uv cannot reach the package index and its cache lacks what Python {python} / {accel} "
                    f"needs: {result.stderr.strip()[-300:]}")
    extras = ",".join(EXTRAS + (() if accel == "cpu" else (accel,)))
    assert status == "ok", (
        f"niljax[{extras}] does not resolve on Python {python} with requirements/lock-py{python.replace('.', '')}-"
        f"{accel}.txt:\n{result.stderr[-3000:]}\nRegenerate the locks: bash requirements/lock.sh"
    )
    lock = _pins((REPO / "requirements" / f"lock-py{python.replace('.', '')}-{accel}.txt").read_text())
    resolved = _pins(result.stdout)
    unpinned = sorted(name for name in resolved if name not in lock
                      and not (accel in ("cpu", "tpu") and TORCH_CUDA_ONLY.match(name)))
    assert not unpinned, f"resolved but not in the lock: {unpinned}; regenerate with `bash requirements/lock.sh`"
    assert resolved["jax"] == lock["jax"] and resolved["torch"] == lock["torch"]


def test_setup_script_uses_the_lock_of_python_and_accelerator() -> None:
    """scripts/setup.sh picks requirements/lock-py<XY>-<accel>.txt, the files checked above."""
    text = (REPO / "scripts" / "setup.sh").read_text()
    assert "requirements/lock-py${pyver}-${accel}.txt" in text


if __name__ == "__main__":  # python tests/test_install_resolution.py: the table, without pytest
    uv = _uv() or sys.exit("uv not found")
    online = _index_reachable()
    for py in PYTHONS:
        for accel in ACCELS:
            status, result = resolve(uv, py, accel, online)
            print(f"{py} {accel}: {status}" + ("" if status == "ok" else f"\n{result.stderr[-1500:]}"))
