"""Where alerts go: Alertmanager, a webhook, the log; and the retraining trigger.

Channels are the SLO's ``alerting.notify`` entries:

* ``alertmanager:URL``: Alertmanager's v2 API, ``POST URL/api/v2/alerts`` (``URL`` is the
  Alertmanager base, e.g. ``alertmanager:http://alertmanager:9093``). Each alert carries the
  labels ``alertname``, ``slo``, ``model``, ``version``, ``target``, ``severity``,
  ``objective`` (a router groups and routes on them: that is how a team sends pages to a
  pager and tickets to Slack) and the annotations ``summary`` and ``description`` (the burn
  rate and its windows, or the drifted features). A firing alert is sent with ``startsAt``
  and no ``endsAt``; a resolved one with ``endsAt``. Alertmanager resolves an alert nobody
  re-sent within its ``resolve_timeout`` (5 minutes by default), so watch re-sends a firing
  alert every ``resend`` (4 minutes by default), never every tick.
* ``webhook:URL``: ``POST URL`` with the JSON payload below, one per tick that has news.
* ``log``: one line per alert in the watch output.

The webhook payload (``format_version`` 1)::

    {"format_version": 1, "source": "specops-watch", "watcher": "watch@host:pid",
     "sent_at": "2026-12-01T10:00:00Z",
     "alerts": [{"alertname": "SLOBurnRate", "status": "firing" | "resolved",
                 "labels": {...as for Alertmanager...}, "annotations": {"summary", "description"},
                 "starts_at": "...", "ends_at": null | "...", "evidence": {...}}]}

``evidence`` is what the alert was decided on: for a burn-rate alert the objective, the
windows with their requests, bad events, burn rates and the factor; for a drift alert each
feature's method, value, threshold, samples, window and the profile's digest.

The retraining trigger (an SLO's ``onDrift.retrain``) is ``POST url`` with
``Authorization: Bearer $tokenEnv`` and::

    {"format_version": 1, "event": "drift", "model": "fraud-scorer", "version": "1.1.0",
     "target": "local-cpu", "slo": "fraud-scorer",
     "dataset": {"name": "transactions", "version": "2026-10"},
     "features": [{"feature": "features/amount", "method": "psi", "value": 0.41,
                   "threshold": 0.2, "samples": 812, "window_s": 3600, "profile_digest": "..."}],
     "fired_at": "2026-12-01T10:00:00Z"}

sent once per firing of the drift alert (again only when the previous attempt failed).
A failed notification is reported and retried on the next tick; it never stops the loop.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from specops._errors import SpecOpsError

__all__ = ["Channel", "Notifier", "NotifyError", "parse_channel"]

class NotifyError(SpecOpsError):
    """A channel could not be reached or refused the notification."""


@dataclass(frozen=True, slots=True)
class Channel:
    kind: str  # alertmanager | webhook | log
    url: str | None = None

    def __str__(self) -> str:
        return self.kind if self.url is None else f"{self.kind}:{self.url}"


def parse_channel(text: str) -> Channel:
    """``alertmanager:URL``, ``webhook:URL`` or ``log`` (the SLO validator's rule); ``ValueError`` otherwise."""
    from specops.spec._slo import check_notify

    check_notify(text)
    if text == "log":
        return Channel("log")
    scheme, _, rest = text.partition(":")
    return Channel(scheme, rest)


def _alertmanager_body(alert: dict[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = {
        "labels": {k: str(v) for k, v in alert["labels"].items() if v is not None},
        "annotations": {k: str(v) for k, v in alert["annotations"].items()},
        "startsAt": alert["starts_at"],
        "generatorURL": alert.get("generator_url") or "https://specops.dev/watch",
    }
    if alert["status"] == "resolved" and alert.get("ends_at"):
        body["endsAt"] = alert["ends_at"]
    return body


@dataclass(slots=True)
class Notifier:
    """Sends alert events to channels with one HTTP client; remembers what failed."""

    watcher: str
    now: Callable[[], str]
    timeout: float = 10.0
    say: Callable[[str], None] = lambda _line: None
    errors: list[str] = field(default_factory=list)
    _client: httpx.Client | None = None

    def _http(self) -> httpx.Client:
        if self._client is None:
            self._client = httpx.Client(timeout=self.timeout)
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def send(self, channel: Channel, alerts: list[dict[str, Any]]) -> bool:
        """Deliver ``alerts`` (events as built by ``_alerts``) to one channel; False on failure."""
        if not alerts:
            return True
        try:
            if channel.kind == "log":
                for alert in alerts:
                    self.say(f"  ALERT {alert['status'].upper()} {alert['labels'].get('alertname')}: "
                             f"{alert['annotations'].get('summary')}")
                return True
            assert channel.url is not None
            if channel.kind == "alertmanager":
                url = channel.url.rstrip("/")
                if not url.endswith("/api/v2/alerts"):
                    url += "/api/v2/alerts"
                self._post(url, [_alertmanager_body(a) for a in alerts])
            else:
                payload = {
                    "format_version": 1, "source": "specops-watch", "watcher": self.watcher,
                    "sent_at": self.now(), "alerts": alerts,
                }  # fmt: skip
                self._post(channel.url, payload)
            return True
        except NotifyError as exc:
            self.errors.append(str(exc))
            self.say(f"  notification to {channel} failed: {exc} (retried next tick)")
            return False

    def retrain(self, url: str, token_env: str | None, payload: dict[str, Any]) -> bool:
        headers = {}
        if token_env:
            token = os.environ.get(token_env)
            if not token:
                self.errors.append(f"retraining trigger {url}: environment variable {token_env} is not set")
                self.say(f"  retraining trigger not sent: environment variable {token_env} (onDrift.retrain.tokenEnv) is not set")
                return False
            headers["Authorization"] = f"Bearer {token}"
        try:
            self._post(url, payload, headers)
            return True
        except NotifyError as exc:
            self.errors.append(str(exc))
            self.say(f"  retraining trigger failed: {exc} (retried next tick)")
            return False

    def _post(self, url: str, payload: Any, headers: dict[str, str] | None = None) -> None:
        try:
            response = self._http().post(url, json=payload, headers=headers)
        except httpx.HTTPError as exc:
            raise NotifyError(f"POST {url}: {type(exc).__name__}: {exc}") from exc
        if response.status_code >= 300:
            raise NotifyError(f"POST {url}: HTTP {response.status_code}: {response.text[:200]}")
