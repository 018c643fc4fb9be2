"""The HTTP surface: Open Inference Protocol v2, the admin API, prompts and ``/metrics``.

Each endpoint is wrapped once: authentication, the body read with a size
limit, and every error answered as ``{"error": ...}`` with a 4xx (a bug is
a logged 500 with the same shape, never a dropped connection).
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from specops._errors import SpecOpsError
from specops._version import __version__
from specops.serve._codec import SPEC_TO_OIP, decode_request
from specops.serve._config import ServeConfig
from specops.serve._errors import HTTPError
from specops.serve._infer import infer
from specops.serve._prompts import render
from specops.serve._target import ServeTarget
from specops.spec import Prompt

__all__ = ["create_app"]

_log = logging.getLogger("specops.serve")
Handler = Callable[[Request], Awaitable[Response]]
_JSON = "application/json"


_JSON_TYPE = (b"content-type", b"application/json")
_BINARY_TYPE = (b"content-type", b"application/octet-stream")


class _Body:
    """A request body read in chunks, refused past ``limit``; with a Content-Length its buffer is
    allocated once (growing it would copy it)."""

    __slots__ = ("buffer", "limit", "size")

    def __init__(self, length: str | None, limit: int) -> None:
        """Refuses a declared Content-Length past ``limit`` before anything is read."""
        declared = int(length) if length is not None and length.isdigit() else None
        if declared is not None and declared > limit:
            raise HTTPError(413, f"the body is {length} bytes; the limit is {limit} (--max-body-mb)")
        self.buffer = bytearray(declared) if declared is not None else bytearray()
        self.limit = limit
        self.size = 0

    @staticmethod
    def check(size: int, limit: int) -> None:
        if size > limit:
            raise HTTPError(413, f"the body is larger than the limit of {limit} bytes (--max-body-mb)")

    def add(self, chunk: bytes) -> None:
        end = self.size + len(chunk)
        self.check(end, self.limit)
        if end <= len(self.buffer):
            self.buffer[self.size:end] = chunk
        else:
            del self.buffer[self.size:]
            self.buffer += chunk
        self.size = end

    def done(self) -> bytearray:
        del self.buffer[self.size:]
        return self.buffer


class _Disconnected(Exception):
    """The client went away before its request body arrived."""


def _bearer_ok(header: bytes | None, token: bytes) -> bool:
    scheme, _, given = (header or b"").decode("latin-1").partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(given.strip().encode(), token)


def _failure(exc: Exception, where: str) -> Response:
    """The answer to a handler's exception (call it in the ``except`` block: a bug's traceback is logged).

    An ``HTTPError`` is the client's answer; an expected error is a 500 naming it; anything else
    is a bug, answered without details.
    """
    if isinstance(exc, HTTPError):
        return json_response(exc.body(), exc.status)
    if isinstance(exc, SpecOpsError):
        _log.error("%s: %s", where, exc)
        return _error(500, str(exc))
    _log.exception("unexpected error in %s", where)
    return _error(500, "internal error (a bug; the server log has the details)")


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(data), status_code=status, media_type=_JSON, headers=headers)


def _error(status: int, message: str, **extra: Any) -> Response:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return json_response({"error": message, **extra}, status, headers)


class _Api:
    def __init__(self, target: ServeTarget, config: ServeConfig) -> None:
        self.t = target
        self.config = config
        self._admin = config.admin_token.encode() if config.admin_token else None
        self._infer = config.inference_token.encode() if config.inference_token else None
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(target.metrics.collector())

    # -- plumbing ---------------------------------------------------------------

    def _authorized(self, request: Request, token: bytes | None) -> bool:
        if token is None:
            return True
        header = request.headers.get("authorization")
        return _bearer_ok(None if header is None else header.encode("latin-1"), token)

    def endpoint(self, handler: Handler, auth: str | None) -> Handler:
        async def wrapped(request: Request) -> Response:
            token = self._admin if auth == "admin" else self._infer if auth == "infer" else None
            if not self._authorized(request, token):
                return _error(401, "a valid 'Authorization: Bearer <token>' header is required")
            try:
                return await handler(request)
            except Exception as exc:
                return _failure(exc, f"{request.method} {request.url.path}")

        return wrapped

    async def body(self, request: Request, limit: int | None = None) -> bytes:
        return bytes(await self.buffer(request, limit))

    async def buffer(self, request: Request, limit: int | None = None) -> bytearray:
        """The body, refused past ``limit`` before it is read; one buffer, grown in place."""
        limit = self.config.max_body_bytes if limit is None else limit
        body = _Body(request.headers.get("content-length"), limit)
        async for chunk in request.stream():
            body.add(chunk)
        return body.done()

    async def json(self, request: Request) -> Any:
        raw = await self.body(request)
        if not raw:
            return {}
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise HTTPError(400, f"the body is not valid JSON: {exc}") from None

    @staticmethod
    def lease_holder(request: Request) -> str | None:
        return request.headers.get("x-specops-lease")

    # -- Open Inference Protocol ----------------------------------------------

    async def server_meta(self, request: Request) -> Response:
        return json_response({"name": "specops", "version": __version__, "extensions": ["model_repository"]})

    async def live(self, request: Request) -> Response:
        return json_response({"live": True})

    async def ready(self, request: Request) -> Response:
        return json_response({"ready": True})

    def _version_of(self, request: Request) -> tuple[str, str | None]:
        return request.path_params["name"], request.path_params.get("version")

    async def model_meta(self, request: Request) -> Response:
        name, version = self._version_of(request)
        route = self.t.route(name)
        # Without a version: the one serving most of the traffic.
        mv = route.versions.get(version) if version else route.versions[max(route.weights, key=route.weights.__getitem__)]
        if mv is None:
            raise HTTPError(404, f"version {version} of {name} is not loaded")
        signature = mv.model.spec.signature

        def tensors(specs: Any) -> list[dict[str, Any]]:
            return [{"name": t.name, "datatype": SPEC_TO_OIP[t.dtype], "shape": list(t.shape)} for t in specs]

        return json_response({
            "name": name,
            "versions": sorted(route.versions),
            "platform": "onnxruntime_onnx",
            "inputs": tensors(signature.inputs),
            "outputs": tensors(signature.outputs),
            "parameters": {"version": mv.version, "providers": mv.providers},
        })

    async def model_ready(self, request: Request) -> Response:
        name, version = self._version_of(request)
        route = self.t.route(name)
        if version is not None and version not in route.versions:
            raise HTTPError(404, f"version {version} of {name} is not loaded")
        return json_response({"name": name, "ready": True})

    async def infer(self, request: Request) -> Response:
        name, version = self._version_of(request)
        self.t.route(name)  # an unknown or unloaded model is answered before the body is read
        raw = await self.buffer(request)
        parsed = decode_request(raw, request.headers.get("inference-header-content-length"), self.config.max_elements)
        parsed.key = request.headers.get("x-request-id")
        body, header_length = await infer(self.t, name, version, parsed)
        if header_length is None:
            return Response(body, media_type=_JSON)
        return Response(
            body, media_type="application/octet-stream",
            headers={"Inference-Header-Content-Length": str(header_length)},
        )

    async def asgi_infer(self, scope: Scope, receive: Receive, send: Send, name: str, version: str | None) -> None:
        """``infer`` as a bare ASGI handler, for the paths :class:`_InferFirst` takes before routing:
        the same checks in the same order (token, model, body size, request) and the same answers,
        without building a Request, routing, or the middleware stack."""
        authorization = length = split = key = None
        for header, value in scope["headers"]:  # the first of each, as Starlette's Headers.get
            if header == b"content-length":
                length = value if length is None else length
            elif header == b"inference-header-content-length":
                split = value if split is None else split
            elif header == b"authorization":
                authorization = value if authorization is None else authorization
            elif header == b"x-request-id":
                key = value if key is None else key
        try:
            if self._infer is not None and not _bearer_ok(authorization, self._infer):
                response = _error(401, "a valid 'Authorization: Bearer <token>' header is required")
            else:
                self.t.route(name)  # an unknown or unloaded model is answered before the body is read
                raw = await self._read(receive, None if length is None else length.decode("latin-1"))
                parsed = decode_request(
                    raw, None if split is None else split.decode("latin-1"), self.config.max_elements
                )
                parsed.key = None if key is None else key.decode("latin-1")
                body, header_length = await infer(self.t, name, version, parsed)
                headers = [(b"content-length", b"%d" % len(body)), _JSON_TYPE]
                if header_length is not None:
                    headers = [(b"inference-header-content-length", b"%d" % header_length),
                               (b"content-length", b"%d" % len(body)), _BINARY_TYPE]
                await send({"type": "http.response.start", "status": 200, "headers": headers})
                await send({"type": "http.response.body", "body": body})
                return
        except _Disconnected:
            return  # nobody to answer
        except Exception as exc:
            response = _failure(exc, f"POST {scope['path']}")
        await response(scope, receive, send)

    async def _read(self, receive: Receive, length: str | None) -> bytes | bytearray:
        """The body from ASGI messages, refused past the limit as :meth:`buffer` does (one message: no copy)."""
        limit = self.config.max_body_bytes
        body = _Body(length, limit)
        message = await receive()
        if message["type"] != "http.request":
            raise _Disconnected
        chunk: bytes = message.get("body", b"")
        if not message.get("more_body", False):
            _Body.check(len(chunk), limit)
            return chunk  # one message: no copy
        while True:
            body.add(chunk)
            if not message.get("more_body", False):
                return body.done()
            message = await receive()
            if message["type"] != "http.request":
                raise _Disconnected
            chunk = message.get("body", b"")

    async def repo_index(self, request: Request) -> Response:
        rows = []
        for name, record in sorted(self.t.records.items()):
            route = self.t.routes.get(name)
            for version in sorted(record.versions):
                ready = route is not None and version in route.versions
                row = {"name": name, "version": version, "state": "READY" if ready else "UNAVAILABLE"}
                if not ready:
                    row["reason"] = "unloaded"
                rows.append(row)
        return json_response(rows)

    async def repo_load(self, request: Request) -> Response:
        await self.t.set_loaded(request.path_params["name"], True, self.lease_holder(request))
        return json_response({})

    async def repo_unload(self, request: Request) -> Response:
        await self.t.set_loaded(request.path_params["name"], False, self.lease_holder(request))
        return json_response({})

    # -- admin ------------------------------------------------------------------

    async def state(self, request: Request) -> Response:
        return json_response(self.t.live_state())

    @staticmethod
    def _watch_kind(request: Request) -> bool:
        kind = request.query_params.get("kind", "apply")
        if kind not in ("apply", "watch"):
            raise HTTPError(400, f"unknown lease kind {kind!r} (kinds: apply, watch)")
        return kind == "watch"

    async def lease_get(self, request: Request) -> Response:
        if self._watch_kind(request):
            return json_response(self.t.watch.lease_json())
        lease = self.t.current_lease()
        return json_response(lease.to_json() if lease else {"holder": None})

    async def lease_post(self, request: Request) -> Response:
        watch = self._watch_kind(request)
        body = await self.json(request)
        if not isinstance(body, dict):
            raise HTTPError(400, "the body must be {holder, ttl_s, identity?, takeover?}")
        if watch:
            return json_response(await self.t.watch.take(body.get("holder"), body.get("ttl_s", 60)))
        return json_response(
            await self.t.take_lease(body.get("holder"), body.get("ttl_s", 60), body.get("identity"), body.get("takeover"))
        )

    async def lease_delete(self, request: Request) -> Response:
        watch = self._watch_kind(request)
        body = await self.json(request)
        holder = body.get("holder") if isinstance(body, dict) else None
        if watch:
            await self.t.watch.release(holder)
        else:
            await self.t.release_lease(holder)
        return json_response({})

    async def watch_state_get(self, request: Request) -> Response:
        return json_response(self.t.watch.state_json())

    async def watch_state_put(self, request: Request) -> Response:
        return json_response(await self.t.watch.put_state(await self.json(request)))

    async def artifact_put(self, request: Request) -> Response:
        sha = request.path_params["sha256"]
        self.t.store.artifact_path(sha)
        length = request.headers.get("content-length")
        limit = self.config.max_artifact_bytes
        if length is not None and length.isdigit() and int(length) > limit:
            raise HTTPError(413, f"the artifact is {length} bytes; the limit is {limit} (--max-artifact-mb)")
        size = await self.t.store.put_artifact(sha, request.stream(), limit)
        return json_response({"sha256": sha, "size": size})

    async def artifact_head(self, request: Request) -> Response:
        found = self.t.store.has_artifact(request.path_params["sha256"])
        return Response(status_code=200 if found else 404)

    async def resource_get(self, request: Request) -> Response:
        rid = f"{request.path_params['kind']}/{request.path_params['name']}"
        if rid not in self.t.resources:
            raise HTTPError(404, f"{rid} is not applied on this target")
        return json_response({"revision": self.t.revision, "resource": self.t.entry(rid)})

    async def resource_put(self, request: Request) -> Response:
        body = await self.json(request)
        answer = await self.t.apply(
            request.path_params["kind"], request.path_params["name"], body, self.lease_holder(request)
        )
        return json_response(answer)

    async def resource_delete(self, request: Request) -> Response:
        expected = request.query_params.get("expected_revision")
        answer = await self.t.delete(
            request.path_params["kind"], request.path_params["name"], expected, self.lease_holder(request)
        )
        return json_response(answer)

    async def traffic_get(self, request: Request) -> Response:
        route = self.t.route(request.path_params["name"])
        return json_response({"revision": self.t.revision, "weights": dict(route.weights), "shadow": route.shadow})

    async def traffic_put(self, request: Request) -> Response:
        body = await self.json(request)
        return json_response(await self.t.set_traffic(request.path_params["name"], body, self.lease_holder(request)))

    async def stats(self, request: Request) -> Response:
        name = request.path_params["name"]
        route = self.t.route(name)
        return json_response({
            "revision": self.t.revision,
            "latency_bounds_ms": self.t.latency_bounds(name),
            "versions": self.t.metrics.stats(name, sorted(route.versions)),
        })

    async def observations(self, request: Request) -> Response:
        name = request.path_params["name"]
        route = self.t.route(name)
        budget_s = self.t.budget_seconds(name)
        windows = _windows(request.query_params.get("windows"), budget_s)
        raw_features = request.query_params.get("features")
        features = None
        if raw_features is not None:
            features = _windows(raw_features, budget_s) if raw_features.strip() else []
            if not set(features) <= set(windows):
                raise HTTPError(400, "'features' names windows that are not in 'windows'")
        layouts = {v: self.t.metrics.version(name, v).features for v in route.versions}
        answer = self.t.metrics.observations.answer(name, layouts, windows, features)
        return json_response({"revision": str(self.t.revision), **answer})

    # -- prompts and metrics ----------------------------------------------------

    def _prompt(self, name: str, version: str | None) -> Prompt:
        versions = self.t.prompt_versions.get(name)
        if not versions:
            raise HTTPError(404, f"prompt {name} is not applied on this target")
        if version is None:
            current = self.t.parsed.get(f"Prompt/{name}")
            assert isinstance(current, Prompt)
            return current
        doc = versions.get(version)
        if doc is None:
            raise HTTPError(404, f"prompt {name} has no version {version} (versions: {', '.join(sorted(versions))})")
        return Prompt.model_validate(doc)

    async def prompts(self, request: Request) -> Response:
        out = {
            name: {"version": p.spec.version, "model": p.spec.model, "versions": sorted(self.t.prompt_versions.get(name, {}))}
            for name, p in sorted(self.t.of_kind(Prompt).items())
        }
        return json_response({"prompts": out})

    async def prompt_get(self, request: Request) -> Response:
        prompt = self._prompt(request.path_params["name"], request.query_params.get("version"))
        return json_response(prompt.canonical())

    async def prompt_render(self, request: Request) -> Response:
        body = await self.json(request)
        if not isinstance(body, dict):
            raise HTTPError(400, "the body must be {variables, version?}")
        version = body.get("version")
        if version is not None and not isinstance(version, str):
            raise HTTPError(400, "'version' must be a string")
        prompt = self._prompt(request.path_params["name"], version)
        return json_response(render(prompt, body.get("variables", {})))

    async def metrics(self, request: Request) -> Response:
        # OpenMetrics when the scraper asks for it (Prometheus does), the text format otherwise.
        encoder, content_type = choose_encoder(request.headers.get("accept", ""))
        return Response(encoder(self.registry), headers={"Content-Type": content_type})


_DEFAULT_WINDOWS = "300,3600"
_MAX_WINDOWS = 16


def _windows(raw: str | None, budget_s: float) -> list[int]:
    """``windows=300,3600`` as seconds: whole, positive, at most 16, none longer than the SLO window kept."""
    text = _DEFAULT_WINDOWS if raw is None or not raw.strip() else raw
    out: list[int] = []
    for part in text.split(","):
        part = part.strip()
        if not part.isdigit() or int(part) <= 0:
            raise HTTPError(400, f"windows must be whole seconds separated by commas (e.g. 300,3600), got {part!r}")
        seconds = int(part)
        if seconds > budget_s:
            raise HTTPError(
                400, f"window {seconds}s is longer than the {int(budget_s)}s this target keeps for the model (its SLO window)"
            )
        if seconds not in out:
            out.append(seconds)
    if len(out) > _MAX_WINDOWS:
        raise HTTPError(400, f"at most {_MAX_WINDOWS} windows per call, got {len(out)}")
    return out


async def _not_found(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    detail = exc.detail if isinstance(exc, HTTPException) else "internal error"
    if status == 404:
        detail = f"no such endpoint: {request.method} {request.url.path}"
    elif status == 405:
        detail = f"{request.method} is not allowed on {request.url.path}"
    return _error(status, detail)


class _InferFirst:
    """The ASGI app: ``POST /v2/models/{name}[/versions/{version}]/infer`` goes straight to
    :meth:`_Api.asgi_infer`; every other request (and any path with a root path) to Starlette.

    Inference is what a target spends its time on: Starlette's middleware stack, routing
    and Request objects cost about as much per request as decoding and running a small
    model, and the answers are the same either way (the Starlette routes stay, for paths
    this does not take).
    """

    def __init__(self, api: _Api, app: Starlette) -> None:
        self.api = api
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and not scope.get("root_path"):
            path: str = scope["path"]
            if path.startswith("/v2/models/") and path.endswith("/infer"):
                parts = path[11:-6].split("/")
                if len(parts) == 1 and parts[0]:
                    await self.api.asgi_infer(scope, receive, send, parts[0], None)
                    return
                if len(parts) == 3 and parts[1] == "versions" and parts[0] and parts[2]:
                    await self.api.asgi_infer(scope, receive, send, parts[0], parts[2])
                    return
        await self.app(scope, receive, send)


def create_app(target: ServeTarget, config: ServeConfig) -> _InferFirst:
    api = _Api(target, config)
    e = api.endpoint
    model = "/v2/models/{name}"
    version = "/v2/models/{name}/versions/{version}"
    routes = [
        # Inference first: Starlette tries routes in order, and every request pays for the
        # ones before its own (no earlier pattern could match these paths).
        Route(model + "/infer", e(api.infer, "infer"), methods=["POST"]),
        Route(version + "/infer", e(api.infer, "infer"), methods=["POST"]),
        Route("/v2", e(api.server_meta, "infer"), methods=["GET"]),
        Route("/v2/health/live", e(api.live, None), methods=["GET"]),
        Route("/v2/health/ready", e(api.ready, None), methods=["GET"]),
        Route(model, e(api.model_meta, "infer"), methods=["GET"]),
        Route(version, e(api.model_meta, "infer"), methods=["GET"]),
        Route(model + "/ready", e(api.model_ready, "infer"), methods=["GET"]),
        Route(version + "/ready", e(api.model_ready, "infer"), methods=["GET"]),
        Route("/v2/repository/index", e(api.repo_index, "admin"), methods=["POST"]),
        Route("/v2/repository/models/{name}/load", e(api.repo_load, "admin"), methods=["POST"]),
        Route("/v2/repository/models/{name}/unload", e(api.repo_unload, "admin"), methods=["POST"]),
        Route("/admin/v1/state", e(api.state, "admin"), methods=["GET"]),
        Route("/admin/v1/lease", e(api.lease_get, "admin"), methods=["GET"]),
        Route("/admin/v1/lease", e(api.lease_post, "admin"), methods=["POST"]),
        Route("/admin/v1/lease", e(api.lease_delete, "admin"), methods=["DELETE"]),
        Route("/admin/v1/watch/state", e(api.watch_state_get, "admin"), methods=["GET"]),
        Route("/admin/v1/watch/state", e(api.watch_state_put, "admin"), methods=["PUT"]),
        Route("/admin/v1/artifacts/{sha256}", e(api.artifact_put, "admin"), methods=["PUT"]),
        Route("/admin/v1/artifacts/{sha256}", e(api.artifact_head, "admin"), methods=["HEAD"]),
        Route("/admin/v1/resources/{kind}/{name}", e(api.resource_get, "admin"), methods=["GET"]),
        Route("/admin/v1/resources/{kind}/{name}", e(api.resource_put, "admin"), methods=["PUT"]),
        Route("/admin/v1/resources/{kind}/{name}", e(api.resource_delete, "admin"), methods=["DELETE"]),
        Route("/admin/v1/models/{name}/traffic", e(api.traffic_get, "admin"), methods=["GET"]),
        Route("/admin/v1/models/{name}/traffic", e(api.traffic_put, "admin"), methods=["PUT"]),
        Route("/admin/v1/models/{name}/stats", e(api.stats, "admin"), methods=["GET"]),
        Route("/admin/v1/models/{name}/observations", e(api.observations, "admin"), methods=["GET"]),
        Route("/v1/prompts", e(api.prompts, "infer"), methods=["GET"]),
        Route("/v1/prompts/{name}", e(api.prompt_get, "infer"), methods=["GET"]),
        Route("/v1/prompts/{name}/render", e(api.prompt_render, "infer"), methods=["POST"]),
        Route("/metrics", e(api.metrics, None), methods=["GET"]),
    ]
    return _InferFirst(api, Starlette(routes=routes, exception_handlers={HTTPException: _not_found}))
