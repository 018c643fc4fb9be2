"""Refused changes change nothing; bad requests get a 4xx that says what was wrong."""

from __future__ import annotations

from typing import Any

import httpx
import numpy as np
import pytest

from specops.serve import RunningServer
from tests.test_serve_kit import (
    Admin,
    admin,
    deploy,
    heavy_model,
    linear_model,
    model_doc,
    scorer,
    server,
    sha,
    shared_admin,
)

__all__ = ["admin", "server", "shared_admin"]  # fixtures

ROW = [[1.0, 2.0, 3.0, 4.0]]


@pytest.fixture
def serving(admin: Admin) -> tuple[Admin, list[float], str]:
    """Version 1.0.0 serving; its answer to ROW and the revision after applying it."""
    deploy(admin, "fraud", "1.0.0", scorer(1))
    answer = admin.infer("fraud", ROW).json()["outputs"][0]["data"]
    return admin, answer, admin.revision()


def _still_serving(admin: Admin, answer: list[float], revision: str) -> None:
    response = admin.infer("fraud", ROW)
    assert response.status_code == 200
    assert response.json()["model_version"] == "1.0.0"
    assert response.json()["outputs"][0]["data"] == answer
    assert admin.revision() == revision
    status = admin.http.get("/admin/v1/state").json()["resources"]["Model/fraud"]["status"]
    assert status["traffic"] == {"1.0.0": 100} and status["version"] == "1.0.0"


def test_wrong_checksum_is_refused(serving: tuple[Admin, list[float], str]) -> None:
    admin, answer, revision = serving
    new = scorer(2)
    # Bytes that do not hash to the name they are uploaded under are not stored.
    response = admin.http.put(f"/admin/v1/artifacts/{sha(b'something else')}", content=new)
    assert response.status_code == 422
    assert f"sha256 {sha(new)}" in response.json()["error"]
    assert admin.http.head(f"/admin/v1/artifacts/{sha(b'something else')}").status_code == 404
    # A spec whose sha256 names an artifact never uploaded is refused.
    response = admin.apply(model_doc("fraud", "1.1.0", new))
    assert response.status_code == 422
    assert "is not uploaded" in response.json()["error"]
    _still_serving(admin, answer, revision)


def test_signature_mismatch_is_refused(serving: tuple[Admin, list[float], str]) -> None:
    admin, answer, revision = serving
    wider = linear_model(__import__("numpy").ones((5, 2)), __import__("numpy").zeros(2), inputs=5)
    assert admin.upload(wider).status_code == 200
    response = admin.apply(model_doc("fraud", "1.1.0", wider))
    assert response.status_code == 422
    error = response.json()["error"]
    assert "does not match the spec's signature" in error and "dimension 1 is 5 in the model, 4 in the spec" in error
    renamed = linear_model(__import__("numpy").ones((4, 2)), __import__("numpy").zeros(2), input_name="x")
    assert admin.upload(renamed).status_code == 200
    response = admin.apply(model_doc("fraud", "1.1.0", renamed))
    assert response.status_code == 422
    assert "the model has no input 'features'" in response.json()["error"]
    _still_serving(admin, answer, revision)


def test_corrupted_onnx_is_refused(serving: tuple[Admin, list[float], str]) -> None:
    admin, answer, revision = serving
    corrupt = scorer(2)[:-40] + b"\x00garbage"
    assert admin.upload(corrupt).status_code == 200
    response = admin.apply(model_doc("fraud", "1.1.0", corrupt))
    assert response.status_code == 422
    assert "not a model ONNX Runtime can load" in response.json()["error"]
    _still_serving(admin, answer, revision)


def test_stale_revision_and_lease(serving: tuple[Admin, list[float], str]) -> None:
    admin, answer, revision = serving
    response = admin.apply(model_doc("fraud", "1.1.0", scorer(1)), revision="0")
    assert response.status_code == 409
    assert response.json()["revision"] == revision

    lease = admin.http.post("/admin/v1/lease", json={"holder": "apply@a:1", "ttl_s": 60})
    assert lease.status_code == 200 and lease.json()["holder"] == "apply@a:1"
    assert lease.json()["expires_at"].endswith("Z")
    other = admin.http.post("/admin/v1/lease", json={"holder": "apply@b:2", "ttl_s": 60})
    assert other.status_code == 409
    assert other.json()["holder"] == "apply@a:1" and "expires_at" in other.json()
    # A mutating call without the holder's header is refused while the lease is held.
    refused = admin.http.delete("/admin/v1/resources/Model/fraud", params={"expected_revision": revision})
    assert refused.status_code == 409 and refused.json()["holder"] == "apply@a:1"
    assert admin.http.request("DELETE", "/admin/v1/lease", json={"holder": "apply@b:2"}).status_code == 409
    assert admin.http.get("/admin/v1/lease").json()["holder"] == "apply@a:1"
    assert admin.http.request("DELETE", "/admin/v1/lease", json={"holder": "apply@a:1"}).status_code == 200
    assert admin.http.get("/admin/v1/lease").json() == {"holder": None}
    _still_serving(admin, answer, revision)


def test_refused_specs(serving: tuple[Admin, list[float], str]) -> None:
    admin, answer, revision = serving
    document = model_doc("fraud", "1.1.0", scorer(1))
    body = {"expected_revision": revision, "spec": document, "hash": "0" * 64}
    response = admin.http.put("/admin/v1/resources/Model/fraud", json=body)
    assert response.status_code == 422 and "canonical hash" in response.json()["error"]
    invalid = {**document, "spec": {**document["spec"], "version": "one"}}
    body = {"expected_revision": revision, "spec": invalid, "hash": "0" * 64}
    response = admin.http.put("/admin/v1/resources/Model/fraud", json=body)
    assert response.status_code == 422 and "spec.version" in response.json()["error"]
    response = admin.http.put("/admin/v1/resources/Model/other", json={**body, "spec": document})
    assert response.status_code == 422 and "the path says Model/other" in response.json()["error"]
    assert admin.http.put("/admin/v1/resources/Nope/x", json=body).status_code == 404
    needs_guardrail = model_doc("fraud", "1.1.0", scorer(1), guardrails=["missing"])
    response = admin.apply(needs_guardrail)
    assert response.status_code == 422 and "Guardrail/missing" in response.json()["error"]
    _still_serving(admin, answer, revision)


def _post(admin: Admin, body: Any, **kwargs: Any) -> httpx.Response:
    if isinstance(body, bytes):
        return admin.http.post("/v2/models/fraud/infer", content=body, **kwargs)
    return admin.http.post("/v2/models/fraud/infer", json=body, **kwargs)


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        (b"{not json", 400, "not valid JSON"),
        ({"inputs": []}, 400, "'inputs' must be a non-empty list"),
        ({"inputs": [{"name": "x", "datatype": "FP32", "shape": [1, 4], "data": ROW}]}, 400, "has no input 'x'"),
        ({"inputs": [{"name": "features", "datatype": "FP64", "shape": [1, 4], "data": ROW}]}, 400, "must be FP32, got FP64"),
        ({"inputs": [{"name": "features", "datatype": "FP32", "shape": [1, 3], "data": [[1, 2, 3]]}]}, 400, "dimension 1 must be 4"),
        ({"inputs": [{"name": "features", "datatype": "FP32", "shape": [4], "data": [1, 2, 3, 4]}]}, 400, "must have 2 dimensions"),
        ({"inputs": [{"name": "features", "datatype": "FP32", "shape": [2, 4], "data": ROW}]}, 400, "needs 8 elements but data has 4"),
        ({"inputs": [{"name": "features", "datatype": "FP32", "shape": [1, 4], "data": [["a", "b", "c", "d"]]}]}, 400, "must be numbers"),
        ({"inputs": [{"name": "features", "datatype": "FP32", "shape": [1, 4], "data": [[1, [2], 3, 4]]}]}, 400, "not a regular array"),
        ({"inputs": [{"name": "features", "datatype": "FP32", "shape": [1, 4]}]}, 400, "'data' is missing"),
        ({"inputs": [{"name": "features", "datatype": "NOPE", "shape": [1, 4], "data": ROW}]}, 400, "datatype 'NOPE'"),
        ({"inputs": [{"name": "features", "datatype": "FP32", "shape": [1, -4], "data": ROW}]}, 400, "non-negative"),
        ({"inputs": [{"name": "features", "datatype": "FP32", "shape": [1, 4], "data": ROW}], "outputs": [{"name": "zz"}]}, 400, "no output 'zz'"),
        ({"inputs": [{"name": "features", "datatype": "FP32", "shape": [100000, 100000], "data": []}]}, 413, "elements"),
    ],
)
def test_bad_requests_get_a_4xx(shared_admin: Admin, body: Any, status: int, message: str) -> None:
    response = _post(shared_admin, body)
    assert response.status_code == status, response.text
    assert message in response.json()["error"]
    assert shared_admin.infer("fraud", ROW).status_code == 200


def test_oversized_body_and_unknown_routes(tmp_path: Any) -> None:
    from tests.test_serve_kit import start

    running: RunningServer = start(tmp_path / "s", max_body_bytes=1024)
    try:
        admin = Admin(running.url)
        deploy(admin, "fraud", "1.0.0", scorer(1))
        big = admin.infer("fraud", ROW * 200)
        assert big.status_code == 413 and "limit" in big.json()["error"]
        assert admin.http.get("/v2/models/nope").status_code == 404
        assert "not served" in admin.http.get("/v2/models/nope").json()["error"]
        assert admin.http.get("/nowhere").json()["error"].startswith("no such endpoint")
        assert admin.http.delete("/v2/health/live").status_code == 405
        assert admin.http.post("/v2/models/fraud/versions/9.9.9/infer", json={}).status_code == 400
        missing = admin.http.post(
            "/v2/models/fraud/versions/9.9.9/infer",
            json={"inputs": [{"name": "features", "datatype": "FP32", "shape": [1, 4], "data": ROW}]},
        )
        assert missing.status_code == 404 and "not loaded" in missing.json()["error"]
        admin.close()
    finally:
        running.stop()


def test_a_tiny_model_runs_inline_even_when_its_first_timing_was_preempted() -> None:
    from specops.serve._registry import INLINE_BELOW_S, _runs_inline, load_version
    from specops.spec import KINDS

    artifact = scorer(1)
    model = KINDS["Model"].model_validate(model_doc("m", "1.0.0", artifact))
    loaded = load_version(model, "h", artifact)
    assert loaded.inline, "a linear model over 4 features costs microseconds"
    feeds = {"features": np.zeros((1, 4), dtype=np.float32)}
    # The warm-up's only sample was 50 ms (the CPU was taken away mid-run): more samples decide.
    preempted = [0.05]
    assert _runs_inline(loaded.session, feeds, ["probabilities"], preempted)
    assert len(preempted) > 1 and min(preempted) < INLINE_BELOW_S
    # A model that is really slow goes to the worker threads.
    slow = heavy_model()
    slow_doc = model_doc("s", "1.0.0", slow, inputs=[{"name": "features", "dtype": "float32", "shape": [-1, 8]}])
    slow_loaded = load_version(KINDS["Model"].model_validate(slow_doc), "h", slow)
    assert not slow_loaded.inline
