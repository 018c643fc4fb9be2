"""The serving target's state machine: what is applied, what serves, and every change to it.

Every change (apply, delete, traffic, load/unload) runs under one lock:
check the expected revision, build the new state beside the old one (a new
version is loaded and warmed up in a worker thread while the old one keeps
serving), write the state file atomically, and only then swap the in-memory
references. A refused change leaves file and memory as they were.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from specops._core import canonical_hash
from specops._onnx import load_session
from specops.plan._live import LIVE_FORMAT_VERSION
from specops.serve._errors import HTTPError, StateCorruptError
from specops.serve._guardrails import CompiledGuardrail, compile_guardrail
from specops.serve._metrics import DEFAULT_BOUNDS_MS, FeatureStats, Metrics
from specops.serve._registry import ModelVersion, Route, load_key, load_version
from specops.serve._state import StateStore
from specops.serve._watchstate import WatchStore, clear_rolled_back, parse_rollback, record_rollback
from specops.spec import KINDS, SLO, Dataset, Guardrail, Model, Prompt, Resource, duration_seconds
from specops.spec._guardrail import ClassifierCheck
from specops.spec._slo import LatencyObjective

# Model loads, traffic changes and rollbacks, at info level: what an operator reads in the
# target's log without --access-log (which adds one line per request).
log = logging.getLogger("specops.serve")

__all__ = ["Lease", "ServeTarget"]


_INCARNATION = re.compile(r"^[0-9a-f]{12,64}$")


def new_incarnation() -> str:
    """A random name for one life of a state directory (uuid4, 32 hex digits)."""
    return uuid.uuid4().hex


def rfc3339(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(slots=True)
class Lease:
    holder: str
    expires: float
    # Who the holder is, as its client describes it (host, boot id, pid, process start time):
    # stored and shown so another client can prove the holder dead; the target never judges it.
    identity: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"holder": self.holder, "expires_at": rfc3339(self.expires)}
        if self.identity is not None:
            out["identity"] = self.identity
        return out


_IDENTITY_KEYS = 16
_IDENTITY_VALUE = 256


def check_identity(raw: Any) -> dict[str, Any] | None:
    """A lease holder's identity: a small flat object of strings and integers, or absent."""
    if raw is None:
        return None
    if not isinstance(raw, dict) or len(raw) > _IDENTITY_KEYS:
        raise HTTPError(400, f"'identity' must be an object of at most {_IDENTITY_KEYS} fields")
    for key, value in raw.items():
        scalar = isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))
        if len(key) > 64 or not scalar or len(str(value)) > _IDENTITY_VALUE:
            raise HTTPError(
                400, f"'identity.{key[:64]}' must be a string or an integer of at most {_IDENTITY_VALUE} characters"
            )
    return dict(raw)


@dataclass(slots=True)
class ModelRecord:
    """What is stored for one model: the specs of its loaded versions and how traffic splits."""

    versions: dict[str, dict[str, Any]] = field(default_factory=dict)  # version -> {hash, spec}
    traffic: dict[str, int] = field(default_factory=dict)
    shadow: str | None = None
    unloaded: bool = False
    # version -> {hash, at, reason, by[, branch]}: rolled back, kept until its spec changes
    rolled_back: dict[str, dict[str, Any]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "versions": self.versions, "traffic": self.traffic, "shadow": self.shadow,
            "unloaded": self.unloaded, "rolled_back": self.rolled_back,
        }  # fmt: skip


def _explain(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors()[:3]:
        where = ".".join(str(p) for p in error["loc"]) or "document"
        parts.append(f"{where}: {error['msg']}")
    more = len(exc.errors()) - 3
    return "; ".join(parts) + (f" (and {more} more)" if more > 0 else "")


def parse_resource(kind: str, name: str, spec: Any) -> Resource:
    """Re-validate a canonical document with the spec models; ``HTTPError(422)`` on any problem."""
    cls = KINDS.get(kind)
    if cls is None:
        raise HTTPError(404, f"unknown kind {kind!r} (kinds: {', '.join(KINDS)})")
    if not isinstance(spec, dict):
        raise HTTPError(422, "'spec' must be the resource's canonical document (an object)")
    if spec.get("kind") != kind:
        raise HTTPError(422, f"the document's kind is {spec.get('kind')!r}, the path says {kind!r}")
    try:
        resource = cls.model_validate(spec)
    except ValidationError as exc:
        raise HTTPError(422, f"{kind}/{name} is not a valid spec: {_explain(exc)}") from None
    if resource.name != name:
        raise HTTPError(422, f"the document is {kind}/{resource.name}, the path says {kind}/{name}")
    return resource


class ServeTarget:
    """Everything ``specops serve`` holds; the HTTP layer only translates to and from it."""

    scales = False
    """Whether a Model's ``spec.scaling`` can be honoured (one process cannot; a Ray router can)."""

    def __init__(self, name: str, store: StateStore, *, threads: int = 4) -> None:
        self.name = name
        self.store = store
        # Revisions are "<incarnation>-<counter>": the incarnation is random, made with the state
        # directory, so a wiped or rebuilt directory never hands out a revision used before.
        self.incarnation = new_incarnation()
        self.counter = 0
        self.resources: dict[str, dict[str, Any]] = {}  # id -> {hash, spec}
        self.parsed: dict[str, Resource] = {}
        self.records: dict[str, ModelRecord] = {}
        self.prompt_versions: dict[str, dict[str, dict[str, Any]]] = {}
        self.lease: Lease | None = None
        self.routes: dict[str, Route] = {}
        self.guardrails: dict[str, CompiledGuardrail] = {}
        self.shadows_of: dict[str, list[str]] = {}
        self.metrics = Metrics(
            self.latency_bounds, clock=lambda: self.clock(), generation=lambda: self.counter,
            budget_for=self.budget_seconds,
        )
        self.metrics.info = self._info_rows
        self.executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="specops-infer")
        self.lock = asyncio.Lock()
        self._classifiers: dict[str, Any] = {}
        self.clock: Callable[[], float] = time.time
        self.watch = WatchStore(store.directory, lambda: self.clock())

    @property
    def revision(self) -> str:
        """The opaque revision answered to clients: ``<incarnation>-<counter>``."""
        return f"{self.incarnation}-{self.counter}"

    # -- views --------------------------------------------------------------------

    def of_kind(self, cls: type[Resource]) -> dict[str, Any]:
        return {r.name: r for r in self.parsed.values() if isinstance(r, cls)}

    def latency_bounds(self, model: str) -> list[float]:
        bounds = set(DEFAULT_BOUNDS_MS)
        for slo in self.of_kind(SLO).values():
            if slo.spec.model == model:
                bounds |= {o.threshold_ms for o in slo.spec.objectives if isinstance(o, LatencyObjective)}
        return sorted(bounds)

    def budget_seconds(self, model: str) -> float:
        """The longest SLO window declared for ``model`` (30 days without one): the budget's span."""
        windows = [duration_seconds(s.spec.window) for s in self.of_kind(SLO).values() if s.spec.model == model]
        return max(windows, default=30 * 86400.0)

    def _info_rows(self) -> list[dict[str, Any]]:
        return [
            {"model": name, "version": v, "providers": mv.providers, "ready": True, "weight": route.weights.get(v, 0)}
            for name, route in sorted(self.routes.items())
            for v, mv in sorted(route.versions.items())
        ]

    def model_status(self, name: str) -> dict[str, Any]:
        record = self.records.get(name, ModelRecord())
        route = self.routes.get(name)
        applied = self.parsed.get(f"Model/{name}")
        version = applied.spec.version if isinstance(applied, Model) else None
        versions: dict[str, Any] = {}
        for v, stored in sorted(record.versions.items()):
            mv = route.versions.get(v) if route else None
            versions[v] = {
                "hash": stored["hash"],
                "ready": mv is not None,
                "providers": mv.providers if mv else [],
            }
        current = versions.get(version or "", {})
        status: dict[str, Any] = {
            "version": version,
            "ready": bool(current.get("ready")),
            "providers": current.get("providers", []),
            "versions": versions,
            "traffic": dict(route.weights) if route else {},
            "shadow": route.shadow if route else None,
        }
        if isinstance(applied, Model):
            status["wanted_providers"] = list(applied.spec.runtime.providers)
        if record.unloaded:
            status["unloaded"] = True
        if record.rolled_back:
            status["rolled_back"] = record.rolled_back
        return status

    def _status(self, rid: str) -> dict[str, Any]:
        resource = self.parsed[rid]
        if isinstance(resource, Model):
            return self.model_status(resource.name)
        if isinstance(resource, Prompt):
            return {
                "version": resource.spec.version,
                "versions": sorted(self.prompt_versions.get(resource.name, {})),
                "ready": True,
            }
        if isinstance(resource, Guardrail):
            return {"ready": resource.name in self.guardrails, "checks": len(resource.spec.checks)}
        status: dict[str, Any] = {"ready": True}
        version = getattr(getattr(resource, "spec", None), "version", None)
        if version is not None:
            status["version"] = version
        return status

    def entry(self, rid: str) -> dict[str, Any]:
        stored = self.resources[rid]
        return {"hash": stored["hash"], "spec": stored["spec"], "status": self._status(rid)}

    def live_state(self) -> dict[str, Any]:
        return {
            "format_version": LIVE_FORMAT_VERSION,
            "target": self.name,
            "revision": self.revision,
            "observed_at": rfc3339(self.clock()),
            "resources": {rid: self.entry(rid) for rid in sorted(self.resources)},
        }

    # -- persistence ----------------------------------------------------------

    def _document(
        self,
        resources: dict[str, dict[str, Any]],
        records: dict[str, ModelRecord],
        prompts: dict[str, dict[str, dict[str, Any]]],
        counter: int,
        lease: Lease | None,
    ) -> dict[str, Any]:
        return {
            "target": self.name,
            "incarnation": self.incarnation,
            "revision": counter,
            "resources": resources,
            "models": {n: r.to_json() for n, r in records.items()},
            "prompts": prompts,
            "lease": lease.to_json() | {"expires": lease.expires} if lease else None,
        }

    def _save(self, **changes: Any) -> None:
        """Write the state as it will be once ``changes`` are made (memory is swapped after)."""
        state: dict[str, Any] = {
            "resources": self.resources,
            "records": self.records,
            "prompts": self.prompt_versions,
            "counter": self.counter,
            "lease": self.lease,
        }
        state.update(changes)
        self.store.save(self._document(**state))

    def restore(self) -> None:
        """Load the state directory and bring back exactly what served before the restart."""
        self.store.prepare()
        self.watch.restore()
        self.metrics.observations.attach(self.store.directory)
        data = self.store.load()
        if data is None:
            self._save()
            return
        path = str(self.store.path)
        if data["target"] != self.name:
            raise StateCorruptError(
                path, f"it belongs to target {data['target']!r}, not {self.name!r} (start with --name {data['target']})"
            )
        self.counter = data["revision"]
        incarnation = data.get("incarnation")
        if incarnation is not None:
            if not isinstance(incarnation, str) or not _INCARNATION.match(incarnation):
                raise StateCorruptError(path, f"'incarnation' {incarnation!r} is not 12 to 64 lower-case hex digits")
            self.incarnation = incarnation
        for rid, stored in data["resources"].items():
            kind, _, name = rid.partition("/")
            if not isinstance(stored, dict) or "spec" not in stored or "hash" not in stored:
                raise StateCorruptError(path, f"resource {rid} has no spec or hash")
            try:
                self.parsed[rid] = parse_resource(kind, name, stored["spec"])
            except HTTPError as exc:
                raise StateCorruptError(path, f"resource {rid}: {exc.message}") from None
            self.resources[rid] = {"hash": stored["hash"], "spec": stored["spec"]}
        self.prompt_versions = data.get("prompts") or {}
        lease = data.get("lease")
        if isinstance(lease, dict) and isinstance(lease.get("holder"), str):
            identity = lease.get("identity")
            self.lease = Lease(
                lease["holder"], float(lease.get("expires", 0)), identity if isinstance(identity, dict) else None
            )
        try:
            self.guardrails = self._compile_guardrails(self.of_kind(Guardrail), self.of_kind(Dataset))
        except HTTPError as exc:
            raise StateCorruptError(path, exc.message) from None
        for name, raw in data["models"].items():
            try:
                record = ModelRecord(
                    versions=dict(raw["versions"]),
                    traffic={k: int(v) for k, v in raw["traffic"].items()},
                    shadow=raw.get("shadow"),
                    unloaded=bool(raw.get("unloaded", False)),
                    rolled_back=dict(raw.get("rolled_back") or {}),
                )
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                raise StateCorruptError(path, f"model {name}: {exc!r}") from None
            self.records[name] = record
            if not record.unloaded:
                self.routes[name] = self._load_record(name, record, path)
        self._index_shadows()
        log.info("restored %d resource(s) and %d serving model(s) from %s", len(self.resources), len(self.routes), path)
        self.metrics.observations.retain({(n, v) for n, r in self.records.items() for v in r.versions})
        if incarnation is None:
            # Written before revisions had incarnations: it gets a new one now (a plan made
            # against it is refused as stale once, which is the safe side).
            self._save()

    def _load_record(self, name: str, record: ModelRecord, path: str) -> Route:
        versions: dict[str, ModelVersion] = {}
        for version, stored in record.versions.items():
            try:
                model = parse_resource("Model", name, stored["spec"])
                assert isinstance(model, Model)
                versions[version] = self.load(model, stored["hash"])
                self._attach_features(versions[version])
            except HTTPError as exc:
                raise StateCorruptError(path, f"Model/{name} {version} cannot be served again: {exc.message}") from None
        return Route.build(versions, record.traffic, record.shadow)

    def load(self, model: Model, spec_hash: str) -> ModelVersion:
        """Verify, load and warm up one version (a Ray router overrides it: versions run elsewhere)."""
        return load_version(model, spec_hash, self.store.read_artifact(model.spec.artifact.sha256))

    def _attach_features(self, mv: ModelVersion) -> None:
        stats = self.metrics.version(mv.name, mv.version)
        if stats.features:
            return
        dataset = None
        lineage = mv.model.spec.trained_on
        if lineage is not None:
            found = self.parsed.get(f"Dataset/{lineage.dataset}")
            dataset = found if isinstance(found, Dataset) else None
        for tensor, names in mv.features.items():
            stats.features.append(FeatureStats(tensor, names, [_edges(dataset, n) for n in names]))

    # -- lease ------------------------------------------------------------------

    def current_lease(self) -> Lease | None:
        if self.lease is not None and self.lease.expires <= self.clock():
            return None
        return self.lease

    def check_lease(self, holder: str | None) -> None:
        lease = self.current_lease()
        if lease is not None and holder != lease.holder:
            raise HTTPError(
                409,
                f"the target is leased to {lease.holder} until {rfc3339(lease.expires)}; "
                "send X-SpecOps-Lease with the holder, or wait for the lease to expire",
                **lease.to_json(),
            )

    async def take_lease(
        self, holder: Any, ttl: Any, identity: Any = None, takeover: Any = None
    ) -> dict[str, Any]:
        """Take or renew the lease; ``takeover`` names a holder the caller proved dead.

        A takeover only swaps the lease when ``takeover`` is still its holder (or the
        lease is free): two callers that both proved the same holder dead cannot both win.
        """
        if not isinstance(holder, str) or not 0 < len(holder) <= 256:
            raise HTTPError(400, "'holder' must be a non-empty string (e.g. apply@host:pid)")
        if isinstance(ttl, bool) or not isinstance(ttl, int | float) or not 1 <= ttl <= 86400:
            raise HTTPError(400, "'ttl_s' must be a number of seconds between 1 and 86400")
        if takeover is not None and not isinstance(takeover, str):
            raise HTTPError(400, "'takeover' must be the holder name of the lease to take over (a string)")
        identity = check_identity(identity)
        async with self.lock:
            lease = self.current_lease()
            if lease is not None and lease.holder not in (holder, takeover):
                raise HTTPError(409, f"the target is leased to {lease.holder} until {rfc3339(lease.expires)}", **lease.to_json())
            if identity is None and lease is not None and lease.holder == holder:
                identity = lease.identity  # a renewal that does not repeat the identity keeps it
            new = Lease(holder, self.clock() + float(ttl), identity)
            self._save(lease=new)
            self.lease = new
            answer = new.to_json()
            if lease is not None and lease.holder != holder:
                answer["took_over"] = lease.holder
            return answer

    async def release_lease(self, holder: Any) -> None:
        async with self.lock:
            lease = self.current_lease()
            if lease is None:
                return
            if holder != lease.holder:
                raise HTTPError(409, f"the lease is held by {lease.holder}, not {holder!r}", **lease.to_json())
            self._save(lease=None)
            self.lease = None

    # -- changes ----------------------------------------------------------------

    def _check_revision(self, expected: Any) -> None:
        if not isinstance(expected, str):
            raise HTTPError(400, "'expected_revision' (a string, from GET /admin/v1/state) is required")
        if expected != self.revision:
            raise HTTPError(
                409,
                f"expected revision {expected} but the target is at {self.revision}: "
                "live state moved; read it again and re-plan",
                revision=self.revision,
            )

    def _compile_guardrails(
        self, guardrails: dict[str, Guardrail], datasets: dict[str, Dataset]
    ) -> dict[str, CompiledGuardrail]:
        return {name: compile_guardrail(g, datasets, self._classifier) for name, g in guardrails.items()}

    def _classifier(self, check: ClassifierCheck) -> Any:
        sha = check.artifact.sha256
        session = self._classifiers.get(sha)
        if session is None:
            from specops._onnx import OnnxLoadError

            try:
                session = load_session(self.store.read_artifact(sha))
            except OnnxLoadError as exc:
                raise HTTPError(422, f"classifier artifact {sha}: {exc}") from exc
            self._classifiers[sha] = session
        return session

    def _dependents(self, rid: str) -> list[str]:
        kind, _, name = rid.partition("/")
        users = []
        if kind == "Guardrail":
            for model, route in self.routes.items():
                if any(name in mv.guardrails for mv in route.versions.values()):
                    users.append(f"Model/{model}")
        elif kind == "Dataset":
            for other in self.of_kind(Guardrail).values():
                if any(getattr(c, "dataset", None) == name for c in other.spec.checks):
                    users.append(f"Guardrail/{other.name}")
        return sorted(users)

    async def apply(self, kind: str, name: str, body: Any, lease_holder: str | None) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise HTTPError(400, "the body must be {expected_revision, spec, hash, activate}")
        resource = parse_resource(kind, name, body.get("spec"))
        canonical = resource.canonical()
        spec_hash = canonical_hash(canonical)
        if body.get("hash") != spec_hash:
            raise HTTPError(
                422,
                f"'hash' {body.get('hash')!r} is not the canonical hash of the spec ({spec_hash}); "
                "send Resource.canonical() and specops.canonical_hash of it",
            )
        activate = body.get("activate", True)
        if not isinstance(activate, bool):
            raise HTTPError(400, "'activate' must be true or false")
        rid = f"{kind}/{name}"
        async with self.lock:
            self.check_lease(lease_holder)
            self._check_revision(body.get("expected_revision"))
            if isinstance(resource, Model):
                await self._apply_model(resource, canonical, spec_hash, activate)
            else:
                self._apply_other(resource, canonical, spec_hash)
            return {"revision": self.revision, "resource": self.entry(rid)}

    def _apply_other(self, resource: Resource, canonical: dict[str, Any], spec_hash: str) -> None:
        rid = resource.id
        if resource.KIND == "Target" and resource.name != self.name:
            raise HTTPError(422, f"this is target {self.name}; Target/{resource.name} belongs elsewhere")
        parsed = {**self.parsed, rid: resource}
        guardrails = self.guardrails
        if isinstance(resource, Guardrail | Dataset):
            # A dataset change re-checks every guardrail built on it; a refused one changes nothing.
            kinds = {k: v for k, v in parsed.items()}
            guardrails = self._compile_guardrails(
                {r.name: r for r in kinds.values() if isinstance(r, Guardrail)},
                {r.name: r for r in kinds.values() if isinstance(r, Dataset)},
            )
        prompts = self.prompt_versions
        if isinstance(resource, Prompt):
            prompts = {**prompts, resource.name: {**prompts.get(resource.name, {}), resource.spec.version: canonical}}
        resources = {**self.resources, rid: {"hash": spec_hash, "spec": canonical}}
        self._save(resources=resources, prompts=prompts, counter=self.counter + 1)
        self.resources, self.parsed, self.prompt_versions = resources, parsed, prompts
        self.guardrails = guardrails
        self.counter += 1

    async def _apply_model(self, model: Model, canonical: dict[str, Any], spec_hash: str, activate: bool) -> None:
        name, version = model.name, model.spec.version
        scaling = model.spec.scaling
        if scaling is not None and scaling.scales and not self.scales:
            raise HTTPError(
                422,
                f"Model/{name} asks for spec.scaling (replicas or autoscaling); specops serve is one "
                "process and cannot scale: place the model on a Target of type ray-serve, or drop spec.scaling",
            )
        missing = [g for g in model.spec.guardrails if g not in self.guardrails]
        if missing:
            raise HTTPError(422, f"Model/{name} needs Guardrail/{missing[0]}, which is not applied on this target (apply it first)")
        record = self.records.get(name, ModelRecord())
        route = self.routes.get(name)
        current = route.versions.get(version) if route else None
        if current is not None and current.key == load_key(model):
            new = current.with_spec(model, spec_hash)  # already loaded: instant
        else:
            loop = asyncio.get_running_loop()
            started = time.monotonic()
            # Loaded and warmed up off the event loop: the serving version keeps answering.
            new = await loop.run_in_executor(None, self.load, model, spec_hash)
            log.info(
                "Model/%s %s loaded and warmed up in %.2f s on %s", name, version, time.monotonic() - started,
                ", ".join(new.providers),
            )  # fmt: skip
        serving = {v for v, w in (route.weights.items() if route else ()) if w > 0}
        if activate or not serving:
            weights = {version: 100}
        else:
            weights = {v: w for v, w in route.weights.items() if w > 0} if route else {}
        keep = {version} | serving
        versions = {v: mv for v, mv in (route.versions.items() if route else ()) if v in keep}
        versions[version] = new
        shadow = route.shadow if route and route.shadow in keep and route.shadow != version else None
        if shadow is not None and weights.get(shadow, 0) > 0:
            shadow = None
        # Versions loaded earlier keep the spec they were applied with.
        new_record = ModelRecord(
            versions={
                v: {"hash": spec_hash, "spec": canonical} if v == version else record.versions[v]
                for v in sorted(versions)
            },
            traffic={v: weights.get(v, 0) for v in sorted(versions)},
            shadow=shadow,
            # Another spec for a rolled-back version (or its explicit re-activation) lifts the block.
            rolled_back=clear_rolled_back(record.rolled_back, version, None if activate else spec_hash),
        )
        rid = model.id
        resources = {**self.resources, rid: {"hash": spec_hash, "spec": canonical}}
        records = {**self.records, name: new_record}
        self._save(resources=resources, records=records, counter=self.counter + 1)
        self.resources, self.records = resources, records
        self.parsed = {**self.parsed, rid: model}
        self.routes = {**self.routes, name: Route.build(versions, new_record.traffic, shadow)}
        self.counter += 1
        self.metrics.forget(name, set(versions))
        for mv in versions.values():
            self._attach_features(mv)
        self._index_shadows()
        replaced = sorted(serving - {version})
        if activate and current is not None and replaced:
            # An older version made to serve again over the ones serving: a rollback.
            log.info("Model/%s rolled back: %s serves 100%% (%s no longer serves)", name, version, ", ".join(replaced))
        else:
            log.info("Model/%s %s applied; traffic %s", name, version, _split(new_record.traffic, shadow))

    async def delete(self, kind: str, name: str, expected: Any, lease_holder: str | None) -> dict[str, Any]:
        rid = f"{kind}/{name}"
        async with self.lock:
            self.check_lease(lease_holder)
            self._check_revision(expected)
            if rid not in self.resources:
                raise HTTPError(404, f"{rid} is not applied on this target")
            users = self._dependents(rid)
            if users:
                raise HTTPError(409, f"{rid} is still used by {', '.join(users)}; delete or update those first", used_by=users)
            resources = {k: v for k, v in self.resources.items() if k != rid}
            records = {k: v for k, v in self.records.items() if not (kind == "Model" and k == name)}
            prompts = {k: v for k, v in self.prompt_versions.items() if not (kind == "Prompt" and k == name)}
            self._save(resources=resources, records=records, prompts=prompts, counter=self.counter + 1)
            self.resources, self.records, self.prompt_versions = resources, records, prompts
            self.parsed = {k: v for k, v in self.parsed.items() if k != rid}
            if kind == "Model":
                self.routes = {k: v for k, v in self.routes.items() if k != name}
                self.metrics.forget(name, set())
            if kind == "Guardrail":
                self.guardrails = {k: v for k, v in self.guardrails.items() if k != name}
            self.counter += 1
            self._index_shadows()
            log.info("%s deleted", rid)
            return {"revision": self.revision}

    async def set_traffic(self, name: str, body: Any, lease_holder: str | None) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise HTTPError(400, "the body must be {expected_revision, weights, shadow}")
        async with self.lock:
            self.check_lease(lease_holder)
            self._check_revision(body.get("expected_revision"))
            route = self.route(name)
            weights = body.get("weights")
            if not isinstance(weights, dict) or not weights:
                raise HTTPError(400, "'weights' must be an object of version -> integer percentage")
            for version, weight in weights.items():
                if version not in route.versions:
                    raise HTTPError(422, f"version {version} of {name} is not loaded (loaded: {', '.join(sorted(route.versions))})")
                if isinstance(weight, bool) or not isinstance(weight, int) or not 0 <= weight <= 100:
                    raise HTTPError(400, f"weight of {version} must be an integer percentage 0..100, got {weight!r}")
            total = sum(weights.values())
            if total != 100:
                raise HTTPError(422, f"weights must sum to 100, they sum to {total}")
            shadow = body.get("shadow")
            if shadow is not None:
                if shadow not in route.versions:
                    raise HTTPError(422, f"shadow version {shadow!r} of {name} is not loaded")
                if weights.get(shadow, 0) > 0:
                    raise HTTPError(422, f"shadow version {shadow} also serves traffic; give it weight 0")
            new_route = Route.build(route.versions, weights, shadow)
            record = self.records[name]
            rollback = parse_rollback(body, weights, route.versions)
            rolled_back = record.rolled_back
            resources, parsed = self.resources, self.parsed
            if rollback is not None:
                stored = rollback.get("hash") or record.versions[rollback["version"]]["hash"]
                rolled_back = record_rollback(rolled_back, rollback, stored, self.clock())
                # The version now serving everything becomes the applied spec again, as a
                # re-apply of it would make it: live state then shows what really runs.
                back = next((v for v, w in weights.items() if w == 100), None)
                if back is not None and back in record.versions:
                    entry = record.versions[back]
                    resources = {**resources, f"Model/{name}": {"hash": entry["hash"], "spec": entry["spec"]}}
                    parsed = {**parsed, f"Model/{name}": parse_resource("Model", name, entry["spec"])}
            else:
                for version, weight in weights.items():
                    if weight == 100:  # promoted again (a retried rollout): no longer rolled back
                        rolled_back = clear_rolled_back(rolled_back, version, None)
            new_record = ModelRecord(record.versions, dict(new_route.weights), shadow, record.unloaded, rolled_back)
            records = {**self.records, name: new_record}
            self._save(records=records, resources=resources, counter=self.counter + 1)
            self.records, self.resources, self.parsed = records, resources, parsed
            self.routes = {**self.routes, name: new_route}
            self.counter += 1
            was = {v: w for v, w in route.weights.items() if w > 0}
            if rollback is not None:
                log.info(
                    "Model/%s rolled back: traffic %s (was %s; %s marked rolled back)", name,
                    _split(new_route.weights, shadow), _split(was, None), rollback["version"],
                )  # fmt: skip
            else:
                log.info("Model/%s traffic %s (was %s)", name, _split(new_route.weights, shadow), _split(was, None))
            answer = {"revision": self.revision, "traffic": dict(new_route.weights), "shadow": shadow}
            return answer | ({"rolled_back": rolled_back} if rolled_back else {})

    async def set_loaded(self, name: str, loaded: bool, lease_holder: str | None) -> None:
        """The repository extension's load/unload: stop or resume serving, specs kept."""
        async with self.lock:
            self.check_lease(lease_holder)
            record = self.records.get(name)
            if record is None:
                raise HTTPError(404, f"model {name} is not applied on this target")
            if record.unloaded == (not loaded):
                return
            route = None
            if loaded:
                loop = asyncio.get_running_loop()
                route = await loop.run_in_executor(None, self._load_record, name, record, str(self.store.path))
            new_record = ModelRecord(record.versions, record.traffic, record.shadow, not loaded, record.rolled_back)
            records = {**self.records, name: new_record}
            self._save(records=records, counter=self.counter + 1)
            self.records = records
            if route is not None:
                self.routes = {**self.routes, name: route}
            else:
                self.routes = {k: v for k, v in self.routes.items() if k != name}
            self.counter += 1
            self._index_shadows()

    def route(self, name: str) -> Route:
        route = self.routes.get(name)
        if route is None:
            if name in self.records:
                raise HTTPError(503, f"model {name} is unloaded (POST /v2/repository/models/{name}/load)")
            raise HTTPError(404, f"model {name} is not served by this target")
        return route

    def _index_shadows(self) -> None:
        """Models declared ``shadowOf`` another get a mirrored copy of its requests."""
        index: dict[str, list[str]] = {}
        for name in self.routes:
            applied = self.parsed.get(f"Model/{name}")
            if isinstance(applied, Model) and applied.spec.shadow_of is not None:
                index.setdefault(applied.spec.shadow_of, []).append(name)
        self.shadows_of = index


def _edges(dataset: Dataset | None, feature: str) -> list[float]:
    if dataset is not None:
        profile = dataset.spec.profile
        reference = profile.features.get(feature) if profile else None
        if reference is not None and reference.histogram is not None:
            return list(reference.histogram.edges)
        column = dataset.spec.schema_.column(feature)
        if column is not None and column.min is not None and column.max is not None and column.max > column.min:
            step = (column.max - column.min) / 10
            return [column.min + i * step for i in range(11)]
    return [-1000.0, -100.0, -10.0, -1.0, 0.0, 1.0, 10.0, 100.0, 1000.0]


def _split(weights: Mapping[str, int], shadow: str | None) -> str:
    """``1.0.0=90% 1.1.0=10%`` (serving versions only), and the shadow if there is one."""
    text = " ".join(f"{v}={w}%" for v, w in sorted(weights.items()) if w > 0) or "none"
    return f"{text}, shadow {shadow}" if shadow else text
