"""Shared test setup: XLA flags before jax is imported, offline hub, fixture paths."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from niljax import _runtime

# Two host devices so sharding tests can run on CPU; harmless for everything else.
_runtime.configure(offline_hub=True, host_device_count=2)

# A persistent XLA compilation cache for this test session: identical programs compiled by several tests, or by
# the subprocesses a test starts (they inherit the variables), compile once. Fresh per session unless
# NILJAX_TEST_JAX_CACHE names a folder to reuse across sessions.
os.environ.setdefault("JAX_COMPILATION_CACHE_DIR",
                      os.environ.get("NILJAX_TEST_JAX_CACHE") or tempfile.mkdtemp(prefix="niljax-jax-cache-"))
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0.5")
# The hull renderer's mesh decompositions (niljax.render.hull_backend) go to a folder of this session, never the
# user's ~/.cache (NILJAX_TEST_HULL_CACHE names one to reuse across sessions: they take minutes per robot). The
# folder is chosen once, by the first process (pytest-xdist's controller), and inherited by its workers, so A1's
# decomposition is built once per test session, not once per worker.
os.environ.setdefault("NILJAX_TEST_SESSION_HULL_CACHE", os.environ.get("NILJAX_TEST_HULL_CACHE")
                      or tempfile.mkdtemp(prefix="niljax-hull-cache-"))
os.environ["NILJAX_HULL_CACHE"] = os.environ["NILJAX_TEST_SESSION_HULL_CACHE"]

import pytest  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("NILJAX_SHARED", REPO_ROOT.parent / "shared"))
LOCOMUJOCO = SHARED / "locomujoco"


def pytest_configure(config: pytest.Config) -> None:
    # A crashed or timed-out xdist worker must not hang the run (issue 32): see tests/xdist_crash_recovery.py.
    from xdist_crash_recovery import patch_loadscope

    patch_loadscope()


@pytest.fixture(scope="session")
def locomujoco_dir() -> Path:
    """../shared/locomujoco (LocoMuJoCo models and mocap walks); skips the test when absent."""
    if not (LOCOMUJOCO / "models").is_dir():
        pytest.skip(f"LocoMuJoCo fixtures not found at {LOCOMUJOCO} (set NILJAX_SHARED to the shared/ folder)")
    return LOCOMUJOCO


def _rss_mib() -> float:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:")) / 1024


@pytest.fixture(scope="module", autouse=True)
def _release_memory_after_module(request):
    """After each test file: drop JAX's compiled programs and traces, collect, and give freed heap back to the OS.

    Why: an xdist worker runs about half the files; without this its resident memory only grows (measured
    10-11 GB per worker near the end of the suite), and the last files' subprocesses (jax.distributed, the
    rehearsal) then push the 2-core, 24 GiB CI machine into swap or the OOM killer. With it the fresh-user 3.11
    run peaked at 15.1 GB used. NILJAX_TEST_NO_RELEASE=1 turns it off; NILJAX_TEST_RSS_LOG=FILE appends each
    file's resident MiB before and after the release (how the effect was measured)."""
    yield
    before = _rss_mib()
    if os.environ.get("NILJAX_TEST_NO_RELEASE") != "1":
        import ctypes
        import gc

        import jax

        jax.clear_caches()
        gc.collect()
        try:
            ctypes.CDLL("libc.so.6").malloc_trim(0)
        except (OSError, AttributeError):  # not glibc
            pass
    log = os.environ.get("NILJAX_TEST_RSS_LOG")
    if log:
        with open(log, "a") as f:
            f.write(f"{request.module.__name__} {before:.0f} {_rss_mib():.0f}\n")


@pytest.fixture(autouse=True)
def _working_directory_unchanged():
    """A test that leaves the worker in another folder breaks later tests of that worker (a file named like a
    shipped walk in the old folder shadowed it): restore it and fail the leaking test, naming the fix."""
    start = os.getcwd()
    yield
    if os.getcwd() != start:
        left = os.getcwd()
        os.chdir(start)
        pytest.fail(f"the test left the working directory at {left}: use monkeypatch.chdir")
