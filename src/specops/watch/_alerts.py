"""Alert state: what fires, since when, what was sent where; kept on the target between ticks.

Each tick the evaluation yields ``Condition``s: an alert key with its labels,
annotations and evidence, and whether it holds (``firing`` True), does not
(False), or cannot be told (None: no data, e.g. no traffic to judge, which
keeps whatever state the alert had). ``reconcile`` folds them into the
state document the target keeps (``GET/PUT /admin/v1/watch/state``)::

    {"format_version": 1,
     "alerts": {"<key>": {
        "alertname": "SLOBurnRate", "labels": {...}, "annotations": {...}, "evidence": {...},
        "channels": ["alertmanager:http://...", "log"], "scope": "<target>",
        "status": "firing" | "resolved",
        "firing_since": "2026-12-01T10:00:00Z", "since_ts": 1764583200.0,
        "resolved_at": null | "...", "resolved_ts": null | 1764583500.0,
        "notified": {"<channel>": {"status": "firing", "at": "...", "ts": 1764583200.0}},
        "actions": {"rollback": {...}, "retrain": {...}}}}}

Per channel, an event is due when the channel has not been told the
alert's current status, or when a firing alert was last sent ``resend_s``
ago (Alertmanager forgets alerts not re-sent within its resolve_timeout).
Because the record of what was sent lives on the target, a restarted
watcher, or a stand-by that took the lease over, neither repeats nor loses
an alert. A key the tick did not mention at all, on a target it evaluated,
belongs to something that went away (a model removed from git): it resolves.
Resolved alerts are pruned after ``keep_resolved_s``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

__all__ = ["STATE_FORMAT_VERSION", "AlertBook", "Condition", "Event", "iso"]

STATE_FORMAT_VERSION = 1
RESEND_S = 240.0
KEEP_RESOLVED_S = 7 * 86400.0


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(slots=True)
class Condition:
    key: str
    alertname: str
    labels: dict[str, str]
    summary: str
    description: str
    firing: bool | None
    channels: list[str]
    scope: str
    evidence: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class Event:
    """One alert to send to one channel (the status it has now)."""

    key: str
    channel: str
    alert: dict[str, Any]


class AlertBook:
    """The alert state of one target (or of the watcher's own local scope)."""

    def __init__(self, document: dict[str, Any] | None = None) -> None:
        doc = document if isinstance(document, dict) else {}
        alerts = doc.get("alerts")
        self.alerts: dict[str, dict[str, Any]] = alerts if isinstance(alerts, dict) else {}
        self.extra = {k: v for k, v in doc.items() if k not in ("alerts", "format_version")}

    def to_json(self) -> dict[str, Any]:
        return {"format_version": STATE_FORMAT_VERSION, **self.extra, "alerts": self.alerts}

    def firing(self) -> dict[str, dict[str, Any]]:
        return {k: a for k, a in self.alerts.items() if a.get("status") == "firing"}

    def reconcile(self, conditions: Iterable[Condition], scopes: set[str], now: float) -> list[str]:
        """Fold this tick's conditions in; returns the keys whose status changed."""
        changed: list[str] = []
        seen: set[str] = set()
        for c in conditions:
            seen.add(c.key)
            record = self.alerts.get(c.key)
            if c.firing is None:
                continue  # no data: keep what we knew
            if c.firing:
                if record is None or record.get("status") != "firing":
                    record = {
                        "status": "firing", "firing_since": iso(now), "since_ts": now,
                        "resolved_at": None, "resolved_ts": None, "notified": {}, "actions": {},
                    }  # fmt: skip
                    self.alerts[c.key] = record
                    changed.append(c.key)
                record.update(
                    alertname=c.alertname, labels=c.labels, evidence=c.evidence, channels=c.channels,
                    scope=c.scope, annotations={"summary": c.summary, "description": c.description},
                )
            elif record is not None and record.get("status") == "firing":
                self._resolve(record, now, c.summary, c.description)
                record["evidence"] = c.evidence
                changed.append(c.key)
        for key, record in self.alerts.items():
            if key not in seen and record.get("status") == "firing" and record.get("scope") in scopes:
                self._resolve(record, now, record["annotations"]["summary"], "no longer evaluated (removed from git?)")
                changed.append(key)
        return changed

    @staticmethod
    def _resolve(record: dict[str, Any], now: float, summary: str, description: str) -> None:
        record.update(status="resolved", resolved_at=iso(now), resolved_ts=now)
        record["annotations"] = {"summary": f"resolved: {summary}", "description": description}

    def due(self, now: float, resend_s: float = RESEND_S) -> list[Event]:
        """Events to send now, per channel (see the module docstring)."""
        events: list[Event] = []
        for key, record in sorted(self.alerts.items()):
            status = record.get("status")
            for channel in record.get("channels") or []:
                told = (record.get("notified") or {}).get(channel)
                if told is None and status == "resolved":
                    continue  # never told it fired: nothing to resolve
                if told is not None and told.get("status") == status:
                    if status != "firing" or now - float(told.get("ts", 0)) < resend_s:
                        continue
                    if channel == "log" or channel.startswith("webhook:"):
                        continue  # only Alertmanager forgets: the others are told once
                events.append(Event(key, channel, self.event(key)))
        return events

    def event(self, key: str) -> dict[str, Any]:
        record = self.alerts[key]
        return {
            "alertname": record["alertname"],
            "status": record["status"],
            "labels": {"alertname": record["alertname"], **record["labels"]},
            "annotations": record["annotations"],
            "starts_at": record["firing_since"],
            "ends_at": record.get("resolved_at"),
            "evidence": record.get("evidence") or {},
        }

    def sent(self, key: str, channel: str, now: float) -> None:
        record = self.alerts[key]
        record.setdefault("notified", {})[channel] = {"status": record["status"], "at": iso(now), "ts": now}

    def prune(self, now: float, keep_s: float = KEEP_RESOLVED_S) -> None:
        for key in [k for k, a in self.alerts.items() if a.get("status") == "resolved" and now - float(a.get("resolved_ts") or now) > keep_s]:
            del self.alerts[key]
