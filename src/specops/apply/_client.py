"""The admin-API client: the one place apply, status and the demo talk to a serving target.

Standard library only (``urllib``): a runner makes a few dozen calls per
rollout, so connection reuse would buy nothing worth a dependency. Every
failure becomes a ``SpecOpsError`` subclass that names the target and says
what to do: a held lease names its holder and expiry, a stale revision says
to re-plan.
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

from specops._errors import SpecOpsError

__all__ = [
    "AdminClient",
    "AdminError",
    "LeaseHeldError",
    "RevisionConflictError",
    "TargetDownError",
]

_PREFIX = "/admin/v1"


class AdminError(SpecOpsError):
    """A target answered an admin call with an error."""

    def __init__(self, target: str, message: str, status: int = 0, body: Any = None) -> None:
        super().__init__(f"target {target}: {message}")
        self.target = target
        self.status = status
        self.body = body if isinstance(body, dict) else {}


class TargetDownError(AdminError):
    """The target could not be reached (down, restarting, wrong url)."""


class LeaseHeldError(AdminError):
    def __init__(self, target: str, holder: str, expires_at: str, body: Any = None) -> None:
        super().__init__(
            target,
            f"lease held by {holder} until {expires_at}; another apply is running against it "
            "(wait for it to finish, or for the lease to expire, then apply again)",
            409,
            body,
        )
        self.holder = holder
        self.expires_at = expires_at


class RevisionConflictError(AdminError):
    def __init__(self, target: str, expected: str | None, current: str, body: Any = None) -> None:
        super().__init__(
            target,
            f"live state moved: expected revision {expected}, the target is at {current} "
            "(someone changed it meanwhile; re-plan with `specops plan --out FILE`)",
            409,
            body,
        )
        self.current = current


@dataclass(slots=True)
class AdminClient:
    """Calls one target's admin API; ``lease`` (once taken) is sent with every mutating call."""

    name: str
    url: str
    token_env: str | None = None
    timeout: float = 30.0
    lease: str | None = None
    # A PUT of a model answers once the target has verified, loaded and warmed the version: a
    # large model takes minutes, and the target sends nothing meanwhile.
    load_timeout: float = 600.0
    retries: int = 3

    def _token(self) -> str | None:
        if self.token_env is None:
            return None
        token = os.environ.get(self.token_env)
        if not token:
            raise AdminError(
                self.name,
                f"environment variable {self.token_env} (the Target's spec.auth.tokenEnv) is not set; "
                "export the target's admin token in it",
            )
        return token

    def _request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        data: bytes | None = None,
        query: dict[str, str] | None = None,
        expect: tuple[int, ...] = (200,),
        timeout: float | None = None,
    ) -> tuple[int, Any]:
        url = self.url.rstrip("/") + _PREFIX + path
        if query:
            url += "?" + urllib.parse.urlencode(query)
        headers = {"Accept": "application/json"}
        if data is None and body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        elif data is not None:
            headers["Content-Type"] = "application/octet-stream"
        token = self._token()
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        if self.lease is not None and method != "GET":
            headers["X-SpecOps-Lease"] = self.lease
        # Only reads are retried blindly; a mutating call carries expected_revision,
        # so the caller decides after a lost answer by reading the state again.
        attempts = self.retries if method in ("GET", "HEAD") else 1
        for attempt in range(attempts):
            request = urllib.request.Request(url, data=data, method=method, headers=headers)
            try:
                with urllib.request.urlopen(request, timeout=timeout or self.timeout) as response:
                    return response.status, _decode(response.read())
            except urllib.error.HTTPError as exc:
                payload = _decode(exc.read())
                if exc.code in expect:
                    return exc.code, payload
                raise self._error(exc.code, payload, method, path) from exc
            except (urllib.error.URLError, OSError) as exc:
                if attempt + 1 < attempts:
                    time.sleep(0.2 * (attempt + 1))
                    continue
                reason = getattr(exc, "reason", exc)
                raise TargetDownError(
                    self.name,
                    f"{self.url} is unreachable ({reason}) during {method} {_PREFIX}{path} "
                    f"(waited up to {timeout or self.timeout:g}s); "
                    "start the target or fix spec.url, then apply again (an interrupted apply is "
                    "recovered by the next one)",
                ) from exc
        raise AssertionError("unreachable")  # pragma: no cover

    def _error(self, status: int, payload: Any, method: str, path: str) -> AdminError:
        body = payload if isinstance(payload, dict) else {}
        message = str(body.get("error") or payload or f"HTTP {status}")
        if status == 409 and body.get("holder"):
            return LeaseHeldError(self.name, str(body["holder"]), str(body.get("expires_at")), body)
        if status == 409 and "revision" in body:
            return RevisionConflictError(self.name, None, str(body["revision"]), body)
        if status == 401 or status == 403:
            hint = f" (check {self.token_env})" if self.token_env else " (the Target names no auth.tokenEnv)"
            return AdminError(self.name, f"{method} {_PREFIX}{path}: HTTP {status}: {message}{hint}", status, body)
        return AdminError(self.name, f"{method} {_PREFIX}{path}: HTTP {status}: {message}", status, body)

    # -- reads ---------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        return _dict(self._request("GET", "/state")[1])

    def stats(self, model: str) -> dict[str, Any]:
        return _dict(self._request("GET", f"/models/{model}/stats")[1])

    def lease_info(self) -> dict[str, Any]:
        return _dict(self._request("GET", "/lease")[1])

    def has_artifact(self, sha256: str) -> bool:
        status, _ = self._request("HEAD", f"/artifacts/{sha256}", expect=(200, 404))
        return status == 200

    # -- the lease -----------------------------------------------------------

    def acquire(
        self, holder: str, ttl_s: float, *, identity: dict[str, Any] | None = None, takeover: str | None = None
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"holder": holder, "ttl_s": ttl_s}
        if identity is not None:
            body["identity"] = identity
        if takeover is not None:
            body["takeover"] = takeover
        answer = _dict(self._request("POST", "/lease", body)[1])
        self.lease = holder
        return answer

    def release(self, holder: str | None = None) -> None:
        who = holder or self.lease
        if who is None:
            return
        self._request("DELETE", "/lease", {"holder": who}, expect=(200, 404, 409))
        if holder is None or holder == self.lease:
            self.lease = None

    # -- changes -------------------------------------------------------------

    def upload(self, sha256: str, data: bytes) -> None:
        self._request("PUT", f"/artifacts/{sha256}", data=data, expect=(200, 201, 204), timeout=self.load_timeout)

    def put_resource(
        self, kind: str, name: str, spec: dict[str, Any], hash_: str, revision: str | None, *, activate: bool
    ) -> dict[str, Any]:
        body = {"expected_revision": revision, "spec": spec, "hash": hash_, "activate": activate}
        return _dict(self._request("PUT", f"/resources/{kind}/{name}", body, timeout=self.load_timeout)[1])

    def delete_resource(self, kind: str, name: str, revision: str | None) -> dict[str, Any]:
        query = {"expected_revision": revision or ""}
        return _dict(self._request("DELETE", f"/resources/{kind}/{name}", query=query)[1])

    def set_traffic(
        self, model: str, weights: dict[str, int], revision: str | None, shadow: str | None = None
    ) -> dict[str, Any]:
        body = {"expected_revision": revision, "weights": weights, "shadow": shadow}
        return _dict(self._request("PUT", f"/models/{model}/traffic", body)[1])


def _decode(raw: bytes) -> Any:
    if not raw:
        return {}
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        return raw.decode("utf-8", "replace")[:500]


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
