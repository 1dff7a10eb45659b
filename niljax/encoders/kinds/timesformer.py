"""Kind "timesformer": the paper's encoder with Hugging Face weights (a local folder / file, the HF cache, or a
hub id when online; `facebook/timesformer-base-finetuned-k400` by default). Its id is the weights' path or id,
and it is the registry's fallback: any id no other kind claims is read as TimeSformer weights."""

from __future__ import annotations

import dataclasses
from typing import Any

KIND = "timesformer"
DESCRIPTION = "TimeSformer with Hugging Face weights (--encoder.weights PATH_OR_HUB_ID): the paper's encoder"


def build(config: Any) -> Any:
    from niljax.encoders.params import load_timesformer
    from niljax.encoders.video_encoder import timesformer_encoder

    tsf, params = load_timesformer(config.weights)
    return timesformer_encoder(tsf, params, weights_id=config.weights)


def config_from_id(base: Any, encoder_id: str) -> Any | None:
    return dataclasses.replace(base, kind=KIND, weights=encoder_id)
