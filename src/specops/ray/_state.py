"""The router's state, kept in one detached named Ray actor per target.

Every router replica reads and writes through this one actor, so the
lease, the revision, the applied resources (with each model's versions,
weights, shadow and rolled-back versions) and the per-version counters are
the same for every replica and outlive a router restart or redeploy. Ray
runs an actor's methods one at a time, so ``save`` is a compare-and-swap:
a replica that saves on a stale ``generation`` is refused and re-reads.

This module imports no Ray: ``RouterState`` is the actor's body, wrapped
with ``ray.remote`` in ``_app`` and tested on its own.

Revisions are ``specops serve``'s ``<incarnation>-<counter>``: the
incarnation is written into the document when the actor's state is first
created, so a new actor (the cluster lost it) starts a new one and a
revision is never repeated. ``incarnation`` here names the actor's own
life (a router replica sees a new actor by it).
"""

from __future__ import annotations

import os
import time
from typing import Any

__all__ = ["RouterState", "StaleStateError", "merge_stats"]


class StaleStateError(Exception):
    """A replica saved on a generation that another replica already replaced."""


class RouterState:
    def __init__(self, clock: Any = time.time) -> None:
        self.incarnation = f"{int(clock() * 1000):x}{os.urandom(2).hex()}"
        self.generation = 0
        self.document: dict[str, Any] | None = None
        self.snapshots: dict[str, dict[str, Any]] = {}  # replica -> {model: stats}
        self.watch_document: dict[str, Any] | None = None

    def load(self) -> tuple[int, str, dict[str, Any] | None]:
        return self.generation, self.incarnation, self.document

    def generation_now(self) -> int:
        return self.generation

    def save(self, document: dict[str, Any], base: int) -> int:
        if base != self.generation:
            raise StaleStateError(f"router state moved from generation {base} to {self.generation}")
        self.document = document
        self.generation += 1
        return self.generation

    def load_watch(self) -> dict[str, Any] | None:
        return self.watch_document

    def save_watch(self, document: dict[str, Any], base: int) -> int:
        """The watch lease and alert state (``serve._watchstate``), kept apart from the revision."""
        if base != self.generation:
            raise StaleStateError(f"router state moved from generation {base} to {self.generation}")
        self.watch_document = document
        self.generation += 1
        return self.generation

    def push_stats(self, replica: str, model: str, versions: dict[str, Any]) -> None:
        self.snapshots.setdefault(replica, {})[model] = versions

    def stats(self, model: str, exclude: str | None = None) -> list[dict[str, Any]]:
        """Every replica's last snapshot of ``model`` (dead replicas' counts included)."""
        return [snap[model] for replica, snap in sorted(self.snapshots.items()) if replica != exclude and model in snap]


def merge_stats(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """Sum per-version stats snapshots (``Metrics.stats`` documents) of several router replicas."""
    out: dict[str, Any] = {}
    for part in parts:
        for version, stats in part.items():
            out[version] = _add(out.get(version), stats)
    return out


def _add(a: Any, b: Any, key: str = "") -> Any:
    if a is None:
        return b
    if isinstance(a, dict) and isinstance(b, dict):
        return {k: _add(a.get(k), b[k], k) if k in a else b[k] for k in b} | {k: v for k, v in a.items() if k not in b}
    if key == "edges" or isinstance(a, str | bool):
        return a
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a + b
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        if key == "latency_buckets_ms":  # [[bound, count], ...] on the same bounds
            return [[x[0], x[1] + y[1]] if x[0] == y[0] else x for x, y in zip(a, b, strict=True)]
        return [_add(x, y) for x, y in zip(a, b, strict=True)]
    return a
