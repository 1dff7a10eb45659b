"""Data shipped in the package (niljax/data): the LocoMuJoCo walks by name, the trimmed A1 model, the spec
folders in a wheel, the fetch command for the models not shipped, and the experiments' fallback to all of it
when ../shared is absent (the lookup pointed at empty folders)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest

from niljax import data

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "locomujoco"


def test_every_shipped_walk_is_500_hz_by_its_own_velocities():
    from niljax.sim.replay import implied_sample_rate

    assert data.mocap_names() == ["a1-walk", "g1-walk", "h1-walk", "talos-walk"]
    for name in data.mocap_names():
        with np.load(data.mocap_path(name), allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
        assert float(arrays["frequency"]) == 500.0
        assert len(arrays["q_" + ("trunk_tx" if name == "a1-walk" else "pelvis_tx")]) == 500
        assert 480 < implied_sample_rate(arrays) < 520, name


def test_a1_walk_drives_the_shipped_a1_model_offline():
    from niljax.reference.first_frame import load_trajectory
    from niljax.robots import get_spec, load_robot, resolve_asset

    path, source = resolve_asset(get_spec("a1"), online=False)
    assert path == data.asset_path() / "models/unitree_a1/unitree_a1_torque.xml"
    assert source.startswith("shipped with niljax")
    scene = load_robot("a1")
    qpos, rate = load_trajectory("a1-walk", scene)  # by name, at the file's own rate
    assert rate == 500.0 and qpos.shape == (500, scene.mj_model.nq)
    # the walk moves forward about 0.24 m/s, as LocoMuJoCo's first take does
    assert 0.15 < (qpos[-1, 0] - qpos[0, 0]) < 0.35


def test_decimated_a1_meshes_leave_the_physics_unchanged():
    import mujoco

    shipped = mujoco.MjModel.from_xml_path(str(data.locomujoco_file("models/unitree_a1/unitree_a1_torque.xml")))
    assert shipped.nmeshface < 20_000  # the originals have 142k triangles
    assert (shipped.geom_contype[shipped.geom_type == mujoco.mjtGeom.mjGEOM_MESH] == 0).all()  # visual only
    if not (SHARED / "models/unitree_a1/unitree_a1_torque.xml").is_file():
        pytest.skip("../shared/locomujoco absent: no original A1 to compare with")
    original = mujoco.MjModel.from_xml_path(str(SHARED / "models/unitree_a1/unitree_a1_torque.xml"))
    np.testing.assert_array_equal(shipped.body_mass, original.body_mass)
    np.testing.assert_array_equal(shipped.body_inertia, original.body_inertia)
    collide = original.geom_contype > 0
    np.testing.assert_array_equal(shipped.geom_size[collide], original.geom_size[collide])


def test_shipped_walks_equal_the_fixtures_they_were_cut_from():
    if not SHARED.is_dir():
        pytest.skip("../shared/locomujoco absent")
    for name, clip in data.MOCAP.items():
        with np.load(data.mocap_path(name)) as shipped, np.load(SHARED / clip.source) as source:
            keys = [k for k in source.files if k.startswith(("q_", "dq_"))]
            assert sorted(keys) == sorted(k for k in shipped.files if k.startswith(("q_", "dq_")))
            for k in keys:
                np.testing.assert_array_equal(shipped[k], source[k][:500])


def test_unknown_trajectory_name_lists_the_shipped_walks(tmp_path, monkeypatch):
    with pytest.raises(FileNotFoundError, match="a1-walk, g1-walk, h1-walk, talos-walk"):
        data.resolve_trajectory("a2-walk")
    with pytest.raises(ValueError, match="shipped walks"):
        data.mocap_path("nope")
    own = tmp_path / "a1-walk"  # an existing file wins over a shipped name
    own.write_bytes(b"x")
    monkeypatch.chdir(tmp_path)  # undone after the test: later tests in this worker must not see this file
    assert data.resolve_trajectory("a1-walk") == Path("a1-walk")


def _empty_lookup_env(tmp_path: Path) -> dict[str, str]:
    """Environment in which neither ../shared nor a fetch cache has anything: NILJAX_SHARED and
    NILJAX_LOCOMUJOCO point at empty folders."""
    (tmp_path / "empty_shared").mkdir()
    (tmp_path / "empty_cache").mkdir()
    env = dict(os.environ, NILJAX_SHARED=str(tmp_path / "empty_shared"),
               NILJAX_LOCOMUJOCO=str(tmp_path / "empty_cache"), JAX_PLATFORMS="cpu")
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "experiments"), str(ROOT / "benchmarks"),
                                         env.get("PYTHONPATH", "")])
    return env


def test_experiments_use_the_shipped_data_when_shared_is_absent(tmp_path):
    code = """
import json, sys
import walking
from niljax.data import asset_path
out = {"a1": [walking.fixture_file(p) for p in walking.FIXTURES["a1"][:2]],
       "h1_walk": walking.fixture_file(walking.FIXTURES["h1"][1]), "shipped": str(asset_path())}
sys.argv = ["a1_walk.py", "--quick"]
import _common
args = _common.parse_args("a1")
out["common"] = [args.trajectory, args.mjcf]
try:
    walking.fixture_file(walking.FIXTURES["h1"][0])
except SystemExit as err:
    out["h1_model_error"] = str(err)
print(json.dumps(out))
"""
    res = subprocess.run([sys.executable, "-c", code], env=_empty_lookup_env(tmp_path), capture_output=True,
                         text=True, cwd=tmp_path, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    out = json.loads(res.stdout.strip().splitlines()[-1])
    shipped = out["shipped"]
    assert out["a1"] == [f"{shipped}/models/unitree_a1/unitree_a1_torque.xml", f"{shipped}/mocap/a1-walk.npz"]
    assert out["h1_walk"] == f"{shipped}/mocap/h1-walk.npz"
    assert out["common"] == ["a1-walk", f"{shipped}/models/unitree_a1/unitree_a1_torque.xml"]
    # a model that is not shipped: a clear error naming the command that brings it and where it looked
    assert "python -m niljax.data.fetch" in out["h1_model_error"]
    assert "empty_cache" in out["h1_model_error"] and "models/unitree_h1/h1.xml" in out["h1_model_error"]


@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/locomujoco absent")
def test_experiments_prefer_shared_when_it_is_there(tmp_path):
    env = _empty_lookup_env(tmp_path)
    env["NILJAX_SHARED"] = str(SHARED.parent)
    code = "import walking; print(walking.fixture_file(walking.FIXTURES['h1'][0]))"
    res = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stdout.strip().splitlines()[-1] == str(SHARED / "models/unitree_h1/h1.xml")


def test_bench_suite_preset_falls_back_and_names_the_fetch_command(tmp_path):
    code = "import bench_suite as b; print(b.PRESETS['cpu'].mjcf)"
    res = subprocess.run([sys.executable, "-c", code], env=_empty_lookup_env(tmp_path), capture_output=True,
                         text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stdout.strip().splitlines()[-1] == str(tmp_path / "empty_shared/locomujoco/models/unitree_h1/h1.xml")
    assert "niljax.data.fetch" in (ROOT / "benchmarks/bench_suite.py").read_text()


def _fake_sdist(path: Path) -> Path:
    base = "loco-mujoco-0.4.1"
    members = {f"{base}/LICENSE": b"MIT License (test)",
               f"{base}/loco_mujoco/environments/data/unitree_h1/h1.xml": b"<mujoco/>",
               f"{base}/loco_mujoco/environments/data/unitree_h1/assets/pelvis.stl": b"solid",
               f"{base}/loco_mujoco/environments/data/talos/talos.xml": b"<mujoco/>",
               f"{base}/loco_mujoco/environments/data/quadrupeds/unitree_a1_torque.xml": b"<mujoco/>",
               f"{base}/loco_mujoco/environments/data/unitree_h1/../../../../../escape.txt": b"no"}
    with tarfile.open(path, "w:gz") as tar:
        for name, payload in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))
    return path


def test_fetch_unpacks_the_models_in_the_layout_the_lookup_reads(tmp_path, monkeypatch):
    from niljax.data import fetch

    sdist = _fake_sdist(tmp_path / "loco-mujoco-0.4.1.tar.gz")
    dest = tmp_path / "cache"
    assert fetch.main(["--dest", str(dest), "--sdist", str(sdist), "--robots", "h1"]) == 0
    assert (dest / "models/unitree_h1/h1.xml").read_bytes() == b"<mujoco/>"
    assert (dest / "models/unitree_h1/assets/pelvis.stl").is_file()
    assert (dest / "LICENSE").is_file()
    assert not (dest / "models/talos").exists()  # only the robots asked for
    assert not list(tmp_path.rglob("escape.txt"))  # nothing outside dest
    monkeypatch.setenv("NILJAX_LOCOMUJOCO", str(dest))
    assert data.locomujoco_file("models/unitree_h1/h1.xml") == dest / "models/unitree_h1/h1.xml"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    res = subprocess.run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "--no-build-isolation",
                          "-q", "-w", str(out)], capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    return next(out.glob("niljax-*.whl"))


def test_a_wheel_carries_the_data_and_the_spec_folders(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {f"niljax/data/mocap/{n}.npz" for n in data.mocap_names()} | {
        "niljax/data/NOTICE.md", "niljax/data/LICENSE.locomujoco",
        "niljax/data/models/unitree_a1/unitree_a1_torque.xml", "niljax/data/models/unitree_a1/assets/trunk.stl",
        "niljax/data/specs/robots/assets/toy_arm.xml"}
    expected |= {f"niljax/data/specs/robots/{p.name}" for p in (ROOT / "robots").glob("*.toml")}
    expected |= {f"niljax/data/specs/skills/{p.name}" for p in (ROOT / "skills").glob("*.toml")}
    assert expected <= names, sorted(expected - names)
    size = sum(i.file_size for i in zipfile.ZipFile(wheel).infolist() if i.filename.startswith("niljax/data/"))
    assert size < 4_000_000  # "a few MB at most"


def test_a_non_editable_install_finds_robots_skills_and_walks(wheel, tmp_path):
    target = tmp_path / "site"
    res = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target),
                          str(wheel)], capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    code = """
import json, niljax
from niljax.robots import list_robots, list_skills, load_robot, robots_dir
from niljax.data import mocap_path
print(json.dumps({"file": niljax.__file__, "robots_dir": str(robots_dir()), "robots": list_robots(),
                  "skills": list_skills(), "a1": str(load_robot("a1").asset_path),
                  "toy": str(load_robot("toy_arm").asset_path), "walk": str(mocap_path("h1-walk"))}))
"""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NILJAX_")}
    env["PYTHONPATH"] = str(target)  # ahead of the editable install of the checkout
    res = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
                         timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert out["file"].startswith(str(target))
    assert out["robots_dir"] == str(target / "niljax/data/specs/robots")
    assert {"a1", "h1", "toy_arm"} <= set(out["robots"]) and "walking" in out["skills"]
    for key in ("a1", "toy", "walk"):
        assert out[key].startswith(str(target)), (key, out[key])
