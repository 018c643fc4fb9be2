"""The bare ASGI handler that answers inference before Starlette's routing answers exactly as the
Starlette route behind it does: the same status, body and headers for good and bad requests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import orjson

from specops import canonical_hash
from specops.serve import ServeConfig
from specops.serve._server import build
from tests.test_serve_kit import TOKEN, model_doc, scorer, sha

INFER_TOKEN = "test-infer-token-0123456789"
ROWS = [[0.1, 0.2, 0.3, 0.4], [1.0, 2.0, 3.0, 4.0]]
GOOD = orjson.dumps({"inputs": [{"name": "features", "datatype": "FP32", "shape": [2, 4], "data": ROWS}]})
AUTH = {"Authorization": f"Bearer {INFER_TOKEN}"}


def _binary_request() -> tuple[bytes, dict[str, str]]:
    head = orjson.dumps({
        "inputs": [{"name": "features", "datatype": "FP32", "shape": [2, 4], "parameters": {"binary_data_size": 32}}],
        "outputs": [{"name": "probabilities", "parameters": {"binary_data": True}}],
    })
    body = head + np.asarray(ROWS, dtype="<f4").tobytes()
    return body, {**AUTH, "Inference-Header-Content-Length": str(len(head))}


async def _chunks(body: bytes) -> AsyncIterator[bytes]:
    for start in range(0, len(body), 7):
        yield body[start : start + 7]


# (path, headers, body): each sent to the app as served and to the Starlette routes alone.
CASES: list[tuple[str, dict[str, str], Any]] = [
    ("/v2/models/fraud/infer", AUTH, GOOD),
    ("/v2/models/fraud/infer", {**AUTH, "X-Request-Id": "abc"}, orjson.dumps({"id": "r-1", **orjson.loads(GOOD)})),
    ("/v2/models/fraud/versions/1.0.0/infer", AUTH, GOOD),
    ("/v2/models/fraud/versions/9.9.9/infer", AUTH, GOOD),
    ("/v2/models/nope/infer", AUTH, GOOD),
    ("/v2/models/fraud/infer", AUTH, b"{not json"),
    ("/v2/models/fraud/infer", AUTH, b"[]"),
    ("/v2/models/fraud/infer", AUTH, GOOD.replace(b"FP32", b"INT8")),
    ("/v2/models/fraud/infer", AUTH, GOOD.replace(b"0.1,", b"true,")),
    ("/v2/models/fraud/infer", AUTH, GOOD.replace(b'"features"', b'"other"')),
    ("/v2/models/fraud/infer", AUTH, GOOD.replace(b"[2,4]", b"[4,2]")),
    ("/v2/models/fraud/infer", AUTH, b"{" + b" " * 5000 + b"}"),  # over the body limit
    ("/v2/models/fraud/infer", {}, GOOD),  # no token
    ("/v2/models/fraud/infer", {"Authorization": f"Basic {INFER_TOKEN}"}, GOOD),
    ("/v2/models/fraud/infer", {"Authorization": "Bearer wrong"}, GOOD),
    ("/v2/models/fraud/infer", AUTH, "chunks"),  # the body in many ASGI messages
    ("/v2/models/fraud/infer", AUTH, "binary"),  # the binary extension both ways
    ("/v2/models/fraud/versions//infer", AUTH, GOOD),  # not an inference path: both are Starlette's
    ("/v2/models//infer", AUTH, GOOD),
]


def _send(app: Any, path: str, headers: dict[str, str], body: Any) -> httpx.Response:
    if body == "binary":
        body, headers = _binary_request()
    content: Any = _chunks(GOOD) if body == "chunks" else body

    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            response = await client.post(path, content=content, headers={"Content-Type": "application/json", **headers})
            await response.aread()
            return response

    return asyncio.run(go())


def _admin(app: Any, method: str, path: str, **kwargs: Any) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.request(method, path, headers={"Authorization": f"Bearer {TOKEN}"}, **kwargs)

    return asyncio.run(go())


def test_inference_answered_before_routing_is_answered_as_the_route_answers(tmp_path: Path) -> None:
    config = ServeConfig(state_dir=tmp_path / "state", name="test", admin_token=TOKEN, inference_token=INFER_TOKEN,
                         max_body_bytes=4096)
    app, target = build(config)
    try:
        artifact = scorer(1)
        assert _admin(app, "PUT", f"/admin/v1/artifacts/{sha(artifact)}", content=artifact).status_code == 200
        document = model_doc("fraud", "1.0.0", artifact)
        revision = _admin(app, "GET", "/admin/v1/state").json()["revision"]
        body = {"expected_revision": revision, "spec": document, "hash": canonical_hash(document), "activate": True}
        assert _admin(app, "PUT", "/admin/v1/resources/Model/fraud", json=body).status_code == 200
        statuses = []
        for path, headers, content in CASES:
            fast, routed = _send(app, path, headers, content), _send(app.app, path, headers, content)
            statuses.append(fast.status_code)
            assert fast.status_code == routed.status_code, path
            assert fast.content == routed.content, (path, fast.content)
            for header in ("content-type", "content-length", "inference-header-content-length", "www-authenticate"):
                assert fast.headers.get(header) == routed.headers.get(header), (path, header)
        assert statuses == [200, 200, 200, 404, 404, 400, 400, 400, 400, 400, 400, 413, 401, 401, 401, 200, 200, 404, 404]
        # Both ways counted the same: 5 answered each, and 1 refused by the model's signature check
        # (the other refusals come before a version is chosen, uncounted either way).
        stats = _admin(app, "GET", "/admin/v1/models/fraud/stats").json()["versions"]["1.0.0"]
        assert stats["outcomes"] == {"ok": 10, "client_error": 2}
        assert stats["input_features"]["features"][next(iter(stats["input_features"]["features"]))]["count"] == 20
        binary = _send(app, *CASES[16])
        split = int(binary.headers["inference-header-content-length"])
        probabilities = np.frombuffer(binary.content[split:], dtype="<f4").reshape(2, 2)
        assert np.allclose(probabilities.sum(axis=1), 1.0)
        assert len(binary.content) - split == 2 * 2 * 4
    finally:
        target.executor.shutdown(wait=True)
