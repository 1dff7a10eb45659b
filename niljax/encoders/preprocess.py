"""JAX video preprocessing for TimeSformer (Kinetics-400 recipe), stateless and jittable.

Contract
- `preprocess_clip(frames [..., T, H, W, 3], masks [..., T, H, W] | None) -> f32[..., T, size, size, 3]`:
  background masking (pixels where the mask is False become `background`, in 0..255 units), resize so the
  shortest edge is `size` (the long edge becomes `int(size * long / short)`, as HF computes it), centre crop
  `size x size` (top/left offset `(new - size) // 2`), scale by 1/255, normalise with `mean`/`std`
  (k400: 0.45 / 0.225 per channel). Any leading batch axes are kept. Static: shapes and all keyword args.
- Resizing uses `jax.image.resize(method="bilinear", antialias=True)` in float32. The HF processor
  (`VideoMAEImageProcessor`, PIL backend) resizes uint8 PIL images with PIL's bilinear filter (also
  antialiased on downscale) and rounds back to uint8 before scaling: the two agree to about one grey level
  (up to a few on sharp edges), i.e. ~0.01-0.05 after normalisation, and exactly when no resize is needed
  (frames already `size` on the short edge).
- `clips_ending_at(frames [L, ...], end_indices int[N], num_frames)`: the `num_frames` frames ending at each
  index (stride `stride`), with indices before 0 clamped to frame 0 (the first frame repeats), for example to
  embed every time step of a reference video. Stateless; the per-env frame-history ring lives in
  `niljax.reward`.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp

K400_MEAN = (0.45, 0.45, 0.45)
K400_STD = (0.225, 0.225, 0.225)


def resized_shape(height: int, width: int, size: int) -> tuple[int, int]:
    """HF's `shortest_edge` output size: the short side becomes `size`, the long side `int(size*long/short)`."""
    short, long = (height, width) if height <= width else (width, height)
    new_long = int(size * long / short)
    return (size, new_long) if height <= width else (new_long, size)


def preprocess_clip(
    frames: jax.Array,
    masks: jax.Array | None = None,
    *,
    size: int = 224,
    mean: Sequence[float] = K400_MEAN,
    std: Sequence[float] = K400_STD,
    background: float | Sequence[float] = 0.0,
) -> jax.Array:
    """uint8 frames `[..., T, H, W, 3]` (+ optional bool robot masks `[..., T, H, W]`) -> model input f32.

    Float frames are accepted too and read as 0..255 values. Raises ValueError on mismatched shapes.
    """
    if frames.ndim < 4 or frames.shape[-1] != 3:
        raise ValueError(
            f"preprocess_clip: frames must be [..., T, H, W, 3], got shape {tuple(frames.shape)}"
        )
    if not (jnp.issubdtype(frames.dtype, jnp.integer) or jnp.issubdtype(frames.dtype, jnp.floating)):
        raise ValueError(f"preprocess_clip: frames must be uint8 (or float 0..255), got dtype {frames.dtype}")
    if len(mean) != 3 or len(std) != 3:
        raise ValueError(f"preprocess_clip: mean and std need 3 values, got {mean!r}, {std!r}")
    x = frames.astype(jnp.float32)
    if masks is not None:
        if masks.shape != frames.shape[:-1]:
            raise ValueError(
                f"preprocess_clip: masks shape {tuple(masks.shape)} must equal frames shape without channels "
                f"{tuple(frames.shape[:-1])}"
            )
        bg = jnp.broadcast_to(jnp.asarray(background, jnp.float32), (3,))
        x = jnp.where(masks.astype(bool)[..., None], x, bg)
    h, w = x.shape[-3], x.shape[-2]
    new_h, new_w = resized_shape(h, w, size)
    if (new_h, new_w) != (h, w):
        x = jax.image.resize(x, (*x.shape[:-3], new_h, new_w, 3), method="bilinear", antialias=True)
    top, left = (new_h - size) // 2, (new_w - size) // 2
    x = x[..., top : top + size, left : left + size, :]
    mean_a = jnp.asarray(mean, jnp.float32)
    std_a = jnp.asarray(std, jnp.float32)
    return (x * (1.0 / 255.0) - mean_a) / std_a


def clips_ending_at(
    frames: jax.Array, end_indices: jax.Array, num_frames: int = 8, *, stride: int = 1
) -> jax.Array:
    """`frames [L, ...]`, `end_indices int[N]` -> `[N, num_frames, ...]`; frame `e - (num_frames-1-k)*stride`.

    Indices below 0 are clamped to 0; indices past the end are an error when concrete and clamped under jit.
    """
    if num_frames < 1 or stride < 1:
        raise ValueError(f"clips_ending_at: num_frames and stride must be >= 1, got {num_frames}, {stride}")
    end_indices = jnp.asarray(end_indices, jnp.int32)
    try:
        last = int(end_indices.max()) if end_indices.size else -1
    except jax.errors.ConcretizationTypeError:  # traced under jit: cannot check, indices are clamped
        last = -1
    if last >= frames.shape[0]:
        raise ValueError(f"clips_ending_at: end index {last} is past the last frame ({frames.shape[0] - 1})")
    offsets = (jnp.arange(num_frames, dtype=jnp.int32) - (num_frames - 1)) * stride
    idx = jnp.clip(end_indices[:, None] + offsets[None, :], 0, frames.shape[0] - 1)
    return frames[idx]
