"""`niljax sim2sim RUN`: the same exported policy in MJX (the training simulator) and in C MuJoCo, from the same state.

Contract:
- `rollout_mjx(export, scene, steps=None) -> dict of per-step arrays`: the protocol episode in `NilEnv` (the
  run's evaluation `EnvConfig` as recorded in policy.json) with the JAX actor rebuilt from policy.npz, one jitted
  `lax.scan` (the computation `NilTrainer.evaluate` does, without rendering).
- `compare(mjx, c, control_dt) -> dict`: per-step joint-position divergence (max and RMS over the actuated
  joints, rad), root-position divergence (m), and the time of the first step where the roots are more than
  `ROOT_DIVERGENCE` (5 cm) apart (None when they never are).
- `sim2sim(path, out, perturbations=(), noise_episodes=8, mjx_control=True) -> dict`: both rollouts, both
  protocol scores, the divergence figures; a control (`mjx_control`): the same MJX episode as another XLA
  program (vmapped over 2 envs), whose divergence from the first is what float32 rounding alone does in this
  chaotic contact-rich system; and a robustness table: the C MuJoCo score under each `Perturbation` (episodes with
  observation noise are repeated `noise_episodes` times with different seeds: mean and std). Writes
  `out/sim2sim.json`, `out/sim2sim.png` (divergence curves and root paths) and `out/robustness.md`.
- `standard_perturbations()`: the issue's set: friction x0.8 and x1.2, mass x0.9 and x1.1, one-step action
  delay, observation noise sigma 0.01 and 0.05.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import mujoco
import numpy as np

from niljax.deploy.export import Export, actor_params, load_export
from niljax.deploy.play import Perturbation, c_scores, export_scene, protocol_scores, rollout_c

__all__ = ["ROOT_DIVERGENCE", "compare", "robustness_markdown", "rollout_mjx", "sim2sim", "standard_perturbations"]

ROOT_DIVERGENCE = 0.05  # m: "the first 5 cm root divergence"


def standard_perturbations() -> list[Perturbation]:
    """friction +-20 %, mass +-10 %, one-step action delay, observation noise sigma 0.01 and 0.05."""
    return [Perturbation(friction=0.8), Perturbation(friction=1.2), Perturbation(mass=0.9), Perturbation(mass=1.1),
            Perturbation(action_delay=1), Perturbation(obs_noise=0.01), Perturbation(obs_noise=0.05)]


def rollout_mjx(export: Export, scene: Any, steps: int | None = None, impl: str | None = None,
                batch: int | None = None) -> dict[str, np.ndarray]:
    """The protocol episode in MJX with the exported actor (see the module docstring). Arrays over T steps:
    joint_pos [T, nu], root_pos [T, 3], root_vel_x [T], fell [T] (bool), actions [T, nu], and over a skill
    scene task_ok / task_reward [T]; plus start_x (float). `batch`: run the same episode in `batch` identical
    vmapped envs and return env 0 (the same physics as another XLA program: a control for float rounding)."""
    import jax
    import jax.numpy as jnp

    from niljax.learner.networks import Actor
    from niljax.sim import EnvConfig, NilEnv

    info = export.info
    steps = int(steps or info["protocol"]["horizon"])
    config = dict(info["env_config"])
    if impl is not None:
        config["impl"] = impl
    config["horizon"] = max(int(config["horizon"]), steps)  # never truncate inside the compared episode
    proto = info["protocol"]
    start = None
    if proto.get("start_qpos") is not None:
        start = (np.asarray(proto["start_qpos"])[None], np.asarray(proto["start_qvel"])[None])
    env = NilEnv(scene, EnvConfig(**config), start_states=start)
    pol = info["policy"]
    actor = Actor(pol["act_dim"], pol["width"], pol["depth"])
    params = jax.tree.map(jnp.asarray, actor_params(export.policy.arrays))
    qadr = np.asarray(export.spec.qpos_adr)
    reset, step = env.reset, env.step
    if batch:
        def reset(key: jax.Array) -> Any:
            return jax.vmap(env.reset)(jnp.broadcast_to(key, (batch, *key.shape)))

        step = jax.vmap(env.step)

    @jax.jit
    def run(params: Any) -> Any:
        state = reset(jax.random.PRNGKey(0))

        def body(state: Any, _: Any) -> Any:
            mean, _ = actor.apply({"params": params}, state.obs)
            action = jnp.tanh(mean)
            nxt = step(state, action)
            out = {"joint_pos": nxt.data.qpos[..., qadr], "root_pos": nxt.physics.root_pos,
                   "root_vel_x": nxt.metrics["root_vel_x"],
                   "fell": (nxt.done > 0) & ~(nxt.info["truncation"] > 0), "actions": action}
            if "task_ok" in nxt.metrics:
                out["task_ok"] = nxt.metrics["task_ok"]
                out["task_reward"] = nxt.metrics["task_reward"]
            return nxt, out

        _, traj = jax.lax.scan(body, state, None, length=steps)
        return state.physics.root_pos[..., 0], traj

    start_x, traj = jax.device_get(run(params))
    out = {k: np.asarray(v) for k, v in traj.items()}
    if batch:  # env 0 of the batch (time stays the leading axis)
        out, start_x = {k: v[:, 0] for k, v in out.items()}, start_x[0]
    out["fell"] = out["fell"].astype(bool)
    out["start_x"] = float(start_x)
    return out


def _field(traj: Any, name: str) -> np.ndarray:
    return np.asarray(traj[name] if isinstance(traj, dict) else getattr(traj, name), float)


def compare(mjx: dict[str, np.ndarray], c: Any, control_dt: float) -> dict[str, Any]:
    """Divergence between an MJX and a C MuJoCo trajectory of the same length (see the module docstring); `c` may
    also be another MJX trajectory (a dict), then without the saturation record."""
    dq = np.abs(_field(mjx, "joint_pos") - _field(c, "joint_pos"))
    droot = np.linalg.norm(_field(mjx, "root_pos") - _field(c, "root_pos"), axis=-1)
    over = np.nonzero(droot > ROOT_DIVERGENCE)[0]
    first = int(over[0]) if len(over) else None
    checkpoints = {}
    for seconds in (0.1, 0.5, 1.0, 2.0):
        k = round(seconds / control_dt) - 1
        if 0 <= k < len(droot):
            checkpoints[f"{seconds:g}s"] = {"joint_max_rad": float(dq[k].max()), "root_m": float(droot[k])}
    out = {
        "joint_divergence_max_rad": dq.max(-1).tolist(),
        "joint_divergence_rms_rad": np.sqrt(np.mean(dq**2, -1)).tolist(),
        "root_divergence_m": droot.tolist(),
        "first_root_divergence_step": None if first is None else first + 1,
        "first_root_divergence_s": None if first is None else round((first + 1) * control_dt, 6),
        "at": checkpoints,
        "joint_divergence_final_max_rad": float(dq[-1].max()),
        "root_divergence_final_m": float(droot[-1]),
    }
    if not isinstance(c, dict):
        # MJX (jax) and C MuJoCo treat a force-clamped position actuator differently in the implicitfast step
        # (C drops the clamped actuator's damping derivative), so divergence tends to start where actuators
        # saturate: the C rollout's saturated actuators per step, to read the curves against
        saturated = np.asarray(c.saturated)
        out["c_saturated_actuators"] = saturated.tolist()
        out["first_saturation_step"] = int(np.argmax(saturated > 0)) + 1 if saturated.any() else None
    return out


def _plot(path: Path, mjx: dict[str, np.ndarray], c: Any, cmp: dict[str, Any], dt: float, title: str,
          control: dict[str, Any] | None = None) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = (np.arange(len(c.fell)) + 1) * dt
    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    ax = axes[0]
    ax.semilogy(t, np.maximum(cmp["joint_divergence_max_rad"], 1e-12), label="max over joints")
    ax.semilogy(t, np.maximum(cmp["joint_divergence_rms_rad"], 1e-12), label="RMS over joints")
    if control is not None:
        ax.semilogy(t, np.maximum(control["joint_divergence_max_rad"], 1e-12), color="0.5", ls=":",
                    label="max, MJX vs MJX (control)")
    ax.set(xlabel="time (s)", ylabel="|q_MJX - q_C| (rad)", title="joint-position divergence")
    ax.legend(loc="lower right")
    twin = ax.twinx()  # where the C rollout's actuators sit at their force limit (see `compare`)
    twin.step(t, c.saturated, where="post", color="0.6", lw=0.8)
    twin.set_ylabel("C MuJoCo actuators at force limit", color="0.4")
    twin.set_ylim(0, max(int(np.max(c.saturated, initial=0)), 1) * 3)
    ax = axes[1]
    ax.semilogy(t, np.maximum(cmp["root_divergence_m"], 1e-12), color="C2", label="MJX vs C MuJoCo")
    if control is not None:
        ax.semilogy(t, np.maximum(control["root_divergence_m"], 1e-12), color="0.5", ls=":",
                    label="MJX vs MJX (control)")
    ax.axhline(ROOT_DIVERGENCE, color="k", ls="--", lw=0.8, label="5 cm")
    if cmp["first_root_divergence_s"] is not None:
        ax.axvline(cmp["first_root_divergence_s"], color="C3", lw=0.8,
                   label=f"first > 5 cm: {cmp['first_root_divergence_s']:.2f} s")
    ax.set(xlabel="time (s)", ylabel="|root_MJX - root_C| (m)", title="root-position divergence")
    ax.legend(fontsize=8)
    ax = axes[2]
    for name, traj, fell in (("MJX", mjx["root_pos"], mjx["fell"]), ("C MuJoCo", c.root_pos, c.fell)):
        line, = ax.plot(t, traj[:, 0], label=name)
        if fell.any():
            k = int(np.argmax(fell))
            ax.plot(t[k], traj[k, 0], "x", color=line.get_color(), ms=10, label=f"{name} falls")
    ax.set(xlabel="time (s)", ylabel="root x (m)", title="forward progress")
    ax.legend()
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def robustness_markdown(rows: list[dict[str, Any]], title: str) -> str:
    """The robustness table as markdown (score, falls, length, distance per condition)."""
    lines = [f"# {title}", "", "| simulator | condition | episodes | protocol score | fell | length (steps) | distance (m) |",
             "|---|---|---|---|---|---|---|"]
    def cell(row: dict[str, Any], key: str, fmt: str) -> str:
        text = format(row["scores"][key], fmt)
        std = row.get("std", {})
        return f"{text} ± {format(std[key], fmt)}" if key in std else text

    for r in rows:
        lines.append(f"| {r['simulator']} | {r['label']} | {r['episodes']} | {cell(r, 'walk_loco_sum', '.1f')} | "
                     f"{cell(r, 'fell', '.2f')} | {cell(r, 'length', '.0f')} | {cell(r, 'distance', '.3f')} |")
    return "\n".join(lines) + "\n"


def sim2sim(path: str | Path, out: str | Path | None = None, *, perturbations: list[Perturbation] | tuple = (),
            noise_episodes: int = 8, steps: int | None = None, impl: str | None = None, mjcf: str | None = None,
            mjx_control: bool = True) -> dict[str, Any]:
    """MJX vs C MuJoCo on the export at `path` (export or run folder); see the module docstring."""
    if noise_episodes < 1:
        raise ValueError(f"--noise-episodes must be >= 1, got {noise_episodes}")
    export = load_export(path)
    scene = export_scene(export, mjcf)
    dt = export.spec.control_dt
    out = Path(out) if out is not None else export.path / "sim2sim"
    out.mkdir(parents=True, exist_ok=True)
    mjx = rollout_mjx(export, scene, steps, impl)
    c = rollout_c(export, scene, len(mjx["fell"]))
    target = float(export.info["protocol"]["walk_target_speed"])
    task = {k: mjx[k] for k in ("task_ok", "task_reward") if k in mjx}
    min_steps = int(scene.task_info["min_steps"]) if hasattr(scene, "task_info") else None
    mjx_scores = protocol_scores(mjx["root_vel_x"], mjx["fell"], mjx["root_pos"][:, 0], mjx["start_x"], target,
                                 task.get("task_ok"), task.get("task_reward"), min_steps)
    c_nominal = c_scores(c, export, scene)
    cmp = compare(mjx, c, dt)
    env_impl = (impl or export.info["env_config"].get("impl", "jax"))
    rows = [{"simulator": f"MJX ({env_impl}, float32)", "label": "nominal", "episodes": 1, "scores": mjx_scores}]
    control = control_cmp = None
    if mjx_control:  # the same MJX episode as another XLA program: how far float32 rounding alone carries
        control = rollout_mjx(export, scene, steps, impl, batch=2)
        control_cmp = compare(mjx, control, dt)
        rows.append({"simulator": f"MJX ({env_impl}, float32)", "label": "nominal, vmapped x2 (control)",
                     "episodes": 1, "scores": protocol_scores(
                         control["root_vel_x"], control["fell"], control["root_pos"][:, 0], control["start_x"], target,
                         control.get("task_ok"), control.get("task_reward"), min_steps)})
    rows.append({"simulator": "C MuJoCo", "label": "nominal", "episodes": 1, "scores": c_nominal})
    for p in perturbations:
        episodes = noise_episodes if p.obs_noise else 1
        runs = [c_scores(rollout_c(export, scene, len(mjx["fell"]), dataclasses.replace(p, seed=p.seed + i)),
                         export, scene) for i in range(episodes)]
        row = {"simulator": "C MuJoCo", "label": p.label(), "episodes": episodes, "perturbation": dataclasses.asdict(p),
               "scores": {k: float(np.mean([r[k] for r in runs])) for k in runs[0]}}
        if episodes > 1:
            row["std"] = {k: float(np.std([r[k] for r in runs])) for k in runs[0]}
            row["per_episode"] = runs
        rows.append(row)
    robot = export.info["robot"]
    result = {
        "robot": robot,
        "export": str(export.path),
        "source": export.info["source"],
        "steps": len(c.fell), "control_dt": dt,
        "simulators": {"mjx": f"mujoco-mjx, impl {env_impl}, float32 (the training env)",
                       "c": f"C MuJoCo {mujoco.__version__}, mj_step, float64"},
        "start": export.info["protocol"]["start"],
        "scores": {"mjx": mjx_scores, "c_mujoco": c_nominal},
        "divergence": cmp,
        "robustness": rows,
    }
    if control_cmp is not None:
        result["mjx_control"] = {
            "what": "the same MJX episode run as another XLA program (vmapped over 2 identical envs, env 0): "
                    "the divergence float32 rounding alone produces",
            "scores": rows[1]["scores"], "divergence_vs_mjx": control_cmp}
    (out / "sim2sim.json").write_text(json.dumps(result, indent=2) + "\n")
    first = cmp["first_root_divergence_s"]
    title = (f"{robot}: MJX score {mjx_scores['walk_loco_sum']:.1f}, C MuJoCo {c_nominal['walk_loco_sum']:.1f}; "
             f"roots 5 cm apart " + (f"after {first:.2f} s" if first is not None else "never"))
    _plot(out / "sim2sim.png", mjx, c, cmp, dt, title, control_cmp)
    (out / "robustness.md").write_text(robustness_markdown(rows, f"{robot}: protocol score under perturbations"))
    return result
