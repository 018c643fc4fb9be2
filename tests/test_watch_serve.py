"""The target's side of watch: the watch lease, the alert state, and rolled-back versions.

Real ``specops serve`` servers on 127.0.0.1 and real ONNX models (``test_serve_kit``).
"""

from __future__ import annotations

from pathlib import Path

from specops.serve import RunningServer
from tests.test_serve_kit import Admin, admin, deploy, model_doc, scorer, server, start

__all__ = ["admin", "server"]  # fixtures


def test_watch_lease_is_independent_of_the_apply_lease(admin: Admin) -> None:
    took = admin.http.post("/admin/v1/lease?kind=watch", json={"holder": "watch@a:1", "ttl_s": 30})
    assert took.status_code == 200, took.text
    assert took.json()["holder"] == "watch@a:1" and took.json()["kind"] == "watch"
    # The apply lease is still free, and can be taken while a watcher holds its own.
    assert admin.http.get("/admin/v1/lease").json() == {"holder": None}
    assert admin.http.post("/admin/v1/lease", json={"holder": "apply@b:2", "ttl_s": 30}).status_code == 200
    other = admin.http.post("/admin/v1/lease?kind=watch", json={"holder": "watch@c:3", "ttl_s": 30})
    assert other.status_code == 409
    assert other.json()["holder"] == "watch@a:1" and "stands by" in other.json()["error"]
    # Renewal by the holder works; release by another holder is refused.
    assert admin.http.post("/admin/v1/lease?kind=watch", json={"holder": "watch@a:1", "ttl_s": 30}).status_code == 200
    assert admin.http.request("DELETE", "/admin/v1/lease?kind=watch", json={"holder": "watch@c:3"}).status_code == 409
    assert admin.http.request("DELETE", "/admin/v1/lease?kind=watch", json={"holder": "watch@a:1"}).status_code == 200
    assert admin.http.get("/admin/v1/lease?kind=watch").json()["holder"] is None
    assert admin.http.get("/admin/v1/lease").json()["holder"] == "apply@b:2"
    bad = admin.http.get("/admin/v1/lease?kind=nope")
    assert bad.status_code == 400 and "apply, watch" in bad.json()["error"]


def test_watch_state_needs_the_lease_and_does_not_move_the_revision(admin: Admin) -> None:
    revision = admin.revision()
    refused = admin.http.put("/admin/v1/watch/state", json={"holder": "watch@a:1", "state": {"alerts": {}}})
    assert refused.status_code == 409 and "lease" in refused.json()["error"]
    admin.http.post("/admin/v1/lease?kind=watch", json={"holder": "watch@a:1", "ttl_s": 30})
    state = {"alerts": {"k": {"state": "firing", "firing_since": "2026-12-01T00:00:00Z"}}}
    put = admin.http.put("/admin/v1/watch/state", json={"holder": "watch@a:1", "state": state})
    assert put.status_code == 200, put.text
    assert admin.http.put("/admin/v1/watch/state", json={"holder": "watch@x:9", "state": {}}).status_code == 409
    assert admin.http.put("/admin/v1/watch/state", json={"holder": "watch@a:1", "state": []}).status_code == 400
    got = admin.http.get("/admin/v1/watch/state").json()
    assert got["state"] == state and got["updated_by"] == "watch@a:1"
    assert admin.revision() == revision


def test_watch_state_and_lease_survive_a_restart(tmp_path: Path) -> None:
    running = start(tmp_path / "state")
    admin = Admin(running.url)
    try:
        admin.http.post("/admin/v1/lease?kind=watch", json={"holder": "watch@a:1", "ttl_s": 600})
        admin.http.put("/admin/v1/watch/state", json={"holder": "watch@a:1", "state": {"alerts": {"x": 1}}})
    finally:
        admin.close()
        running.stop()
    again = start(tmp_path / "state")
    admin = Admin(again.url)
    try:
        assert admin.http.get("/admin/v1/watch/state").json()["state"] == {"alerts": {"x": 1}}
        assert admin.http.get("/admin/v1/lease?kind=watch").json()["holder"] == "watch@a:1"
    finally:
        admin.close()
        again.stop()


def _canary_promoted(admin: Admin) -> None:
    deploy(admin, "fraud", "1.0.0", scorer(1))

    assert admin.upload(scorer(2)).status_code == 200
    assert admin.apply(model_doc("fraud", "1.1.0", scorer(2)), activate=False).status_code == 200
    assert admin.traffic("fraud", {"1.1.0": 100, "1.0.0": 0}).status_code == 200


def _status(admin: Admin) -> dict:
    return dict(admin.http.get("/admin/v1/state").json()["resources"]["Model/fraud"]["status"])


def test_rollback_traffic_records_the_version_and_restores_the_previous_spec(tmp_path: Path) -> None:
    running: RunningServer = start(tmp_path / "state")
    admin = Admin(running.url)
    try:
        _canary_promoted(admin)
        bad_hash = _status(admin)["versions"]["1.1.0"]["hash"]
        good_hash = _status(admin)["versions"]["1.0.0"]["hash"]
        body = {
            "expected_revision": admin.revision(),
            "weights": {"1.0.0": 100, "1.1.0": 0},
            "shadow": None,
            "rollback": {"version": "1.1.0", "reason": "errorRate burn 30x over 1h/5m", "by": "watch",
                         "branch": "specops/rollback/fraud-1.1.0"},
        }
        answer = admin.http.put("/admin/v1/models/fraud/traffic", json=body)
        assert answer.status_code == 200, answer.text
        status = _status(admin)
        record = status["rolled_back"]["1.1.0"]
        assert record["hash"] == bad_hash and record["by"] == "watch"
        assert record["reason"].startswith("errorRate burn") and record["at"].endswith("Z")
        assert record["branch"] == "specops/rollback/fraud-1.1.0"
        # What really runs is what the live entry says: the previous spec again, at 100%.
        entry = admin.http.get("/admin/v1/state").json()["resources"]["Model/fraud"]
        assert entry["hash"] == good_hash and status["version"] == "1.0.0"
        assert status["traffic"] == {"1.0.0": 100, "1.1.0": 0}
    finally:
        admin.close()
        running.stop()
    # Kept across a restart.
    again = start(tmp_path / "state")
    admin = Admin(again.url)
    try:
        assert _status(admin)["rolled_back"]["1.1.0"]["hash"] == bad_hash
        # Re-applying the very same spec as a candidate does not lift it ...
        from test_serve_kit import model_doc

        assert admin.apply(model_doc("fraud", "1.1.0", scorer(2)), activate=False).status_code == 200
        assert "1.1.0" in _status(admin)["rolled_back"]
        # ... a changed spec for that version does.
        changed = model_doc("fraud", "1.1.0", scorer(2))
        changed["spec"]["runtime"]["intraOpThreads"] = 2
        assert admin.apply(changed, activate=False).status_code == 200
        assert "rolled_back" not in _status(admin)
    finally:
        admin.close()
        again.stop()


def test_a_retried_version_promoted_to_100_is_no_longer_rolled_back(admin: Admin) -> None:
    _canary_promoted(admin)
    body = {
        "expected_revision": admin.revision(), "weights": {"1.0.0": 100, "1.1.0": 0},
        "rollback": {"version": "1.1.0", "reason": "burn", "by": "analysis"},
    }  # fmt: skip
    assert admin.http.put("/admin/v1/models/fraud/traffic", json=body).status_code == 200
    assert "1.1.0" in _status(admin)["rolled_back"]
    assert admin.traffic("fraud", {"1.0.0": 50, "1.1.0": 50}).status_code == 200
    assert "1.1.0" in _status(admin)["rolled_back"]
    assert admin.traffic("fraud", {"1.0.0": 0, "1.1.0": 100}).status_code == 200
    assert "rolled_back" not in _status(admin)


def test_bad_rollback_bodies_are_refused_with_a_reason(admin: Admin) -> None:
    _canary_promoted(admin)
    revision = admin.revision()

    def put(rollback: object, weights: dict[str, int] | None = None) -> tuple[int, str]:
        body = {"expected_revision": revision, "weights": weights or {"1.0.0": 100, "1.1.0": 0}, "rollback": rollback}
        r = admin.http.put("/admin/v1/models/fraud/traffic", json=body)
        return r.status_code, r.json().get("error", "")

    assert put({"version": "9.9.9", "reason": "x", "by": "watch"})[0] == 422
    code, error = put({"version": "1.1.0", "reason": "x", "by": "watch"}, {"1.1.0": 100})
    assert code == 422 and "weight 0" in error
    assert put({"version": "1.1.0", "reason": "", "by": "watch"})[0] == 400
    assert put({"version": "1.1.0", "reason": "x", "by": "someone"})[0] == 400
    assert put("1.1.0")[0] == 400
    assert admin.revision() == revision
