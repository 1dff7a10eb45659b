"""Kind "toy": a tiny random projection encoder (not a video model) for the fastest CPU smoke runs."""

from __future__ import annotations

import dataclasses
from typing import Any

KIND = "toy"
DESCRIPTION = "tiny random projection (not a video model): tests and smoke runs"


def build(config: Any) -> Any:
    import jax

    from niljax.encoders.video_encoder import toy_encoder

    return toy_encoder(jax.random.PRNGKey(config.seed), clip_len=config.clip_len)


def config_from_id(base: Any, encoder_id: str) -> Any | None:
    return dataclasses.replace(base, kind=KIND) if encoder_id.startswith("toy/") else None
