"""Real ONNX models for tests, built with ``onnx.helper`` (IR version pinned: ONNX Runtime refuses the newest)."""

from __future__ import annotations

import hashlib

import numpy as np
from onnx import TensorProto, helper, numpy_helper

IR_VERSION = 9
FEATURES = ["amount", "age", "count", "hour"]


def linear_model(weights: np.ndarray, bias: np.ndarray, *, inputs: int = 4, input_name: str = "features") -> bytes:
    """softmax(x @ W + b): float32 [-1, inputs] -> probabilities float32 [-1, 2]."""
    graph = helper.make_graph(
        [
            helper.make_node("MatMul", [input_name, "W"], ["z0"]),
            helper.make_node("Add", ["z0", "b"], ["z"]),
            helper.make_node("Softmax", ["z"], ["probabilities"], axis=-1),
        ],
        "linear",
        [helper.make_tensor_value_info(input_name, TensorProto.FLOAT, ["batch", inputs])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["batch", 2])],
        initializer=[
            numpy_helper.from_array(weights.astype(np.float32), "W"),
            numpy_helper.from_array(bias.astype(np.float32), "b"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=IR_VERSION)
    return bytes(model.SerializeToString())


def unrunnable_model(inputs: int = 8) -> bytes:
    """float32 [-1, inputs] -> probabilities [-1, 2] on paper; every run fails (Gather out of bounds).

    It loads and matches its signature, so only running it (a target's warm-up) finds it broken.
    """
    graph = helper.make_graph(
        [helper.make_node("Gather", ["features", "idx"], ["probabilities"], axis=1)],
        "unrunnable",
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, ["batch", inputs])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["batch", 2])],
        initializer=[numpy_helper.from_array(np.array([inputs, inputs + 1], dtype=np.int64), "idx")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=IR_VERSION)
    return bytes(model.SerializeToString())


def scorer(version: int) -> bytes:
    """Two scorers that answer the same input differently (version 1 and 2)."""
    rng = np.random.default_rng(version)
    return linear_model(rng.normal(size=(4, 2)) * 0.01 * version, np.array([0.1 * version, -0.1 * version]))


def heavy_model(features: int = 8, rows: int = 64, layers: int = 2, width: int = 1024) -> bytes:
    """features float32 [-1, 8] -> probabilities [-1, 2] through batched wide MatMuls: milliseconds a call.

    Each row is widened to ``width``, repeated ``rows`` times and multiplied
    through ``layers`` shared ``width`` x ``width`` matrices (about 134 MMAC
    with the defaults), so no warm-up timing can mistake it for a model that
    costs microseconds.
    """
    rng = np.random.default_rng(7)
    inits = [
        numpy_helper.from_array((rng.standard_normal((features, width)) * 0.01).astype(np.float32), "w_in"),
        numpy_helper.from_array((np.eye(width) * 0.5).astype(np.float32), "w"),
        numpy_helper.from_array(np.zeros((width, 2), dtype=np.float32), "w_out"),
        numpy_helper.from_array(np.array([1], dtype=np.int64), "axis1"),
        numpy_helper.from_array(np.array([1, rows, 1], dtype=np.int64), "repeat"),
    ]
    nodes = [
        helper.make_node("MatMul", ["features", "w_in"], ["wide"]),
        helper.make_node("Unsqueeze", ["wide", "axis1"], ["one"]),
        helper.make_node("Expand", ["one", "repeat"], ["h0"]),
        *(helper.make_node("MatMul", [f"h{i}", "w"], [f"h{i + 1}"]) for i in range(layers)),
        helper.make_node("ReduceMean", [f"h{layers}", "axis1"], ["pooled"], keepdims=0),
        helper.make_node("MatMul", ["pooled", "w_out"], ["logits"]),
        helper.make_node("Softmax", ["logits"], ["probabilities"], axis=-1),
    ]
    graph = helper.make_graph(
        nodes,
        "heavy",
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, [None, features])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [None, 2])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)], ir_version=IR_VERSION)
    return bytes(model.SerializeToString())


def echo_text_model() -> bytes:
    """string [-1] -> string [-1] (Identity), for text guardrails."""
    graph = helper.make_graph(
        [helper.make_node("Identity", ["text"], ["reply"])],
        "echo",
        [helper.make_tensor_value_info("text", TensorProto.STRING, ["batch"])],
        [helper.make_tensor_value_info("reply", TensorProto.STRING, ["batch"])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=IR_VERSION)
    return bytes(model.SerializeToString())


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
