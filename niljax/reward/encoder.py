"""The reward's view of a clip encoder: `VideoEncoder` and its constructors live in `niljax.encoders`
(`niljax/encoders/video_encoder.py`); the reward imports them from there, never the reverse."""

from __future__ import annotations

from niljax.encoders.video_encoder import (
    EncoderInfo,
    VideoEncoder,
    config_hash,
    preprocessing_string,
    timesformer_encoder,
    toy_encoder,
)

__all__ = ["EncoderInfo", "VideoEncoder", "config_hash", "preprocessing_string", "timesformer_encoder",
           "toy_encoder"]
