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
- `RewardConfig`, `PenaltyScales`.

This package does not import rendering, simulation or torch.
"""

from niljax.reward.bundle import (
    FORMAT_VERSION,
    BundleError,
    BundleMetadata,
    ReferenceArrays,
    ReferenceBundle,
    clip_indices,
    compute_reference_embeddings,
    load_bundle,
    make_bundle,
    save_bundle,
)
from niljax.reward.config import PENALTY_NAMES, PenaltyScales, RewardConfig
from niljax.reward.encoder import EncoderInfo, VideoEncoder, config_hash, timesformer_encoder, toy_encoder
from niljax.reward.history import FrameHistory, clip, init_history, latest, push
from niljax.reward.terms import (
    embedding_similarity,
    mask_iou,
    nil_reward,
    pad_clip_with_reference,
    penalties,
    penalty_action_rate,
    penalty_angular_velocity,
    penalty_foot_slip,
    penalty_torque,
    penalty_torso_tilt,
    video_similarity,
)

__all__ = [
    "FORMAT_VERSION", "PENALTY_NAMES", "BundleError", "BundleMetadata", "EncoderInfo", "FrameHistory",
    "PenaltyScales", "ReferenceArrays", "ReferenceBundle", "RewardConfig", "VideoEncoder", "clip", "clip_indices",
    "compute_reference_embeddings", "config_hash", "embedding_similarity", "init_history", "latest",
    "load_bundle", "make_bundle", "mask_iou", "nil_reward", "pad_clip_with_reference", "penalties",
    "penalty_action_rate", "penalty_angular_velocity", "penalty_foot_slip", "penalty_torque",
    "penalty_torso_tilt", "push", "save_bundle", "timesformer_encoder", "toy_encoder", "video_similarity",
]
