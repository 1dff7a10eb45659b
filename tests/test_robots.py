"""Robot registry, asset resolution and the MjSpec scene builder (host-side; no MJX compiles here)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import mujoco
import numpy as np
import pytest

from niljax.robots import (
    AssetNotFoundError,
    RobotNotFoundError,
    RobotSpecError,
    get_spec,
    list_robots,
    load_robot,
    register_robot,
    spec_from_dict,
)

PAPER = ("h1", "g1", "talos", "a1")
FIXTURE_MODELS = {"h1": "unitree_h1/h1.xml", "g1": "unitree_g1/g1.xml", "talos": "talos/talos.xml",
                  "a1": "unitree_a1/unitree_a1_torque.xml"}


def _available(name: str):
    try:
        return load_robot(name)
    except AssetNotFoundError:
        return None


@pytest.fixture(scope="module")
def scenes() -> dict:
    return {n: s for n in list_robots() if (s := _available(n)) is not None}


def test_registry_has_required_robots():
    names = list_robots()
    for n in PAPER + ("go1", "op3", "toy_arm"):
        assert n in names
    assert len({get_spec(n).morphology for n in names}) >= 3  # humanoid, quadruped, arm


def test_every_spec_parses_and_is_consistent():
    for n in list_robots():
        s = get_spec(n)
        assert s.name == n and s.sources, n
        assert s.n_substeps >= 1 and abs(s.n_substeps * s.sim_dt - 1 / s.control_hz) < 1e-9
        assert s.control_hz == 100  # the paper's control rate


def test_unknown_robot_lists_known_names():
    with pytest.raises(RobotNotFoundError) as e:
        get_spec("no_such_robot")
    msg = str(e.value)
    assert "no_such_robot" in msg and "h1" in msg and "toy_arm" in msg


def test_missing_asset_names_every_source_tried(tmp_path):
    spec = dataclasses.replace(get_spec("a1"), name="a1_nowhere")
    menagerie = next(src for src in spec.sources if src.kind == "menagerie")  # A1 also ships with niljax
    spec = dataclasses.replace(spec, sources=(menagerie,) + (
        type(spec.sources[0])(kind="package", package="not_a_real_asset_pkg", path="x.xml"),
        type(spec.sources[0])(kind="path", path=str(tmp_path / "missing.xml"))))
    try:
        load_robot(spec)
    except AssetNotFoundError as e:
        msg = str(e)
        assert "mujoco-menagerie" in msg and "not_a_real_asset_pkg" in msg and "missing.xml" in msg
        assert "MENAGERIE_ROOT" in msg and "mjcf_path" in msg
    else:  # a machine with MENAGERIE_ROOT / network resolved the menagerie source: still a valid outcome
        pytest.skip("menagerie A1 resolved on this machine (MENAGERIE_ROOT or network)")
    with pytest.raises(AssetNotFoundError, match="does not exist"):
        load_robot("h1", mjcf_path=tmp_path / "nope.xml")


def test_bad_spec_and_bad_options():
    with pytest.raises(RobotSpecError, match="root"):
        spec_from_dict({"name": "x", "sources": [{"kind": "path", "path": "a.xml"}]})
    with pytest.raises(RobotSpecError, match="kind"):
        spec_from_dict({"name": "x", "sources": [{"kind": "ftp"}], "bodies": {"root": "b"}})
    with pytest.raises(RobotSpecError, match="integer"):
        spec_from_dict({"name": "x", "sources": [], "bodies": {"root": "b"}, "sim_dt": 0.003})
    with pytest.raises(ValueError, match="collisions"):
        load_robot("toy_arm", collisions="some")


def test_offline_robots_build(scenes):
    for n in ("h1", "g1", "go1", "op3", "toy_arm"):
        assert n in scenes, f"{n} should resolve from the offline asset packages / robots/assets"


def test_scene_structure(scenes):
    for name, sc in scenes.items():
        m = sc.mj_model
        assert m.nu == len(sc.joint_names) == sc.nu > 0, name
        floor = sc.floor_geom_id
        assert m.geom(floor).name == "floor" and not sc.robot_geom_mask[floor]
        assert sc.robot_geom_mask.sum() == (m.geom_bodyid != 0).sum(), name
        cam = m.camera("follow")
        assert cam.mode[0] == mujoco.mjtCamLight.mjCAMLIGHT_TRACK
        assert m.cam_bodyid[cam.id] == sc.root_body_id
        assert m.nlight >= 1 and m.opt.timestep == sc.spec.sim_dt
        # the follow camera looks at the root: in camera coordinates the root is straight ahead (-z)
        d = mujoco.MjData(m)
        d.qpos[:] = sc.home_qpos
        mujoco.mj_forward(m, d)
        rel = d.cam_xmat[cam.id].reshape(3, 3).T @ (d.xpos[sc.root_body_id] - d.cam_xpos[cam.id])
        look = np.array([0, 0, sc.spec.camera.get("look_height", 0.0)])
        rel = d.cam_xmat[cam.id].reshape(3, 3).T @ (d.xpos[sc.root_body_id] + look - d.cam_xpos[cam.id])
        assert rel[2] < 0 and np.hypot(rel[0], rel[1]) < 1e-3 * abs(rel[2]) + 1e-6, (name, rel)


def test_feet_only_collisions_and_home_height(scenes):
    for name, sc in scenes.items():
        m = sc.mj_model
        colliding = np.nonzero((m.geom_contype | m.geom_conaffinity) != 0)[0]
        robot_coll = [g for g in colliding if sc.robot_geom_mask[g]]
        if sc.collisions == "feet":
            assert set(robot_coll) == set(np.nonzero(sc.geom_foot_index >= 0)[0]), name
        for g in robot_coll:  # robot geoms never collide with each other in feet/floor modes
            assert m.geom_contype[g] == 0 and m.geom_conaffinity[g] == 1
        if sc.root_kind == "fixed":
            continue
        d = mujoco.MjData(m)
        d.qpos[:] = sc.home_qpos
        mujoco.mj_forward(m, d)
        # home height "auto": feet touch the floor (contact or within a couple of mm), nothing else does
        dists = [d.contact[i].dist for i in range(d.ncon)]
        gaps = [d.geom_xpos[g, 2] for g in robot_coll]
        assert (len(dists) > 0 and min(dists) > -0.01) or min(gaps) < 0.2, name


def test_collision_modes_and_plain_background():
    full = load_robot("toy_arm", collisions="full", plain_background=True)
    m = full.mj_model
    assert m.geom_conaffinity[full.floor_geom_id] == 1
    assert m.geom_rgba[full.floor_geom_id][3] == 0  # invisible floor ...
    assert m.geom_contype[full.floor_geom_id] == 1  # ... that still collides
    robot = full.robot_geom_mask
    assert np.all(m.geom_contype[robot] == 1)  # "full": the model's own self-collisions kept
    floor_mode = load_robot("toy_arm", collisions="floor").mj_model
    assert np.all(floor_mode.geom_contype[robot] == 0) and np.all(floor_mode.geom_conaffinity[robot] == 1)


def test_register_robot_and_robots_dir(tmp_path, monkeypatch):
    raw = {"name": "toy_copy", "description": "copy", "morphology": "arm",
           "sources": [{"kind": "path", "path": str(Path(get_spec("toy_arm").origin).parent / "assets/toy_arm.xml")}],
           "bodies": {"root": "base", "fixed_base": True, "feet": []},
           "actuation": {"mode": "torque"}, "camera": {"distance": 2.0}}
    register_robot(raw)
    assert "toy_copy" in list_robots()
    sc = load_robot("toy_copy")
    assert sc.root_kind == "fixed" and sc.spec.actuation["mode"] == "torque"
    assert np.all(sc.torque_limit == np.array([40, 25, 10]))  # the source model's forceranges
    monkeypatch.setenv("NILJAX_ROBOTS_DIR", str(tmp_path))
    (tmp_path / "mini.toml").write_text('name = "mini"\nsources = [{kind = "path", path = "x.xml"}]\n'
                                        '[bodies]\nroot = "base"\n')
    assert "mini" in list_robots() and "h1" not in list_robots()


@pytest.mark.fixtures
def test_locomujoco_models_load_through_explicit_path(locomujoco_dir):
    for name, rel in FIXTURE_MODELS.items():
        sc = load_robot(name, mjcf_path=locomujoco_dir / "models" / rel)
        assert sc.root_kind == "slides", name  # six named root joints, no free joint
        assert "explicit path" in sc.asset_source
        assert sc.collisions == "feet" and (sc.geom_foot_index >= 0).any(), name
        m = sc.mj_model
        assert mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_GEOM, "floor") == sc.floor_geom_id
        assert m.ncam == 1 and m.nkey == 0  # their own cameras/keys stripped, ours added
        assert (m.geom_type == mujoco.mjtGeom.mjGEOM_PLANE).sum() == 1  # their floor stripped
    h1 = load_robot("h1", mjcf_path=locomujoco_dir / "models" / FIXTURE_MODELS["h1"])
    assert "hip_flexion_l" in h1.joint_names  # the LocoMuJoCo variant's names
    knee = h1.joint_qpos_adr[h1.joint_names.index("knee_angle_l")]
    assert h1.home_qpos[knee] == pytest.approx(0.8)


def test_robots_command_stays_offline_unless_asked(monkeypatch, tmp_path, capsys):
    """Issue 19: `niljax robots` took ~15 s offline trying the menagerie downloader; now it never calls it (a
    menagerie-only robot shows as 'online; not checked') unless `--online`."""
    import time

    import niljax.robots.assets as assets
    from niljax.cli import main

    monkeypatch.delenv("MENAGERIE_ROOT", raising=False)
    monkeypatch.setenv("MENAGERIE_CACHE_DIR", str(tmp_path / "menagerie-cache"))  # nothing cached
    tried = []
    real = assets._try_source

    def try_source(src):
        if src.kind == "menagerie":
            tried.append(src.name)
            raise FileNotFoundError("URLError: no network in this test")
        return real(src)

    monkeypatch.setattr(assets, "_try_source", try_source)
    t0 = time.perf_counter()
    assert main(["robots"]) == 0
    elapsed = time.perf_counter() - t0
    out = capsys.readouterr().out
    assert tried == [] and elapsed < 5.0, (tried, elapsed)
    assert "mujoco-menagerie `pal_talos` (entry talos_position) (online; not checked" in out
    assert "shipped with niljax (`niljax.data`)" in out  # A1 resolves offline from the package
    assert "toy_arm" in out and "toy_arm.xml" in out
    assert main(["robots", "--online"]) == 0
    out = capsys.readouterr().out
    assert "pal_talos" in tried and "no network in this test" in out and "online; not checked" not in out
    assert main(["robots", "--bogus"]) == 2 and "unknown argument '--bogus'" in capsys.readouterr().err
