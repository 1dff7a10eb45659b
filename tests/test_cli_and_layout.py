"""The command-line surface and the package layout: `niljax COMMAND --help` stays fast (it parses arguments
without importing jax, mujoco or torch), one flag vocabulary, bundle-derived defaults, one-way imports.

The time itself is measured in `benchmarks/bench_cli.py`; this test checks the cause that decides it (which heavy
modules a help call loads), so it cannot flake on a busy machine.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from niljax.cli import COMMANDS, main

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


def _help_text(command: str, capsys: pytest.CaptureFixture[str]) -> str:
    try:
        main([command, "--help"])
    except SystemExit:
        pass
    return capsys.readouterr().out


def test_one_flag_vocabulary_for_the_same_things(capsys: pytest.CaptureFixture[str]) -> None:
    """`niljax reference` and `niljax train` name the robot model, render size and clip length the same way, and
    each has one clip-length flag (the encoder's clip length follows it)."""
    helps = {command: _help_text(command, capsys) for command in ("reference", "train")}
    for command, text in helps.items():
        for flag in ("--robot", "--mjcf", "--height", "--width", "--clip-len"):
            assert f"{flag} " in text or f"{flag}," in text, f"`niljax {command}` has no {flag}"
        assert "--encoder.clip-len" not in text, f"`niljax {command}` still has a second clip-length flag"


def test_train_encoder_clip_length_follows_the_reward() -> None:
    from niljax.encoders.factory import EncoderConfig
    from niljax.reward import RewardConfig
    from niljax.train.config import TrainConfig

    config = TrainConfig(reward=RewardConfig(clip_len=4), encoder=EncoderConfig(kind="toy", clip_len=8))
    assert config.encoder.clip_len == 4 and config.encoder.kind == "toy"


def test_bundle_gives_the_encoder_render_size_and_clip_length(tmp_path) -> None:
    """`niljax train --reference B` takes what B records; explicit flags still win (checked against B later)."""
    import json

    from niljax.encoders.factory import config_for_encoder_id
    from niljax.train.cli import bundle_defaults
    from niljax.train.config import TrainConfig

    (tmp_path / "metadata.json").write_text(json.dumps(
        {"height": 48, "width": 40, "clip_len": 4, "encoder": {"id": "random-init/small/seed=3"}}))
    config = bundle_defaults(TrainConfig(), str(tmp_path))
    assert (config.render.height, config.render.width, config.reward.clip_len) == (48, 40, 4)
    assert (config.encoder.kind, config.encoder.preset, config.encoder.seed, config.encoder.clip_len) == (
        "timesformer-random", "small", 3, 4)
    base = TrainConfig().encoder
    assert config_for_encoder_id(base, "toy/random-init/ab12cd34").kind == "toy"
    weights = config_for_encoder_id(base, "/models/timesformer-k400")
    assert (weights.kind, weights.weights) == ("timesformer", "/models/timesformer-k400")
    assert bundle_defaults(TrainConfig(), str(tmp_path / "missing")) == TrainConfig()


def test_encoders_never_import_the_reward() -> None:
    """Data flows one way: `niljax.reward` uses `niljax.encoders`, never the reverse (issue 13, item 7)."""
    import ast
    from pathlib import Path

    import niljax.encoders

    offenders = []
    for path in Path(niljax.encoders.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                     [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            offenders += [f"{path.name}: {n}" for n in names if n.startswith("niljax.reward")]
    assert offenders == []


def test_help_piped_into_a_reader_that_leaves_is_quiet() -> None:
    """`niljax train --help | head -3` used to end in a BrokenPipeError traceback."""
    done = subprocess.run(f"{sys.executable} -m niljax.cli train --help | head -3", shell=True, capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.stdout.startswith("usage: niljax train")
    assert "Traceback" not in done.stderr and "BrokenPipe" not in done.stderr, done.stderr[-1000:]
