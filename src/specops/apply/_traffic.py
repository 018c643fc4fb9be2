"""Representative traffic for a canary to judge: rows of the model's training dataset.

In production real traffic feeds the analysis; in a demo, a test or a
benchmark, ``specops apply --traffic RATE`` runs a ``TrafficGenerator``
beside the rollout. It sends Open Inference Protocol v2 requests
(``POST /v2/models/{name}/infer``), one dataset row each, at a steady rate
from a few threads with persistent connections, and counts what came back:
``ok`` (2xx), ``blocked`` (4xx, e.g. a guardrail said no) and ``failed``
(5xx or no answer: what a safe rollout must never cause).
"""

from __future__ import annotations

import csv
import http.client
import io
import itertools
import json
import os
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

__all__ = ["TrafficCounts", "TrafficGenerator", "rows_from_csv"]


def rows_from_csv(data: bytes, features: list[str], limit: int = 5000) -> list[list[float]]:
    """Feature rows (in the signature's order) from a CSV dataset with a header."""
    reader = csv.DictReader(io.StringIO(data.decode("utf-8")))
    rows: list[list[float]] = []
    for record in itertools.islice(reader, limit):
        try:
            rows.append([float(record[name]) for name in features])
        except (KeyError, TypeError, ValueError):
            continue
    return rows


@dataclass(slots=True)
class TrafficCounts:
    ok: int = 0
    blocked: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def sent(self) -> int:
        return self.ok + self.blocked + self.failed

    def to_json(self) -> dict[str, Any]:
        return {"sent": self.sent, "ok": self.ok, "blocked": self.blocked, "failed": self.failed}


class TrafficGenerator:
    """Send ``rate`` requests per second to one model until stopped (use as a context manager)."""

    def __init__(
        self,
        url: str,
        model: str,
        input_name: str,
        rows: list[list[float]],
        *,
        rate: float = 200.0,
        threads: int = 4,
        token_env: str | None = None,
        timeout: float = 10.0,
    ) -> None:
        if not rows:
            raise ValueError("no dataset rows to send")
        self.url = url
        self.model = model
        self.input_name = input_name
        self.rows = rows
        self.rate = rate
        self.threads = threads
        self.timeout = timeout
        self.counts = TrafficCounts()
        self._token = os.environ.get(token_env) if token_env else None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._workers: list[threading.Thread] = []
        self._seq = itertools.count()

    def __enter__(self) -> TrafficGenerator:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        for i in range(self.threads):
            worker = threading.Thread(target=self._run, name=f"specops-traffic-{i}", daemon=True)
            worker.start()
            self._workers.append(worker)

    def stop(self) -> TrafficCounts:
        self._stop.set()
        for worker in self._workers:
            worker.join(timeout=self.timeout + 1)
        self._workers.clear()
        return self.counts

    def _connection(self) -> http.client.HTTPConnection:
        parts = urllib.parse.urlsplit(self.url)
        cls = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        return cls(parts.hostname or "127.0.0.1", parts.port, timeout=self.timeout)

    def _record(self, status: int | None, error: str | None = None) -> None:
        with self._lock:
            if status is not None and 200 <= status < 300:
                self.counts.ok += 1
            elif status is not None and 400 <= status < 500:
                self.counts.blocked += 1
            else:
                self.counts.failed += 1
                if error and len(self.counts.errors) < 20:
                    self.counts.errors.append(error)

    def _run(self) -> None:
        interval = self.threads / self.rate if self.rate > 0 else 0.0
        path = urllib.parse.urlsplit(self.url).path.rstrip("/") + f"/v2/models/{self.model}/infer"
        headers = {"Content-Type": "application/json"}
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        conn = self._connection()
        next_at = time.monotonic()
        while not self._stop.is_set():
            n = next(self._seq)
            row = self.rows[n % len(self.rows)]
            body = json.dumps(
                {
                    "id": f"specops-traffic-{os.getpid()}-{n}",
                    "inputs": [{"name": self.input_name, "shape": [1, len(row)], "datatype": "FP32", "data": row}],
                }
            )
            try:
                conn.request("POST", path, body=body, headers=headers)
                response = conn.getresponse()
                payload = response.read()
                self._record(response.status, payload[:200].decode("utf-8", "replace"))
            except (OSError, http.client.HTTPException) as exc:
                self._record(None, f"{type(exc).__name__}: {exc}")
                conn.close()
                conn = self._connection()
            next_at += interval
            delay = next_at - time.monotonic()
            if delay > 0:
                self._stop.wait(delay)
            else:
                next_at = time.monotonic()
        conn.close()
