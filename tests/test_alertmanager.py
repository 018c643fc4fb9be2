"""The Alertmanager test fixture: a real Alertmanager 0.25 routing to a real webhook receiver.

These tests prove the harness the watch loop's end-to-end tests rely on:
an alert posted in the v2 API shape reaches the webhook as firing, then as
resolved, and the process is stopped by its PID.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests._alertmanager import Alertmanager, WebhookReceiver, running_alertmanager


@pytest.fixture
def webhook() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as receiver:
        yield receiver


@pytest.fixture
def alertmanager(tmp_path: Path, webhook: WebhookReceiver) -> Iterator[Alertmanager]:
    with running_alertmanager(tmp_path, webhook.url) as am:
        yield am


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def _alert(now: dt.datetime, *, ends: dt.datetime | None = None) -> dict[str, object]:
    alert: dict[str, object] = {
        "labels": {
            "alertname": "SpecOpsBudgetBurn", "severity": "page", "slo": "fraud-scorer",
            "objective": "errorRate", "model": "fraud-scorer", "version": "1.2.0",
        },
        "annotations": {"summary": "fraud-scorer 1.2.0 burns its error budget 50x over 1h and 5m"},
        "startsAt": _iso(now),
        "generatorURL": "http://127.0.0.1/specops/watch",
    }  # fmt: skip
    if ends is not None:
        alert["endsAt"] = _iso(ends)
    return alert


def test_posted_alert_reaches_the_webhook_firing_then_resolved(
    alertmanager: Alertmanager, webhook: WebhookReceiver
) -> None:
    now = dt.datetime.now(dt.UTC)
    response = alertmanager.post_alerts([_alert(now)])
    assert response.status_code == 200, response.text

    firing = webhook.wait_for(lambda b: b.get("status") == "firing")
    assert firing["receiver"] == "webhook"
    assert firing["groupLabels"] == {"alertname": "SpecOpsBudgetBurn", "slo": "fraud-scorer", "model": "fraud-scorer"}
    [alert] = firing["alerts"]
    assert alert["labels"]["version"] == "1.2.0"
    assert alert["annotations"]["summary"].startswith("fraud-scorer 1.2.0 burns")
    assert alert["generatorURL"] == "http://127.0.0.1/specops/watch"
    assert [a["labels"]["alertname"] for a in alertmanager.alerts()] == ["SpecOpsBudgetBurn"]

    # Resolving is the same alert with an end in the past.
    resolved_at = dt.datetime.now(dt.UTC)
    response = alertmanager.post_alerts([_alert(now, ends=resolved_at)])
    assert response.status_code == 200, response.text
    resolved = webhook.wait_for(lambda b: b.get("status") == "resolved")
    [alert] = resolved["alerts"]
    assert alert["status"] == "resolved"
    assert alert["labels"]["objective"] == "errorRate"


def test_alertmanager_refuses_an_alert_without_labels(alertmanager: Alertmanager) -> None:
    # The v2 API validates its shape (OpenAPI): a notifier must send labels.
    response = alertmanager.post_alerts([{"annotations": {"summary": "no labels"}}])
    assert response.status_code == 422
    assert "labels" in response.text


def test_alertmanager_is_stopped_by_pid(tmp_path: Path, webhook: WebhookReceiver) -> None:
    with running_alertmanager(tmp_path, webhook.url) as am:
        pid = am.process.pid
        assert httpx.get(f"{am.url}/-/healthy", timeout=5).status_code == 200
        assert (tmp_path / "alertmanager" / "data").is_dir()
    assert am.process.poll() is not None
    with pytest.raises(ProcessLookupError):  # exited and reaped
        os.kill(pid, 0)
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{am.url}/-/healthy", timeout=2)
