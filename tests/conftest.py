"""Shared test setup: XLA flags before jax is imported, offline hub, fixture paths."""

from __future__ import annotations

import os
from pathlib import Path

from niljax import _runtime

# Two host devices so sharding tests can run on CPU; harmless for everything else.
_runtime.configure(offline_hub=True, host_device_count=2)

import pytest  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("NILJAX_SHARED", REPO_ROOT.parent / "shared"))
LOCOMUJOCO = SHARED / "locomujoco"


@pytest.fixture(scope="session")
def locomujoco_dir() -> Path:
    """../shared/locomujoco (LocoMuJoCo models and mocap walks); skips the test when absent."""
    if not (LOCOMUJOCO / "models").is_dir():
        pytest.skip(f"LocoMuJoCo fixtures not found at {LOCOMUJOCO} (set NILJAX_SHARED to the shared/ folder)")
    return LOCOMUJOCO
