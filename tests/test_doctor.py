"""`niljax doctor` on this (CPU) machine: JSON report, missing robot asset, missing weights, --require."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from niljax import doctor
from niljax.cli import main as cli_main
from niljax.doctor import probes

REPO_ROOT = Path(__file__).resolve().parents[1]


def _run_json(capsys, argv: list[str]) -> tuple[int, dict]:
    rc = cli_main(["doctor", "--json", *argv])
    return rc, json.loads(capsys.readouterr().out)


@pytest.fixture
def no_gl(monkeypatch):
    """Skip the OpenGL subprocess (checked once, in test_cpu_report)."""
    monkeypatch.setattr(probes, "opengl_probe", lambda: {"usable": True, "MUJOCO_GL": "test"})


@pytest.fixture
def empty_hf_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf"))
    monkeypatch.delenv("NILJAX_ENCODER_WEIGHTS", raising=False)
    return tmp_path / "hf"


def test_cpu_report(capsys, empty_hf_cache):
    rc, rep = _run_json(capsys, ["--require", "cpu"])
    assert rc == 0 and rep["ok"] is True
    assert rep["python"]["supported"] is True
    assert rep["packages"]["jax"] and rep["packages"]["mujoco"]
    assert rep["jax"]["backend"] == "cpu" and rep["jax"]["devices"][0]["platform"] == "cpu"
    assert rep["physics"]["jax"]["usable"] is True
    assert rep["renderers"]["jax"]["usable"] is True
    assert set(rep["renderers"]) == {"jax", "warp", "opengl"}
    assert rep["robots"]["toy_arm"]["found"] is True
    assert Path(rep["robots"]["toy_arm"]["path"]).is_file()
    assert rep["weights"]["timesformer"]["found"] is False
    assert rep["require"] == "cpu"
    assert all(p["fix"] and not p["fatal"] for p in rep["problems"])


def test_require_gpu_fails_here(capsys, no_gl, empty_hf_cache):
    if not doctor.hardware()["gpus"]:
        rc, rep = _run_json(capsys, ["--require", "gpu"])
    else:  # pragma: no cover - a GPU machine
        pytest.skip("a GPU is visible here")
    assert rc == 1 and rep["ok"] is False
    fatal = [p for p in rep["problems"] if p["fatal"]]
    assert len(fatal) == 1 and "--require gpu" in fatal[0]["what"]
    assert "GPU node" in fatal[0]["fix"] or "cuda" in fatal[0]["fix"]
    # the text form says the same
    assert cli_main(["doctor", "--require", "gpu"]) == 1
    text = capsys.readouterr().out
    assert "ERROR --require gpu" in text and "doctor: NOT OK" in text


def test_missing_robot_asset(capsys, tmp_path, monkeypatch, no_gl, empty_hf_cache):
    robots = tmp_path / "robots"
    (robots / "assets").mkdir(parents=True)
    shutil.copy(REPO_ROOT / "robots" / "toy_arm.toml", robots)
    shutil.copy(REPO_ROOT / "robots" / "assets" / "toy_arm.xml", robots / "assets")
    # an asset package that is not installed, and a menagerie robot with neither MENAGERIE_ROOT nor a cache
    ghost = (REPO_ROOT / "robots" / "toy_arm.toml").read_text().replace('name = "toy_arm"', 'name = "ghost"')
    ghost = ghost.replace(
        'kind = "path"\npath = "assets/toy_arm.xml"',
        'kind = "package"\npackage = "niljax_no_such_assets"\npath = "ghost.xml"',
    )
    (robots / "ghost.toml").write_text(ghost)
    quad = (REPO_ROOT / "robots" / "a1.toml").read_text().replace('name = "a1"', 'name = "quad"')
    # a1 also ships in niljax.data now: keep only its menagerie source, so "quad" is a menagerie-only robot
    quad = re.sub(r'\[\[sources\]\]\nkind = "package"\n[^\[]*', "", quad)
    assert 'kind = "menagerie"' in quad and 'kind = "package"' not in quad
    (robots / "quad.toml").write_text(quad)
    monkeypatch.setenv("NILJAX_ROBOTS_DIR", str(robots))
    monkeypatch.delenv("MENAGERIE_ROOT", raising=False)
    monkeypatch.setenv("MENAGERIE_CACHE_DIR", str(tmp_path / "menagerie-cache"))

    rc, rep = _run_json(capsys, [])
    assert rc == 0  # missing assets are reported, not fatal, unless asked for
    assert rep["robots"]["toy_arm"]["found"] is True
    ghost_entry = rep["robots"]["ghost"]
    assert ghost_entry["found"] is False and "niljax_no_such_assets" in " ".join(ghost_entry["tried"])
    assert "setup.sh" in ghost_entry["fix"] or "niljax[assets]" in ghost_entry["fix"]
    quad_entry = rep["robots"]["quad"]
    assert quad_entry["found"] is False and "network (not tried)" in " ".join(quad_entry["tried"])
    assert "MENAGERIE_ROOT" in quad_entry["fix"]
    assert any("'ghost'" in p["what"] and p["fix"] == ghost_entry["fix"] for p in rep["problems"])

    rc, rep = _run_json(capsys, ["--robot", "ghost"])
    assert rc == 1 and [p["what"] for p in rep["problems"] if p["fatal"]] == [
        "robot 'ghost': no MJCF found offline"
    ]

    # MENAGERIE_ROOT with the robot's folder makes the menagerie source resolve, without the network
    root = tmp_path / "menagerie"
    (root / "unitree_a1").mkdir(parents=True)
    (root / "unitree_a1" / "a1.xml").write_text("<mujoco/>")
    monkeypatch.setenv("MENAGERIE_ROOT", str(root))
    rc, rep = _run_json(capsys, ["--robot", "quad"])
    assert rc == 0 and rep["robots"]["quad"]["found"] is True


def test_missing_and_found_weights(capsys, tmp_path, monkeypatch, no_gl, empty_hf_cache):
    missing = tmp_path / "no-weights"
    rc, rep = _run_json(capsys, ["--encoder-weights", str(missing)])
    assert rc == 1
    tw = rep["weights"]["timesformer"]
    assert tw["found"] is False and tw["source"] == str(missing)
    assert "hf download facebook/timesformer-base-finetuned-k400" in tw["fix"]
    assert any(p["fatal"] and "TimeSformer weights not found" in p["what"] for p in rep["problems"])
    assert tw["HF_HUB_OFFLINE"] == "1"  # the doctor never goes online

    # a folder given through the environment
    folder = tmp_path / "tsf"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    (folder / "model.safetensors").write_bytes(b"")
    monkeypatch.setenv("NILJAX_ENCODER_WEIGHTS", str(folder))
    rc, rep = _run_json(capsys, [])
    tw = rep["weights"]["timesformer"]
    assert tw["found"] is True and tw["file"] == "model.safetensors" and str(folder) in tw["use"]

    # the default hub id, found in the HF cache layout (snapshots/<rev>/...)
    monkeypatch.delenv("NILJAX_ENCODER_WEIGHTS")
    snap = empty_hf_cache / "models--facebook--timesformer-base-finetuned-k400" / "snapshots" / "abc123"
    snap.mkdir(parents=True)
    (snap / "config.json").write_text("{}")
    (snap / "model.safetensors").write_bytes(b"")
    (empty_hf_cache / "models--facebook--sam2.1-hiera-large").mkdir()
    rc, rep = _run_json(capsys, [])
    assert rc == 0
    assert rep["weights"]["timesformer"]["found"] is True
    assert rep["weights"]["timesformer"]["path"] == str(snap)
    assert rep["weights"]["other_in_hf_cache"] == ["facebook/sam2.1-hiera-large"]


def test_install_fix_in_checkout():
    assert doctor.install_fix(accel="cuda12") == "NILJAX_ACCEL=cuda12 bash scripts/setup.sh assets,warp"
    assert doctor.install_fix("torch") == "bash scripts/setup.sh assets,warp,torch"


# ------------------------------------------------------------------------ the compile cache (issue 26, item 9)
# The doctor used to report "no persistent XLA compile cache" and advise a new JAX_COMPILATION_CACHE_DIR while
# `niljax train` / `evaluate` / `demo` were already caching in ~/.cache/niljax/jax: following the advice cost a
# full recompile. Now it reports the folder those commands use, resolved by the function they call.

_CACHE_PROBE = """
import json
from niljax.doctor import checks
# the checks the cache check reads (jax's own setting) and the cache check itself
report = checks.run(checks=(checks.check_hardware, checks.check_jax, checks.check_compile_cache)).as_dict()
from niljax.train.config import TrainConfig
from niljax.train.run import use_compile_cache
used = use_compile_cache(TrainConfig())  # what `niljax train` / `evaluate` / `demo` call before compiling
print(json.dumps({"doctor": report["compile_cache"], "problems": report["problems"],
                  "used": None if used is None else str(used)}))
"""


def _cache_probe(tmp_path: Path, **env: str) -> dict:
    import os
    import subprocess
    import sys

    clean = {k: v for k, v in os.environ.items()
             if k not in ("JAX_COMPILATION_CACHE_DIR", "NILJAX_COMPILE_CACHE", "XDG_CACHE_HOME")}
    done = subprocess.run([sys.executable, "-c", _CACHE_PROBE], env={**clean, **env}, capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_compile_cache_reported_is_the_one_train_uses(tmp_path):
    out = _cache_probe(tmp_path, XDG_CACHE_HOME=str(tmp_path / "xdg"))
    cache = out["doctor"]
    assert cache["dir"] == out["used"] == str(tmp_path / "xdg" / "niljax" / "jax")
    assert cache["source"] == "default" and cache["writable"] is True
    assert cache["used_by"] == ["niljax train", "niljax evaluate", "niljax demo"]
    assert not [p for p in out["problems"] if "compile cache" in p["what"]]  # no advice to move it


def test_compile_cache_problem_only_when_train_cannot_use_it(tmp_path):
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    out = _cache_probe(tmp_path, NILJAX_COMPILE_CACHE=str(blocked / "jax"))
    assert out["used"] is None  # train runs without a cache here ...
    assert out["doctor"]["dir"] == str(blocked / "jax") and out["doctor"]["writable"] is False
    cache_problems = [p for p in out["problems"] if "compile cache" in p["what"]]
    assert len(cache_problems) == 1 and not cache_problems[0]["fatal"]  # ... and the doctor says so, with the fix
    assert cache_problems[0]["fix"].startswith("export NILJAX_COMPILE_CACHE=")


def test_compile_cache_set_through_jax(capsys, no_gl, empty_hf_cache):
    """This test session sets JAX_COMPILATION_CACHE_DIR (conftest.py): the doctor and the commands both keep it."""
    from niljax import _runtime

    rc, rep = _run_json(capsys, [])
    cache = rep["compile_cache"]
    assert cache["source"] == "JAX_COMPILATION_CACHE_DIR"
    assert cache["dir"] == str(_runtime.enable_compile_cache())
    assert cli_main(["doctor"]) == rc
    text = capsys.readouterr().out
    assert f"cache      {cache['dir']} (" in text and "on by default for niljax train" in text
    assert "XLA compile cache off" not in text
