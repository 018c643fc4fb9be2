"""Shared parts of the ``specops serve`` tests: real servers, an admin client (models: ``tests/helpers/models.py``).

Servers are real uvicorn on 127.0.0.1, ephemeral ports.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from specops import canonical_hash
from specops.serve import RunningServer, ServeConfig
from specops.spec import KINDS

# The model builders live in tests/helpers/models.py; importable from here too.
from tests.helpers.models import (  # noqa: F401
    FEATURES,
    IR_VERSION,
    echo_text_model,
    heavy_model,
    linear_model,
    scorer,
    sha,
)

TOKEN = "test-admin-token-0123456789"


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
