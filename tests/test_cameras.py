"""Camera variants (issue 16, item 2): azimuth orbit, static camera, per-env field-of-view jitter, multi-view.

What is checked: the view specs and their validation; the orbit and static-anchor geometry; that a per-env
field of view renders what a renderer built for that field of view renders (jax and hull exactly, warp too); a
multi-view + jitter training chunk compiles once, reports per-view reward terms, and redraws each env's field
of view exactly when its episode ends; and a reference recorded with other cameras is refused by name.
"""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from niljax.render import BatchRenderer, CameraView, RenderConfig
from niljax.render.camera import orbit_camera, static_anchor_shift
from niljax.render.kinematics import kinematic_data
from niljax.render.warp_backend import warp_available

from train_helpers import RENDER, _target_pose, make_static_bundle, small_config

VIEWS = ("follow", "follow@90")


# ------------------------------------------------------------------------------------------------ config


def test_view_specs_parse_and_bad_ones_are_named() -> None:
    assert CameraView.parse("follow@45") == CameraView("follow", 45.0)
    assert CameraView.parse("side").name == "side" and CameraView("follow", -90.0).name == "follow@-90"
    assert RenderConfig().view_specs() == (CameraView("follow", 0.0),)
    assert RenderConfig(camera_azimuth=30.0).view_specs() == (CameraView("follow", 30.0),)
    assert [v.name for v in RenderConfig(views=VIEWS).view_specs()] == list(VIEWS)
    with pytest.raises(ValueError, match="CAMERA@AZIMUTH"):
        RenderConfig(views=("follow@left",))
    with pytest.raises(ValueError, match="either"):
        RenderConfig(camera_azimuth=45.0, views=VIEWS)
    with pytest.raises(ValueError, match="twice"):
        RenderConfig(views=("follow", "follow@0"))
    with pytest.raises(ValueError, match="fovy_jitter"):
        RenderConfig(fovy_jitter=0.7)
    with pytest.raises(ValueError, match="camera_anchor"):
        RenderConfig(camera_anchor="orbiting")


# ------------------------------------------------------------------------------------------------ geometry


def test_orbit_turns_the_camera_about_the_pivot() -> None:
    n, az = 3, 90.0
    rng = np.random.default_rng(0)
    pos = rng.normal(size=(n, 2, 3)).astype(np.float32)
    mat = np.stack([np.eye(3, dtype=np.float32)] * 2)[None].repeat(n, 0)
    pivot = rng.normal(size=(n, 3)).astype(np.float32)
    data = SimpleNamespace(cam_xpos=jnp.asarray(pos), cam_xmat=jnp.asarray(mat))
    data.replace = lambda **kw: SimpleNamespace(**{**vars(data), **kw})
    out = orbit_camera(data, 1, jnp.asarray(pivot), az)
    np.testing.assert_array_equal(np.asarray(out.cam_xpos[:, 0]), pos[:, 0])  # camera 0 untouched
    rel, rel0 = np.asarray(out.cam_xpos[:, 1]) - pivot, pos[:, 1] - pivot
    np.testing.assert_allclose(rel[:, 0], -rel0[:, 1], atol=1e-5)  # (x, y) -> (-y, x): 90 deg counter-clockwise
    np.testing.assert_allclose(rel[:, 1], rel0[:, 0], atol=1e-5)
    np.testing.assert_allclose(rel[:, 2], rel0[:, 2], atol=1e-6)  # height kept
    np.testing.assert_allclose(np.asarray(out.cam_xmat[:, 1, :, 0]), np.tile([0.0, 1.0, 0.0], (n, 1)), atol=1e-6)
    assert orbit_camera(data, 1, jnp.asarray(pivot), 0.0) is data


def test_static_anchor_undoes_the_agents_motion_and_the_start_offset() -> None:
    agent_start = jnp.asarray([[0.0, 0.0, 1.0], [5.0, 1.0, 1.0]])
    agent_now = agent_start + jnp.asarray([[0.3, 0.1, 0.0], [1.0, 0.0, -0.2]])
    shift = static_anchor_shift(None, jnp.asarray([0, 0]), agent_now, agent_start)
    np.testing.assert_allclose(np.asarray(shift), -np.asarray(agent_now - agent_start), atol=1e-6)
    root_path = jnp.asarray([[0.0, 0.0, 1.0], [0.5, 0.0, 1.0], [1.0, 0.0, 1.0]])  # the reference walks +x
    shift = static_anchor_shift(root_path, jnp.asarray([0, 2]), agent_start, agent_start)
    np.testing.assert_allclose(np.asarray(shift), [[0, 0, 0], [-1.0, 0, 0]], atol=1e-6)


# ------------------------------------------------------------------------------------------------ rendering


@pytest.fixture(scope="module")
def arm_poses():
    from niljax.robots import load_robot

    scene = load_robot("toy_arm")
    qpos = _target_pose(scene, 4)
    qpos[:, scene.joint_qpos_adr[0]] += np.linspace(-0.4, 0.4, 4)  # four different poses
    return scene, kinematic_data(scene.mj_model, qpos)


@pytest.mark.parametrize("backend", ["jax", "hull", "warp"])
def test_per_env_fovy_renders_what_that_fovy_renders(arm_poses, backend: str) -> None:
    if backend == "warp" and not warp_available():
        pytest.skip("warp-lang not installed")
    scene, data = arm_poses
    base = dataclasses.replace(RENDER, backend=backend, fovy_jitter=0.15)
    factors = np.array([0.85, 0.95, 1.05, 1.15], np.float32)
    jittered = BatchRenderer(scene.mj_model, scene.robot_geom_mask, base, 4)
    _, masks = jax.jit(lambda d, f: jittered.render(d, fovy_factor=f))(data, jnp.asarray(factors))
    masks = np.asarray(masks)
    areas = masks.sum(axis=(1, 2))
    assert np.all(np.diff(areas) < 0), f"a wider field of view must show a smaller arm, areas {areas}"
    for i in (0, 3):  # the extremes against renderers built for those fields of view
        fixed = dataclasses.replace(base, fovy=RENDER.fovy * float(factors[i]), fovy_jitter=0.0)
        _, ref = BatchRenderer(scene.mj_model, scene.robot_geom_mask, fixed, 4).render(data)
        differ = int((np.asarray(ref)[i] != masks[i]).sum())
        assert differ <= 2, f"{backend}: factor {factors[i]} differs from fovy {fixed.fovy} in {differ} pixels"


def test_views_orbit_and_a_full_turn_is_the_same_view(arm_poses) -> None:
    scene, data = arm_poses
    config = dataclasses.replace(RENDER, views=("follow", "follow@90", "follow@360"))
    renderer = BatchRenderer(scene.mj_model, scene.robot_geom_mask, config, 4)
    rgb, masks = jax.jit(renderer.render_views)(data)
    assert rgb.shape == (3, 4, 32, 32, 3) and masks.shape == (3, 4, 32, 32)
    masks = np.asarray(masks)
    assert (masks[0] != masks[2]).sum() <= 2  # 360 degrees: back where it started
    assert (masks[0] != masks[1]).sum() > 20  # 90 degrees: another silhouette


# ------------------------------------------------------------------------------------------------ training


@pytest.fixture(scope="module")
def multi_view_bundle(tmp_path_factory):
    from niljax.encoders.factory import EncoderConfig
    from niljax.robots import load_robot
    from niljax.train.demo import make_replay_bundle
    from train_helpers import CLIP

    scene = load_robot("toy_arm")
    out = tmp_path_factory.mktemp("views") / "reference"
    return make_replay_bundle(out, "toy_arm", _target_pose(scene, 30), dataclasses.replace(RENDER, views=VIEWS),
                              EncoderConfig(kind="toy", clip_len=CLIP), CLIP, source="replay:test-views",
                              skill="posing")


def test_multi_view_reference_folder_loads_every_view(multi_view_bundle) -> None:
    from niljax.reward import BundleError, load_bundle, load_view_bundles

    views = load_view_bundles(multi_view_bundle)
    assert list(views) == list(VIEWS)
    assert views["follow@90"].metadata.camera["azimuth"] == 90.0
    assert (views["follow"].masks != views["follow@90"].masks).any()
    with pytest.raises(BundleError, match="multi-view"):
        load_bundle(multi_view_bundle)


def test_multi_view_jittered_training_compiles_once_with_per_view_terms(multi_view_bundle, tmp_path) -> None:
    from niljax.train.loop import chunk_summary
    from niljax.train.run import build_pipeline

    render = dataclasses.replace(RENDER, views=VIEWS, fovy_jitter=0.15)
    # random start indices: episodes end at different iterations, so the redraw is checked env by env
    config = small_config(multi_view_bundle, tmp_path / "run", render=render, iterations_per_call=20,
                          random_start=True)
    trainer = build_pipeline(config).trainer
    state = trainer.init(jax.random.PRNGKey(0))
    assert state.history.frames.shape[:2] == (2, 8) and state.last_video.shape == (2, 8)
    factors = [np.asarray(state.fovy_factor)]
    seen_done = []
    for _ in range(2):
        before_steps = np.asarray(state.env_state.info["step_count"])
        state, metrics = trainer.train_chunk(state)
        summary = chunk_summary(metrics)
        factors.append(np.asarray(state.fovy_factor))
        seen_done.append(np.asarray(state.env_state.info["step_count"]) < before_steps + 20)
    assert trainer.trace_count == 1
    for f in factors:
        assert np.all(np.abs(f - 1.0) <= 0.15) and np.unique(f).size == 8
    # an env's field of view changes exactly when an episode of it ended during the chunk (30-frame reference)
    for before, after, ended in zip(factors, factors[1:], seen_done):
        np.testing.assert_array_equal(before != after, ended)
    for view in VIEWS:
        assert np.isfinite(summary[f"reward/views/{view}/iou"]) and np.isfinite(summary[f"reward/views/{view}/video"])
    mean_iou = (summary["reward/views/follow/iou"] + summary["reward/views/follow@90/iou"]) / 2
    assert summary["reward/iou"] == pytest.approx(mean_iou, rel=1e-5)
    result = trainer.evaluate(state.learner, jax.random.PRNGKey(1), record=True)
    assert result["frames"].shape[1:] == (32, 32, 3) and np.isfinite(np.asarray(result["iou_mean"])).all()


def test_a_reference_from_other_cameras_is_refused_by_name(multi_view_bundle, tmp_path) -> None:
    from niljax.train.run import build_pipeline

    other_views = small_config(multi_view_bundle, tmp_path / "a", render=dataclasses.replace(
        RENDER, views=("follow", "follow@45")))
    with pytest.raises(ValueError, match=r"camera views differ.*follow@45.*follow@90"):
        build_pipeline(other_views)
    single = make_static_bundle(tmp_path / "single")
    with pytest.raises(ValueError, match="azimuth: bundle 0.0 vs run 30.0"):
        build_pipeline(small_config(single, tmp_path / "b", render=dataclasses.replace(RENDER, camera_azimuth=30.0)))
    with pytest.raises(ValueError, match="static: bundle False vs run True"):
        build_pipeline(small_config(single, tmp_path / "c", render=dataclasses.replace(RENDER, camera_anchor="static")))
    with pytest.raises(ValueError, match="camera views differ"):
        build_pipeline(small_config(single, tmp_path / "d", render=dataclasses.replace(RENDER, views=VIEWS)))

