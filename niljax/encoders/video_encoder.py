"""`VideoEncoder`: the clip encoder the reward is given (injected, so the reward does not hard-depend on it).

A `VideoEncoder` is a pytree: `params` are its leaves (device arrays, shardable, replaced without recompiling
when their shapes stay the same); `embed_fn`, `spec` and `info` are static (part of the treedef: a different
function object, spec or identity recompiles whatever jitted function takes the encoder).

`embed_fn(params, spec, frames uint8[B,T,H,W,3], masks bool[B,T,H,W], dtype) -> f32[B,D]` owns the whole
clip pipeline: background masking, resizing, normalisation and the network. `spec` must be hashable.

`EncoderInfo` is the encoder's identity written into reference bundles (`id` names the weights, `config_hash`
the architecture, `preprocessing` a JSON description): a bundle whose embeddings were computed by another
encoder is rejected at load time.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable, Hashable
from typing import Any

import jax
import jax.numpy as jnp
from flax import struct

EmbedFn = Callable[[Any, Any, jax.Array, jax.Array, Any], jax.Array]


@dataclasses.dataclass(frozen=True)
class EncoderInfo:
    """Identity of an encoder, as stored in bundle metadata and compared on load.

    Attributes:
      id: names the weights, e.g. "facebook/timesformer-base-finetuned-k400" or "random-init/seed=0".
      config_hash: sha256 (hex, first 16 chars) of the architecture config.
      preprocessing: canonical JSON string describing the preprocessing (size, mean, std, masking, resize).
    """

    id: str
    config_hash: str
    preprocessing: str

    def to_dict(self) -> dict[str, str]:
        """JSON-ready dict."""
        return {"id": self.id, "config_hash": self.config_hash, "preprocessing": self.preprocessing}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> EncoderInfo:
        """Inverse of `to_dict`; raises ValueError naming a missing key."""
        missing = [k for k in ("id", "config_hash", "preprocessing") if k not in d]
        if missing:
            raise ValueError(f"encoder info is missing keys {missing}")
        return cls(id=str(d["id"]), config_hash=str(d["config_hash"]), preprocessing=str(d["preprocessing"]))


def config_hash(config: Any) -> str:
    """Stable short hash of a config (a dataclass, a dict or anything `json.dumps(..., default=str)` takes)."""
    if dataclasses.is_dataclass(config) and not isinstance(config, type):
        config = dataclasses.asdict(config)
    blob = json.dumps(config, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def preprocessing_string(**fields: Any) -> str:
    """Canonical JSON string for `EncoderInfo.preprocessing`."""
    return json.dumps(fields, sort_keys=True, default=str)


@struct.dataclass
class VideoEncoder:
    """A clip encoder: parameters (pytree leaves) + a static embedding function, spec and identity."""

    params: Any
    embed_fn: EmbedFn = struct.field(pytree_node=False)
    spec: Hashable = struct.field(pytree_node=False)
    info: EncoderInfo = struct.field(pytree_node=False)

    def embed(self, frames: jax.Array, masks: jax.Array | None, dtype: Any = jnp.float32,
              chunk_size: int | None = None) -> jax.Array:
        """Embed clips: frames uint8[B,T,H,W,3], masks bool[B,T,H,W] (or None) -> f32[B,D].

        `chunk_size` (static; None or >= B: one batch) runs the whole clip pipeline, preprocessing included,
        `chunk_size` clips at a time under `lax.map` (the last chunk zero-padded), so peak activation memory is
        that of one chunk (at 224x224, TimeSformer-base needs ~55 MB per clip in float32, ~half in bfloat16)
        instead of B clips. The result equals the unchunked one up to float reassociation (the network sees
        each clip alone either way).
        """
        if frames.ndim != 5 or frames.shape[-1] != 3:
            raise ValueError(f"encoder expects frames [B,T,H,W,3], got shape {frames.shape}")
        if masks is not None and masks.shape != frames.shape[:-1]:
            raise ValueError(f"encoder masks shape {masks.shape} does not match frames {frames.shape[:-1]}")
        b = frames.shape[0]
        if chunk_size is not None and chunk_size < 1:
            raise ValueError(f"encoder chunk_size must be >= 1 (or None), got {chunk_size}")
        if chunk_size is None or chunk_size >= b:
            return self.embed_fn(self.params, self.spec, frames, masks, dtype).astype(jnp.float32)
        n_chunks = -(-b // chunk_size)
        pad = n_chunks * chunk_size - b

        def chunked(x: jax.Array) -> jax.Array:
            x = jnp.pad(x, [(0, pad)] + [(0, 0)] * (x.ndim - 1))
            return x.reshape(n_chunks, chunk_size, *x.shape[1:])

        def one(args: tuple[jax.Array, jax.Array | None]) -> jax.Array:
            fr, ms = args
            return self.embed_fn(self.params, self.spec, fr, ms, dtype).astype(jnp.float32)

        out = jax.lax.map(one, (chunked(frames), None if masks is None else chunked(masks)))
        return out.reshape(n_chunks * chunk_size, -1)[:b]


def _timesformer_embed(params: Any, spec: tuple, frames: jax.Array, masks: jax.Array | None, dtype: Any):
    from niljax.encoders import embed_clips, preprocess_clip

    config, size, mean, std = spec
    pixels = preprocess_clip(frames, masks, size=size, mean=mean, std=std)
    return embed_clips(params, pixels, config, dtype=dtype)


def timesformer_encoder(
    config: Any,
    params: Any,
    *,
    weights_id: str,
    size: int | None = None,
    mean: tuple[float, float, float] = (0.45, 0.45, 0.45),
    std: tuple[float, float, float] = (0.225, 0.225, 0.225),
) -> VideoEncoder:
    """Wrap the Flax TimeSformer of `niljax.encoders` as a `VideoEncoder`.

    Args:
      config: a `niljax.encoders.TimesformerConfig` (must be hashable: it is static).
      params: its Flax parameters (from `load_timesformer` or `Timesformer.init`).
      weights_id: names the weights (hub id, local path, or "random-init/seed=<n>"); goes into EncoderInfo.
      size: input side after resize + centre crop (default: `config.image_size`).
      mean, std: per-channel normalisation (Kinetics-400 defaults).
    """
    size = int(size if size is not None else config.image_size)
    spec = (config, size, tuple(float(m) for m in mean), tuple(float(s) for s in std))
    info = EncoderInfo(
        id=weights_id,
        config_hash=config_hash(config),
        preprocessing=preprocessing_string(
            encoder="timesformer", size=size, mean=spec[2], std=spec[3], background="masked-to-0",
            resize="shortest-edge-bilinear+center-crop", scale=1 / 255,
        ),
    )
    return VideoEncoder(params=params, embed_fn=_timesformer_embed, spec=spec, info=info)


def _toy_embed(params: Any, spec: tuple, frames: jax.Array, masks: jax.Array | None, dtype: Any) -> jax.Array:
    (pool,) = spec
    x = frames.astype(dtype) / 255.0
    if masks is not None:
        x = x * masks[..., None].astype(dtype)
    b, t = x.shape[:2]
    x = jax.image.resize(x, (b, t, pool, pool, 3), method="linear").reshape(b, t, pool * pool * 3)
    feats = jnp.tanh(x @ params["w"].astype(dtype) + params["b"].astype(dtype))  # [B,T,D]
    return jnp.einsum("btd,t->bd", feats, params["time"].astype(dtype))


def toy_encoder(key: jax.Array, *, clip_len: int = 8, dim: int = 32, pool: int = 8) -> VideoEncoder:
    """A tiny random clip encoder for tests and CPU demos (not a video model).

    Background-masked frames are scaled to [0, 1], resized to pool x pool, projected per frame to `dim` with
    tanh, and summed over time with per-position weights (so frame order matters, as in TimeSformer).
    """
    k1, k2, k3 = jax.random.split(key, 3)
    fan_in = pool * pool * 3
    params = {
        "w": jax.random.normal(k1, (fan_in, dim)) / jnp.sqrt(fan_in) * 4.0,
        "b": 0.5 * jax.random.normal(k2, (dim,)),
        "time": 1.0 + 0.5 * jax.random.normal(k3, (clip_len,)),
    }
    seed_tag = hashlib.sha256(jax.random.key_data(key).tobytes() if jnp.issubdtype(key.dtype, jax.dtypes.prng_key)
                              else bytes(jnp.asarray(key).tobytes())).hexdigest()[:8]
    info = EncoderInfo(
        id=f"toy/random-init/{seed_tag}",
        config_hash=config_hash({"clip_len": clip_len, "dim": dim, "pool": pool}),
        preprocessing=preprocessing_string(encoder="toy", size=pool, background="masked-to-0", scale=1 / 255),
    )
    return VideoEncoder(params=params, embed_fn=_toy_embed, spec=(pool,), info=info)
