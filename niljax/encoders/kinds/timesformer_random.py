"""Kind "timesformer-random": a random-init TimeSformer (`preset` tiny | small | base), for tests and CPU demos.

Its id is "random-init/<preset>/seed=<n>"."""

from __future__ import annotations

import dataclasses
from typing import Any

KIND = "timesformer-random"
DESCRIPTION = "random-init TimeSformer (--encoder.preset tiny|small|base): tests and CPU demos"


def timesformer_preset(preset: str, clip_len: int) -> Any:
    """The TimesformerConfig of a preset name."""
    from niljax.encoders.timesformer import TimesformerConfig

    if preset == "base":
        return TimesformerConfig.base_k400()
    if preset == "small":
        return TimesformerConfig.tiny(image_size=64, patch_size=16, num_frames=clip_len, hidden_size=96,
                                      num_hidden_layers=4, num_attention_heads=4, intermediate_size=192)
    return TimesformerConfig.tiny(num_frames=clip_len)


def build(config: Any) -> Any:
    from niljax.encoders.timesformer import init_params
    from niljax.encoders.video_encoder import timesformer_encoder

    tsf = timesformer_preset(config.preset, config.clip_len)
    params = init_params(tsf, config.seed)
    return timesformer_encoder(tsf, params, weights_id=f"random-init/{config.preset}/seed={config.seed}")


def config_from_id(base: Any, encoder_id: str) -> Any | None:
    parts = encoder_id.split("/")
    if parts[0] == "random-init" and len(parts) == 3 and parts[2].startswith("seed="):
        return dataclasses.replace(base, kind=KIND, preset=parts[1], seed=int(parts[2][5:]))
    return None
