"""Read a PyTorch `pytorch_model.bin` (torch >= 1.6 zip format) into numpy arrays, without torch.

Contract
- `read_torch_zip(path) -> dict[str, np.ndarray]`: the state dict saved with `torch.save(model.state_dict())`
  (what the Hugging Face hub serves as `pytorch_model.bin`), each tensor as a numpy array of its dtype
  (bfloat16 via `ml_dtypes`), C-contiguous copies (views of a shared storage are materialised).
- The pickle is read with a restricted unpickler: the only globals it resolves are `collections.OrderedDict`,
  `torch._utils._rebuild_tensor_v2` / `_rebuild_parameter` and the typed storage classes
  (`torch.FloatStorage`, ...), each mapped to a numpy stand-in here. Any other global (a pickle that would run
  code) raises `CheckpointError` naming it; nothing from the file is executed.
- Storages are read from the archive's `<name>/data/<key>` records (little-endian; a `byteorder` record saying
  otherwise is refused). The legacy (pre-1.6, non-zip) format is refused with the fix (re-save, or safetensors).
"""

from __future__ import annotations

import collections
import pickle
import zipfile
from pathlib import Path
from typing import Any

import ml_dtypes
import numpy as np

# torch storage class name -> numpy dtype
STORAGE_DTYPES: dict[str, Any] = {
    "DoubleStorage": np.float64, "FloatStorage": np.float32, "HalfStorage": np.float16,
    "BFloat16Storage": ml_dtypes.bfloat16, "LongStorage": np.int64, "IntStorage": np.int32,
    "ShortStorage": np.int16, "CharStorage": np.int8, "ByteStorage": np.uint8, "BoolStorage": np.bool_,
}


class _StorageType:
    """Stand-in for `torch.<X>Storage` in the pickle: carries the dtype."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.dtype = np.dtype(STORAGE_DTYPES[name])


def _rebuild_tensor_v2(storage: np.ndarray, offset: int, size: tuple[int, ...], stride: tuple[int, ...],
                       requires_grad: bool = False, backward_hooks: Any = None, metadata: Any = None) -> np.ndarray:
    size, stride = tuple(int(s) for s in size), tuple(int(s) for s in stride)
    if not size:  # a scalar
        return storage[offset:offset + 1].reshape(()).copy()
    extent = offset + 1 + sum((n - 1) * s for n, s in zip(size, stride) if n > 0)
    if any(n == 0 for n in size):
        return np.zeros(size, storage.dtype)
    if extent > storage.shape[0]:
        raise ValueError(f"tensor of size {size}, stride {stride} at offset {offset} runs past its storage "
                         f"({storage.shape[0]} elements)")
    view = np.lib.stride_tricks.as_strided(storage[offset:], shape=size,
                                           strides=tuple(s * storage.itemsize for s in stride), writeable=False)
    return np.ascontiguousarray(view)


def _rebuild_parameter(data: np.ndarray, requires_grad: bool = False, backward_hooks: Any = None) -> np.ndarray:
    return data


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, file: Any, archive: zipfile.ZipFile, prefix: str, error: type[Exception]) -> None:
        super().__init__(file)
        self._archive, self._prefix, self._error = archive, prefix, error
        self._storages: dict[str, np.ndarray] = {}

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _rebuild_tensor_v2
        if (module, name) == ("torch._utils", "_rebuild_parameter"):
            return _rebuild_parameter
        if module == "torch" and name in STORAGE_DTYPES:
            return _StorageType(name)
        raise self._error(f"refusing global {module}.{name} in the checkpoint's pickle: a plain state dict needs "
                          "only tensors (this reader never runs code from the file)")

    def persistent_load(self, pid: Any) -> np.ndarray:
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage"
                and isinstance(pid[1], _StorageType)):
            raise self._error(f"unsupported persistent id in the checkpoint: {pid!r}")
        _, storage_type, key, _location, numel = pid
        if key not in self._storages:
            raw = self._archive.read(f"{self._prefix}/data/{key}")
            arr = np.frombuffer(raw, dtype=storage_type.dtype)
            if arr.shape[0] < int(numel):
                raise self._error(f"storage {key} holds {arr.shape[0]} elements, the pickle expects {numel}")
            self._storages[key] = arr
        return self._storages[key]


def read_torch_zip(path: str | Path, *, error: type[Exception] = ValueError) -> dict[str, np.ndarray]:
    """See the module docstring; `error` is the exception type raised for a bad or unsupported file."""
    path = Path(path)
    if not zipfile.is_zipfile(path):
        raise error(f"{path} is not a zip-format PyTorch checkpoint (the legacy pre-1.6 format, or not a torch "
                    "file): re-save it with torch >= 1.6, or use the model's model.safetensors")
    with zipfile.ZipFile(path) as archive:
        pkls = [n for n in archive.namelist() if n.endswith("/data.pkl") or n == "data.pkl"]
        if len(pkls) != 1:
            raise error(f"{path}: expected one data.pkl in the archive, found {pkls or 'none'}")
        prefix = pkls[0][: -len("/data.pkl")] if "/" in pkls[0] else ""
        order = f"{prefix}/byteorder"
        if order in archive.namelist() and archive.read(order).strip() not in (b"little", b""):
            raise error(f"{path}: big-endian storages are not supported")
        with archive.open(pkls[0]) as f:
            try:
                state = _RestrictedUnpickler(f, archive, prefix, error).load()
            except error:
                raise
            except (pickle.UnpicklingError, EOFError, KeyError, ValueError, TypeError) as err:
                raise error(f"{path} could not be read as a PyTorch state dict (corrupted?): {err}") from err
    if not isinstance(state, dict):
        raise error(f"{path} holds a {type(state).__name__}, not a state dict")
    return {str(k): v for k, v in state.items()}
