"""`niljax export RUN`: the trained policy as a standalone artefact, with everything needed to run it.

    RUN/export/policy.json   robot + model (path, fingerprint), observation layout and normalisation, action
                             scaling, PD gains, control rate, the protocol (start state, horizon, score) and
                             the agreement checks below
    RUN/export/policy.npz    the deterministic actor's float32 arrays (`numpy_policy` names them; no pickles)
    RUN/export/policy.onnx   with `--format onnx`: the same actor as an ONNX graph (`onnx_graph`)

Contract:
- `export_run(run_dir, out=None, formats=("npz",), reference=None) -> Path` (the export folder). The actor is
  the run's `policy/` export (`niljax.learner.checkpoint.load_policy`, written at the end of training); the
  observation / control spec is read off the run's protocol env (`run_env.run_environment`). Every export is
  checked on `CHECK_SAMPLES` random observations: the numpy pass (and onnxruntime, for onnx) against the JAX
  actor, max |difference| of the actions recorded under "checks" and required below `ACTION_TOLERANCE`.
- `load_export(path) -> Export` (a run folder or an export folder): policy.json, the `ControllerSpec` and the
  `NumpyPolicy`. No JAX needed.
- `actor_arrays(flax_params) -> {name: f32 array}` and `actor_params(arrays) -> flax params` convert between
  the flax actor's parameter tree and the npz layout (inverse of each other).
- Observation normalisation: none. The policy reads the observation exactly as `ControllerSpec.layout()` lists
  it (the only scalings are inside the layout: joint velocities x 0.1, time / time_scale).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np

from niljax.deploy.controller import ControllerSpec
from niljax.deploy.numpy_policy import BLOCK_KEYS, HEAD_KEYS, TRUNK_KEYS, NumpyPolicy

__all__ = [
    "ACTION_TOLERANCE",
    "CHECK_SAMPLES",
    "EXPORT_FORMAT",
    "EXPORT_VERSION",
    "FORMATS",
    "Export",
    "actor_arrays",
    "actor_params",
    "check_export",
    "export_run",
    "load_export",
]

EXPORT_FORMAT = "niljax-deploy-policy"
EXPORT_VERSION = 1
FORMATS = ("npz", "onnx")
# Float32 actions in [-1, 1] from three implementations of the same network (XLA, numpy, onnxruntime): they
# differ only by summation order and the LayerNorm variance formula; measured max |difference| ~1e-6.
ACTION_TOLERANCE = 1e-5
CHECK_SAMPLES = 512
LAYER_NORM_EPSILON = 1e-6  # flax.linen.LayerNorm's default, which niljax.learner.networks uses

_FLAX_NAMES = {  # npz name -> path in the flax actor's params (the BroNet trunk's blocks are stacked by nn.scan)
    "trunk.dense.kernel": ("BroNet_0", "Dense_0", "kernel"), "trunk.dense.bias": ("BroNet_0", "Dense_0", "bias"),
    "trunk.norm.scale": ("BroNet_0", "LayerNorm_0", "scale"), "trunk.norm.bias": ("BroNet_0", "LayerNorm_0", "bias"),
    "blocks.dense0.kernel": ("BroNet_0", "blocks", "Dense_0", "kernel"),
    "blocks.dense0.bias": ("BroNet_0", "blocks", "Dense_0", "bias"),
    "blocks.norm0.scale": ("BroNet_0", "blocks", "LayerNorm_0", "scale"),
    "blocks.norm0.bias": ("BroNet_0", "blocks", "LayerNorm_0", "bias"),
    "blocks.dense1.kernel": ("BroNet_0", "blocks", "Dense_1", "kernel"),
    "blocks.dense1.bias": ("BroNet_0", "blocks", "Dense_1", "bias"),
    "blocks.norm1.scale": ("BroNet_0", "blocks", "LayerNorm_1", "scale"),
    "blocks.norm1.bias": ("BroNet_0", "blocks", "LayerNorm_1", "bias"),
    "mean.kernel": ("Dense_0", "kernel"), "mean.bias": ("Dense_0", "bias"),
    # the log-std head (Dense_1) is not part of the deterministic policy
}
assert set(_FLAX_NAMES) == set(TRUNK_KEYS + BLOCK_KEYS + HEAD_KEYS)


def actor_arrays(params: Any) -> dict[str, np.ndarray]:
    """The flax actor's parameters (one seed) as the npz's float32 arrays, plus `layer_norm_epsilon`."""
    out: dict[str, np.ndarray] = {}
    for name, path in _FLAX_NAMES.items():
        node = params
        try:
            for key in path:
                node = node[key]
        except KeyError:
            if name.startswith("blocks."):  # depth 0: no residual blocks
                continue
            raise ValueError(f"the actor's parameters have no {'/'.join(path)}: not a niljax BRO actor") from None
        out[name] = np.asarray(node, np.float32)
    out["layer_norm_epsilon"] = np.asarray(LAYER_NORM_EPSILON, np.float32)
    return out


def actor_params(arrays: dict[str, np.ndarray], log_std_dim: int | None = None) -> dict[str, Any]:
    """The flax parameter tree of the actor's trunk and mean head from npz arrays (inverse of `actor_arrays`).

    The log-std head is not exported; it is filled with zeros (`log_std_dim` = act_dim) so that
    `Actor.apply` runs; its output is not used by the deterministic action."""
    params: dict[str, Any] = {}
    for name, path in _FLAX_NAMES.items():
        if name not in arrays:
            continue
        node = params
        for key in path[:-1]:
            node = node.setdefault(key, {})
        node[path[-1]] = np.asarray(arrays[name], np.float32)
    width, act_dim = np.shape(arrays["mean.kernel"])
    act_dim = log_std_dim or act_dim
    params["Dense_1"] = {"kernel": np.zeros((width, act_dim), np.float32), "bias": np.zeros((act_dim,), np.float32)}
    return params


@dataclasses.dataclass(frozen=True)
class Export:
    """A loaded export: its folder, `policy.json` as a dict, the controller spec and the numpy policy."""

    path: Path
    info: dict[str, Any]
    spec: ControllerSpec
    policy: NumpyPolicy

    @property
    def onnx_path(self) -> Path | None:
        name = self.info["policy"].get("onnx")
        return self.path / name if name else None


def _pd_gains(m: Any) -> dict[str, list[float]]:
    """kp, kd and force limit of each actuator of a scene built with position actuators (zeros for motors)."""
    import mujoco

    position = m.actuator_biastype == int(mujoco.mjtBias.mjBIAS_AFFINE)
    kp = np.where(position, m.actuator_gainprm[:, 0], 0.0)
    kd = np.where(position, -m.actuator_biasprm[:, 2], 0.0)
    limited = m.actuator_forcelimited.astype(bool)
    force = np.where(limited, m.actuator_forcerange[:, 1], np.inf)
    return {"kp": kp.tolist(), "kd": kd.tolist(), "force_limit": [float(x) if np.isfinite(x) else None for x in force]}


def check_export(arrays: dict[str, np.ndarray], jax_policy: Any, onnx_model: Any = None, *,
                 samples: int = CHECK_SAMPLES, seed: int = 0) -> dict[str, float]:
    """Max |action difference| of numpy vs JAX (and onnxruntime vs JAX, vs numpy) on random observations.

    Observations: standard normal x 2 (wider than any real observation's scale). ValueError above
    `ACTION_TOLERANCE`."""
    policy = NumpyPolicy(arrays)
    obs = (2.0 * np.random.default_rng(seed).standard_normal((samples, policy.obs_dim))).astype(np.float32)
    reference = np.asarray(jax_policy(obs))
    ours = policy(obs)
    checks = {"samples": samples, "numpy_vs_jax": float(np.abs(ours - reference).max())}
    if onnx_model is not None:
        from niljax.deploy.onnx_graph import run_onnx

        theirs = run_onnx(onnx_model, obs)
        checks["onnx_vs_jax"] = float(np.abs(theirs - reference).max())
        checks["onnx_vs_numpy"] = float(np.abs(theirs - ours).max())
    checks["tolerance"] = ACTION_TOLERANCE
    worst = max(v for k, v in checks.items() if "_vs_" in k)
    if not worst <= ACTION_TOLERANCE:
        raise ValueError(f"the exported policy disagrees with the JAX actor: {checks} (tolerance {ACTION_TOLERANCE})")
    return checks


def export_run(run_dir: str | Path, out: str | Path | None = None, formats: tuple[str, ...] = ("npz",),
               reference: str | None = None) -> Path:
    """Export the run's deterministic policy to `out` (default RUN/export); see the module docstring."""
    from niljax.deploy.run_env import run_environment
    from niljax.learner.checkpoint import load_policy

    bad = [f for f in formats if f not in FORMATS]
    if bad:
        raise ValueError(f"unknown export format {bad[0]!r}; valid: {', '.join(FORMATS)}")
    run = Path(run_dir)
    renv = run_environment(run, reference)
    policy_dir = run / "policy"
    if not (policy_dir / "policy.json").is_file():
        raise FileNotFoundError(f"{run} has no exported policy ({policy_dir}/policy.json): it is written when training "
                                f"ends; finish the run (`niljax train --config {run / 'config.json'}` resumes it)")
    jax_policy = load_policy(policy_dir)
    spec = ControllerSpec.from_env(renv.env)
    if jax_policy.obs_dim != spec.obs_dim or jax_policy.act_dim != spec.nu:
        raise ValueError(f"the run's policy takes {jax_policy.obs_dim} observations and gives {jax_policy.act_dim} "
                         f"actions, its env has {spec.obs_dim} and {spec.nu}: the run folder is inconsistent")
    arrays = actor_arrays(jax_policy.params)
    model = None
    if "onnx" in formats:
        from niljax.deploy.onnx_graph import build_model

        model = build_model(arrays)
    checks = check_export(arrays, jax_policy, model)
    out = Path(out) if out is not None else run / "export"
    out.mkdir(parents=True, exist_ok=True)
    np.savez(out / "policy.npz", **arrays)
    files = {"npz": "policy.npz", "onnx": None}
    if model is not None:
        from niljax.deploy.onnx_graph import save_model

        save_model(model, out / "policy.onnx")
        files["onnx"] = "policy.onnx"
    scene, env, m = renv.scene, renv.env, renv.scene.mj_model
    summary_path = run / "summary.json"
    summary = json.loads(summary_path.read_text()) if summary_path.is_file() else {}
    lo, hi = np.asarray(spec.ctrl_lo, float), np.asarray(spec.ctrl_hi, float)
    info = {
        "format": EXPORT_FORMAT, "version": EXPORT_VERSION,
        "robot": scene.name,
        "model": {"mjcf": renv.mjcf, "source": scene.asset_source, "fingerprint": scene.model_fingerprint(),
                  "skill": renv.skill, "plain_background": renv.plain_background, "collisions": scene.collisions,
                  "joints": list(scene.joint_names)},
        "policy": {**files, "obs_dim": spec.obs_dim, "act_dim": spec.nu, "width": NumpyPolicy(arrays).width,
                   "depth": NumpyPolicy(arrays).depth, "layer_norm_epsilon": LAYER_NORM_EPSILON,
                   "network": "BroNet trunk (Dense-LayerNorm-ReLU, depth residual blocks) + mean head",
                   "output": "tanh(mean) of the conservative actor, in [-1, 1] (deterministic)"},
        "observation": {"dim": spec.obs_dim, "layout": spec.layout(),
                        "normalisation": "none: the policy takes the observation as laid out (float32)"},
        "action": {"mode": "pd" if spec.pd else "torque", "clip": [-1.0, 1.0],
                   "law": ("ctrl = clip(home_ctrl + action * action_scale, ctrl_lo, ctrl_hi): PD joint targets"
                           if spec.pd else "ctrl = action * torque_limit: joint torques"),
                   "home_ctrl": spec.home_ctrl.tolist(), "action_scale": spec.action_scale.tolist(),
                   "torque_limit": spec.torque_limit.tolist(),
                   "ctrl_range": [[float(a) if abs(a) < 1e9 else None, float(b) if abs(b) < 1e9 else None]
                                  for a, b in zip(lo, hi)]},
        "pd_gains": _pd_gains(m) | {"law": "torque = kp (target - q) - kd qdot, clipped to the force limit, at "
                                           "every physics step (MuJoCo position actuators)"},
        "control": {"control_hz": round(1.0 / spec.control_dt, 6), "control_dt": spec.control_dt,
                    "sim_dt": float(m.opt.timestep), "n_substeps": spec.n_substeps,
                    "integrator": ["euler", "rk4", "implicit", "implicitfast"][int(m.opt.integrator)]},
        "protocol": {"horizon": renv.horizon, "walk_target_speed": float(env.walk_target),
                     "start": "reference state 0" if renv.start_qpos is not None else "home pose at rest",
                     "start_qpos": None if renv.start_qpos is None else np.asarray(renv.start_qpos, float).tolist(),
                     "start_qvel": None if renv.start_qvel is None else np.asarray(renv.start_qvel, float).tolist(),
                     "score": "sum over the horizon of exp(-(v_x - walk_target_speed)^2) while up; a fall counts "
                              "its step, later steps 0 (docs/training.md, the paper's walking protocol)"},
        "env_config": dataclasses.asdict(env.config),
        "controller": spec.to_dict(),
        "source": {"run_dir": str(renv.run_dir), "env_steps": summary.get("env_steps"),
                   "training_eval": summary.get("after", {})},
        "checks": checks,
    }
    (out / "policy.json").write_text(json.dumps(info, indent=2) + "\n")
    return out


def load_export(path: str | Path) -> Export:
    """The export at `path` (an export folder, or a run folder holding `export/`)."""
    path = Path(path)
    if not (path / "policy.json").is_file() and (path / "export" / "policy.json").is_file():
        path = path / "export"
    info_path = path / "policy.json"
    if not info_path.is_file():
        raise FileNotFoundError(f"no exported policy at {path} (make one with `niljax export RUN`)")
    info = json.loads(info_path.read_text())
    if info.get("format") != EXPORT_FORMAT or info.get("version") != EXPORT_VERSION:
        hint = " (that is the training run's orbax policy; export it with `niljax export RUN`)" if \
            info.get("format") == "niljax-bro-policy" else ""
        raise ValueError(f"{info_path} is not a {EXPORT_FORMAT} v{EXPORT_VERSION} file{hint}")
    spec = ControllerSpec.from_dict(info["controller"])
    policy = NumpyPolicy.load(path / info["policy"]["npz"])
    if policy.obs_dim != spec.obs_dim or policy.act_dim != spec.nu:
        raise ValueError(f"{path}: policy.npz takes {policy.obs_dim} -> {policy.act_dim}, policy.json says "
                         f"{spec.obs_dim} -> {spec.nu}")
    return Export(path=path, info=info, spec=spec, policy=policy)
