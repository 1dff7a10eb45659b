"""`EncoderConfig` -> `niljax.encoders.VideoEncoder`: the one place that turns an encoder choice into a model.

Shared by Stage 1 (reference embeddings) and Stage 2 (the agent's embeddings), so both sides of the video
term always use the same weights and preprocessing (the bundle records `VideoEncoder.info` and training
checks it on load).

kinds:
- "timesformer": weights from a local HF folder / cache, or a hub id when online (the paper's encoder is
  `facebook/timesformer-base-finetuned-k400`). Missing weights raise `WeightsNotFoundError`.
- "timesformer-random": a random-init TimeSformer (`preset` tiny | small | base) — tests and CPU demos.
- "toy": a tiny random projection encoder (not a video model) — the fastest CPU smoke runs.
"""

from __future__ import annotations

import dataclasses
from typing import Annotated, Literal

import tyro

EncoderKind = Literal["timesformer", "timesformer-random", "toy"]
EncoderPreset = Literal["tiny", "small", "base"]


@dataclasses.dataclass(frozen=True)
class EncoderConfig:
    """Which clip encoder scores the video term (see module docstring).

    `clip_len` is not a command-line flag: `niljax train` takes it from `--clip-len` (reward.clip_len) and
    `niljax reference` from its own `--clip-len`, so two numbers can never disagree.
    """

    kind: EncoderKind = "timesformer"
    weights: str = "facebook/timesformer-base-finetuned-k400"
    preset: EncoderPreset = "tiny"
    clip_len: Annotated[int, tyro.conf.Suppress] = 8  # frames per clip (see the class docstring)
    seed: int = 0

    def __post_init__(self) -> None:
        if self.kind not in ("timesformer", "timesformer-random", "toy"):
            raise ValueError(
                f"EncoderConfig.kind must be timesformer|timesformer-random|toy, got {self.kind!r}"
            )
        if self.preset not in ("tiny", "small", "base"):
            raise ValueError(f"EncoderConfig.preset must be tiny|small|base, got {self.preset!r}")
        if self.clip_len < 1:
            raise ValueError(f"EncoderConfig.clip_len must be >= 1, got {self.clip_len}")


def _preset(preset: str, clip_len: int):
    from niljax.encoders.timesformer import TimesformerConfig

    if preset == "base":
        return TimesformerConfig.base_k400()
    if preset == "small":
        return TimesformerConfig.tiny(
            image_size=64,
            patch_size=16,
            num_frames=clip_len,
            hidden_size=96,
            num_hidden_layers=4,
            num_attention_heads=4,
            intermediate_size=192,
        )
    return TimesformerConfig.tiny(num_frames=clip_len)


def _random_init_id(preset: str, seed: int) -> str:
    return f"random-init/{preset}/seed={seed}"  # parsed back by `config_for_encoder_id`


def config_for_encoder_id(base: EncoderConfig, encoder_id: str) -> EncoderConfig:
    """The EncoderConfig that reproduces an encoder id recorded in a bundle: "toy/random-init/<tag>" (toy),
    "random-init/<preset>/seed=<n>" (random-init TimeSformer, as `build_encoder` names it) or a weights path /
    hub id (TimeSformer with those weights). An empty id leaves `base` as it is."""
    if not encoder_id:
        return base
    if encoder_id.startswith("toy/"):
        return dataclasses.replace(base, kind="toy")
    parts = encoder_id.split("/")
    if parts[0] == "random-init" and len(parts) == 3 and parts[2].startswith("seed="):
        return dataclasses.replace(base, kind="timesformer-random", preset=parts[1], seed=int(parts[2][5:]))
    return dataclasses.replace(base, kind="timesformer", weights=encoder_id)


def build_encoder(config: EncoderConfig):
    """Build the `VideoEncoder` for `config` (loads weights for kind="timesformer")."""
    import jax

    from niljax.encoders.video_encoder import timesformer_encoder, toy_encoder

    if config.kind == "toy":
        return toy_encoder(jax.random.PRNGKey(config.seed), clip_len=config.clip_len)
    if config.kind == "timesformer-random":
        from niljax.encoders.timesformer import init_params

        tsf = _preset(config.preset, config.clip_len)
        params = init_params(tsf, config.seed)
        return timesformer_encoder(tsf, params, weights_id=_random_init_id(config.preset, config.seed))
    from niljax.encoders.params import load_timesformer

    tsf, params = load_timesformer(config.weights)
    return timesformer_encoder(tsf, params, weights_id=config.weights)
