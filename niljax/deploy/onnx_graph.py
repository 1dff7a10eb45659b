"""The deterministic actor as an ONNX graph, built with `onnx.helper` from the arrays of `policy.npz`.

Why `onnx.helper` and not a converter: the actor is ten standard ops (MatMul, Add, LayerNormalization, Relu,
Tanh), so the graph is short and each node maps one line of `numpy_policy.NumpyPolicy.mean`. The converters on
offer here cost more than they save: jax2onnx 0.17.1 pins `orbax-checkpoint < 0.11.37` (niljax runs 0.12.x,
whose checkpoints the runs are written with) and pulls equinox, dm-pix, netron and orbax-export; tf2onnx needs
TensorFlow and `jax2tf`. `onnx` and `onnxruntime` are the `export` extra, and every exported graph is run by
onnxruntime against the numpy pass and the JAX actor (`export.check_export`, tests/test_deploy.py).

Contract: `build_model(arrays) -> onnx.ModelProto`, opset 17 (LayerNormalization), one input `obs`
f32[batch, O] (batch dynamic), one output `action` f32[batch, A] = tanh(mean), checked by `onnx.checker`.
`run_onnx(path_or_model, obs) -> f32[N, A]` evaluates it with onnxruntime (CPU). Both raise
`MissingDependencyError` when the `export` extra is not installed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from niljax.deploy.errors import MissingDependencyError

__all__ = ["OPSET", "build_model", "run_onnx", "save_model"]

OPSET = 17  # LayerNormalization is an ONNX op from opset 17


def _onnx() -> Any:
    try:
        import onnx
    except ImportError as err:
        raise MissingDependencyError("ONNX export needs the `export` extra: pip install 'niljax[export]' "
                                     "(onnx, onnxruntime)") from err
    return onnx


def build_model(arrays: dict[str, np.ndarray]) -> Any:
    """The ONNX model of the actor whose `policy.npz` arrays are `arrays` (see `numpy_policy`)."""
    onnx = _onnx()
    from onnx import TensorProto, helper, numpy_helper

    from niljax.deploy.numpy_policy import NumpyPolicy

    policy = NumpyPolicy(arrays)  # validates the keys, reads the sizes
    inits: list[Any] = []
    nodes: list[Any] = []

    def const(name: str, value: np.ndarray) -> str:
        inits.append(numpy_helper.from_array(np.ascontiguousarray(value, np.float32), name))
        return name

    def dense(x: str, kernel: np.ndarray, bias: np.ndarray, name: str) -> str:
        nodes.append(helper.make_node("MatMul", [x, const(f"{name}.kernel", kernel)], [f"{name}.mm"]))
        nodes.append(helper.make_node("Add", [f"{name}.mm", const(f"{name}.bias", bias)], [name]))
        return name

    def norm(x: str, scale: np.ndarray, bias: np.ndarray, name: str) -> str:
        nodes.append(helper.make_node("LayerNormalization", [x, const(f"{name}.scale", scale),
                                                             const(f"{name}.bias", bias)], [name],
                                      axis=-1, epsilon=float(policy.eps)))
        return name

    def relu(x: str, name: str) -> str:
        nodes.append(helper.make_node("Relu", [x], [name]))
        return name

    a = policy.arrays
    h = dense("obs", a["trunk.dense.kernel"], a["trunk.dense.bias"], "trunk.dense")
    h = relu(norm(h, a["trunk.norm.scale"], a["trunk.norm.bias"], "trunk.norm"), "trunk.relu")
    for i in range(policy.depth):
        y = dense(h, a["blocks.dense0.kernel"][i], a["blocks.dense0.bias"][i], f"block{i}.dense0")
        y = relu(norm(y, a["blocks.norm0.scale"][i], a["blocks.norm0.bias"][i], f"block{i}.norm0"), f"block{i}.relu")
        y = dense(y, a["blocks.dense1.kernel"][i], a["blocks.dense1.bias"][i], f"block{i}.dense1")
        y = norm(y, a["blocks.norm1.scale"][i], a["blocks.norm1.bias"][i], f"block{i}.norm1")
        nodes.append(helper.make_node("Add", [h, y], [f"block{i}.out"]))
        h = f"block{i}.out"
    mean = dense(h, a["mean.kernel"], a["mean.bias"], "mean")
    nodes.append(helper.make_node("Tanh", [mean], ["action"]))
    graph = helper.make_graph(
        nodes, "niljax_actor",
        [helper.make_tensor_value_info("obs", TensorProto.FLOAT, ["batch", policy.obs_dim])],
        [helper.make_tensor_value_info("action", TensorProto.FLOAT, ["batch", policy.act_dim])],
        initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="niljax")
    model.ir_version = 8  # the IR of opset 17; readable by every onnxruntime since 1.12
    onnx.checker.check_model(model, full_check=True)
    return model


def save_model(model: Any, path: str | Path) -> Path:
    """Write `model` to `path` (.onnx)."""
    onnx = _onnx()
    path = Path(path)
    onnx.save(model, str(path))
    return path


def run_onnx(model: Any, obs: np.ndarray) -> np.ndarray:
    """Actions f32[N, A] of the ONNX actor (`model`: a path or a ModelProto) on `obs` f32[N, O], by onnxruntime."""
    try:
        import onnxruntime as ort
    except ImportError as err:
        raise MissingDependencyError("running the ONNX policy needs onnxruntime: pip install 'niljax[export]'") from err
    source = str(model) if isinstance(model, (str, Path)) else model.SerializeToString()
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1  # a small MLP: threads cost more than they give (and the machine is shared)
    session = ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])
    return session.run(["action"], {"obs": np.asarray(obs, np.float32).reshape(-1, session.get_inputs()[0].shape[1])})[0]
