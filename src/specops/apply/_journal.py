"""The apply journal: one JSON object per line, appended, fsync'd, never rewritten.

Every step of an apply is written *before* the runner moves on, so a killed
process leaves a journal that says exactly how far it got. Entries share
these fields::

    {"ts": "2026-11-21T10:00:00.123Z", "apply_id": "...", "plan_id": "...",
     "commit": "...", "holder": "apply@host:pid", "event": "change.start",
     "target": "local-cpu", "resource": "Model/fraud-scorer", "action": "update",
     "outcome": "started", "detail": {...}}

Events: ``apply.start``, ``change.start``, ``rollout.step``,
``analysis.measurement`` (a failed measurement the step tolerated),
``analysis`` (a step's verdict), ``change.done``, ``change.failed``, ``rollback``, ``apply.done``,
``apply.failed``, ``apply.interrupted`` (a target went away mid-change),
``recovery``, ``apply.recovered``; ``revert.proposed`` (``specops watch``'s revert branch,
after a rollback it journals like an apply, with ``holder: watch@host:pid``). An apply is *open* while it has an
``apply.start`` and no ``apply.done``/``apply.failed``/``apply.recovered``;
``Journal.open_applies`` finds them for recovery. A torn last line (the
process died mid-write) is ignored on reading, and the next append starts
on a fresh line. Nothing secret is written: specs hold no secrets (the
validator rejects values that look like keys), tokens are never read into
the runner's data.
"""

from __future__ import annotations

import json
import os
import signal
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

__all__ = ["KILL_ENV", "TERMINAL", "Journal", "OpenApply", "kill_point", "utc_now"]

TERMINAL = frozenset({"apply.done", "apply.failed", "apply.recovered"})


KILL_ENV = "SPECOPS_TEST_KILL_AT"
_passed: dict[str, int] = {}


def kill_point(name: str) -> None:
    """SIGKILL this process here when ``SPECOPS_TEST_KILL_AT`` names this point (tests only)."""
    wanted = os.environ.get(KILL_ENV)
    if not wanted:
        return
    point, _, nth = wanted.partition("@")
    if point != name:
        return
    _passed[name] = _passed.get(name, 0) + 1
    if _passed[name] == (int(nth) if nth.isdigit() else 1):
        os.kill(os.getpid(), signal.SIGKILL)


def utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


@dataclass(slots=True)
class OpenApply:
    """An apply that started and never finished: its entries, in order."""

    apply_id: str
    holder: str
    entries: list[dict[str, Any]] = field(default_factory=list)

    def unfinished_changes(self) -> list[dict[str, Any]]:
        """``change.start`` entries with no ``change.done``/``change.failed`` after them."""
        open_: dict[tuple[str, str], dict[str, Any]] = {}
        for entry in self.entries:
            key = (str(entry.get("target")), str(entry.get("resource")))
            if entry["event"] == "change.start":
                open_[key] = entry
            elif entry["event"] in ("change.done", "change.failed"):
                open_.pop(key, None)
        return list(open_.values())


class Journal:
    """An append-only JSON-lines file; safe to share between threads of one process."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def append(self, event: str, **fields: Any) -> dict[str, Any]:
        entry = {"ts": utc_now(), "event": event, **fields}
        line = json.dumps(entry, sort_keys=False, separators=(",", ":"), default=str) + "\n"
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                if _ends_torn(fd):
                    os.write(fd, b"\n")
                os.write(fd, line.encode())
                os.fsync(fd)
            finally:
                os.close(fd)
        return entry

    def entries(self) -> Iterator[dict[str, Any]]:
        try:
            handle = self.path.open("r", encoding="utf-8")
        except FileNotFoundError:
            return
        with handle:
            for line in handle:
                try:
                    entry = json.loads(line)
                except json.JSONDecodeError:
                    continue  # a torn write of a killed process
                if isinstance(entry, dict) and "event" in entry:
                    yield entry

    def open_applies(self) -> list[OpenApply]:
        found: dict[str, OpenApply] = {}
        for entry in self.entries():
            apply_id = str(entry.get("apply_id"))
            if entry["event"] == "apply.start":
                found[apply_id] = OpenApply(apply_id, str(entry.get("holder")), [entry])
            elif apply_id in found:
                if entry["event"] in TERMINAL:
                    del found[apply_id]
                else:
                    found[apply_id].entries.append(entry)
        return list(found.values())


def _ends_torn(fd: int) -> bool:
    size = os.fstat(fd).st_size
    if size == 0:
        return False
    return os.pread(fd, 1, size - 1) != b"\n"
