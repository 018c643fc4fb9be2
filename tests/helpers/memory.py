"""A tiny in-memory ``TargetDriver`` for unit tests that need a target but not a process.

A fake, on purpose: it keeps resources, revisions, leases and traffic in
dicts with the admin API's semantics (a revision per change, 409s for a held
lease or a stale revision), so code written against the seam can be tested
without ``specops serve``. Tests of the real target use ``LocalTarget``.
"""

from __future__ import annotations

import itertools
from typing import Any

import httpx

from specops.targets import LeaseHeldError, RevisionConflictError


class MemoryDriver:
    name: str
    url: str
    token_env: str | None = None

    def __init__(self, name: str = "memory") -> None:
        self.name = name
        self.url = f"memory://{name}"
        self._revisions = itertools.count(1)
        self.revision = str(next(self._revisions))
        self.resources: dict[str, dict[str, Any]] = {}
        self.leases: dict[str, str] = {}
        self.artifacts: dict[str, bytes] = {}
        self.traffic: dict[str, dict[str, Any]] = {}
        self.watch: dict[str, Any] = {}
        self.calls: list[str] = []

    def _change(self, expected: str | None) -> str:
        if expected != self.revision:
            raise RevisionConflictError(self.name, expected, self.revision)
        self.revision = str(next(self._revisions))
        return self.revision

    def live_state(self) -> dict[str, Any]:
        self.calls.append("live_state")
        return {"format_version": 1, "target": self.name, "revision": self.revision, "resources": dict(self.resources)}

    def lease_info(self, kind: str = "apply") -> dict[str, Any]:
        return {"holder": self.leases.get(kind)}

    def acquire(self, holder: str, ttl_s: float, *, kind: str = "apply", identity: dict[str, Any] | None = None) -> dict[str, Any]:
        held = self.leases.get(kind)
        if held not in (None, holder):
            raise LeaseHeldError(self.name, held or "", "soon")
        self.leases[kind] = holder
        return {"holder": holder, "ttl_s": ttl_s}

    def release(self, holder: str | None = None, *, kind: str = "apply") -> None:
        if holder is None or self.leases.get(kind) == holder:
            self.leases.pop(kind, None)

    def has_artifact(self, sha256: str) -> bool:
        return sha256 in self.artifacts

    def upload(self, sha256: str, data: bytes) -> None:
        self.artifacts[sha256] = data

    def put_resource(self, kind: str, name: str, spec: dict[str, Any], spec_hash: str, *,
                     expected_revision: str | None, activate: bool = True) -> dict[str, Any]:
        revision = self._change(expected_revision)
        self.resources[f"{kind}/{name}"] = {"hash": spec_hash, "spec": spec, "status": {"ready": True}}
        return {"revision": revision}

    def delete_resource(self, kind: str, name: str, *, expected_revision: str | None) -> dict[str, Any]:
        revision = self._change(expected_revision)
        self.resources.pop(f"{kind}/{name}", None)
        return {"revision": revision}

    def set_traffic(self, model: str, weights: dict[str, int], shadow: str | None, *,
                    expected_revision: str | None, reason: dict[str, Any] | None = None) -> dict[str, Any]:
        revision = self._change(expected_revision)
        self.traffic[model] = {"weights": dict(weights), "shadow": shadow, "rollback": reason}
        return {"revision": revision}

    def stats(self, model: str) -> dict[str, Any]:
        return {"model": model, "versions": {}}

    def observations(self, model: str, windows_s: list[int], *, features_s: list[int] | None = None) -> dict[str, Any]:
        return {"revision": self.revision, "versions": {}, "windows": list(windows_s)}

    def watch_state(self) -> dict[str, Any]:
        return {"state": dict(self.watch)}

    def put_watch_state(self, state: dict[str, Any], *, holder: str) -> dict[str, Any]:
        if self.leases.get("watch") != holder:
            raise LeaseHeldError(self.name, self.leases.get("watch") or "nobody", "-")
        self.watch = dict(state)
        return {"state": self.watch}

    def infer(self, model: str, body: bytes | dict[str, Any], *, headers: dict[str, str] | None = None,
              timeout: float | None = None) -> httpx.Response:
        return httpx.Response(200, json={"model_name": model, "outputs": []})

    def inference_url(self, model: str) -> str:
        return f"{self.url}/v2/models/{model}/infer"

    def close(self) -> None:
        pass
