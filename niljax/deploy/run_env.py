"""The protocol's evaluation environment of a finished run, rebuilt from its folder without the training stack.

`run_environment(run_dir, reference=None) -> RunEnvironment`: the robot scene (or the skill's scene), the
evaluation `NilEnv` of the paper protocol (reference index 0, each robot's horizon, no reset noise) and its
start state, the same way `niljax.train.run.build_pipeline` makes them (a test checks the two agree), but
without encoder, renderers or compiled trainer. Needs the run's reference bundle (its length sets the
observed phase's scale and its recorded joint states are the start state under `reference_start`).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["RunEnvironment", "load_scene", "run_environment"]


@dataclasses.dataclass(frozen=True)
class RunEnvironment:
    """What `niljax export` records about a run's evaluation (see the module docstring)."""

    run_dir: Path
    config: Any  # TrainConfig
    scene: Any  # RobotScene (SkillScene for a skill)
    env: Any  # NilEnv: the protocol's evaluation env
    start_qpos: np.ndarray | None  # f64[nq] reference state 0 (reference_start), None = the home pose at rest
    start_qvel: np.ndarray | None  # f64[nv]
    horizon: int  # control steps of the protocol's episode
    mjcf: str | None  # the model file the run used (None: the registry's default source)
    skill: str  # "" or the skill whose scene the run trained in
    plain_background: bool


def load_scene(robot: str, *, mjcf: str | None = None, skill: str = "", plain_background: bool = True) -> Any:
    """The robot's scene through the registry (`niljax.robots`), as a run builds it."""
    from niljax.robots import load_robot, load_skill_scene

    if skill:
        return load_skill_scene(robot, skill, mjcf_path=mjcf, plain_background=plain_background)
    return load_robot(robot, mjcf_path=mjcf, plain_background=plain_background)


def run_environment(run_dir: str | Path, reference: str | None = None, *, command: str = "niljax export"
                    ) -> RunEnvironment:
    """Rebuild the evaluation env of the run at `run_dir` (`reference`: the bundle's new place if it moved)."""
    from niljax.reward import load_view_bundles
    from niljax.sim import EnvConfig, NilEnv
    from niljax.train.run import reference_states
    from niljax.train.run_folder import load_run

    config = load_run(run_dir, reference, command=command)
    bundle = next(iter(load_view_bundles(config.reference).values()))
    meta = bundle.metadata
    robot = config.robot or meta.robot
    recorded = meta.extra.get("model") or {}
    mjcf = config.mjcf
    if mjcf is None and recorded.get("mjcf") and Path(recorded["mjcf"]).is_file():
        mjcf = recorded["mjcf"]
    skill = config.skill or meta.extra.get("skill") or ""
    plain = config.render.background == "plain"
    scene = load_scene(robot, mjcf=mjcf, skill=skill, plain_background=plain)
    num_frames = bundle.frames.shape[0]
    if config.phase_period is not None:
        phase_period = config.phase_period or None
    else:
        period = meta.extra.get("loop_period_frames")
        phase_period = int(period) if period else None
    eval_steps = config.eval_horizon or num_frames - 1
    # The protocol's episode: reference index 0, no reset noise (eval_reset_noise is a spread, not the protocol).
    eval_config = EnvConfig(horizon=eval_steps, random_start=False, max_start=max(num_frames - 2, 1),
                            obs_time_index=config.observe_time, time_scale=num_frames - 1, phase_period=phase_period,
                            reset_noise=0.0)
    start_qpos = start_qvel = None
    start_states = None
    if config.reference_start:
        start_states = reference_states(scene, bundle)
        start_qpos, start_qvel = start_states[0][0], start_states[1][0]
    env = NilEnv(scene, eval_config, start_states=start_states)
    return RunEnvironment(run_dir=Path(run_dir).resolve(), config=config, scene=scene, env=env, start_qpos=start_qpos,
                          start_qvel=start_qvel, horizon=eval_steps, mjcf=str(Path(mjcf).resolve()) if mjcf else None,
                          skill=skill, plain_background=plain)
