"""After training (niljax.deploy): export, the numpy / ONNX policy, C MuJoCo playback and the sim-to-sim report.

- the numpy observation and control law (`niljax.deploy.controller`) equal the JAX env's on MJX states of a
  floating-base robot (A1, with time and phase features), and one C MuJoCo control step from an MJX state lands
  where MJX does (same substeps, same PD actuators);
- on a tiny trained toy-arm run: the JAX actor, the numpy forward pass and onnxruntime agree on random
  observations (max |action difference| <= 1e-5); the export records the run's own evaluation env (checked
  against `build_pipeline`); `play` writes an mp4 and the protocol score; `sim2sim` writes JSON, PNG and the
  robustness table, and its MJX score is the training run's own final evaluation score;
- the CLI commands, and their errors (no run folder, no display for --viewer, no onnx installed).
ONNX tests skip, with the reason, when the `export` extra (onnx, onnxruntime) is missing. The tests on the
trained toy run are `slow` (the fixture trains a run: a training chunk and evaluation compile); a freshly
initialised actor covers the three forward passes in the default suite.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from mujoco import mjx
from train_helpers import make_static_bundle, small_config

from niljax.deploy import controller as ctl
from niljax.deploy.export import ACTION_TOLERANCE, actor_arrays, actor_params, export_run, load_export
from niljax.deploy.numpy_policy import NumpyPolicy
from niljax.deploy.play import Perturbation, play, rollout_c
from niljax.deploy.sim2sim import sim2sim

try:
    import onnx  # noqa: F401
    import onnxruntime  # noqa: F401

    HAS_ONNX, NO_ONNX = True, ""
except ImportError as err:  # the `export` extra is optional
    HAS_ONNX, NO_ONNX = False, f"the export extra is not installed ({err}): pip install 'niljax[export]'"
needs_onnx = pytest.mark.skipif(not HAS_ONNX, reason=NO_ONNX or "onnx present")


# ------------------------------------------------------------------ the observation / control mirror (A1)


@pytest.fixture(scope="module")
def a1_mjx_steps():
    """An A1 env with time and phase features, started with random joint velocities, stepped K times with random
    (partly out-of-range) actions in MJX: (scene, env, reset data, reset obs, per-step data and obs, actions)."""
    from niljax.robots import load_robot
    from niljax.sim import EnvConfig, NilEnv

    scene = load_robot("a1")
    rng = np.random.default_rng(0)
    qvel = 0.3 * rng.standard_normal(scene.mj_model.nv)
    env = NilEnv(scene, EnvConfig(horizon=100, obs_time_index=True, time_scale=80, phase_period=25),
                 start_states=(scene.home_qpos[None], qvel[None]))
    actions = rng.uniform(-1.2, 1.2, (6, scene.nu)).astype(np.float32)

    @jax.jit
    def run(actions: jax.Array):
        s = env.reset(jax.random.PRNGKey(0))

        def body(s, a):
            n = env.step(s, a)
            return n, (n.data, n.obs)

        _, (datas, obs) = jax.lax.scan(body, s, actions)
        return s.data, s.obs, datas, obs

    d0, o0, datas, obs = jax.device_get(run(jnp.asarray(actions)))
    return scene, env, d0, o0, datas, obs, actions


def _c_data(scene, data, t=None):
    return mjx.get_data(scene.mj_model, data if t is None else jax.tree.map(lambda x: x[t], data))


def test_numpy_observation_and_control_equal_the_jax_env(a1_mjx_steps):
    scene, env, d0, o0, datas, obs, actions = a1_mjx_steps
    spec = ctl.ControllerSpec.from_env(env)
    assert spec.obs_dim == env.obs_dim == o0.shape[-1]
    assert [p["size"] for p in spec.layout()] == [3, 3, 3, 1, 12, 12, 12, 1, 2]
    memory = ctl.ActionMemory(spec.nu)
    np.testing.assert_allclose(ctl.observation(spec, _c_data(scene, d0), memory.shown, 0), o0, atol=1e-5)
    for t in range(len(actions)):
        ctrl, clean = ctl.control(spec, actions[t])
        np.testing.assert_allclose(ctrl, np.asarray(datas.ctrl[t]), atol=1e-6, err_msg=f"ctrl, step {t}")
        memory.push(clean)
        got = ctl.observation(spec, _c_data(scene, datas, t), memory.shown, t + 1)
        np.testing.assert_allclose(got, obs[t], atol=1e-5, err_msg=f"observation, step {t}")
        # the previous-action entry lags two steps (what the policy was trained on): showing the action just
        # applied instead would differ
        if t >= 1:
            assert np.abs(ctl.observation(spec, _c_data(scene, datas, t), clean, t + 1) - obs[t]).max() > 1e-3
    assert np.abs(actions).max() > 1.0  # out-of-range actions were clipped the same way
    # what the spec says survives its JSON round trip
    again = ctl.ControllerSpec.from_dict(json.loads(json.dumps(spec.to_dict())))
    np.testing.assert_array_equal(again.action_scale, spec.action_scale)
    assert again.to_dict() == spec.to_dict()


def test_one_c_mujoco_control_step_lands_where_mjx_does(a1_mjx_steps):
    """Same substeps, same PD actuators, same start: after one control step (two physics steps) the joints agree
    to float32 rounding (no foot touches the floor harder in one than in the other within 10 ms)."""
    scene, env, d0, _, datas, _, actions = a1_mjx_steps
    spec = ctl.ControllerSpec.from_env(env)
    d = _c_data(scene, d0)
    ctrl, _ = ctl.control(spec, actions[0])
    assert ctl.step(spec, scene.mj_model, d, ctrl)
    np.testing.assert_allclose(d.qpos, np.asarray(datas.qpos[0]), atol=1e-5)
    # with twice the substeps the same step lands elsewhere: the check can fail
    d2 = _c_data(scene, d0)
    wrong = ctl.ControllerSpec.from_dict(spec.to_dict() | {"n_substeps": 2 * spec.n_substeps})
    ctl.step(wrong, scene.mj_model, d2, ctrl)
    assert np.abs(d2.qpos - np.asarray(datas.qpos[0])).max() > 1e-3


# ------------------------------------------------------------------ the three forward passes (no run)


@pytest.mark.parametrize("depth", [0, 2])
def test_numpy_and_onnx_forward_passes_equal_a_fresh_jax_actor(depth):
    from niljax.learner.networks import Actor

    actor = Actor(7, 32, depth)
    params = actor.init(jax.random.PRNGKey(depth), jnp.zeros((1, 23)))["params"]
    arrays = actor_arrays(params)
    assert NumpyPolicy(arrays).depth == depth
    obs = (2.0 * np.random.default_rng(depth).standard_normal((300, 23))).astype(np.float32)
    mean, _ = jax.jit(actor.apply)({"params": params}, obs)
    reference = np.tanh(np.asarray(mean))
    assert np.abs(NumpyPolicy(arrays)(obs) - reference).max() <= ACTION_TOLERANCE
    if HAS_ONNX:
        from niljax.deploy.onnx_graph import build_model, run_onnx

        assert np.abs(run_onnx(build_model(arrays), obs) - reference).max() <= ACTION_TOLERANCE


def test_cli_refuses_a_missing_run(tmp_path, capsys):
    from niljax.cli import main

    assert main(["export", str(tmp_path / "nowhere")]) == 2
    assert "no run folder" in capsys.readouterr().err
    assert main(["play", str(tmp_path)]) == 2  # a folder that is neither a run nor an export
    assert "not a run folder" in capsys.readouterr().err


# ------------------------------------------------------------------ a tiny trained run (toy arm), slow


@pytest.fixture(scope="module")
def toy_run(tmp_path_factory) -> Path:
    from niljax.train.run import train

    root = tmp_path_factory.mktemp("deploy")
    bundle = make_static_bundle(root / "bundle")
    return train(small_config(bundle, root / "run"))


@pytest.fixture(scope="module")
def toy_export(toy_run) -> Path:
    return export_run(toy_run, formats=("npz", "onnx") if HAS_ONNX else ("npz",))


@pytest.mark.slow
def test_npz_arrays_round_trip_to_the_flax_actor(toy_run):
    from niljax.learner.checkpoint import load_policy

    policy = load_policy(toy_run / "policy")
    back = actor_params(actor_arrays(policy.params))
    for part in ("BroNet_0", "Dense_0"):  # the trunk and the mean head, leaf for leaf
        jax.tree.map(np.testing.assert_array_equal, jax.device_get(policy.params[part]), back[part])
    obs = np.random.default_rng(1).standard_normal((64, policy.obs_dim)).astype(np.float32)
    mean, _ = policy.actor.apply({"params": jax.tree.map(jnp.asarray, back)}, obs)
    np.testing.assert_allclose(np.asarray(jnp.tanh(mean)), np.asarray(policy(obs)), atol=1e-6)  # eager vs jit


@pytest.mark.slow
def test_jax_numpy_and_onnx_actions_agree(toy_run, toy_export):
    from niljax.learner.checkpoint import load_policy

    jax_policy = load_policy(toy_run / "policy")
    export = load_export(toy_export)
    obs = (3.0 * np.random.default_rng(7).standard_normal((1000, jax_policy.obs_dim))).astype(np.float32)
    reference = np.asarray(jax_policy(obs))
    assert np.abs(reference).max() > 0.05  # a policy whose actions are all ~0 would agree trivially
    ours = export.policy(obs)
    assert np.abs(ours - reference).max() <= ACTION_TOLERANCE
    # the pre-tanh means agree too (tanh saturates and would hide a difference in large means)
    mean, _ = jax_policy.actor.apply({"params": jax_policy.params}, obs)
    np.testing.assert_allclose(export.policy.mean(obs), np.asarray(mean), atol=1e-4, rtol=1e-5)
    checks = export.info["checks"]
    assert checks["numpy_vs_jax"] <= ACTION_TOLERANCE and checks["samples"] >= 256
    if HAS_ONNX:
        from niljax.deploy.onnx_graph import run_onnx

        theirs = run_onnx(export.onnx_path, obs)
        assert np.abs(theirs - reference).max() <= ACTION_TOLERANCE
        assert np.abs(theirs - ours).max() <= ACTION_TOLERANCE
        assert checks["onnx_vs_jax"] <= ACTION_TOLERANCE


@pytest.mark.slow
@needs_onnx
def test_a_wrong_onnx_graph_fails_the_check(toy_run):
    from niljax.deploy.export import check_export
    from niljax.deploy.onnx_graph import build_model
    from niljax.learner.checkpoint import load_policy

    jax_policy = load_policy(toy_run / "policy")
    arrays = actor_arrays(jax_policy.params)
    broken = dict(arrays, **{"mean.bias": arrays["mean.bias"] + 0.01})
    with pytest.raises(ValueError, match="disagrees with the JAX actor"):
        check_export(arrays, jax_policy, build_model(broken))


@pytest.mark.slow
def test_export_records_the_runs_own_evaluation_env(toy_run, toy_export):
    from niljax.train.run import build_pipeline
    from niljax.train.run_folder import load_run

    info = json.loads((toy_export / "policy.json").read_text())
    pipeline = build_pipeline(load_run(toy_run))
    eval_env = pipeline.trainer.eval_env
    assert info["controller"] == ctl.ControllerSpec.from_env(eval_env).to_dict()
    assert info["env_config"] == json.loads(json.dumps(eval_env.config.__dict__))
    assert info["protocol"]["horizon"] == pipeline.trainer.eval_steps
    assert info["policy"]["obs_dim"] == json.loads((toy_run / "policy" / "nil.json").read_text())["obs_dim"]
    assert info["robot"] == "toy_arm" and info["action"]["mode"] == "pd"
    np.testing.assert_allclose(info["pd_gains"]["kp"], [60.0, 40.0, 20.0])  # robots/toy_arm.toml
    assert info["control"]["control_hz"] == 100 and info["control"]["n_substeps"] * info["control"]["sim_dt"] == 0.01
    assert [e["name"] for e in info["observation"]["layout"]][:7] == [
        "gravity", "root_linvel", "root_angvel", "root_height", "joint_pos", "joint_vel", "prev_action"]


@pytest.mark.slow
def test_play_writes_a_video_and_the_protocol_score(toy_export, tmp_path):
    result = play(toy_export, tmp_path / "play.mp4", width=64, height=48)
    assert (tmp_path / "play.mp4").stat().st_size > 1000
    assert json.loads((tmp_path / "play.json").read_text()) == json.loads(json.dumps(result))
    horizon = load_export(toy_export).info["protocol"]["horizon"]
    assert result["steps"] == horizon
    assert result["scores"]["fell"] == 0.0 and result["scores"]["length"] == horizon  # a fixed base cannot fall
    assert 0.0 < result["scores"]["walk_loco_sum"] <= horizon


@pytest.mark.slow
def test_mjx_and_c_mujoco_part_where_an_actuator_saturates(toy_export):
    """Characterises the one physics difference the toy run shows: from the same state with the same targets, one
    control step agrees to float rounding while no actuator hits its force limit, and differs by ~1e-2 rad when
    one does (C MuJoCo drops a force-clamped actuator's damping derivative in implicitfast, MJX 'jax' does not;
    see docs/deploy.md). If an upgrade makes them agree, this test says so."""
    from niljax.deploy.play import export_scene
    from niljax.sim import EnvConfig, NilEnv

    export = load_export(toy_export)
    scene = export_scene(export)
    env = NilEnv(scene, EnvConfig(**export.info["env_config"]))
    state = jax.jit(env.reset)(jax.random.PRNGKey(0))
    step = jax.jit(env.step)
    gaps = {}
    for name, action in (("small", np.full(3, 0.05, np.float32)), ("saturating", np.ones(3, np.float32))):
        d = _c_data(scene, state.data)
        ctl.step(export.spec, scene.mj_model, d, ctl.control(export.spec, action)[0])
        after = step(state, jnp.asarray(action))
        limit = np.abs(scene.mj_model.actuator_forcerange).max(-1)
        gaps[name] = (np.abs(d.qpos - np.asarray(after.data.qpos)).max(), bool(np.any(np.abs(d.actuator_force) >= limit)))
    assert gaps["small"][0] < 1e-6 and not gaps["small"][1]
    assert gaps["saturating"][0] > 1e-3 and gaps["saturating"][1]


@pytest.mark.slow
def test_perturbations_change_the_c_rollout(toy_export):
    from niljax.deploy.play import export_scene

    export = load_export(toy_export)
    scene = export_scene(export)
    nominal = rollout_c(export, scene, 10)
    # play draws the floor (a run with a plain background hides it): the physics is bit-identical
    np.testing.assert_array_equal(rollout_c(export, export_scene(export, visible_floor=True), 10).joint_pos,
                                  nominal.joint_pos)
    heavy = Perturbation(mass=1.1).apply(scene.mj_model, export.spec.root_body_id)
    assert heavy.body_mass[0] == scene.mj_model.body_mass[0]  # the world body is not the robot's
    np.testing.assert_allclose(heavy.body_mass[export.spec.root_body_id + 1:],
                               1.1 * scene.mj_model.body_mass[export.spec.root_body_id + 1:])
    delayed = rollout_c(export, scene, 10, Perturbation(action_delay=1))
    # the policy's first output reaches the actuators one step later: the first step holds home
    assert np.abs(delayed.joint_pos[0] - nominal.joint_pos[0]).max() > 1e-6
    assert np.abs(delayed.actions[0] - nominal.actions[0]).max() == 0.0  # same start, same first observation
    noisy = [rollout_c(export, scene, 10, Perturbation(obs_noise=0.05, seed=s)) for s in (0, 0, 1)]
    np.testing.assert_array_equal(noisy[0].joint_pos, noisy[1].joint_pos)  # seeded
    assert np.abs(noisy[0].joint_pos - noisy[2].joint_pos).max() > 0.0


@pytest.mark.slow
def test_sim2sim_report(toy_run, toy_export, tmp_path):
    perturbations = [Perturbation(friction=0.8), Perturbation(action_delay=1), Perturbation(obs_noise=0.01)]
    result = sim2sim(toy_export, tmp_path, perturbations=perturbations, noise_episodes=2)
    for name in ("sim2sim.json", "sim2sim.png", "robustness.md"):
        assert (tmp_path / name).stat().st_size > 100, name
    assert json.loads((tmp_path / "sim2sim.json").read_text())["robot"] == "toy_arm"
    # the MJX rollout is the training run's evaluation episode (same env, actor and start; a fixed base's score does
    # not depend on float rounding, so it equals the one the run logged)
    summary = json.loads((toy_run / "summary.json").read_text())
    assert result["scores"]["mjx"]["walk_loco_sum"] == pytest.approx(summary["after"]["eval/walk_loco_sum"], abs=1e-3)
    div = result["divergence"]
    horizon = result["steps"]
    assert len(div["joint_divergence_max_rad"]) == len(div["root_divergence_m"]) == horizon
    assert np.all(np.isfinite(div["joint_divergence_max_rad"])) and len(div["c_saturated_actuators"]) == horizon
    if div["first_saturation_step"] is None or div["first_saturation_step"] > 1:
        assert div["joint_divergence_max_rad"][0] < 1e-5  # no actuator clamped yet: float32 vs float64 only
    # the C MuJoCo side is the same episode `play` scores
    assert result["scores"]["c_mujoco"] == play(toy_export, tmp_path / "p.mp4", video=False)["scores"]
    assert div["first_root_divergence_s"] is None  # a fixed base never moves
    labels = [r["label"] for r in result["robustness"]]
    assert labels == ["nominal", "nominal, vmapped x2 (control)", "nominal", "friction x0.8", "action delay 1 step",
                      "obs noise sigma 0.01"]
    assert len(result["mjx_control"]["divergence_vs_mjx"]["root_divergence_m"]) == horizon
    assert result["robustness"][-1]["episodes"] == 2 and "std" in result["robustness"][-1]
    table = (tmp_path / "robustness.md").read_text()
    assert table.count("\n| ") == len(labels) + 1


# ------------------------------------------------------------------ CLI


@pytest.mark.slow
def test_cli_export_play_and_errors(toy_run, tmp_path, capsys, monkeypatch):
    from niljax.cli import main

    out = tmp_path / "cli_export"
    assert main(["export", str(toy_run), "--out", str(out)]) == 0
    assert (out / "policy.npz").is_file() and (out / "policy.json").is_file()
    assert "agreement with the JAX actor" in capsys.readouterr().out
    assert main(["play", str(out), "--no-video", "--out", str(tmp_path / "p.mp4"), "--steps", "5"]) == 0
    assert json.loads((tmp_path / "p.json").read_text())["steps"] == 5
    with pytest.raises(SystemExit) as exit_:  # tyro refuses an invalid choice, naming the valid ones
        main(["export", str(toy_run), "--out", str(out), "--format", "tflite"])
    assert exit_.value.code == 2
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    capsys.readouterr()
    assert main(["play", str(out), "--viewer", "--no-video"]) == 2
    assert "needs a display" in capsys.readouterr().err


@pytest.mark.slow
def test_onnx_export_without_the_extra_is_a_clear_error(toy_run, tmp_path, monkeypatch, capsys):
    from niljax.cli import main

    monkeypatch.setitem(sys.modules, "onnx", None)  # import onnx -> ImportError
    assert main(["export", str(toy_run), "--out", str(tmp_path / "x"), "--format", "onnx"]) == 2
    assert "export` extra" in capsys.readouterr().err


@pytest.mark.slow
def test_policy_npz_alone_runs_without_jax(toy_export):
    """numpy_policy.py needs only numpy: run it in a fresh interpreter that has jax blocked."""
    import subprocess

    code = ("import sys; sys.modules['jax'] = None; sys.modules['flax'] = None\n"
            "import importlib.util, numpy as np\n"
            f"spec = importlib.util.spec_from_file_location('p', {str(Path(ctl.__file__).with_name('numpy_policy.py'))!r})\n"
            "mod = importlib.util.module_from_spec(spec); spec.loader.exec_module(mod)\n"
            f"pol = mod.NumpyPolicy.load({str(toy_export / 'policy.npz')!r})\n"
            "print(pol(np.zeros((2, pol.obs_dim), np.float32)).tolist())")
    done = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    got = np.asarray(json.loads(done.stdout))
    policy = NumpyPolicy.load(toy_export / "policy.npz")
    np.testing.assert_array_equal(got, policy(np.zeros((2, policy.obs_dim), np.float32)))
