"""Hugging Face TimeSformer checkpoints -> Flax parameters of `niljax.encoders.timesformer.Timesformer`.

Contract
- `load_timesformer(source, *, config=None) -> (TimesformerConfig, params)`; `source` is one of
  - a local folder with `config.json` and `model.safetensors` (or a sharded `model.safetensors.index.json`)
    or `pytorch_model.bin` (safetensors preferred when both exist), or a path to one such weights file;
  - a hub id (`"facebook/timesformer-base-finetuned-k400"`): looked up in the Hugging Face cache, downloaded
    only when online. With `HF_HUB_OFFLINE=1` (or `local_files_only=True`) nothing touches the network and a
    missing model fails at once with `WeightsNotFoundError("weights not found: looked in ...")`;
  - an in-memory state dict (torch tensors, numpy or jax arrays); `config` is then required.
- Keys of both `TimesformerModel` and `TimesformerForVideoClassification` (prefix `timesformer.`; the
  `classifier.*` head is ignored) are accepted. Every key goes through `KEY_MAP` (a template per HF key, the
  Flax path it fills and the transform it needs) and is shape-checked against the Flax tree for the config.
  Missing, unexpected, duplicated, mis-shaped or non-finite entries raise `CheckpointError` naming them.
- Params come back as float32 jax arrays; per-layer tensors are stacked on a leading `num_hidden_layers`
  axis (the model scans over layers).
- safetensors files are parsed here with numpy (bf16 through `ml_dtypes`), and `pytorch_model.bin` (zip format)
  with a restricted unpickler (`niljax.encoders.torch_pickle`), so no torch is needed; only a legacy (pre-1.6)
  `.bin` and torch-tensor state dicts import torch lazily. `import niljax.encoders` imports
  neither torch nor transformers nor huggingface_hub.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import ml_dtypes
import numpy as np

from niljax.encoders.timesformer import TimesformerConfig, param_shapes

SAFETENSORS_NAME = "model.safetensors"
SAFETENSORS_INDEX_NAME = "model.safetensors.index.json"
BIN_NAME = "pytorch_model.bin"
BIN_INDEX_NAME = "pytorch_model.bin.index.json"
CLASSIFIER_PREFIX = "classifier."
MODEL_PREFIX = "timesformer."


class CheckpointError(ValueError):
    """A checkpoint that cannot be read or does not fit the model (names the offending file or keys)."""


class WeightsNotFoundError(FileNotFoundError):
    """No weights at the given source; the message starts with 'weights not found: looked in ...'."""


def _identity(a: np.ndarray) -> np.ndarray:
    return a


def _linear(a: np.ndarray) -> np.ndarray:
    """torch Linear weight [out, in] -> Flax Dense kernel [in, out]."""
    return a.T


def _conv(a: np.ndarray) -> np.ndarray:
    """torch Conv2d weight [out, in, kh, kw] -> patch kernel [kh, kw, in, out] (HWIO)."""
    return a.transpose(2, 3, 1, 0)


_L = "encoder.layer.{i}."
# (HF key template, Flax path, transform). `{i}` is the layer index; those entries fill stacked params.
KEY_MAP: tuple[tuple[str, tuple[str, ...], Any], ...] = (
    ("embeddings.cls_token", ("cls_token",), _identity),
    ("embeddings.position_embeddings", ("position_embeddings",), _identity),
    ("embeddings.time_embeddings", ("time_embeddings",), _identity),
    ("embeddings.patch_embeddings.projection.weight", ("patch_kernel",), _conv),
    ("embeddings.patch_embeddings.projection.bias", ("patch_bias",), _identity),
    ("layernorm.weight", ("layernorm", "scale"), _identity),
    ("layernorm.bias", ("layernorm", "bias"), _identity),
    (_L + "temporal_layernorm.weight", ("layers", "temporal_layernorm", "scale"), _identity),
    (_L + "temporal_layernorm.bias", ("layers", "temporal_layernorm", "bias"), _identity),
    (
        _L + "temporal_attention.attention.qkv.weight",
        ("layers", "temporal_attention", "qkv", "kernel"),
        _linear,
    ),
    (
        _L + "temporal_attention.attention.qkv.bias",
        ("layers", "temporal_attention", "qkv", "bias"),
        _identity,
    ),
    (
        _L + "temporal_attention.output.dense.weight",
        ("layers", "temporal_attention", "output", "kernel"),
        _linear,
    ),
    (
        _L + "temporal_attention.output.dense.bias",
        ("layers", "temporal_attention", "output", "bias"),
        _identity,
    ),
    (_L + "temporal_dense.weight", ("layers", "temporal_dense", "kernel"), _linear),
    (_L + "temporal_dense.bias", ("layers", "temporal_dense", "bias"), _identity),
    (_L + "layernorm_before.weight", ("layers", "layernorm_before", "scale"), _identity),
    (_L + "layernorm_before.bias", ("layers", "layernorm_before", "bias"), _identity),
    (_L + "attention.attention.qkv.weight", ("layers", "attention", "qkv", "kernel"), _linear),
    (_L + "attention.attention.qkv.bias", ("layers", "attention", "qkv", "bias"), _identity),
    (_L + "attention.output.dense.weight", ("layers", "attention", "output", "kernel"), _linear),
    (_L + "attention.output.dense.bias", ("layers", "attention", "output", "bias"), _identity),
    (_L + "layernorm_after.weight", ("layers", "layernorm_after", "scale"), _identity),
    (_L + "layernorm_after.bias", ("layers", "layernorm_after", "bias"), _identity),
    (_L + "intermediate.dense.weight", ("layers", "mlp", "intermediate", "kernel"), _linear),
    (_L + "intermediate.dense.bias", ("layers", "mlp", "intermediate", "bias"), _identity),
    (_L + "output.dense.weight", ("layers", "mlp", "output", "kernel"), _linear),
    (_L + "output.dense.bias", ("layers", "mlp", "output", "bias"), _identity),
)
_PATTERNS = [
    (re.compile(re.escape(tmpl).replace(re.escape("{i}"), r"(?P<i>\d+)") + r"\Z"), tmpl, path, fn)
    for tmpl, path, fn in KEY_MAP
]
_HF_KEY = {path: tmpl for tmpl, path, _ in KEY_MAP}


def _flatten(tree: Mapping[str, Any], prefix: tuple[str, ...] = ()) -> dict[tuple[str, ...], Any]:
    out: dict[tuple[str, ...], Any] = {}
    for k, v in tree.items():
        if isinstance(v, Mapping):
            out.update(_flatten(v, prefix + (k,)))
        else:
            out[prefix + (k,)] = v
    return out


def _unflatten(flat: Mapping[tuple[str, ...], Any]) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for path, v in flat.items():
        node = tree
        for k in path[:-1]:
            node = node.setdefault(k, {})
        node[path[-1]] = v
    return tree


def _to_numpy(key: str, value: Any) -> np.ndarray:
    """A torch tensor / numpy / jax array as float32 numpy."""
    if type(value).__module__.split(".")[0] == "torch":
        import torch  # lazy: only for torch tensors

        value = value.detach().to(device="cpu", dtype=torch.float32).numpy()
    try:
        arr = np.asarray(value)
    except Exception as err:
        raise CheckpointError(
            f"checkpoint key {key!r}: cannot convert a {type(value).__name__} to an array"
        ) from err
    if not (np.issubdtype(arr.dtype, np.floating) or arr.dtype == ml_dtypes.bfloat16):
        raise CheckpointError(
            f"checkpoint key {key!r}: expected floating-point values, got dtype {arr.dtype}"
        )
    return arr.astype(np.float32)


def _listing(title: str, items: list[str], limit: int = 12) -> str:
    more = f" ... and {len(items) - limit} more" if len(items) > limit else ""
    return f"{title} ({len(items)}): " + ", ".join(items[:limit]) + more


def convert_state_dict(
    state_dict: Mapping[str, Any], config: TimesformerConfig, *, source: str = "state dict"
) -> dict[str, Any]:
    """Map a HF TimeSformer state dict onto the Flax parameter tree for `config` (strict, shape-checked)."""
    if not isinstance(state_dict, Mapping):
        raise TypeError(
            f"convert_state_dict expects a mapping of name -> tensor, got {type(state_dict).__name__}"
        )
    expected = {path: s.shape for path, s in _flatten(param_shapes(config)).items()}
    n_layers = config.num_hidden_layers
    top: dict[tuple[str, ...], np.ndarray] = {}
    layered: dict[tuple[str, ...], list[np.ndarray | None]] = {
        p: [None] * n_layers for p in expected if p[0] == "layers"
    }
    seen: dict[str, str] = {}
    unexpected: list[str] = []
    mismatched: list[str] = []
    problems: list[str] = []
    for key, value in state_dict.items():
        if not isinstance(key, str):
            unexpected.append(repr(key))
            continue
        name = key.removeprefix(MODEL_PREFIX)
        if key.startswith(CLASSIFIER_PREFIX):
            continue  # the Kinetics classification head is not part of the encoder
        for pattern, _, path, fn in _PATTERNS:
            m = pattern.match(name)
            if m:
                break
        else:
            unexpected.append(key)
            continue
        layer = int(m.group("i")) if "i" in pattern.groupindex else None
        if path not in expected or (layer is not None and layer >= n_layers):
            unexpected.append(key)
            continue
        if name in seen:
            problems.append(f"duplicate entries {seen[name]!r} and {key!r}")
            continue
        seen[name] = key
        arr = _to_numpy(key, value)
        want = expected[path][1:] if layer is not None else expected[path]
        got = fn(arr) if arr.ndim == len(want) else arr
        if got.shape != tuple(want):
            mismatched.append(f"{key} has shape {tuple(arr.shape)}, expected {_torch_shape(fn, want)}")
            continue
        if not np.all(np.isfinite(got)):
            problems.append(f"{key} contains NaN or inf")
            continue
        if layer is None:
            top[path] = got
        else:
            layered[path][layer] = got
    missing = [_HF_KEY[p] for p in expected if p[0] != "layers" and p not in top]
    missing += [
        _HF_KEY[p].format(i=i) for p, slots in layered.items() for i, a in enumerate(slots) if a is None
    ]
    if missing or unexpected or mismatched or problems:
        parts = [f"checkpoint does not fit TimesformerModel({_describe(config)}) [{source}]"]
        if missing:
            parts.append(_listing("missing keys", missing))
        if unexpected:
            parts.append(_listing("unexpected keys", unexpected))
        if mismatched:
            parts.append(_listing("shape mismatches", mismatched))
        if problems:
            parts.append(_listing("bad entries", problems))
        raise CheckpointError("; ".join(parts))
    flat = {p: jnp.asarray(a) for p, a in top.items()}
    flat.update({p: jnp.asarray(np.stack(slots)) for p, slots in layered.items()})
    return _unflatten(flat)


def _torch_shape(fn: Any, flax_shape: tuple[int, ...]) -> tuple[int, ...]:
    """The PyTorch-side shape that `fn` maps onto `flax_shape` (for error messages)."""
    if fn is _conv:
        kh, kw, i, o = flax_shape
        return (o, i, kh, kw)
    if fn is _linear:
        return tuple(flax_shape[::-1])
    return tuple(flax_shape)


def _describe(config: TimesformerConfig) -> str:
    return (
        f"hidden_size={config.hidden_size}, num_hidden_layers={config.num_hidden_layers}, "
        f"patch_size={config.patch_size}, image_size={config.image_size}, num_frames={config.num_frames}, "
        f"attention_type={config.attention_type!r}"
    )


_ST_DTYPES = {
    "F64": np.float64,
    "F32": np.float32,
    "F16": np.float16,
    "BF16": ml_dtypes.bfloat16,
    "I64": np.int64,
    "I32": np.int32,
    "I16": np.int16,
    "I8": np.int8,
    "U8": np.uint8,
    "BOOL": np.bool_,
}


def read_safetensors(path: str | Path) -> dict[str, np.ndarray]:
    """Read a `.safetensors` file into numpy arrays (memory-mapped; no torch). Corruption -> CheckpointError."""
    path = Path(path)
    size = path.stat().st_size
    bad = f"{path} is not a valid safetensors file (corrupted or truncated)"
    if size < 8:
        raise CheckpointError(f"{bad}: {size} bytes, shorter than the 8-byte header length")
    data = np.memmap(path, dtype=np.uint8, mode="r")
    n = int.from_bytes(bytes(data[:8]), "little")
    if n > size - 8:
        raise CheckpointError(f"{bad}: header length {n} exceeds the file size {size}")
    try:
        header = json.loads(bytes(data[8 : 8 + n]))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise CheckpointError(f"{bad}: unreadable JSON header ({err})") from err
    if not isinstance(header, dict):
        raise CheckpointError(f"{bad}: header is not a JSON object")
    body = data[8 + n :]
    out: dict[str, np.ndarray] = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        try:
            dtype = np.dtype(_ST_DTYPES[info["dtype"]])
            shape = tuple(int(s) for s in info["shape"])
            start, end = (int(o) for o in info["data_offsets"])
        except (KeyError, TypeError, ValueError) as err:
            raise CheckpointError(f"{bad}: bad header entry for tensor {name!r}: {info!r}") from err
        nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        if end - start != nbytes or start < 0 or end > body.shape[0]:
            raise CheckpointError(
                f"{bad}: tensor {name!r} needs bytes [{start}, {end}) of {nbytes} but the data section has "
                f"{body.shape[0]} bytes"
            )
        out[name] = np.frombuffer(body[start:end], dtype=dtype).reshape(shape)
    return out


def _read_bin(path: Path) -> dict[str, Any]:
    """`pytorch_model.bin` as numpy arrays, read without torch (`niljax.encoders.torch_pickle`, a restricted
    unpickler). Only the legacy (pre-1.6, non-zip) format still needs torch, imported lazily then."""
    import zipfile

    from niljax.encoders.torch_pickle import read_torch_zip

    if zipfile.is_zipfile(path):
        return read_torch_zip(path, error=CheckpointError)
    try:
        import torch  # lazy: the legacy format only
    except ImportError as err:
        raise CheckpointError(
            f"{path} is a legacy (pre-1.6) PyTorch pickle; reading it needs torch (pip install 'niljax[torch]'), "
            "or convert it to safetensors"
        ) from err
    try:
        sd = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        raise CheckpointError(
            f"{path} could not be read as a PyTorch state dict (corrupted?): {err}"
        ) from err
    if not isinstance(sd, Mapping):
        raise CheckpointError(f"{path} holds a {type(sd).__name__}, not a state dict")
    return dict(sd)


def read_weights_file(path: str | Path) -> dict[str, Any]:
    """Read one `.safetensors` / `.bin` file, or a sharded checkpoint's `*.index.json`, into a state dict."""
    path = Path(path)
    if path.name.endswith(".index.json"):
        try:
            weight_map = json.loads(path.read_text())["weight_map"]
        except (json.JSONDecodeError, KeyError, TypeError) as err:
            raise CheckpointError(f"{path} is not a valid sharded-checkpoint index: {err}") from err
        out: dict[str, Any] = {}
        for shard in sorted(set(weight_map.values())):
            out.update(read_weights_file(path.parent / shard))
        return out
    if not path.is_file():
        raise WeightsNotFoundError(f"weights not found: looked in {path} (no such file)")
    if path.suffix == ".safetensors":
        return read_safetensors(path)
    if path.suffix in (".bin", ".pt", ".pth"):
        return _read_bin(path)
    raise CheckpointError(f"{path}: unknown weights format (expected .safetensors, .bin or *.index.json)")


def _weights_in_folder(folder: Path) -> Path:
    for name in (SAFETENSORS_NAME, SAFETENSORS_INDEX_NAME, BIN_NAME, BIN_INDEX_NAME):
        if (folder / name).is_file():
            return folder / name
    raise WeightsNotFoundError(
        f"weights not found: looked in {folder} for {SAFETENSORS_NAME}, {SAFETENSORS_INDEX_NAME}, "
        f"{BIN_NAME}, {BIN_INDEX_NAME}"
    )


def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")


def _hub_folder(
    repo_id: str, *, revision: str | None, cache_dir: str | Path | None, local_only: bool
) -> Path:
    where = f"the Hugging Face cache ({cache_dir or 'default HF_HUB_CACHE'}) for {repo_id!r}"
    try:
        from huggingface_hub import snapshot_download  # lazy: only for hub ids
    except ImportError as err:
        raise WeightsNotFoundError(
            f"weights not found: looked in {Path(repo_id).resolve()} (no such folder); {repo_id!r} looks like a "
            "hub id but huggingface_hub is not installed"
        ) from err
    patterns = ["config.json", "*.safetensors", "*.safetensors.index.json", BIN_NAME, BIN_INDEX_NAME]
    try:
        folder = snapshot_download(
            repo_id,
            revision=revision,
            cache_dir=None if cache_dir is None else str(cache_dir),
            allow_patterns=patterns,
            local_files_only=local_only,
        )
    except Exception as err:
        how = "offline (HF_HUB_OFFLINE=1 or local_files_only), no download tried" if local_only else f"{err}"
        raise WeightsNotFoundError(
            f"weights not found: looked in {Path(repo_id).resolve()} (no such folder) and in {where}; {how}"
        ) from err
    return Path(folder)


def load_timesformer(
    source: str | Path | Mapping[str, Any],
    *,
    config: TimesformerConfig | None = None,
    revision: str | None = None,
    cache_dir: str | Path | None = None,
    local_files_only: bool | None = None,
) -> tuple[TimesformerConfig, dict[str, Any]]:
    """Load `(config, params)` from a local folder/file, a hub id (cache first) or an in-memory state dict.

    `config` overrides the folder's `config.json` and is required for a state dict. `local_files_only`
    defaults to `HF_HUB_OFFLINE`. Errors: `WeightsNotFoundError` (nothing found, message lists where it
    looked), `CheckpointError` (unreadable file, or keys/shapes that do not fit).
    """
    if isinstance(source, Mapping):
        if config is None:
            raise ValueError("load_timesformer: a config is required when loading from a state dict")
        return config, convert_state_dict(source, config)
    if not isinstance(source, (str, Path)):
        raise TypeError(
            f"load_timesformer: source must be a path, a hub id or a state dict, got {type(source)}"
        )
    path = Path(source).expanduser()
    if path.is_dir():
        folder, weights = path, _weights_in_folder(path)
    elif path.is_file():
        folder, weights = path.parent, path
    elif isinstance(source, str) and _HUB_ID.match(source) and not source.startswith("."):
        from niljax.encoders.weights_cache import converted_folder

        converted = converted_folder(source)  # `niljax weights` wrote it: no hub, no pickle
        if revision is None and (converted / SAFETENSORS_NAME).is_file() and (converted / "config.json").is_file():
            folder, weights = converted, converted / SAFETENSORS_NAME
        else:
            local_only = _offline() if local_files_only is None else local_files_only
            folder = _hub_folder(source, revision=revision, cache_dir=cache_dir, local_only=local_only)
            weights = _weights_in_folder(folder)
    else:
        raise WeightsNotFoundError(f"weights not found: looked in {path.resolve()} (no such file or folder)")
    if config is None:
        config = TimesformerConfig.from_hf_config(folder / "config.json")
    return config, convert_state_dict(read_weights_file(weights), config, source=str(weights))


def to_hf_state_dict(params: Mapping[str, Any], config: TimesformerConfig) -> dict[str, np.ndarray]:
    """Inverse of `convert_state_dict`: Flax params -> `TimesformerModel` state dict (numpy, float32)."""
    flat = _flatten(params)
    out: dict[str, np.ndarray] = {}
    inverse = {_linear: _linear, _identity: _identity, _conv: lambda a: a.transpose(3, 2, 0, 1)}
    for tmpl, path, fn in KEY_MAP:
        if path not in flat:
            continue
        arr = np.asarray(jax.device_get(flat[path]), dtype=np.float32)
        if path[0] == "layers":
            for i in range(config.num_hidden_layers):
                out[tmpl.format(i=i)] = np.ascontiguousarray(inverse[fn](arr[i]))
        else:
            out[tmpl] = np.ascontiguousarray(inverse[fn](arr))
    return out
