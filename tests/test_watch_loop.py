"""The watch loop's faults and roles: unreachable targets, stand-by and failover, deferring to an
apply, out of sync, a watcher killed mid-action, and ``slo status``.

Real ``specops serve`` (``LocalTarget``), real git, a real webhook receiver.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from specops.apply import LocalTarget
from specops.apply._demo import commit_all
from specops.apply._journal import Journal
from specops.apply._local import free_port
from specops.watch import WatchOptions, watch_once
from tests.helpers.cli import run_cli
from tests.test_watch_alerts import Receiver
from tests.test_watch_e2e import make_estate


def _options(repo: Path, tmp_path: Path, holder: str = "watch@test:1", **kw: Any) -> WatchOptions:
    return WatchOptions(repo=repo, journal=tmp_path / "journal.jsonl", holder=holder, **kw)


def _alert_bodies(receiver: Receiver, name: str, status: str | None = None) -> list[dict[str, Any]]:
    return [a for p, b, _ in receiver.bodies if p == "/alerts" for a in b["alerts"]
            if a["alertname"] == name and (status is None or a["status"] == status)]  # fmt: skip


def test_an_unreachable_target_is_no_data_and_one_alert_never_a_rollback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with Receiver() as receiver:
        monkeypatch.setenv("SPECOPS_LOCAL_TOKEN", "t")
        repo = make_estate(tmp_path, f"http://127.0.0.1:{free_port()}", [f"webhook:{receiver.url}/alerts"],
                           f"{receiver.url}/retrain", monkeypatch)  # fmt: skip
        report = watch_once(_options(repo, tmp_path, timeout=2.0))
        assert report["targets"]["local-cpu"]["role"] == "unreachable"
        assert [r.get("no_data") for r in report["slos"]] == ["target unreachable"]
        assert report["actions"] == []
        [alert] = _alert_bodies(receiver, "TargetUnreachable", "firing")
        assert alert["labels"]["target"] == "local-cpu"
        # Told once: the next tick (a restart of watch) does not repeat it.
        watch_once(_options(repo, tmp_path, timeout=2.0))
        assert len(_alert_bodies(receiver, "TargetUnreachable")) == 1


def test_one_active_watcher_the_other_stands_by_and_takes_over_without_repeating(
    tmp_path: Path, target: LocalTarget, token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Receiver() as receiver:
        repo = make_estate(tmp_path, target.url, [f"webhook:{receiver.url}/alerts"], f"{receiver.url}/retrain", monkeypatch)
        assert run_cli("apply", "--auto-approve", "--no-policy", "--repo", str(repo))[0] == 0
        # A change merged and never applied: OutOfSync; and 1.0.0 serves no traffic: SLONoTraffic.
        guardrail = repo / "specs/guardrails/feature-ranges.yaml"
        guardrail.write_text(guardrail.read_text().replace("maxElements: 8192", "maxElements: 4096"))
        commit_all(repo, "guardrail: smaller requests")
        # a's lease outlives its tick even on a starved machine; b waits for it to expire.
        first = watch_once(_options(repo, tmp_path, "watch@a:1", lease_ttl_s=6.0))
        assert first["targets"]["local-cpu"]["role"] == "active"
        firing = {a["alertname"] for a in first["alerts"] if a["status"] == "firing"}
        assert firing == {"OutOfSync", "SLONoTraffic"}
        [sync] = _alert_bodies(receiver, "OutOfSync", "firing")
        assert sync["labels"]["resource"] == "Guardrail/feature-ranges"
        sent = len(receiver.bodies)

        standby = watch_once(_options(repo, tmp_path, "watch@b:2", lease_ttl_s=6.0))
        assert standby["targets"]["local-cpu"]["role"] == "standby"
        assert "watch@a:1" in standby["targets"]["local-cpu"]["detail"]
        lease = f"{target.url}/admin/v1/lease?kind=watch"
        deadline = time.monotonic() + 30  # a's lease expires: b takes over with the alert state a left on the target
        while httpx.get(lease, headers={"Authorization": f"Bearer {token}"}).json()["holder"] is not None:
            assert time.monotonic() < deadline, "the watch lease never expired"
            time.sleep(0.2)
        taken = watch_once(_options(repo, tmp_path, "watch@b:2", lease_ttl_s=6.0))
        assert taken["targets"]["local-cpu"]["role"] == "active"
        assert {a["alertname"] for a in taken["alerts"] if a["status"] == "firing"} == firing
        assert len(receiver.bodies) == sent  # nothing lost, nothing repeated

        # Applying the change resolves OutOfSync once.
        assert run_cli("apply", "--auto-approve", "--no-policy", "--repo", str(repo))[0] == 0
        watch_once(_options(repo, tmp_path, "watch@b:2", lease_ttl_s=6.0))
        assert len(_alert_bodies(receiver, "OutOfSync", "resolved")) == 1


def test_watch_defers_to_an_apply_in_progress(tmp_path: Path, target: LocalTarget, token: str, monkeypatch: pytest.MonkeyPatch) -> None:
    with Receiver() as receiver:
        repo = make_estate(tmp_path, target.url, [f"webhook:{receiver.url}/alerts"], f"{receiver.url}/retrain", monkeypatch)
        assert run_cli("apply", "--auto-approve", "--no-policy", "--repo", str(repo))[0] == 0
        headers = {"Authorization": f"Bearer {token}"}
        assert httpx.post(f"{target.url}/admin/v1/lease", json={"holder": "apply@elsewhere:9", "ttl_s": 60}, headers=headers).status_code == 200
        report = watch_once(_options(repo, tmp_path))
        assert report["targets"]["local-cpu"]["role"] == "deferred"
        assert "apply@elsewhere:9" in report["targets"]["local-cpu"]["detail"]
        assert receiver.bodies == [] and report["actions"] == []


def test_a_watcher_killed_mid_rollback_is_recovered_from_the_journal(
    tmp_path: Path, target: LocalTarget, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = make_estate(tmp_path, target.url, ["log"], "http://127.0.0.1:9/retrain", monkeypatch)
    assert run_cli("apply", "--auto-approve", "--no-policy", "--repo", str(repo))[0] == 0
    journal = Journal(tmp_path / "journal.jsonl")
    # What a watcher killed after journaling its intent and before the traffic switch leaves behind.
    ids = {"apply_id": "watch-dead0001", "plan_id": None, "commit": None, "holder": "watch@gone:4242"}
    journal.append("apply.start", **ids, outcome="started", detail={"by": "watch"})
    journal.append("change.start", **ids, target="local-cpu", resource="Model/fraud-scorer", action="rollback",
                   detail={"from": "1.1.0", "to": "1.0.0", "after_hash": "0" * 64, "previous": None})  # fmt: skip
    assert [a.apply_id for a in journal.open_applies()] == ["watch-dead0001"]
    watch_once(_options(repo, tmp_path))
    assert journal.open_applies() == []
    recovery = [e for e in journal.entries() if e.get("apply_id") == "watch-dead0001"][-2:]
    assert [(e["event"], e["outcome"]) for e in recovery] == [("recovery", "not_applied"), ("apply.recovered", "recovered")]


def test_slo_status_is_read_only(tmp_path: Path, target: LocalTarget, token: str, monkeypatch: pytest.MonkeyPatch) -> None:
    with Receiver() as receiver:
        repo = make_estate(tmp_path, target.url, [f"webhook:{receiver.url}/alerts"], f"{receiver.url}/retrain", monkeypatch)
        assert run_cli("apply", "--auto-approve", "--no-policy", "--repo", str(repo))[0] == 0
        code, out, err = run_cli("slo", "status", "--repo", str(repo), "--format", "json")
        assert code == 0, err
        report = json.loads(out)
        assert report["targets"]["local-cpu"]["role"] == "read-only"
        [row] = report["slos"]
        assert row["version"] == "1.0.0" and row["objectives"][0]["objective"] == "errorRate <= 0.001"
        assert row["objectives"][0]["burn_rates"][0]["firing"] is None  # no traffic: no data, never a pass
        assert row["no_traffic"] is True
        assert receiver.bodies == []
        lease = httpx.get(f"{target.url}/admin/v1/lease?kind=watch", headers={"Authorization": f"Bearer {token}"}).json()
        assert lease["holder"] is None
        code, out, _ = run_cli("slo", "status", "--repo", str(repo))
        assert "SLO fraud-scorer: fraud-scorer 1.0.0 on local-cpu (100% of traffic) NO TRAFFIC" in out
        assert "errorRate <= 0.001: budget remaining no data" in out


def test_the_loop_renews_its_lease_every_tick_and_gives_it_back(
    tmp_path: Path, target: LocalTarget, token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    from specops.watch._loop import run_watch

    repo = make_estate(tmp_path, target.url, ["log"], "http://127.0.0.1:9/retrain", monkeypatch)
    assert run_cli("apply", "--auto-approve", "--no-policy", "--repo", str(repo))[0] == 0
    headers = {"Authorization": f"Bearer {token}"}

    def holder() -> Any:
        return httpx.get(f"{target.url}/admin/v1/lease?kind=watch", headers=headers).json()["holder"]

    reports: list[dict[str, Any]] = []
    stop = threading.Event()
    seen: list[Any] = []

    def on_report(report: dict[str, Any]) -> None:
        reports.append(report)
        seen.append(holder())
        if len(reports) == 2:
            stop.set()

    loop = threading.Thread(target=run_watch, args=(_options(repo, tmp_path, "watch@loop:1"), 0.2, on_report, stop))
    loop.start()
    loop.join(60)
    assert not loop.is_alive() and len(reports) == 2
    assert seen == ["watch@loop:1", "watch@loop:1"] and holder() is None
    # `watch --once` gives its lease back too: the next run (another process) need not stand by.
    code, out, err = run_cli("watch", "--once", "--repo", str(repo))
    assert code == 0, err
    assert "target local-cpu: active" in out and holder() is None
