"""`niljax.reward`: the NIL reward as a public, jittable API over a versioned reference bundle.

    R_t = ζ·S_video + β·S_iou + η·P    (ζ = β = η = 1 by default)

Pieces (each a pure function of pytrees; batch axis N first; see docs/reward.md):
- `ReferenceBundle` / `save_bundle` / `load_bundle` / `make_bundle` / `compute_reference_embeddings`:
  the reference (frames uint8[T,H,W,3], masks bool[T,H,W], embeddings f32[T,D], metadata) on disk with a
  checksum; `bundle.to_device()` gives the `ReferenceArrays` pytree the jitted reward reads.
- `VideoEncoder` (params + static embed function and identity); `timesformer_encoder` wraps
  `niljax.encoders`' Flax TimeSformer (imported lazily).
- `FrameHistory` ring: `init_history`, `push`, `clip`, `latest`.
- Terms: `mask_iou`, `embedding_similarity`, `video_similarity`, `penalty_*`, and `nil_reward`
  -> (reward f32[N], terms {"reward/video", "reward/iou", "reward/penalty/<name>", "reward/penalty",
  "reward/total"}).
- `score_videos`: per-step terms of whole videos against the reference, offline (`niljax score`).
- `RewardConfig`, `PenaltyScales`, `resolve_encoder_dtype` ("auto" -> bfloat16 on GPU/TPU, float32 on CPU).

This package does not import rendering, simulation or torch.
"""

from __future__ import annotations

from niljax._lazy import lazy_exports

# Lazy exports (niljax._lazy): importing a light name (a config) does not import jax or mujoco.
_EXPORTS = {
    'BundleError': 'niljax.reward.bundle',
    'BundleMetadata': 'niljax.reward.bundle',
    'EncoderInfo': 'niljax.reward.encoder',
    'FORMAT_VERSION': 'niljax.reward.bundle',
    'FrameHistory': 'niljax.reward.history',
    'PENALTY_NAMES': 'niljax.reward.config',
    'PenaltyScales': 'niljax.reward.config',
    'ReferenceArrays': 'niljax.reward.bundle',
    'ReferenceBundle': 'niljax.reward.bundle',
    'RewardConfig': 'niljax.reward.config',
    'VideoEncoder': 'niljax.reward.encoder',
    'clip': 'niljax.reward.history',
    'clip_indices': 'niljax.reward.bundle',
    'compute_reference_embeddings': 'niljax.reward.bundle',
    'config_hash': 'niljax.reward.encoder',
    'embedding_similarity': 'niljax.reward.terms',
    'init_history': 'niljax.reward.history',
    'latest': 'niljax.reward.history',
    'load_bundle': 'niljax.reward.bundle',
    'load_view_bundles': 'niljax.reward.bundle',
    'make_bundle': 'niljax.reward.bundle',
    'mask_iou': 'niljax.reward.terms',
    'nil_reward': 'niljax.reward.terms',
    'nil_reward_views': 'niljax.reward.terms',
    'pad_clip_with_reference': 'niljax.reward.terms',
    'penalties': 'niljax.reward.terms',
    'penalty_action_rate': 'niljax.reward.terms',
    'penalty_angular_velocity': 'niljax.reward.terms',
    'penalty_foot_slip': 'niljax.reward.terms',
    'penalty_torque': 'niljax.reward.terms',
    'penalty_torso_tilt': 'niljax.reward.terms',
    'push': 'niljax.reward.history',
    'resolve_encoder_dtype': 'niljax.reward.config',
    'save_bundle': 'niljax.reward.bundle',
    'save_view_bundles': 'niljax.reward.bundle',
    'view_name': 'niljax.reward.bundle',
    'score_videos': 'niljax.reward.score',
    'stack_views': 'niljax.reward.terms',
    'timesformer_encoder': 'niljax.reward.encoder',
    'toy_encoder': 'niljax.reward.encoder',
    'video_similarity': 'niljax.reward.terms',
}


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

__all__ = [
    "FORMAT_VERSION",
    "PENALTY_NAMES",
    "BundleError",
    "BundleMetadata",
    "EncoderInfo",
    "FrameHistory",
    "PenaltyScales",
    "ReferenceArrays",
    "ReferenceBundle",
    "RewardConfig",
    "VideoEncoder",
    "clip",
    "clip_indices",
    "compute_reference_embeddings",
    "config_hash",
    "embedding_similarity",
    "init_history",
    "latest",
    "load_bundle",
    "load_view_bundles",
    "make_bundle",
    "mask_iou",
    "nil_reward",
    "nil_reward_views",
    "pad_clip_with_reference",
    "penalties",
    "penalty_action_rate",
    "penalty_angular_velocity",
    "penalty_foot_slip",
    "penalty_torque",
    "penalty_torso_tilt",
    "push",
    "resolve_encoder_dtype",
    "save_bundle",
    "save_view_bundles",
    "view_name",
    "score_videos",
    "stack_views",
    "timesformer_encoder",
    "toy_encoder",
    "video_similarity",
]
