"""Shared setup of the Stage-2 training tests: a static-pose toy-arm reference and a CPU-sized run config."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from niljax.encoders.factory import EncoderConfig
from niljax.learner.bro import BROConfig
from niljax.render import RenderConfig
from niljax.reward import PenaltyScales, RewardConfig
from niljax.train.config import TrainConfig
from niljax.train.demo import make_replay_bundle

RENDER = RenderConfig(height=32, width=32, backend="jax", background="plain", fovy=40.0)
CLIP = 4


def _target_pose(scene, num_frames: int) -> np.ndarray:
    """A static pose far from home: the imitation target for the learning test (a bandit over phase)."""
    qpos = np.repeat(scene.home_qpos[None], num_frames, axis=0)
    qpos[:, scene.joint_qpos_adr] = np.array([-0.3, 0.95, 0.6])[: scene.nu]
    return qpos


def make_static_bundle(out: Path) -> Path:
    """The toy arm holding `_target_pose` for 30 frames, as a replay reference bundle at `out`."""
    from niljax.robots import load_robot

    scene = load_robot("toy_arm")
    return make_replay_bundle(out, "toy_arm", _target_pose(scene, 30), RENDER, EncoderConfig(kind="toy", clip_len=CLIP),
                              CLIP, source="replay:test-static-pose", skill="posing")


def small_config(bundle: Path, run_dir: Path, **overrides) -> TrainConfig:
    learner = BROConfig(critic_width=64, critic_depth=1, actor_width=64, actor_depth=1, n_quantiles=16,
                        batch_size=64, updates_per_iteration=4, random_steps=64, reset_steps=(),
                        replay_capacity=10_000, discount=0.9, init_temperature=0.1)
    base = TrainConfig(
        reference=str(bundle), robot="toy_arm", run_dir=str(run_dir), num_envs=8, total_env_steps=64,
        iterations_per_call=4, eval_every=0, checkpoint_every=0, eval_envs=2, progress=False, write_video=False,
        render=RENDER, encoder=EncoderConfig(kind="toy", clip_len=CLIP),
        reward=RewardConfig(clip_len=CLIP, penalty_scales=PenaltyScales(torso_tilt=0.0, foot_slip=0.0)),
        learner=learner,
    )
    return dataclasses.replace(base, **overrides)
