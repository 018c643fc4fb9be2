"""Versions side by side: canary weights, deterministic routing, shadow, stats, metrics, swaps."""

from __future__ import annotations

import threading
from pathlib import Path

from tests.test_serve_kit import Admin, admin, deploy, doc, model_doc, scorer, server, start

__all__ = ["admin", "server"]  # fixtures

ROW = [[1.0, 2.0, 3.0, 4.0]]


def _version(admin: Admin, request_id: str) -> str:
    response = admin.infer("fraud", ROW, id=request_id)
    assert response.status_code == 200, response.text
    assert response.json()["id"] == request_id
    return str(response.json()["model_version"])


def test_canary_is_deterministic_per_request_id(admin: Admin) -> None:
    deploy(admin, "fraud", "1.0.0", scorer(1))
    assert admin.upload(scorer(2)).status_code == 200
    candidate = admin.apply(model_doc("fraud", "1.1.0", scorer(2)), activate=False)
    assert candidate.status_code == 200
    status = candidate.json()["resource"]["status"]
    assert status["traffic"] == {"1.0.0": 100, "1.1.0": 0}
    assert status["versions"]["1.1.0"]["ready"] is True
    assert {_version(admin, f"r{i}") for i in range(20)} == {"1.0.0"}

    assert admin.traffic("fraud", {"1.0.0": 70, "1.1.0": 30}).status_code == 200
    first = {f"r{i}": _version(admin, f"r{i}") for i in range(60)}
    assert set(first.values()) == {"1.0.0", "1.1.0"}
    assert {k: _version(admin, k) for k in first} == first  # same id, same version
    header = admin.http.post(
        "/v2/models/fraud/infer",
        json={"inputs": [{"name": "features", "datatype": "FP32", "shape": [1, 4], "data": ROW}]},
        headers={"X-Request-Id": "r7"},
    )
    assert header.json()["model_version"] == first["r7"]
    # Growing the canary only moves requests towards the candidate.
    assert admin.traffic("fraud", {"1.0.0": 40, "1.1.0": 60}).status_code == 200
    assert all(_version(admin, k) == "1.1.0" for k, v in first.items() if v == "1.1.0")
    # A pinned version bypasses routing.
    pinned = admin.http.post(
        "/v2/models/fraud/versions/1.0.0/infer",
        json={"inputs": [{"name": "features", "datatype": "FP32", "shape": [1, 4], "data": ROW}]},
    )
    assert pinned.json()["model_version"] == "1.0.0"

    bad = admin.traffic("fraud", {"1.0.0": 50, "1.1.0": 40})
    assert bad.status_code == 422 and "sum to 90" in bad.json()["error"]
    assert admin.traffic("fraud", {"9.9.9": 100}).status_code == 422
    assert admin.traffic("fraud", {"1.0.0": 100}, shadow="1.0.0").status_code == 422

    stats = admin.http.get("/admin/v1/models/fraud/stats").json()
    assert set(stats["versions"]) == {"1.0.0", "1.1.0"}
    one = stats["versions"]["1.1.0"]
    assert one["requests"] > 0 and one["errors"] == 0
    assert one["latency_buckets_ms"][-1] == ["+Inf", one["requests"]]
    counts = [c for _, c in one["latency_buckets_ms"]]
    assert counts == sorted(counts)


def test_activate_keeps_previous_for_rollback_then_drops_it(admin: Admin) -> None:
    deploy(admin, "fraud", "1.0.0", scorer(1))
    deploy(admin, "fraud", "1.1.0", scorer(2))
    status = admin.http.get("/admin/v1/state").json()["resources"]["Model/fraud"]["status"]
    assert status["traffic"] == {"1.0.0": 0, "1.1.0": 100}
    # Rollback: 1.0.0 is still loaded, so re-applying it is instant.
    rollback = admin.apply(model_doc("fraud", "1.0.0", scorer(1)))
    assert rollback.json()["resource"]["status"]["traffic"] == {"1.0.0": 100, "1.1.0": 0}
    deploy(admin, "fraud", "1.2.0", scorer(3))
    status = admin.http.get("/admin/v1/state").json()["resources"]["Model/fraud"]["status"]
    assert status["traffic"] == {"1.0.0": 0, "1.2.0": 100}  # 1.1.0 served nothing: unloaded
    assert _version(admin, "x") == "1.2.0"


def test_shadow_mirrors_and_records(admin: Admin) -> None:
    deploy(admin, "fraud", "1.0.0", scorer(1))
    admin.upload(scorer(2))
    assert admin.apply(model_doc("fraud", "1.1.0", scorer(2)), activate=False).status_code == 200
    assert admin.traffic("fraud", {"1.0.0": 100}, shadow="1.1.0").status_code == 200
    for i in range(10):
        assert _version(admin, f"s{i}") == "1.0.0"
    stats = {}
    for _ in range(200):  # mirrors run after the answer: wait for them to land
        stats = admin.http.get("/admin/v1/models/fraud/stats").json()["versions"]
        if stats["1.1.0"]["requests"] == 10:
            break
        threading.Event().wait(0.01)
    assert stats["1.1.0"]["requests"] == 10 and stats["1.1.0"]["shadow_requests"] == 10
    assert stats["1.0.0"]["requests"] == 10
    assert admin.http.get("/admin/v1/state").json()["resources"]["Model/fraud"]["status"]["shadow"] == "1.1.0"


def test_metrics_buckets_include_slo_thresholds(admin: Admin) -> None:
    deploy(admin, "fraud", "1.0.0", scorer(1))
    slo = doc("SLO", "fraud", {"model": "fraud", "objectives": [{"type": "latency", "percentile": 99, "thresholdMs": 37}]})
    assert admin.apply(slo).status_code == 200
    admin.infer("fraud", ROW, id="m1")
    text = admin.http.get("/metrics").text
    assert 'specops_request_duration_seconds_bucket{le="0.037",model="fraud",traffic="live",version="1.0.0"}' in text
    assert 'specops_requests_total{model="fraud",outcome="ok",traffic="live",version="1.0.0"} 1.0' in text
    assert 'specops_model_info{model="fraud",providers="CPUExecutionProvider",ready="true",version="1.0.0"} 1.0' in text
    assert 'specops_input_feature_bucket{feature="amount"' in text
    stats = admin.http.get("/admin/v1/models/fraud/stats").json()
    assert 37 in stats["latency_bounds_ms"]
    assert [37, 1] in stats["versions"]["1.0.0"]["latency_buckets_ms"] or [37.0, 1] in stats["versions"]["1.0.0"]["latency_buckets_ms"]
    features = stats["versions"]["1.0.0"]["input_features"]["features"]
    assert features["amount"]["count"] == 1 and features["amount"]["sum"] == 1.0


def test_swap_under_load_fails_nothing(tmp_path: Path) -> None:
    running = start(tmp_path / "state")
    admin = Admin(running.url)
    failures: list[str] = []
    seen: set[str] = set()
    stop = threading.Event()

    def load() -> None:
        client = Admin(running.url)
        i = 0
        while not stop.is_set():
            i += 1
            response = client.infer("fraud", ROW, id=f"{threading.get_ident()}-{i}")
            if response.status_code != 200:
                failures.append(response.text)
            else:
                seen.add(response.json()["model_version"])
        client.close()

    try:
        deploy(admin, "fraud", "1.0.0", scorer(1))
        workers = [threading.Thread(target=load) for _ in range(4)]
        for w in workers:
            w.start()
        for version, weights in (("1.1.0", 2), ("1.2.0", 3)):
            deploy(admin, "fraud", version, scorer(weights))
        threading.Event().wait(0.2)
        stop.set()
        for w in workers:
            w.join()
    finally:
        admin.close()
        running.stop()
    assert failures == []
    assert "1.2.0" in seen
