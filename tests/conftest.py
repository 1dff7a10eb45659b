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
# user's ~/.cache (NILJAX_TEST_HULL_CACHE names one to reuse across sessions: they take minutes per robot).
os.environ["NILJAX_HULL_CACHE"] = os.environ.get("NILJAX_TEST_HULL_CACHE") or tempfile.mkdtemp(
    prefix="niljax-hull-cache-")

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
