"""The Ray Serve application SpecOps ships: the router and one deployment per model version.

``router_app`` is the ingress: the same Starlette app as ``specops serve``
(``serve._app.create_app``: Open Inference Protocol v2, the admin API,
prompts, guardrails, request ids, error bodies, stats) over a
``RouterTarget``, which is ``serve._target.ServeTarget`` with two parts
swapped: its state store is the detached ``RouterState`` actor (``_state``),
and a model version is not loaded in the router but runs in its own
deployment (``version_app``, ONNX Runtime with the Model's providers),
called through a deployment handle.

Only Ray Serve imports this module (``import_path`` in the config the
driver PUTs); nothing else in SpecOps imports Ray.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import ray
from ray import serve

from specops._onnx import OnnxInputError, OnnxRunError, Session, TensorInfo
from specops.ray._config import VERSION_DEPLOYMENT, version_app_name
from specops.ray._state import RouterState, StaleStateError, merge_stats
from specops.serve._app import create_app
from specops.serve._config import ServeConfig
from specops.serve._errors import HTTPError
from specops.serve._metrics import Metrics
from specops.serve._registry import ModelVersion, load_key, load_version
from specops.serve._state import StateStore
from specops.serve._target import ServeTarget
from specops.serve._watchstate import WatchStore
from specops.spec import Model

__all__ = ["Router", "VersionServer", "router_app", "version_app"]

_log = logging.getLogger("specops.ray")
NAMESPACE = "specops"
STATS_PUSH_S = 1.0


def state_actor(target: str) -> Any:
    """The target's state actor: created by the first router replica, found by the others."""
    actor_cls = ray.remote(num_cpus=0)(RouterState)
    return actor_cls.options(
        name=f"specops-state-{target}", namespace=NAMESPACE, lifetime="detached", get_if_exists=True
    ).remote()


# -- the versions ------------------------------------------------------------------------


@serve.deployment(name=VERSION_DEPLOYMENT)
class VersionServer:
    """One model version: verified, loaded and warmed up before Ray marks it running."""

    def __init__(self, model: dict[str, Any], artifact_dir: str) -> None:
        parsed = Model.model_validate(model)
        sha = parsed.spec.artifact.sha256
        path = Path(artifact_dir) / sha
        try:
            artifact = path.read_bytes()
        except OSError as exc:
            raise RuntimeError(f"Model/{parsed.name} {parsed.spec.version}: artifact {path} is unreadable: {exc}") from None
        # A refused version raises here: Ray marks the application DEPLOY_FAILED.
        self.mv = load_version(parsed, "", artifact)

    def describe(self) -> dict[str, Any]:
        s = self.mv.session
        return {
            "providers": s.providers,
            "inputs": [[t.name, t.dtype, list(t.shape)] for t in s.inputs],
            "outputs": [[t.name, t.dtype, list(t.shape)] for t in s.outputs],
            "key": repr(self.mv.key),
        }

    def run(self, feeds: dict[str, np.ndarray], names: list[str]) -> tuple[str, Any]:
        # Failures come back as values: a Ray exception would cost more and lose the class.
        try:
            return "ok", self.mv.session.run(feeds, names)
        except OnnxInputError as exc:
            return "input", str(exc)
        except OnnxRunError as exc:
            return "run", str(exc)


def version_app(args: dict[str, Any]) -> Any:
    return VersionServer.bind(args["model"], args["artifact_dir"])  # type: ignore[attr-defined]


class RemoteSession(Session):
    """A ``Session`` whose runs happen in a version's deployment (called from a worker thread)."""

    __slots__ = ("_handle",)

    def __init__(self, handle: Any, described: dict[str, Any]) -> None:
        self._handle = handle
        self._session = None
        self._errors = ()
        self.providers = list(described["providers"])
        self.inputs = [TensorInfo(n, d, tuple(s)) for n, d, s in described["inputs"]]
        self.outputs = [TensorInfo(n, d, tuple(s)) for n, d, s in described["outputs"]]

    def run(self, feeds: dict[str, np.ndarray], outputs: list[str] | None = None) -> list[np.ndarray]:
        """From a worker thread (blocking)."""
        try:
            answer = self._handle.run.remote(feeds, outputs).result()
        except Exception as exc:  # the version's replicas are gone or failing: the model's error
            raise OnnxRunError(f"the version's Ray deployment failed: {type(exc).__name__}: {exc}") from None
        return _answer(answer)

    async def run_async(self, feeds: dict[str, np.ndarray], outputs: list[str] | None = None) -> list[np.ndarray]:
        """On the router's event loop (``serve._infer`` awaits it: no thread hand-off)."""
        try:
            answer = await self._handle.run.remote(feeds, outputs)
        except Exception as exc:
            raise OnnxRunError(f"the version's Ray deployment failed: {type(exc).__name__}: {exc}") from None
        return _answer(answer)


def _answer(answer: tuple[str, Any]) -> list[np.ndarray]:
    kind, value = answer
    if kind == "input":
        raise OnnxInputError(value)
    if kind == "run":
        raise OnnxRunError(value)
    return list(value)


# -- the router ----------------------------------------------------------------------


class ActorStore(StateStore):
    """``StateStore`` with the document in the state actor; artifacts in the shared directory."""

    def __init__(self, actor: Any, artifact_dir: str) -> None:
        # The directory holds what is per replica (the windowed observations' file).
        super().__init__(Path(tempfile.mkdtemp(prefix="specops-router-")))
        self.artifacts = Path(artifact_dir)
        self.path = self.artifacts / "(ray actor)"
        self.actor = actor
        self.generation = 0
        self.incarnation = ""
        self.prefetched: dict[str, Any] | None = None
        self.prefetched_watch: dict[str, Any] | None = None

    def prepare(self) -> None:
        self.artifacts.mkdir(parents=True, exist_ok=True)
        self.directory.mkdir(parents=True, exist_ok=True)

    def load(self) -> dict[str, Any] | None:
        doc = self.prefetched
        self.prefetched = None
        return doc

    def save(self, document: dict[str, Any]) -> None:
        self.generation = self.call(self.actor.save, {"format_version": 1, **document})

    def call(self, method: Any, document: dict[str, Any]) -> int:
        """A compare-and-swap save in the actor; a stale one is a 409 (read the live state again)."""
        try:
            return int(ray.get(method.remote(document, self.generation)))
        except StaleStateError as exc:  # another router replica changed the state first
            raise HTTPError(409, f"the router state moved ({exc}); read the live state again", revision="") from None
        except ray.exceptions.RayTaskError as exc:
            if isinstance(exc.cause, StaleStateError):
                raise HTTPError(409, f"the router state moved ({exc.cause}); read it again", revision="") from None
            raise


class ActorWatchStore(WatchStore):
    """``WatchStore`` with its document (the watch lease, the alert state) in the state actor."""

    def __init__(self, store: ActorStore, clock: Any) -> None:
        super().__init__(store.directory, clock)
        self.store = store

    def restore(self) -> None:
        data = self.store.prefetched_watch
        self.store.prefetched_watch = None
        self.holder, self.expires, self.state, self.updated_at, self.updated_by = None, 0.0, {}, None, None
        if not isinstance(data, dict):
            return
        lease = data.get("lease") or {}
        if isinstance(lease.get("holder"), str):
            self.holder, self.expires = lease["holder"], float(lease.get("expires", 0))
        state = data.get("state")
        self.state = state if isinstance(state, dict) else {}
        self.updated_at, self.updated_by = data.get("updated_at"), data.get("updated_by")

    def _save(self, holder: str | None, expires: float, state: dict[str, Any], updated_at: float | None, by: str | None) -> None:
        document = {
            "lease": {"holder": holder, "expires": expires} if holder else None,
            "state": state, "updated_at": updated_at, "updated_by": by,
        }  # fmt: skip
        self.store.generation = self.store.call(self.store.actor.save_watch, document)


class SharedMetrics(Metrics):
    """Local counters plus the other replicas' (living or gone) last snapshots, from the actor."""

    def __init__(self, target: RouterTarget) -> None:
        # As ServeTarget builds its Metrics (the windowed observations stay per replica).
        super().__init__(
            target.latency_bounds, clock=lambda: target.clock(), generation=lambda: target.counter,
            budget_for=target.budget_seconds,
        )
        self.target = target

    def stats(self, model: str, versions: list[str]) -> dict[str, Any]:
        own = super().stats(model, versions)
        actor = self.target.actor_store.actor
        actor.push_stats.remote(self.target.replica, model, own)
        others = ray.get(actor.stats.remote(model, self.target.replica))
        merged = merge_stats([own, *others])
        return {v: merged[v] for v in versions if v in merged}


class RouterTarget(ServeTarget):
    """``ServeTarget`` whose state lives in the actor and whose versions run in their own deployments."""

    scales = True  # each version's replicas are its Ray deployment's (spec.scaling)

    def __init__(self, name: str, artifact_dir: str, replica: str) -> None:
        store = ActorStore(state_actor(name), artifact_dir)
        super().__init__(name, store, threads=32)
        self.actor_store = store
        self.watch = ActorWatchStore(store, lambda: self.clock())
        self.replica = replica
        self.metrics = SharedMetrics(self)
        self.metrics.info = self._info_rows
        self.described: dict[str, dict[str, Any]] = {}
        self.routing: dict[str, Any] = {}

    def load(self, model: Model, spec_hash: str) -> ModelVersion:
        app = version_app_name(self.name, model.name, model.spec.version)
        handle = serve.get_deployment_handle(VERSION_DEPLOYMENT, app_name=app)
        described = self.described.get(app)
        if (described is None or described["key"] != repr(load_key(model))) and not _on_event_loop():
            # A new (or rebuilt) version, in a worker thread: ask its deployment.
            try:
                described = handle.describe.remote().result(timeout_s=60)
            except Exception as exc:
                raise HTTPError(
                    422, f"Model/{model.name} {model.spec.version}: its Ray application {app} is not running ({exc})"
                ) from None
            self.described[app] = described
        if described is None:
            raise HTTPError(422, f"Model/{model.name} {model.spec.version}: its Ray application {app} is not running")
        if described["key"] != repr(load_key(model)):
            raise HTTPError(
                409, f"Model/{model.name} {model.spec.version}: application {app} runs another build of this "
                "version (artifact or runtime differ); the driver deploys it before committing",
            )
        features = {t.name: list(t.features) for t in model.spec.signature.inputs if t.features}
        session = RemoteSession(handle, described)
        return ModelVersion(model.name, model.spec.version, spec_hash, model, session, load_key(model), features)

    async def refresh(self, *, force: bool = False) -> None:
        """Re-read the actor when another replica (or a restart) moved it; a no-op otherwise."""
        store = self.actor_store
        actor = store.actor
        generation = await actor.generation_now.remote()
        if generation == store.generation and not force and store.incarnation:
            return
        async with self.lock:
            generation, incarnation, document = await actor.load.remote()
            if document is None:  # a new actor: store the empty state (no blocking call on the loop)
                document = {"format_version": 1, **self._document({}, {}, {}, 0, None)}
                generation = await actor.save.remote(document, generation)
            apps = set()
            for name, record in ((document or {}).get("models") or {}).items():
                if not record.get("unloaded"):
                    for version in record.get("versions", {}):
                        apps.add(version_app_name(self.name, name, version))
            for app in apps if force else apps - self.described.keys():
                with contextlib.suppress(Exception):  # a missing app is reported when it is used
                    handle = serve.get_deployment_handle(VERSION_DEPLOYMENT, app_name=app)
                    self.described[app] = await handle.describe.remote()
            store.generation, store.incarnation = generation, incarnation
            store.prefetched = document
            store.prefetched_watch = await actor.load_watch.remote()
            self.resources, self.parsed, self.records, self.routes = {}, {}, {}, {}
            self.prompt_versions, self.lease, self.guardrails = {}, None, {}
            try:
                self.restore()
            except Exception:
                _log.exception("router %s could not rebuild its state from the actor", self.name)
                raise


def _on_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def _replica_id() -> str:
    try:
        return str(serve.get_replica_context().replica_id.unique_id)
    except Exception:  # pragma: no cover - outside a replica
        return f"pid{os.getpid()}"


@serve.deployment(name="Router")
@serve.ingress()
class Router:
    """The ingress: ``specops serve``'s HTTP surface over the shared state actor."""

    def __init__(self, target: str, artifact_dir: str, token_sha256: str | None) -> None:
        self.t = RouterTarget(target, artifact_dir, _replica_id())
        self.token_sha256 = token_sha256
        self._pusher: asyncio.Task[None] | None = None

    async def reconfigure(self, user_config: dict[str, Any]) -> None:
        # The driver PUTs the routing after every change: every replica re-reads the actor.
        self.t.routing = dict(user_config or {})
        await self.t.refresh(force=True)
        if self._pusher is None:
            self._pusher = asyncio.get_running_loop().create_task(self._push_stats())

    async def _push_stats(self) -> None:
        # So a replica that dies (or is replaced) leaves its counts behind in the actor.
        while True:
            await asyncio.sleep(STATS_PUSH_S)
            with contextlib.suppress(Exception):
                for name, route in list(self.t.routes.items()):
                    own = Metrics.stats(self.t.metrics, name, sorted(route.versions))
                    self.t.actor_store.actor.push_stats.remote(self.t.replica, name, own)

    def __serve_build_asgi_app__(self) -> Any:
        # The router never sees the token: it compares a digest (ServeConfig wants a string to
        # compare; the check below runs first, so the app itself needs none).
        config = ServeConfig(state_dir=Path(self.t.actor_store.artifacts), name=self.t.name, insecure_local=True)
        inner = create_app(self.t, config)
        digest = self.token_sha256
        target = self.t

        async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
            path = scope.get("path", "") if scope.get("type") == "http" else ""
            if digest is not None and (path.startswith("/admin/") or path.startswith("/v2/repository")):
                header = dict(scope.get("headers") or []).get(b"authorization", b"").decode("latin-1")
                scheme, _, given = header.partition(" ")
                ok = scheme.lower() == "bearer" and hmac.compare_digest(
                    hashlib.sha256(given.strip().encode()).hexdigest(), digest
                )
                if not ok:
                    body = b'{"error":"a valid \'Authorization: Bearer <token>\' header is required"}'
                    await send({"type": "http.response.start", "status": 401, "headers": [
                        (b"content-type", b"application/json"), (b"www-authenticate", b"Bearer")]})
                    await send({"type": "http.response.body", "body": body})
                    return
            if path.startswith("/admin/") or path.startswith("/v1/prompts"):
                await target.refresh()
            await inner(scope, receive, send)

        return app


def router_app(args: dict[str, Any]) -> Any:
    return Router.bind(args["target"], args["artifact_dir"], args.get("token_sha256"))  # type: ignore[attr-defined]
