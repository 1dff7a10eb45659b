"""The deterministic BRO actor as a pure-numpy forward pass (no JAX, no flax): `policy.npz` -> actions.

Contract:
- `policy.npz` (written by `niljax export`, no pickles) holds float32 arrays named
  `trunk.dense.kernel [O, W]`, `trunk.dense.bias [W]`, `trunk.norm.scale [W]`, `trunk.norm.bias [W]`, then for
  the `depth` residual blocks (stacked on a leading axis) `blocks.dense0.kernel [depth, W, W]`,
  `blocks.dense0.bias`, `blocks.norm0.scale`, `blocks.norm0.bias`, `blocks.dense1.kernel`, `blocks.dense1.bias`,
  `blocks.norm1.scale`, `blocks.norm1.bias` (absent when depth = 0), and the mean head `mean.kernel [W, A]`,
  `mean.bias [A]`; plus `layer_norm_epsilon` (a scalar).
- `NumpyPolicy(arrays)(obs f32[..., O]) -> action f32[..., A]` = tanh(mean): Dense -> LayerNorm -> ReLU, then
  per block `x + LN(Dense(ReLU(LN(Dense(x)))))`, then the mean head (the BroNet trunk and the conservative
  actor of `niljax.learner.networks`; the log-std head is not needed for the deterministic action).
  Computed in float32 like the JAX actor; agreement with it and with onnxruntime is tested (tests/test_deploy.py).
This module needs only numpy: copy it next to the npz to run the policy on a robot's computer.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["BLOCK_KEYS", "HEAD_KEYS", "TRUNK_KEYS", "NumpyPolicy"]

TRUNK_KEYS = ("trunk.dense.kernel", "trunk.dense.bias", "trunk.norm.scale", "trunk.norm.bias")
BLOCK_KEYS = ("blocks.dense0.kernel", "blocks.dense0.bias", "blocks.norm0.scale", "blocks.norm0.bias",
              "blocks.dense1.kernel", "blocks.dense1.bias", "blocks.norm1.scale", "blocks.norm1.bias")
HEAD_KEYS = ("mean.kernel", "mean.bias")


def _layer_norm(x: np.ndarray, scale: np.ndarray, bias: np.ndarray, eps: np.float32) -> np.ndarray:
    mean = x.mean(-1, keepdims=True)
    var = np.square(x - mean).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * scale + bias


class NumpyPolicy:
    """Deterministic actor from the arrays of `policy.npz` (see the module docstring)."""

    def __init__(self, arrays: dict[str, np.ndarray]) -> None:
        missing = [k for k in TRUNK_KEYS + HEAD_KEYS + ("layer_norm_epsilon",) if k not in arrays]
        if missing:
            raise ValueError(f"policy arrays lack {missing} (not a niljax policy.npz)")
        self.arrays = {k: np.asarray(v, np.float32) for k, v in arrays.items()}
        self.depth = int(self.arrays["blocks.dense0.kernel"].shape[0]) if "blocks.dense0.kernel" in arrays else 0
        if self.depth and any(k not in arrays for k in BLOCK_KEYS):
            raise ValueError(f"policy arrays have residual blocks but lack some of {BLOCK_KEYS}")
        self.obs_dim = int(self.arrays["trunk.dense.kernel"].shape[0])
        self.width = int(self.arrays["trunk.dense.kernel"].shape[1])
        self.act_dim = int(self.arrays["mean.kernel"].shape[1])
        self.eps = np.float32(self.arrays["layer_norm_epsilon"])

    @classmethod
    def load(cls, path: str | Path) -> NumpyPolicy:
        """Read `policy.npz` (FileNotFoundError when missing)."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"no policy arrays at {path} (make them with `niljax export RUN`)")
        with np.load(path, allow_pickle=False) as f:
            return cls({k: f[k] for k in f.files})

    def mean(self, obs: np.ndarray) -> np.ndarray:
        """The pre-tanh mean f32[..., A]."""
        a = self.arrays
        x = np.asarray(obs, np.float32)
        if x.shape[-1] != self.obs_dim:
            raise ValueError(f"policy expects observations with last dim {self.obs_dim}, got shape {x.shape}")
        h = x @ a["trunk.dense.kernel"] + a["trunk.dense.bias"]
        h = np.maximum(_layer_norm(h, a["trunk.norm.scale"], a["trunk.norm.bias"], self.eps), 0.0)
        for i in range(self.depth):
            y = h @ a["blocks.dense0.kernel"][i] + a["blocks.dense0.bias"][i]
            y = np.maximum(_layer_norm(y, a["blocks.norm0.scale"][i], a["blocks.norm0.bias"][i], self.eps), 0.0)
            y = y @ a["blocks.dense1.kernel"][i] + a["blocks.dense1.bias"][i]
            h = h + _layer_norm(y, a["blocks.norm1.scale"][i], a["blocks.norm1.bias"][i], self.eps)
        return (h @ a["mean.kernel"] + a["mean.bias"]).astype(np.float32)

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        """The deterministic action tanh(mean) f32[..., A] in [-1, 1]."""
        return np.tanh(self.mean(obs)).astype(np.float32)
