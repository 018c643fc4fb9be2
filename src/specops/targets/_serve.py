"""The driver for ``specops serve``: its admin API (``docs/admin-api.md``) over one httpx client.

One ``httpx.Client`` per target keeps connections alive across the dozens
of calls a rollout makes (and across the traffic generator's threads).
Reads and sha256-addressed uploads are retried with exponential backoff on
transport errors; mutations are sent once. A mutation whose connection
failed before the request went out is a plain ``TargetDownError`` (nothing
happened); one whose answer was lost is a ``MutationUncertainError``.
"""

from __future__ import annotations

import os
import ssl
import threading
import time
from typing import Any

import httpx
import orjson

from specops.targets._errors import (
    AdminError,
    LeaseHeldError,
    LiveStateError,
    MutationUncertainError,
    RevisionConflictError,
    TargetAuthError,
    TargetDownError,
)

__all__ = ["ServeDriver"]

PREFIX = "/admin/v1"
# Below uvicorn's 5 s keep-alive, so a pooled connection is dropped here before the server drops it.
_KEEPALIVE_S = 4.0
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol)
_TLS: dict[tuple[str | None, str | None], ssl.SSLContext] = {}
_TLS_LOCK = threading.Lock()


def _tls_context() -> ssl.SSLContext:
    """The verifying TLS context httpx would build, built once per process and trust settings.

    Building one loads the whole CA bundle (0.1-0.2 s); one per driver made reading
    200 targets' live state cost half a minute before the first request went out.
    """
    key = (os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR"))
    with _TLS_LOCK:
        context = _TLS.get(key)
        if context is None:
            context = _TLS[key] = httpx.create_ssl_context()
        return context


class ServeDriver:
    """One ``specops serve`` target; the apply lease's holder (once taken) goes with every mutation."""

    def __init__(
        self,
        name: str,
        url: str,
        token_env: str | None = None,
        *,
        timeout: float = 30.0,
        load_timeout: float = 600.0,
        retries: int = 3,
        backoff_s: float = 0.2,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.name = name
        self.url = url.rstrip("/")
        self.token_env = token_env
        self.timeout = timeout
        # A PUT of a model answers once the target verified, loaded and warmed the version:
        # a large model takes minutes, and the target sends nothing meanwhile.
        self.load_timeout = load_timeout
        self.retries = max(1, retries)
        self.backoff_s = backoff_s
        self.lease: str | None = None
        self._http = httpx.Client(
            base_url=self.url,
            timeout=timeout,
            limits=httpx.Limits(max_connections=64, max_keepalive_connections=16, keepalive_expiry=_KEEPALIVE_S),
            transport=transport,
            verify=_tls_context(),
        )

    def __repr__(self) -> str:
        return f"ServeDriver({self.name!r}, {self.url!r})"

    def __enter__(self) -> ServeDriver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # -- plumbing --------------------------------------------------------------

    def _headers(self) -> dict[str, str]:
        headers = {"Accept": "application/json"}
        if self.token_env is not None:
            token = os.environ.get(self.token_env)
            if not token:
                raise TargetAuthError(
                    self.name,
                    f"environment variable {self.token_env} (the Target's spec.auth.tokenEnv) is not set; "
                    "export the target's admin token in it",
                )
            headers["Authorization"] = f"Bearer {token}"
        return headers

    def _call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        data: bytes | None = None,
        query: dict[str, str] | None = None,
        expect: tuple[int, ...] = (200,),
        timeout: float | None = None,
        safe: bool | None = None,
        lease: str | None = None,
    ) -> tuple[int, Any]:
        """One admin call; ``safe`` (default: reads) says whether a lost answer may be asked again."""
        headers = self._headers()
        content = data
        if data is None and body is not None:
            content = orjson.dumps(body)
            headers["Content-Type"] = "application/json"
        elif data is not None:
            headers["Content-Type"] = "application/octet-stream"
        holder = lease or self.lease
        if holder is not None and method not in ("GET", "HEAD"):
            headers["X-SpecOps-Lease"] = holder
        repeatable = method in ("GET", "HEAD") if safe is None else safe
        attempts = self.retries if repeatable else 1
        wait = timeout or self.timeout
        for attempt in range(attempts):
            try:
                response = self._http.request(
                    method, PREFIX + path, content=content, params=query, headers=headers, timeout=wait
                )
            except httpx.TransportError as exc:
                if attempt + 1 < attempts:
                    time.sleep(self.backoff_s * 2**attempt)
                    continue
                raise self._transport_error(exc, method, path, wait, sent=not isinstance(exc, _NOT_SENT) and not repeatable) from exc
            payload = _decode(response.content)
            if response.status_code in expect:
                return response.status_code, payload
            raise self._error(response.status_code, payload, method, path)
        raise AssertionError("unreachable")  # pragma: no cover

    def _transport_error(self, exc: Exception, method: str, path: str, wait: float, *, sent: bool) -> TargetDownError:
        reason = str(exc) or type(exc).__name__
        if sent:
            return MutationUncertainError(
                self.name,
                f"{method} {PREFIX}{path} was sent to {self.url} but no answer came ({reason}; waited up to "
                f"{wait:g}s): it may or may not have taken effect. It is not repeated; read the live state "
                "again and decide (the next apply reconciles it from the journal)",
            )
        return TargetDownError(
            self.name,
            f"{self.url} is unreachable ({reason}) during {method} {PREFIX}{path} "
            f"(waited up to {wait:g}s); "
            "start the target or fix spec.url, then apply again (an interrupted apply is "
            "recovered by the next one)",
        )

    def _error(self, status: int, payload: Any, method: str, path: str) -> AdminError:
        body = payload if isinstance(payload, dict) else {}
        message = str(body.get("error") or payload or f"HTTP {status}")
        if status == 409 and body.get("holder"):
            return LeaseHeldError(self.name, str(body["holder"]), str(body.get("expires_at")), body)
        if status == 409 and "revision" in body:
            return RevisionConflictError(self.name, None, str(body["revision"]), body)
        if status in (401, 403):
            hint = f"check {self.token_env}" if self.token_env else "the Target names no auth.tokenEnv"
            return TargetAuthError(
                self.name,
                f"authentication failed at {self.url}: {method} {PREFIX}{path}: HTTP {status}: {message} ({hint})",
                status,
                body,
            )
        return AdminError(self.name, f"{method} {PREFIX}{path}: HTTP {status}: {message}", status, body)

    # -- reads -------------------------------------------------------------------

    def live_state(self) -> dict[str, Any]:
        answer = self._call("GET", "/state")[1]
        if not isinstance(answer, dict):
            raise LiveStateError(f"target {self.name} at {self.url} returned invalid JSON: {str(answer)[:80]!r}")
        return answer

    def stats(self, model: str) -> dict[str, Any]:
        return _dict(self._call("GET", f"/models/{model}/stats")[1])

    def observations(self, model: str, windows_s: list[int], *, features_s: list[int] | None = None) -> dict[str, Any]:
        query = {"windows": ",".join(str(int(w)) for w in windows_s)}
        if features_s is not None:  # feature counts only for these windows (burn-rate windows need none)
            query["features"] = ",".join(str(int(w)) for w in features_s)
        return _dict(self._call("GET", f"/models/{model}/observations", query=query)[1])

    def lease_info(self, kind: str = "apply") -> dict[str, Any]:
        return _dict(self._call("GET", "/lease", query=_kind(kind))[1])

    def has_artifact(self, sha256: str) -> bool:
        status, _ = self._call("HEAD", f"/artifacts/{sha256}", expect=(200, 404))
        return status == 200

    def watch_state(self) -> dict[str, Any]:
        return _dict(self._call("GET", "/watch/state")[1])

    # -- leases ------------------------------------------------------------------

    def acquire(
        self,
        holder: str,
        ttl_s: float,
        *,
        kind: str = "apply",
        identity: dict[str, Any] | None = None,
        takeover: str | None = None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"holder": holder, "ttl_s": ttl_s}
        if identity is not None:
            body["identity"] = identity
        if takeover is not None:
            body["takeover"] = takeover
        answer = _dict(self._call("POST", "/lease", body, query=_kind(kind), lease=holder)[1])
        if kind == "apply":
            self.lease = holder
        return answer

    def release(self, holder: str | None = None, *, kind: str = "apply") -> None:
        who = holder or (self.lease if kind == "apply" else None)
        if who is None:
            return
        self._call("DELETE", "/lease", {"holder": who}, query=_kind(kind), expect=(200, 404, 409), lease=who)
        if kind == "apply" and (holder is None or holder == self.lease):
            self.lease = None

    # -- changes -----------------------------------------------------------------

    def upload(self, sha256: str, data: bytes) -> None:
        # Content-addressed: a repeat stores the same bytes under the same name.
        self._call("PUT", f"/artifacts/{sha256}", data=data, expect=(200, 201, 204), timeout=self.load_timeout, safe=True)

    def put_resource(
        self,
        kind: str,
        name: str,
        spec: dict[str, Any],
        spec_hash: str,
        *,
        expected_revision: str | None,
        activate: bool = True,
    ) -> dict[str, Any]:
        body = {"expected_revision": expected_revision, "spec": spec, "hash": spec_hash, "activate": activate}
        return _dict(self._call("PUT", f"/resources/{kind}/{name}", body, timeout=self.load_timeout)[1])

    def delete_resource(self, kind: str, name: str, *, expected_revision: str | None) -> dict[str, Any]:
        query = {"expected_revision": expected_revision or ""}
        return _dict(self._call("DELETE", f"/resources/{kind}/{name}", query=query)[1])

    def set_traffic(
        self,
        model: str,
        weights: dict[str, int],
        shadow: str | None,
        *,
        expected_revision: str | None,
        reason: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"expected_revision": expected_revision, "weights": weights, "shadow": shadow}
        if reason is not None:
            body["rollback"] = reason
        return _dict(self._call("PUT", f"/models/{model}/traffic", body)[1])

    def put_watch_state(self, state: dict[str, Any], *, holder: str) -> dict[str, Any]:
        return _dict(self._call("PUT", "/watch/state", {"holder": holder, "state": state})[1])

    # -- inference ---------------------------------------------------------------

    def inference_url(self, model: str) -> str:
        return f"{self.url}/v2/models/{model}/infer"

    def infer(
        self,
        model: str,
        body: bytes | dict[str, Any],
        *,
        headers: dict[str, str] | None = None,
        timeout: float | None = None,
    ) -> httpx.Response:
        """POST one inference request; any HTTP answer is returned, a transport failure raises."""
        sent = {"Content-Type": "application/json"}
        if self.token_env is not None and os.environ.get(self.token_env):
            sent["Authorization"] = f"Bearer {os.environ[self.token_env]}"
        sent.update(headers or {})
        content = body if isinstance(body, bytes) else orjson.dumps(body)
        try:
            return self._http.post(f"/v2/models/{model}/infer", content=content, headers=sent, timeout=timeout or self.timeout)
        except httpx.TransportError as exc:
            raise TargetDownError(self.name, f"inference on {model} failed: {type(exc).__name__}: {exc}") from exc


def _kind(kind: str) -> dict[str, str] | None:
    if kind not in ("apply", "watch"):
        raise ValueError(f"unknown lease kind {kind!r} (apply or watch)")
    # The apply lease is the target's original one: no parameter keeps older targets working.
    return None if kind == "apply" else {"kind": kind}


def _decode(raw: bytes) -> Any:
    if not raw:
        return {}
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return raw.decode("utf-8", "replace")[:500]


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
