"""Representative traffic for a canary to judge: rows of the model's training dataset.

In production real traffic feeds the analysis; in a demo, a test or a
benchmark, ``specops apply --traffic RATE`` runs a ``TrafficGenerator``
beside the rollout. It sends Open Inference Protocol v2 requests through
the target's driver (``TargetDriver.infer``), one dataset row each, at a
steady rate from a few threads sharing the driver's kept-alive connections,
and counts what came back:
``ok`` (2xx), ``blocked`` (4xx, e.g. a guardrail said no) and ``failed``
(5xx or no answer: what a safe rollout must never cause).
"""

from __future__ import annotations

import csv
import io
import itertools
import os
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from specops.targets import TargetDownError, TargetDriver

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
        driver: TargetDriver,
        model: str,
        input_name: str,
        rows: list[list[float]],
        *,
        rate: float = 200.0,
        threads: int = 4,
        timeout: float = 10.0,
    ) -> None:
        if not rows:
            raise ValueError("no dataset rows to send")
        self.driver = driver
        self.model = model
        self.input_name = input_name
        self.rows = rows
        self.rate = rate
        self.threads = threads
        self.timeout = timeout
        self.counts = TrafficCounts()
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
        next_at = time.monotonic()
        while not self._stop.is_set():
            n = next(self._seq)
            row = self.rows[n % len(self.rows)]
            body = {
                "id": f"specops-traffic-{os.getpid()}-{n}",
                "inputs": [{"name": self.input_name, "shape": [1, len(row)], "datatype": "FP32", "data": row}],
            }
            try:
                response = self.driver.infer(self.model, body, timeout=self.timeout)
                self._record(response.status_code, response.content[:200].decode("utf-8", "replace"))
            except TargetDownError as exc:
                self._record(None, str(exc))
            next_at += interval
            delay = next_at - time.monotonic()
            if delay > 0:
                self._stop.wait(delay)
            else:
                next_at = time.monotonic()
