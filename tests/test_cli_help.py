"""`niljax COMMAND --help` stays fast: it parses arguments without importing jax, mujoco or torch (issue 19).

The time itself is measured in `benchmarks/bench_cli.py`; this test checks the cause that decides it (which heavy
modules a help call loads), so it cannot flake on a busy machine.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from niljax.cli import COMMANDS

HEAVY = ("jax", "mujoco", "torch", "flax", "optax", "warp")

_PROBE = f"""
import contextlib, io, json, sys
from niljax.cli import main
out = io.StringIO()
with contextlib.redirect_stdout(out):
    try:
        code = main([sys.argv[1], "--help"])
    except SystemExit as exc:  # tyro/argparse exit after printing help
        code = exc.code
heavy = sorted(m for m in {HEAVY!r} if m in sys.modules)
print(json.dumps({{"code": code, "heavy": heavy, "chars": len(out.getvalue())}}))
"""


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_help_imports_no_heavy_module(command: str) -> None:
    done = subprocess.run([sys.executable, "-c", _PROBE, command], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["code"] in (0, None), result
    assert result["chars"] > 50, f"`niljax {command} --help` printed almost nothing: {result}"
    assert result["heavy"] == [], f"`niljax {command} --help` imported {result['heavy']}"


def test_light_config_imports_stay_light() -> None:
    """The typed configs a pipeline builds before any work load without jax (they are what help parses)."""
    code = ("import sys; from niljax.train.config import TrainConfig; from niljax.render import RenderConfig; "
            "from niljax.learner import BROConfig; from niljax.reward import RewardConfig; TrainConfig(); "
            f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[]", done.stdout
