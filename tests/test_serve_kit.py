"""Shared parts of the ``specops serve`` tests: real ONNX models, real servers, an admin client.

Models are built here with ``onnx.helper`` (IR version pinned: ONNX Runtime
refuses the newest); servers are real uvicorn on 127.0.0.1, ephemeral ports.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

from specops import canonical_hash
from specops.serve import RunningServer, ServeConfig
from specops.spec import KINDS

TOKEN = "test-admin-token-0123456789"
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


def model_doc(
    name: str,
    version: str,
    artifact: bytes,
    *,
    guardrails: list[str] | None = None,
    inputs: list[dict[str, Any]] | None = None,
    outputs: list[dict[str, Any]] | None = None,
    **spec: Any,
) -> dict[str, Any]:
    doc = {
        "apiVersion": "specops.dev/v1",
        "kind": "Model",
        "metadata": {"name": name},
        "spec": {
            "version": version,
            "artifact": {"uri": f"artifacts/{name}-{version}.onnx", "sha256": sha(artifact)},
            "signature": {
                "inputs": inputs or [{"name": "features", "dtype": "float32", "shape": [-1, 4], "features": FEATURES}],
                "outputs": outputs or [{"name": "probabilities", "dtype": "float32", "shape": [-1, 2]}],
            },
            "runtime": {"providers": ["CUDAExecutionProvider", "CPUExecutionProvider"], "intraOpThreads": 1},
            "targets": ["test"],
            "guardrails": guardrails or [],
            **spec,
        },
    }
    return canonical(doc)


def canonical(doc: dict[str, Any]) -> dict[str, Any]:
    return KINDS[doc["kind"]].model_validate(doc).canonical()


def doc(kind: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return canonical({"apiVersion": "specops.dev/v1", "kind": kind, "metadata": {"name": name}, "spec": spec})


class Admin:
    """A thin admin-API client over httpx, as a runner would use it."""

    def __init__(self, url: str, token: str | None = TOKEN) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.http = httpx.Client(base_url=url, headers=headers, timeout=30)

    def close(self) -> None:
        self.http.close()

    def revision(self) -> str:
        return str(self.http.get("/admin/v1/state").json()["revision"])

    def upload(self, data: bytes) -> httpx.Response:
        return self.http.put(
            f"/admin/v1/artifacts/{sha(data)}", content=data, headers={"Content-Type": "application/octet-stream"}
        )

    def apply(self, document: dict[str, Any], *, activate: bool = True, revision: str | None = None) -> httpx.Response:
        kind, name = document["kind"], document["metadata"]["name"]
        body = {
            "expected_revision": revision if revision is not None else self.revision(),
            "spec": document,
            "hash": canonical_hash(document),
            "activate": activate,
        }
        return self.http.put(f"/admin/v1/resources/{kind}/{name}", json=body)

    def traffic(self, model: str, weights: dict[str, int], shadow: str | None = None) -> httpx.Response:
        body = {"expected_revision": self.revision(), "weights": weights, "shadow": shadow}
        return self.http.put(f"/admin/v1/models/{model}/traffic", json=body)

    def infer(self, model: str, rows: list[list[float]], **extra: Any) -> httpx.Response:
        body = {"inputs": [{"name": "features", "datatype": "FP32", "shape": [len(rows), 4], "data": rows}], **extra}
        return self.http.post(f"/v2/models/{model}/infer", json=body)


def start(state_dir: Path, **options: Any) -> RunningServer:
    config = ServeConfig(state_dir=state_dir, name="test", port=0, admin_token=TOKEN, threads=2, **options)
    return RunningServer(config).start()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RunningServer]:
    running = start(tmp_path / "state")
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def admin(server: RunningServer) -> Iterator[Admin]:
    client = Admin(server.url)
    try:
        yield client
    finally:
        client.close()


def deploy(admin: Admin, name: str, version: str, artifact: bytes, **kwargs: Any) -> httpx.Response:
    assert admin.upload(artifact).status_code == 200
    response = admin.apply(model_doc(name, version, artifact, **kwargs))
    assert response.status_code == 200, response.text
    return response


@pytest.fixture(scope="module")
def shared_admin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Admin]:
    """One server for a whole module of read-mostly tests, with ``fraud`` 1.0.0 serving."""
    running = start(tmp_path_factory.mktemp("shared") / "state")
    client = Admin(running.url)
    try:
        deploy(client, "fraud", "1.0.0", scorer(1))
        yield client
    finally:
        client.close()
        running.stop()
