"""Per-step reward terms of whole videos against a reference: the reward the training loop would give, offline.

`score_videos(config, reference, encoder, frames uint8[V,T,H,W,3], masks bool[V,T,H,W])` scores V videos at
once. Video v's frame k is the agent's render at reference index `start_index + k` (frame 0 is the episode's
reset frame, pushed with reset=True, so its clip is padded as in training); indices past the reference's end
compare with its last frame, as `nil_reward` does. Returns host arrays f32[V,T] per term:
`reward/video`, `reward/iou`, `reward/total` (= ζ·video + β·iou as switched on in `config`).

Penalties need the simulator's physics quantities (torques, velocities, contacts), which a video does not
carry: they are left out here (scales 0), so `reward/total` has no η·P part. A training run's own evaluation
records the full per-step terms (`NilTrainer.evaluate(record=True)`).

One compile per (V, T, H, W, config, encoder structure); the same shapes with other pixels reuse it.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from niljax.reward.bundle import ReferenceArrays
from niljax.reward.config import PenaltyScales, RewardConfig
from niljax.reward.encoder import VideoEncoder
from niljax.reward.history import init_history, push
from niljax.reward.terms import nil_reward

SCORED_TERMS: tuple[str, ...] = ("reward/video", "reward/iou", "reward/total")


def _no_penalties(config: RewardConfig) -> RewardConfig:
    zero = PenaltyScales(**{f.name: 0.0 for f in dataclasses.fields(PenaltyScales)})
    return dataclasses.replace(config, use_penalties=False, penalty_scales=zero, video_every_k=1)


@functools.partial(jax.jit, static_argnums=(0,))
def _score(config: RewardConfig, reference: ReferenceArrays, encoder: VideoEncoder, frames: jax.Array,
           masks: jax.Array, start_index: jax.Array) -> dict[str, jax.Array]:
    v, t, h, w, _ = frames.shape
    history0 = init_history(v, config.clip_len, h, w)

    def body(history, k):
        history = push(history, frames[:, k], masks[:, k], jnp.full((v,), k == 0))
        _, terms = nil_reward(config, reference, encoder, history, {}, jnp.full((v,), start_index + k, jnp.int32))
        return history, {name: terms[name] for name in SCORED_TERMS}

    _, terms = jax.lax.scan(body, history0, jnp.arange(t))
    return {k: x.T for k, x in terms.items()}  # [T,V] -> [V,T]


def score_videos(config: RewardConfig, reference: ReferenceArrays, encoder: VideoEncoder | None, frames: Any,
                 masks: Any, *, start_index: int = 0) -> dict[str, np.ndarray]:
    """Per-step reward terms {name: f32[V,T]} of V videos (see the module docstring).

    frames uint8[V,T,H,W,3] (or [T,H,W,3] for one video, then the outputs are f32[T]), masks bool of the same
    leading shape; H x W must be the reference's. `encoder` must be the bundle's (None only when
    `config.use_video` is False).
    """
    frames = np.asarray(frames)
    masks = np.asarray(masks)
    single = frames.ndim == 4
    if single:
        frames, masks = frames[None], masks[None]
    if frames.ndim != 5 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ValueError(f"score_videos: frames must be uint8[V,T,H,W,3], got {frames.dtype}{list(frames.shape)}")
    if masks.shape != frames.shape[:4]:
        raise ValueError(f"score_videos: masks must be bool{list(frames.shape[:4])}, got {list(masks.shape)}")
    rh, rw = reference.frames.shape[1:3]
    if frames.shape[2:4] != (rh, rw):
        raise ValueError(f"score_videos: the videos are {frames.shape[3]}x{frames.shape[2]} but the reference is "
                         f"{rw}x{rh}: resize them first (niljax score does)")
    if frames.shape[1] < 1:
        raise ValueError("score_videos: the videos have no frames")
    terms = _score(_no_penalties(config), reference, encoder, jnp.asarray(frames), jnp.asarray(masks.astype(bool)),
                   jnp.asarray(start_index, jnp.int32))
    out = {k: np.asarray(x, np.float32) for k, x in terms.items()}
    return {k: x[0] for k, x in out.items()} if single else out
