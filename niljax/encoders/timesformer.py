"""Flax TimeSformer: a faithful port of `transformers.TimesformerModel` (inference only).

Contract
- Input: `pixel_values f32[B, T, H, W, C]`, channels-last, already normalised (see `preprocess.py`).
- Output (`TimesformerOutput`):
  - `last_hidden_state f32[B, 1 + P*T, D]` after the final layer norm, tokens in Hugging Face order
    (CLS first, then patch-major / frame-minor: token `1 + p*T + t`), P = (H//patch)*(W//patch).
    For `attention_type="space_only"` it is `[B*T, 1 + P, D]`, exactly like Hugging Face.
  - `cls_embedding f32[B, D]` = `last_hidden_state[:, 0]`: the final-normalised CLS token, the embedding NIL
    compares. For `space_only` (per-frame CLS tokens) it is their mean over frames (a niljax choice; HF
    returns per-frame tokens only).
  - `hidden_states f32[L+1, B, 1 + P*T, D] | None` (only with `output_hidden_states=True`): the embedding
    output and every layer's output before the final layer norm, like HF's `hidden_states` tuple, stacked.
- Static: the config, `dtype`, `precision`, the input shape. A new batch size, clip length or image size
  recompiles. The layers run under `nn.scan`, so the compiled program holds one layer body, and the layer
  parameters are stacked along a leading axis of length `num_hidden_layers`.
- Precision: parameters are always float32. `dtype=jnp.bfloat16` runs every matmul in bfloat16 (softmax
  logits accumulated in float32, layer norms computed in float32) while the residual stream stays float32.
- Input sizes other than the config's: like HF, position embeddings are resized with nearest-neighbour
  interpolation (same index rule as `torch.nn.functional.interpolate(mode="nearest")`) when the number of
  patches differs, and time embeddings likewise when the clip length differs. HF's layers then reshape with
  `config.num_frames`, which mixes tokens when the clip length differs from it; here the layers use the
  actual clip length, so for that case (only) the two implementations differ by design.
- Dropout and drop-path are training-time features of HF's model; this port is inference only (they are
  identity at `model.eval()`), the config fields are kept for round-tripping.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

ATTENTION_TYPES = ("divided_space_time", "space_only", "joint_space_time")

_ACTIVATIONS = {
    "gelu": lambda x: jax.nn.gelu(x, approximate=False),
    "gelu_new": lambda x: jax.nn.gelu(x, approximate=True),
    "gelu_pytorch_tanh": lambda x: jax.nn.gelu(x, approximate=True),
    "gelu_fast": lambda x: jax.nn.gelu(x, approximate=True),
    "quick_gelu": lambda x: x * jax.nn.sigmoid(1.702 * x),
    "relu": jax.nn.relu,
    "silu": jax.nn.silu,
    "swish": jax.nn.silu,
}


@dataclasses.dataclass(frozen=True)
class TimesformerConfig:
    """TimeSformer hyper-parameters with Hugging Face's field names and defaults (= timesformer-base).

    Frozen and hashable, so it can be a static argument of `jax.jit`. `image_size` and `patch_size` are
    square (an int, or a pair of equal ints in the HF file).
    """

    image_size: int = 224
    patch_size: int = 16
    num_channels: int = 3
    num_frames: int = 8
    hidden_size: int = 768
    num_hidden_layers: int = 12
    num_attention_heads: int = 12
    intermediate_size: int = 3072
    hidden_act: str = "gelu"
    hidden_dropout_prob: float = 0.0
    attention_probs_dropout_prob: float = 0.0
    initializer_range: float = 0.02
    layer_norm_eps: float = 1e-6
    qkv_bias: bool = True
    attention_type: str = "divided_space_time"
    drop_path_rate: float = 0.0

    def __post_init__(self) -> None:
        for name in ("image_size", "patch_size"):
            value = getattr(self, name)
            if isinstance(value, (list, tuple)):
                if len(value) != 2 or value[0] != value[1]:
                    raise ValueError(f"TimesformerConfig.{name}={value!r}: only square sizes are supported")
                object.__setattr__(self, name, int(value[0]))
        if self.attention_type not in ATTENTION_TYPES:
            raise ValueError(
                f"TimesformerConfig.attention_type={self.attention_type!r}: expected one of {ATTENTION_TYPES}"
            )
        if self.hidden_act not in _ACTIVATIONS:
            raise ValueError(
                f"TimesformerConfig.hidden_act={self.hidden_act!r}: supported are {sorted(_ACTIVATIONS)}"
            )
        if self.hidden_size % self.num_attention_heads:
            raise ValueError(
                f"TimesformerConfig: hidden_size={self.hidden_size} is not a multiple of "
                f"num_attention_heads={self.num_attention_heads}"
            )
        if self.image_size < self.patch_size:
            raise ValueError(
                f"TimesformerConfig: image_size={self.image_size} < patch_size={self.patch_size}"
            )
        for name in ("num_frames", "hidden_size", "num_hidden_layers", "intermediate_size", "num_channels"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"TimesformerConfig.{name} must be >= 1, got {getattr(self, name)!r}")

    @property
    def num_patches(self) -> int:
        """Patches per frame at the configured image size."""
        return (self.image_size // self.patch_size) ** 2

    @classmethod
    def from_hf_config(cls, source: Mapping[str, Any] | str | Path) -> TimesformerConfig:
        """Build from a HF `config.json` (a dict, the file, or the folder holding it); unknown keys ignored."""
        if isinstance(source, (str, Path)):
            path = Path(source)
            if path.is_dir():
                path = path / "config.json"
            if not path.is_file():
                raise FileNotFoundError(f"TimeSformer config not found: {path}")
            try:
                source = json.loads(path.read_text())
            except json.JSONDecodeError as err:
                raise ValueError(f"{path} is not valid JSON: {err}") from err
        if not isinstance(source, Mapping):
            raise TypeError(f"from_hf_config expects a dict or a path, got {type(source).__name__}")
        model_type = source.get("model_type", "timesformer")
        if model_type != "timesformer":
            raise ValueError(f"config has model_type={model_type!r}, expected 'timesformer'")
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in source.items() if k in names})

    def to_hf_dict(self) -> dict[str, Any]:
        """The fields as a dict accepted by `transformers.TimesformerConfig(**d)`."""
        fields = dataclasses.asdict(self)
        if float(self.drop_path_rate).is_integer():  # HF types this field as int
            fields["drop_path_rate"] = int(self.drop_path_rate)
        return fields

    @classmethod
    def base_k400(cls) -> TimesformerConfig:
        """`facebook/timesformer-base-finetuned-k400`: 224 px, patch 16, 8 frames, 768 wide, 12 layers."""
        return cls()

    @classmethod
    def tiny(cls, **overrides: Any) -> TimesformerConfig:
        """A 2-layer, 32-wide model on 32 px, 4-frame clips, for tests (fields overridable)."""
        fields: dict[str, Any] = {
            "image_size": 32,
            "patch_size": 8,
            "num_frames": 4,
            "hidden_size": 32,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "intermediate_size": 64,
        }
        fields.update(overrides)
        return cls(**fields)


@struct.dataclass
class TimesformerOutput:
    """What `Timesformer` returns; see the module docstring for shapes."""

    last_hidden_state: jax.Array
    cls_embedding: jax.Array
    hidden_states: jax.Array | None = None


def _nearest_indices(in_size: int, out_size: int) -> np.ndarray:
    """Source indices of `torch.nn.functional.interpolate(mode="nearest")` (legacy nearest, float32 scale)."""
    if out_size == in_size:
        return np.arange(out_size)
    if out_size == 2 * in_size:
        return np.arange(out_size) >> 1
    scale = np.float32(in_size) / np.float32(out_size)
    idx = np.floor(np.arange(out_size, dtype=np.float32) * scale).astype(np.int64)
    return np.minimum(idx, in_size - 1)


class _Attention(nn.Module):
    """Multi-head self-attention over axis -2 (HF `TimeSformerAttention`: fused qkv + output dense)."""

    config: TimesformerConfig
    dtype: Any
    precision: Any

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        cfg = self.config
        heads = cfg.num_attention_heads
        head_dim = cfg.hidden_size // heads
        qkv = nn.Dense(
            3 * cfg.hidden_size, use_bias=cfg.qkv_bias, dtype=self.dtype, precision=self.precision, name="qkv"
        )(x)
        qkv = qkv.reshape(*x.shape[:-1], 3, heads, head_dim)
        q, k, v = qkv[..., 0, :, :], qkv[..., 1, :, :], qkv[..., 2, :, :]
        logits = jnp.einsum(
            "...qhd,...khd->...hqk", q, k, precision=self.precision, preferred_element_type=jnp.float32
        )
        probs = jax.nn.softmax(logits * (head_dim**-0.5), axis=-1).astype(self.dtype)
        ctx = jnp.einsum("...hqk,...khd->...qhd", probs, v, precision=self.precision)
        ctx = ctx.reshape(*x.shape[:-1], cfg.hidden_size)
        return nn.Dense(cfg.hidden_size, dtype=self.dtype, precision=self.precision, name="output")(ctx)


class _Mlp(nn.Module):
    """HF `TimesformerIntermediate` + `TimesformerOutput` (without the residual)."""

    config: TimesformerConfig
    dtype: Any
    precision: Any

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        cfg = self.config
        h = nn.Dense(cfg.intermediate_size, dtype=self.dtype, precision=self.precision, name="intermediate")(
            x
        )
        h = _ACTIVATIONS[cfg.hidden_act](h)
        return nn.Dense(cfg.hidden_size, dtype=self.dtype, precision=self.precision, name="output")(h)


class _Layer(nn.Module):
    """One TimeSformer block (HF `TimesformerLayer`), as an `nn.scan` body.

    Carry: `(cls f32[B, D], patches f32[B, P, T, D])` for divided space-time; `tokens f32[B', S, D]` for
    the other attention types. Returns `(carry, hidden)` where `hidden` is the HF-layout layer output when
    `collect` is set, else None.
    """

    config: TimesformerConfig
    dtype: Any
    precision: Any
    collect: bool = False

    def _norm(self, name: str) -> nn.LayerNorm:
        return nn.LayerNorm(epsilon=self.config.layer_norm_eps, dtype=self.dtype, name=name)

    @nn.compact
    def __call__(self, carry: Any, _: Any = None) -> tuple[Any, Any]:
        cfg, dt, prec = self.config, self.dtype, self.precision
        attention = _Attention(cfg, dt, prec, name="attention")
        mlp = _Mlp(cfg, dt, prec, name="mlp")
        norm_before, norm_after = self._norm("layernorm_before"), self._norm("layernorm_after")
        if cfg.attention_type != "divided_space_time":
            x = carry
            x = x + attention(norm_before(x))
            x = x + mlp(norm_after(x))
            return x, (x if self.collect else None)

        cls, patches = carry  # [B, D], [B, P, T, D]
        b, _, t, d = patches.shape
        # Temporal attention over the T frames of each patch position (CLS excluded), then temporal_dense.
        temporal = _Attention(cfg, dt, prec, name="temporal_attention")(
            self._norm("temporal_layernorm")(patches)
        )
        temporal = nn.Dense(d, dtype=dt, precision=prec, name="temporal_dense")(temporal)
        patches = patches + temporal
        # Spatial attention within each frame; every frame gets a copy of the CLS token.
        spatial_in = jnp.concatenate(
            [jnp.broadcast_to(cls[:, None, None, :], (b, t, 1, d)), patches.transpose(0, 2, 1, 3)], axis=2
        )  # [B, T, 1 + P, D]
        spatial = attention(norm_before(spatial_in))
        cls = cls + jnp.mean(spatial[:, :, 0, :].astype(jnp.float32), axis=1)  # CLS copies averaged back
        patches = patches + spatial[:, :, 1:, :].transpose(0, 2, 1, 3)
        # MLP on every token (CLS and patches share it).
        cls = cls + mlp(norm_after(cls))
        patches = patches + mlp(norm_after(patches))
        hidden = _tokens(cls, patches) if self.collect else None
        return (cls, patches), hidden


def _tokens(cls: jax.Array, patches: jax.Array) -> jax.Array:
    """`(cls [B, D], patches [B, P, T, D])` -> HF token layout `[B, 1 + P*T, D]`."""
    b, p, t, d = patches.shape
    return jnp.concatenate([cls[:, None, :], patches.reshape(b, p * t, d)], axis=1)


class Timesformer(nn.Module):
    """TimeSformer encoder (HF `TimesformerModel`); parameters float32, compute in `dtype`.

    `precision=None` means `lax.Precision.HIGHEST` for float32 compute (faithful float32 on GPUs, where the
    default would use TF32) and the backend default for bfloat16. `unroll_layers=True` unrolls the layer scan
    (same parameters and results; XLA's cost analysis counts a loop body once, so FLOP counts need it).
    """

    config: TimesformerConfig
    dtype: Any = jnp.float32
    precision: Any = None
    unroll_layers: bool = False

    @nn.compact
    def __call__(self, pixel_values: jax.Array, *, output_hidden_states: bool = False) -> TimesformerOutput:
        cfg = self.config
        if pixel_values.ndim != 5 or pixel_values.shape[-1] != cfg.num_channels:
            raise ValueError(
                f"Timesformer expects pixel_values [B, T, H, W, {cfg.num_channels}] (channels-last), "
                f"got shape {tuple(pixel_values.shape)}"
            )
        b, t, h, w, c = pixel_values.shape
        ps = cfg.patch_size
        if h < ps or w < ps:
            raise ValueError(f"Timesformer: frames {h}x{w} are smaller than patch_size={ps}")
        dt = jnp.dtype(self.dtype)
        prec = self.precision
        if prec is None:
            prec = jax.lax.Precision.HIGHEST if dt == jnp.float32 else jax.lax.Precision.DEFAULT
        d = cfg.hidden_size
        ph, pw = h // ps, w // ps
        p = ph * pw

        # Patch embedding: a stride-`ps` convolution, written as patchify + matmul (kernel laid out HWIO).
        kernel = self.param(
            "patch_kernel", nn.initializers.truncated_normal(cfg.initializer_range), (ps, ps, c, d)
        )
        bias = self.param("patch_bias", nn.initializers.zeros, (d,))
        x = pixel_values[:, :, : ph * ps, : pw * ps, :].reshape(b, t, ph, ps, pw, ps, c)
        x = jnp.einsum("btiujvc,uvcd->btijd", x.astype(dt), kernel.astype(dt), precision=prec)
        x = (x + bias.astype(dt)).astype(jnp.float32).reshape(b, t, p, d)

        init = nn.initializers.truncated_normal(cfg.initializer_range)
        cls_token = self.param("cls_token", init, (1, 1, d))
        pos = self.param("position_embeddings", init, (1, cfg.num_patches + 1, d))
        if p != cfg.num_patches:  # nearest-neighbour resize of the patch grid, as HF does
            n = int(cfg.num_patches**0.5)
            grid = pos[0, 1:].reshape(n, n, d)
            grid = grid[_nearest_indices(n, ph)][:, _nearest_indices(n, pw)]
            pos = jnp.concatenate([pos[:, :1], grid.reshape(1, p, d)], axis=1)
        cls = cls_token[0, 0] + pos[0, 0]  # [D]
        x = x + pos[0, 1:]  # [B, T, P, D]

        if cfg.attention_type != "space_only":
            time = self.param("time_embeddings", nn.initializers.zeros, (1, cfg.num_frames, d))[0]
            if t != cfg.num_frames:
                time = time[_nearest_indices(cfg.num_frames, t)]
            x = x.transpose(0, 2, 1, 3) + time[None, None]  # [B, P, T, D]
            cls = jnp.broadcast_to(cls, (b, d))
            if cfg.attention_type == "divided_space_time":
                carry: Any = (cls, x)
                embedding_out = _tokens(cls, x) if output_hidden_states else None
            else:
                carry = _tokens(cls, x)
                embedding_out = carry
        else:
            carry = jnp.concatenate([jnp.broadcast_to(cls, (b, t, 1, d)), x], axis=2).reshape(b * t, 1 + p, d)
            embedding_out = carry

        layers = nn.scan(
            _Layer,
            variable_axes={"params": 0},
            split_rngs={"params": True},
            length=cfg.num_hidden_layers,
            unroll=cfg.num_hidden_layers if self.unroll_layers else 1,
        )(cfg, dt, prec, collect=output_hidden_states, name="layers")
        carry, per_layer = layers(carry, None)

        tokens = _tokens(*carry) if cfg.attention_type == "divided_space_time" else carry
        norm = nn.LayerNorm(epsilon=cfg.layer_norm_eps, dtype=jnp.float32, name="layernorm")
        last = norm(tokens)
        if cfg.attention_type == "space_only":
            cls_embedding = jnp.mean(last[:, 0].reshape(b, t, d), axis=1)
        else:
            cls_embedding = last[:, 0]
        hidden_states = None
        if output_hidden_states:
            hidden_states = jnp.concatenate([embedding_out[None], per_layer], axis=0)
        return TimesformerOutput(
            last_hidden_state=last, cls_embedding=cls_embedding, hidden_states=hidden_states
        )


def init_params(config: TimesformerConfig, seed: int | np.random.Generator = 0) -> dict[str, Any]:
    """Random float32 parameters with HF's init (truncated normal, std `initializer_range`, for weights, CLS
    and position embeddings; zeros for biases and time embeddings; ones for layer-norm scales).

    Drawn with numpy on the host from `param_shapes` (no XLA compile); for tests, benchmarks and shapes.
    """
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    std = config.initializer_range

    def draw(path: tuple[Any, ...], leaf: jax.ShapeDtypeStruct) -> jax.Array:
        name = path[-1].key
        if name in ("kernel", "patch_kernel", "cls_token", "position_embeddings"):
            x = rng.standard_normal(leaf.shape, dtype=np.float32)
            bad = np.abs(x) > 2.0
            while bad.any():  # resample outside +-2 std, like torch.nn.init.trunc_normal_
                x[bad] = rng.standard_normal(int(bad.sum()), dtype=np.float32)
                bad = np.abs(x) > 2.0
            return jnp.asarray(x * std)
        if name == "scale":
            return jnp.ones(leaf.shape, jnp.float32)
        return jnp.zeros(leaf.shape, jnp.float32)

    return jax.tree_util.tree_map_with_path(draw, param_shapes(config))


def param_shapes(config: TimesformerConfig) -> dict[str, Any]:
    """The parameter tree of `config` as `jax.ShapeDtypeStruct`s (abstract: no compute, no memory)."""
    dummy = jax.ShapeDtypeStruct(
        (1, config.num_frames, config.image_size, config.image_size, config.num_channels), jnp.float32
    )
    variables = jax.eval_shape(Timesformer(config).init, jax.random.key(0), dummy)
    return variables["params"]


def embed_clips(
    params: Mapping[str, Any],
    pixel_values: jax.Array,
    config: TimesformerConfig,
    *,
    dtype: Any = jnp.float32,
    chunk_size: int | None = None,
) -> jax.Array:
    """Final-normalised CLS embeddings `f32[B, D]` of preprocessed clips `f32[B, T, H, W, C]`.

    Jittable (`config`, `dtype`, `chunk_size` static). With `chunk_size`, the batch is processed in chunks
    of that many clips under `lax.map` (padded at the end), which bounds activation memory when embedding
    thousands of clips at once.
    """
    model = Timesformer(config, dtype=dtype)

    def run(x: jax.Array) -> jax.Array:
        return model.apply({"params": params}, x).cls_embedding.astype(jnp.float32)

    b = pixel_values.shape[0]
    if chunk_size is None or chunk_size >= b:
        return run(pixel_values)
    if chunk_size < 1:
        raise ValueError(f"embed_clips: chunk_size must be >= 1, got {chunk_size}")
    n_chunks = -(-b // chunk_size)
    pad = n_chunks * chunk_size - b
    x = jnp.pad(pixel_values, [(0, pad)] + [(0, 0)] * (pixel_values.ndim - 1))
    out = jax.lax.map(run, x.reshape(n_chunks, chunk_size, *pixel_values.shape[1:]))
    return out.reshape(n_chunks * chunk_size, -1)[:b]
