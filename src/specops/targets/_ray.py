"""The driver for a ``ray-serve`` Target: Ray's Serve REST API plus SpecOps' router on the cluster.

Two urls: the Target's ``url`` is the Ray dashboard, where the cluster is
changed, only ever by ``PUT /api/serve/applications/`` with the whole
declarative config (idempotent) and read by ``GET`` of the same; the
``spec.ray.proxyUrl`` is Serve's HTTP proxy, where SpecOps' router
(``specops.ray``) answers inference and the admin API of ``specops serve``
(``docs/admin-api.md``), backed by a detached actor. So leases, revisions,
resources, traffic, stats and artifacts go through a ``ServeDriver`` on the
proxy, and what runs (the router, one application per loaded model
version, their replicas) through the REST API. Both take the same bearer
token (``auth.tokenEnv``; the cluster runs with ``RAY_AUTH_MODE=token``).

A model version is deployed and running before the router is told about
it; a version that fails (``DEPLOY_FAILED``, ``UNHEALTHY``) fails the step
and the last good config is PUT again, so the serving versions never stop.
Canary steps change the router's ``user_config`` only: reconfigured in
place, no replica restarts.
"""

from __future__ import annotations

import contextlib
import os
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson

from specops.ray._config import (
    DEFAULT_CPUS,
    router_app,
    router_app_name,
    version_app,
    version_app_name,
)
from specops.targets._errors import (
    AdminError,
    MutationUncertainError,
    TargetAuthError,
    TargetDownError,
)
from specops.targets._serve import ServeDriver

__all__ = ["HEALTH", "RayServeDriver", "health_of"]

REST = "/api/serve/applications/"
DEFAULT_ARTIFACT_DIR = "/tmp/specops-ray/artifacts"
FAILED = ("DEPLOY_FAILED", "UNHEALTHY")
HEALTH = {
    "RUNNING": "Healthy",
    "HEALTHY": "Healthy",
    "DEPLOYING": "Progressing",
    "NOT_STARTED": "Progressing",
    "UPDATING": "Progressing",
    "UPSCALING": "Progressing",
    "DOWNSCALING": "Progressing",
    "DELETING": "Progressing",
    "DEPLOY_FAILED": "Degraded",
    "UNHEALTHY": "Degraded",
}
"""Ray Serve application and deployment statuses as SpecOps health."""


def health_of(app: dict[str, Any] | None) -> str:
    """One application's health: Missing, Degraded, Progressing or Healthy (its worst part)."""
    if not app:
        return "Missing"
    found = [HEALTH.get(str(app.get("status")), "Progressing")]
    for deployment in (app.get("deployments") or {}).values():
        found.append(HEALTH.get(str(deployment.get("status")), "Progressing"))
    for state in ("Degraded", "Progressing"):
        if state in found:
            return state
    return "Healthy"


def _replicas(app: dict[str, Any] | None) -> dict[str, Any]:
    out: dict[str, Any] = {"running": 0, "target": 0}
    for deployment in ((app or {}).get("deployments") or {}).values():
        replicas = deployment.get("replicas") or []
        out["running"] += sum(1 for r in replicas if r.get("state") == "RUNNING")
        out["target"] += int(deployment.get("target_num_replicas") or len(replicas))
    return out


def _message(app: dict[str, Any]) -> str:
    parts = [str(app.get("message") or "").strip()]
    for name, deployment in (app.get("deployments") or {}).items():
        if deployment.get("status") in FAILED and deployment.get("message"):
            parts.append(f"{name}: {str(deployment['message']).strip()}")
    text = "; ".join(p for p in parts if p) or str(app.get("status"))
    if "Traceback" not in text:
        return text[:600]
    # A replica's traceback: the line SpecOps wrote (it names the Model) says what is wrong.
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    ours = [line for line in lines if "Model/" in line]
    return (ours or lines)[-1][:600]


class RayServeDriver:
    """One ray-serve target: the dashboard's REST API and SpecOps' router behind Serve's proxy."""

    def __init__(
        self,
        name: str,
        url: str,
        token_env: str | None = None,
        *,
        proxy_url: str | None = None,
        artifact_dir: str = DEFAULT_ARTIFACT_DIR,
        router_cpus: float = DEFAULT_CPUS,
        router_replicas: int = 1,
        timeout: float = 30.0,
        load_timeout: float = 600.0,
        retries: int = 3,
        poll_s: float = 0.25,
    ) -> None:
        self.name = name
        self.url = url.rstrip("/")
        self.token_env = token_env
        parts = urlsplit(self.url)
        self.proxy_url = (proxy_url or f"{parts.scheme}://{parts.hostname}:8000").rstrip("/")
        self.artifact_dir = artifact_dir
        self.router_cpus = router_cpus
        self.router_replicas = router_replicas
        self.timeout = timeout
        self.load_timeout = load_timeout
        self.retries = max(1, retries)
        self.poll_s = poll_s
        self.router = ServeDriver(name, self.proxy_url, token_env, timeout=timeout, load_timeout=load_timeout, retries=retries)
        self._rest = httpx.Client(base_url=self.url, timeout=timeout)
        self._last_good: list[dict[str, Any]] | None = None

    @classmethod
    def from_settings(cls, name: str, url: str, token_env: str | None, settings: Any, **kwargs: Any) -> RayServeDriver:
        """From a Target's ``spec.ray`` (``RaySettings``; ``None``: the defaults)."""
        if settings is not None:
            kwargs.setdefault("proxy_url", settings.proxy_url)
            kwargs.setdefault("artifact_dir", settings.artifact_dir)
            kwargs.setdefault("router_cpus", settings.router_cpus)
            kwargs.setdefault("router_replicas", settings.router_replicas)
        return cls(name, url, token_env, **kwargs)

    def __repr__(self) -> str:
        return f"RayServeDriver({self.name!r}, {self.url!r}, proxy={self.proxy_url!r})"

    def __enter__(self) -> RayServeDriver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.router.close()
        self._rest.close()

    @property
    def lease(self) -> str | None:
        return self.router.lease

    # -- the REST API ----------------------------------------------------------------

    def _headers(self) -> dict[str, str]:
        headers = {"Accept": "application/json"}
        if self.token_env is not None:
            token = os.environ.get(self.token_env)
            if not token:
                raise TargetAuthError(
                    self.name,
                    f"environment variable {self.token_env} (the Target's spec.auth.tokenEnv) is not set; "
                    "export the Ray cluster's token (RAY_AUTH_TOKEN) in it",
                )
            headers["Authorization"] = f"Bearer {token}"
        return headers

    def _rest_call(self, method: str, body: Any = None) -> Any:
        headers = self._headers()
        content = None
        if body is not None:
            content = orjson.dumps(body)
            headers["Content-Type"] = "application/json"
        attempts = self.retries if method == "GET" else 1
        for attempt in range(attempts):
            try:
                response = self._rest.request(method, REST, content=content, headers=headers)
                break
            except httpx.TransportError as exc:
                if attempt + 1 < attempts:
                    time.sleep(0.2 * 2**attempt)
                    continue
                reason = str(exc) or type(exc).__name__
                if method != "GET" and not isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout):
                    raise MutationUncertainError(
                        self.name,
                        f"{method} {REST} was sent to the Ray dashboard {self.url} but no answer came ({reason}); "
                        "read the live state again and decide",
                    ) from exc
                raise TargetDownError(
                    self.name,
                    f"the Ray dashboard {self.url} is unreachable ({reason}) during {method} {REST}; "
                    "start the cluster or fix spec.url, then apply again",
                ) from exc
        if response.status_code in (401, 403):
            hint = f"check {self.token_env}" if self.token_env else "the Target names no auth.tokenEnv"
            raise TargetAuthError(
                self.name,
                f"authentication failed at the Ray dashboard {self.url}: {method} {REST}: "
                f"HTTP {response.status_code} ({hint})",
                response.status_code,
            )
        if response.status_code >= 300:
            raise AdminError(
                self.name,
                f"the Ray dashboard refused {method} {REST}: HTTP {response.status_code}: {response.text[:400]}",
                response.status_code,
            )
        return orjson.loads(response.content) if response.content else {}

    def applications(self) -> dict[str, Any]:
        """Serve's applications as the REST API reports them (name -> details)."""
        answer = self._rest_call("GET")
        return dict(answer.get("applications") or {}) if isinstance(answer, dict) else {}

    def _put(self, applications: list[dict[str, Any]]) -> None:
        parts = urlsplit(self.proxy_url)
        config = {
            "http_options": {"host": parts.hostname, "port": parts.port or 8000},
            "applications": applications,
        }
        self._rest_call("PUT", config)

    def _ours(self, app: str) -> bool:
        return app == router_app_name(self.name) or app.startswith(router_app_name(self.name) + "--")

    def _config(self, apps: dict[str, Any], versions: dict[str, dict[str, Any]], routing: dict[str, Any]) -> list[dict[str, Any]]:
        """The whole config: other owners' applications as deployed, our router, our versions."""
        out = [
            details["deployed_app_config"]
            for name, details in sorted(apps.items())
            if not self._ours(name) and details.get("deployed_app_config")
        ]
        out.append(
            router_app(
                self.name,
                artifact_dir=self.artifact_dir,
                token=os.environ.get(self.token_env) if self.token_env else None,
                routing=routing,
                cpus=self.router_cpus,
                replicas=self.router_replicas,
            )
        )
        out += [versions[name] for name in sorted(versions)]
        return out

    def _wait(self, names: list[str], *, restore: list[dict[str, Any]] | None) -> dict[str, Any]:
        """Until every named application runs; a failed one re-PUTs ``restore`` and raises."""
        deadline = time.monotonic() + self.load_timeout
        healthy_polls = 0
        while True:
            apps = self.applications()
            failed = [n for n in names if (apps.get(n) or {}).get("status") in FAILED]
            if failed:
                message = _message(apps[failed[0]])
                if restore is not None:
                    self._put(restore)
                    # Back where it was before the step returns: the old versions run, healthy.
                    ours = [a["name"] for a in restore if self._ours(a["name"])]
                    with contextlib.suppress(AdminError):
                        self._wait(ours, restore=None)
                raise AdminError(
                    self.name,
                    f"Ray application {failed[0]} is {apps[failed[0]]['status']}: {message}"
                    + ("; the last good config was PUT again (the serving versions never stopped)" if restore else ""),
                    422,
                )
            if all(health_of(apps.get(n)) == "Healthy" for n in names):
                healthy_polls += 1
                if healthy_polls >= 2:  # a PUT's change shows after the controller's next pass
                    return apps
            else:
                healthy_polls = 0
            if time.monotonic() > deadline:
                raise AdminError(
                    self.name,
                    f"Ray applications {', '.join(names)} did not reach RUNNING in {self.load_timeout:g}s "
                    f"(statuses: {', '.join(str((apps.get(n) or {}).get('status')) for n in names)}); "
                    "is the cluster short of CPUs? (`ray status`)",
                )
            time.sleep(self.poll_s)

    def _deployed_versions(self, apps: dict[str, Any]) -> dict[str, dict[str, Any]]:
        return {
            name: details["deployed_app_config"]
            for name, details in apps.items()
            if name.startswith(router_app_name(self.name) + "--") and details.get("deployed_app_config")
        }

    def _ensure_router(self) -> None:
        apps = self.applications()
        name = router_app_name(self.name)
        if health_of(apps.get(name)) == "Healthy":
            return
        routing = ((apps.get(name) or {}).get("deployed_app_config") or {}).get("deployments", [{}])[0].get("user_config")
        config = self._config(apps, self._deployed_versions(apps), routing or {"models": {}})
        if not apps.get(name):
            self._put(config)
        self._wait([name], restore=None)
        self._last_good = config

    # -- reads -----------------------------------------------------------------------

    def live_state(self) -> dict[str, Any]:
        apps = self.applications()
        router = apps.get(router_app_name(self.name))
        if not router:
            # Nothing deployed yet: an empty target (the first apply deploys the router).
            return {
                "format_version": 1,
                "target": self.name,
                "revision": "0",
                "observed_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "resources": {},
                "health": "Missing",
                "ray": {"router": {"health": "Missing"}},
            }
        state = self.router.live_state()
        if str(state.get("revision", "")).endswith("-0"):
            state["revision"] = "0"  # nothing applied yet: the same empty target as before the router
        return self.annotate(state, apps)

    def annotate(self, state: dict[str, Any], apps: dict[str, Any]) -> dict[str, Any]:
        """Add Ray's view to a router's live state: health and replicas per model version."""
        router = apps.get(router_app_name(self.name))
        healths = [health_of(router)]
        for rid, entry in (state.get("resources") or {}).items():
            kind, _, model = rid.partition("/")
            status = entry.get("status")
            if kind != "Model" or not isinstance(status, dict):
                continue
            replicas: dict[str, Any] = {}
            model_health = []
            for version, detail in (status.get("versions") or {}).items():
                app = apps.get(version_app_name(self.name, model, version))
                detail["health"] = health_of(app)
                detail["replicas"] = _replicas(app)
                detail["ray_status"] = (app or {}).get("status", "MISSING")
                replicas[version] = detail["replicas"]["running"]
                model_health.append(detail["health"])
            status["replicas"] = replicas
            status["health"] = next((h for h in ("Missing", "Degraded", "Progressing") if h in model_health), "Healthy")
            healths += model_health
        state["health"] = next((h for h in ("Missing", "Degraded", "Progressing") if h in healths), "Healthy")
        state["ray"] = {
            "router": {"health": health_of(router), "status": (router or {}).get("status"), "replicas": _replicas(router)},
            "dashboard": self.url,
            "proxy": self.proxy_url,
        }
        return state

    def lease_info(self, kind: str = "apply") -> dict[str, Any]:
        if router_app_name(self.name) not in self.applications():
            return {"holder": None}
        return self.router.lease_info(kind)

    def has_artifact(self, sha256: str) -> bool:
        if router_app_name(self.name) not in self.applications():
            return False
        return self.router.has_artifact(sha256)

    def stats(self, model: str) -> dict[str, Any]:
        return self.router.stats(model)

    def observations(self, model: str, windows_s: list[int], *, features_s: list[int] | None = None) -> dict[str, Any]:
        return self.router.observations(model, windows_s, features_s=features_s)

    def watch_state(self) -> dict[str, Any]:
        return self.router.watch_state()

    # -- leases and changes ------------------------------------------------------------

    def acquire(
        self,
        holder: str,
        ttl_s: float,
        *,
        kind: str = "apply",
        identity: dict[str, Any] | None = None,
        takeover: str | None = None,
    ) -> dict[str, Any]:
        self._ensure_router()  # the lease lives in the router's actor
        return self.router.acquire(holder, ttl_s, kind=kind, identity=identity, takeover=takeover)

    def release(self, holder: str | None = None, *, kind: str = "apply") -> None:
        self.router.release(holder, kind=kind)

    def upload(self, sha256: str, data: bytes) -> None:
        self._ensure_router()
        self.router.upload(sha256, data)

    def _expected(self, expected: str | None) -> str | None:
        """A plan made before the router existed expects revision "0": the router's first revision."""
        if expected == "0":
            current = str(self.router.live_state().get("revision", ""))
            # Only while the router has applied nothing: "0" then means the same empty target.
            if current.endswith("-0"):
                return current
        return expected

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
        self._ensure_router()
        expected = self._expected(expected_revision)
        if kind != "Model":
            return self.router.put_resource(kind, name, spec, spec_hash, expected_revision=expected, activate=activate)
        apps = self.applications()
        versions = self._deployed_versions(apps)
        app = version_app(self.name, spec, self.artifact_dir)
        deployed = versions.get(app["name"])
        if deployed is None or _build(deployed) != _build(app):
            # The version runs (verified, warmed up) before the router may route to it.
            before = self._config(apps, versions, self._routing(apps))
            versions[app["name"]] = app
            self._put(self._config(apps, versions, self._routing(apps)))
            self._wait([app["name"]], restore=self._last_good or before)
        answer = self.router.put_resource(kind, name, spec, spec_hash, expected_revision=expected, activate=activate)
        self._sync()
        return answer

    def delete_resource(self, kind: str, name: str, *, expected_revision: str | None) -> dict[str, Any]:
        answer = self.router.delete_resource(kind, name, expected_revision=self._expected(expected_revision))
        if kind == "Model":
            self._sync()
        return answer

    def set_traffic(
        self,
        model: str,
        weights: dict[str, int],
        shadow: str | None,
        *,
        expected_revision: str | None,
        reason: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        answer = self.router.set_traffic(model, weights, shadow, expected_revision=expected_revision, reason=reason)
        self._sync()
        return answer

    def put_watch_state(self, state: dict[str, Any], *, holder: str) -> dict[str, Any]:
        return self.router.put_watch_state(state, holder=holder)

    def _routing(self, apps: dict[str, Any]) -> dict[str, Any]:
        deployed = (apps.get(router_app_name(self.name)) or {}).get("deployed_app_config") or {}
        deployments = deployed.get("deployments") or [{}]
        return dict(deployments[0].get("user_config") or {"models": {}})

    def _sync(self) -> None:
        """PUT what the router now records: its weights (user_config) and the loaded versions only."""
        state = self.router.live_state()
        apps = self.applications()
        deployed = self._deployed_versions(apps)
        models: dict[str, Any] = {}
        keep: dict[str, dict[str, Any]] = {}
        for rid, entry in (state.get("resources") or {}).items():
            kind, _, model = rid.partition("/")
            status = entry.get("status") or {}
            if kind != "Model" or status.get("unloaded"):
                continue
            models[model] = {"weights": status.get("traffic") or {}, "shadow": status.get("shadow")}
            for version in status.get("versions") or {}:
                app = version_app_name(self.name, model, version)
                if app in deployed:
                    keep[app] = deployed[app]
        routing = {"revision": state.get("revision"), "models": models}
        config = self._config(apps, keep, routing)
        self._put(config)
        names = [router_app_name(self.name), *sorted(keep)]
        self._wait(names, restore=self._last_good)
        self._last_good = config

    # -- inference ---------------------------------------------------------------------

    def inference_url(self, model: str) -> str:
        return self.router.inference_url(model)

    def infer(
        self,
        model: str,
        body: bytes | dict[str, Any],
        *,
        headers: dict[str, str] | None = None,
        timeout: float | None = None,
    ) -> httpx.Response:
        return self.router.infer(model, body, headers=headers, timeout=timeout)


def _build(app: dict[str, Any]) -> Any:
    """What makes a version's deployment differ (a guardrail or rollout change does not)."""
    spec = (app.get("args") or {}).get("model", {}).get("spec", {})
    options = app.get("deployments")
    return (spec.get("artifact"), spec.get("runtime"), spec.get("signature"), options)
