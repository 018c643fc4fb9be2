"""The calls watch makes to a target, as the target seam names them (SEAM.md's ``TargetDriver``).

Until ``specops.targets`` is merged this is a small httpx client of the
``specops serve`` admin API with the seam's method names and errors from
``specops.apply._client`` (the classes the rest of SpecOps knows); reads are
retried, mutations never blindly (the caller re-reads live state).
"""

from __future__ import annotations

import os
import time
from typing import Any

import httpx

from specops.apply._client import AdminError, LeaseHeldError, RevisionConflictError, TargetDownError

__all__ = ["WatchDriver", "connect"]

_PREFIX = "/admin/v1"


class WatchDriver:
    def __init__(self, name: str, url: str, token_env: str | None, timeout: float = 10.0) -> None:
        self.name = name
        self.url = url.rstrip("/")
        self.token_env = token_env
        headers = {"Accept": "application/json"}
        if token_env:
            token = os.environ.get(token_env)
            if not token:
                raise AdminError(name, f"environment variable {token_env} (the Target's spec.auth.tokenEnv) is not set")
            headers["Authorization"] = f"Bearer {token}"
        self._http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def _call(
        self, method: str, path: str, *, json: Any = None, params: dict[str, Any] | None = None,
        lease: str | None = None, expect: tuple[int, ...] = (200,),
    ) -> Any:  # fmt: skip
        headers = {"X-SpecOps-Lease": lease} if lease else None
        attempts = 3 if method == "GET" else 1
        for attempt in range(attempts):
            try:
                response = self._http.request(method, _PREFIX + path, json=json, params=params, headers=headers)
            except httpx.HTTPError as exc:
                if attempt + 1 < attempts:
                    time.sleep(0.2 * (attempt + 1))
                    continue
                raise TargetDownError(self.name, f"{self.url} is unreachable ({exc}) during {method} {_PREFIX}{path}") from exc
            break
        try:
            body = response.json() if response.content else {}
        except ValueError:
            body = {"error": response.text[:300]}
        if response.status_code in expect:
            return body
        message = str(body.get("error") if isinstance(body, dict) else body)
        if response.status_code == 409 and isinstance(body, dict) and body.get("holder"):
            raise LeaseHeldError(self.name, str(body["holder"]), str(body.get("expires_at")), body)
        if response.status_code == 409 and isinstance(body, dict) and "revision" in body:
            raise RevisionConflictError(self.name, None, str(body["revision"]), body)
        if response.status_code in (401, 403):
            raise AdminError(self.name, f"authentication failed ({message}; check {self.token_env})", response.status_code, body)
        raise AdminError(self.name, f"{method} {_PREFIX}{path}: HTTP {response.status_code}: {message}", response.status_code, body)

    # -- the seam's calls watch uses ---------------------------------------------

    def live_state(self) -> dict[str, Any]:
        return dict(self._call("GET", "/state"))

    def lease_info(self, kind: str = "apply") -> dict[str, Any]:
        return dict(self._call("GET", "/lease", params={"kind": kind}))

    def acquire(self, holder: str, ttl_s: float, *, kind: str = "apply", identity: dict[str, Any] | None = None) -> dict[str, Any]:
        return dict(self._call("POST", "/lease", params={"kind": kind}, json={"holder": holder, "ttl_s": ttl_s}))

    def release(self, holder: str, *, kind: str = "apply") -> None:
        self._call("DELETE", "/lease", params={"kind": kind}, json={"holder": holder}, expect=(200, 404, 409))

    def set_traffic(
        self, model: str, weights: dict[str, int], shadow: str | None, *, expected_revision: str | None,
        reason: dict[str, Any] | None = None, lease: str | None = None,
    ) -> dict[str, Any]:  # fmt: skip
        body: dict[str, Any] = {"expected_revision": expected_revision, "weights": weights, "shadow": shadow}
        if reason is not None:
            body["rollback"] = reason
        return dict(self._call("PUT", f"/models/{model}/traffic", json=body, lease=lease))

    def observations(self, model: str, windows_s: list[int]) -> dict[str, Any]:
        windows = ",".join(str(int(w)) for w in sorted(set(windows_s)))
        return dict(self._call("GET", f"/models/{model}/observations", params={"windows": windows}))

    def watch_state(self) -> dict[str, Any]:
        return dict(self._call("GET", "/watch/state"))

    def put_watch_state(self, state: dict[str, Any], *, holder: str) -> dict[str, Any]:
        return dict(self._call("PUT", "/watch/state", json={"holder": holder, "state": state}))


def connect(name: str, url: str, token_env: str | None, timeout: float = 10.0) -> WatchDriver:
    return WatchDriver(name, url, token_env, timeout)
