"""The runner: apply a plan, wave by wave, under the targets' leases, journaling every step.

The pipeline: refuse a plan policy blocked or whose desired state moved ->
take every involved target's lease -> recover what an interrupted apply left
(``_recover``) -> refuse the plan if live state moved -> apply each change in
the plan's waves and order (Model changes through a rollout strategy) ->
release the leases. The first failure stops the apply: the failed change is
rolled back, later ones are not started, and the journal says so.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from specops._errors import SpecOpsError
from specops.apply._artifacts import read_artifact
from specops.apply._checks import (
    PlanRefusedError,
    check_desired,
    check_live,
    check_policy,
    replan_hint,
)
from specops.apply._journal import Journal
from specops.apply._leases import holder_name, leases
from specops.apply._recover import recover
from specops.apply._rollout import Rollout, RolloutFailedError, TargetSession
from specops.apply._traffic import TrafficCounts, TrafficGenerator, rows_from_csv
from specops.targets import AdminError, TargetDownError, driver_for

__all__ = ["ApplyOptions", "ApplyResult", "apply_plan", "placement"]


@dataclass(slots=True)
class ApplyOptions:
    repo: Path
    journal: Path
    lease_ttl_s: float = 60.0
    traffic_rate: float | None = None
    timeout: float = 30.0
    load_timeout: float = 600.0
    say: Callable[[str], None] = lambda _line: None


@dataclass(slots=True)
class ApplyResult:
    apply_id: str
    plan_id: str
    outcome: str  # applied | no-changes | failed
    changes: list[dict[str, Any]] = field(default_factory=list)
    recovered: list[dict[str, Any]] = field(default_factory=list)
    analysis_wait_s: float = 0.0
    traffic: TrafficCounts = field(default_factory=TrafficCounts)
    message: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "apply_id": self.apply_id,
            "plan_id": self.plan_id,
            "outcome": self.outcome,
            "message": self.message,
            "changes": self.changes,
            "recovered": self.recovered,
            "analysis_wait_s": round(self.analysis_wait_s, 3),
            "traffic": self.traffic.to_json(),
        }


def placement(estate: Any) -> dict[str, set[str]]:
    """Targets each desired resource lives on.

    A Target on itself, a Model on ``spec.targets``; a Prompt or SLO wherever
    its model is; a Dataset or Guardrail wherever a model that uses it is.
    A resource nothing places goes to every target (it costs a target nothing
    to know it, and a plan is never half-applied for want of a home).
    """
    out: dict[str, set[str]] = {}
    targets = {s.resource.name for s in estate.of_kind("Target")}
    models: dict[str, set[str]] = {}
    for spec in estate.of_kind("Target"):
        out[spec.id] = {spec.resource.name}
    for spec in estate.of_kind("Model"):
        placed = set(spec.resource.spec.targets)
        models[spec.resource.name] = placed
        out[spec.id] = placed
        for ref in spec.resource.references():
            if ref.kind in ("Dataset", "Guardrail"):
                out.setdefault(f"{ref.kind}/{ref.name}", set()).update(placed)
    for spec in list(estate.of_kind("Prompt")) + list(estate.of_kind("SLO")):
        out[spec.id] = set(models.get(spec.resource.spec.model, set()))
    for spec in estate:
        if not out.get(spec.id):
            out[spec.id] = set(targets)
    return out


class _Bound:
    """Journal writes with the apply's identity on every entry."""

    def __init__(self, journal: Journal, **identity: Any) -> None:
        self.journal = journal
        self.identity = identity

    def __call__(self, event: str, **fields: Any) -> dict[str, Any]:
        return self.journal.append(event, **self.identity, **fields)

    def at(self, **more: Any) -> _Bound:
        return _Bound(self.journal, **self.identity, **more)


def _sessions(desired: Any, doc: dict[str, Any], timeout: float, load_timeout: float) -> dict[str, TargetSession]:
    sessions: dict[str, TargetSession] = {}
    for spec in desired.estate.of_kind("Target"):
        client = driver_for(spec.resource, timeout=timeout, load_timeout=load_timeout)
        sessions[client.name] = TargetSession(client.name, client)
    for name, fingerprint in (doc.get("live") or {}).items():
        if name not in sessions and fingerprint.get("url"):
            sessions[name] = TargetSession(
                name, driver_for(name, fingerprint["url"], timeout=timeout, load_timeout=load_timeout)
            )
    return sessions


def apply_plan(
    doc: dict[str, Any],
    options: ApplyOptions,
    *,
    replan: Callable[[], dict[str, Any]] | None = None,
) -> ApplyResult:
    """Apply a plan document (``Plan.to_json()`` or a saved plan file's JSON).

    ``replan`` (``apply --auto-approve``) makes a fresh plan after a recovery
    changed live state; without it, such a plan is refused as stale.
    """
    from specops.plan import load_desired_state

    check_policy(doc)
    check_desired(doc, options.repo)
    fp = doc["desired"]
    desired = load_desired_state(
        options.repo,
        ref=fp.get("commit") or "HEAD",
        worktree=bool(fp.get("worktree")),
        specs_root=fp.get("specs_root", "specs"),
    )
    sessions = _sessions(desired, doc, options.timeout, options.load_timeout)
    try:
        return _apply(doc, options, desired, sessions, replan)
    finally:
        for session in sessions.values():
            session.client.close()


def _apply(
    doc: dict[str, Any],
    options: ApplyOptions,
    desired: Any,
    sessions: dict[str, TargetSession],
    replan: Callable[[], dict[str, Any]] | None,
) -> ApplyResult:
    fp = doc["desired"]
    journal = Journal(options.journal)
    holder = holder_name()
    open_applies = [o for o in journal.open_applies() if o.holder != holder]
    involved = {t for t in (doc.get("live") or {}) if t in sessions}
    places = placement(desired.estate)
    for change in doc["resource_changes"]:
        involved.update(places.get(change["id"], ()))
    for open_apply in open_applies:
        involved.update(t for t in (open_apply.entries[0].get("detail") or {}).get("targets", {}) if t in sessions)
    held = [sessions[t] for t in sorted(involved) if t in sessions]
    apply_id = uuid.uuid4().hex[:16]
    result = ApplyResult(apply_id, str(doc["plan_id"]), "no-changes")
    with leases(held, holder, options.lease_ttl_s, {o.holder for o in open_applies}):
        for session in held:
            session.refresh()
        if open_applies:
            result.recovered = recover(open_applies, {s.name: s for s in held}, journal, options.say)
            if result.recovered and replan is not None and any(r["changed"] for r in result.recovered):
                doc = replan()
                check_policy(doc)
                result.plan_id = str(doc["plan_id"])
        try:
            check_live(doc, {s.name: s.revision for s in held})
        except PlanRefusedError as exc:
            if result.recovered:
                raise PlanRefusedError(
                    f"recovered an interrupted apply ({len(result.recovered)} change(s) made consistent); {exc}"
                ) from exc
            raise
        changes = [c for c in doc["resource_changes"] if c["actions"] not in (["no-op"], ["unknown"])]
        if not changes:
            result.message = "No changes. Live state matches the plan."
            return result
        log = _Bound(journal, apply_id=apply_id, plan_id=result.plan_id, commit=fp.get("commit"), holder=holder)
        log(
            "apply.start",
            outcome="started",
            detail={
                "changes": len(changes),
                "targets": {s.name: {"url": s.client.url, "token_env": s.client.token_env} for s in held},
            },
        )
        runner = _Runner(options, desired, {s.name: s for s in held}, places, log, result, doc)
        try:
            by_id = {c["id"]: c for c in changes}
            for wave in doc["waves"]:
                for rid in wave:
                    if rid in by_id:
                        runner.change(by_id[rid])
        except TargetDownError as exc:
            log("apply.interrupted", outcome="interrupted", detail={"error": str(exc)})
            result.outcome = "failed"
            raise
        except SpecOpsError as exc:
            log("apply.failed", outcome="failed", detail={"error": str(exc)})
            result.outcome = "failed"
            raise
        log("apply.done", outcome="applied", detail={"changes": len(result.changes)})
        result.outcome = "applied"
        result.message = f"Apply complete: {len(result.changes)} change(s) on {len(held)} target(s)."
        return result


class _Runner:
    def __init__(
        self,
        options: ApplyOptions,
        desired: Any,
        sessions: dict[str, TargetSession],
        places: dict[str, set[str]],
        log: _Bound,
        result: ApplyResult,
        doc: dict[str, Any],
    ) -> None:
        self.options = options
        self.desired = desired
        self.sessions = sessions
        self.places = places
        self.log = log
        self.result = result
        self.doc = doc

    def _targets(self, change: dict[str, Any]) -> list[str]:
        if change["actions"] == ["delete"]:
            return sorted(n for n, s in self.sessions.items() if s.entry(change["id"]) is not None)
        return sorted(self.places.get(change["id"], ()))

    def change(self, change: dict[str, Any]) -> None:
        rid = change["id"]
        action = "replace" if len(change["actions"]) == 2 else change["actions"][0]
        spec = self.desired.estate.specs.get(rid)
        if action != "delete" and (spec is None or spec.hash != change.get("after_hash")):
            raise PlanRefusedError(f"{rid}: the desired spec does not match the plan; " + replan_hint(self.doc))
        for target in self._targets(change):
            session = self.sessions[target]
            log = self.log.at(target=target, resource=rid, action=action)
            previous = session.entry(rid)
            log(
                "change.start",
                outcome="started",
                detail={"after_hash": change.get("after_hash"), "previous": previous},
            )
            self.options.say(f"{rid} on {target}: {action}")
            try:
                outcome = self._apply_one(session, rid, action, spec, previous, log)
            except RolloutFailedError as exc:
                log("change.failed", outcome="rolled_back", detail={"error": str(exc)})
                raise
            except TargetDownError:
                raise  # left open in the journal: the next apply recovers it
            except AdminError as exc:
                log("change.failed", outcome="refused", detail={"error": str(exc)})
                raise AdminError(target, f"{rid} ({action}) failed, nothing changed for it: {exc}") from exc
            except SpecOpsError as exc:
                log("change.failed", outcome="failed", detail={"error": str(exc)})
                raise
            session.refresh()
            log("change.done", outcome=outcome, detail={"revision": session.revision})
            self.result.changes.append({"resource": rid, "target": target, "action": action, "outcome": outcome})
            self.options.say(f"{rid} on {target}: {outcome}")

    def _apply_one(
        self, session: TargetSession, rid: str, action: str, spec: Any, previous: dict[str, Any] | None, log: _Bound
    ) -> str:
        kind, _, name = rid.partition("/")
        client = session.client
        if action in ("delete", "replace") and previous is not None:
            session.advance(client.delete_resource(kind, name, expected_revision=session.revision))
            previous = None
            if action == "delete":
                return "deleted"
        doc = spec.resource.canonical()
        if kind != "Model":
            session.advance(client.put_resource(kind, name, doc, spec.hash, expected_revision=session.revision))
            return "applied"
        artifact = doc["spec"]["artifact"]
        if not client.has_artifact(artifact["sha256"]):
            data = read_artifact(self.options.repo, self.doc["desired"], artifact, f"{rid} on {session.name}")
            client.upload(artifact["sha256"], data)
            log("rollout.step", outcome="uploaded", detail={"sha256": artifact["sha256"], "bytes": len(data)})
        rollout = Rollout(session, rid, doc, spec.hash, previous, self._objectives(doc), log, self.options.say)
        generator = self._traffic(doc, session) if previous is not None else None
        rollout.traffic = generator
        try:
            if generator is not None:
                generator.start()
            return rollout.run()
        finally:
            self.result.analysis_wait_s += rollout.analysis_wait_s
            if generator is not None:
                counts = generator.stop()
                for key in ("ok", "blocked", "failed"):
                    setattr(self.result.traffic, key, getattr(self.result.traffic, key) + getattr(counts, key))
                self.result.traffic.errors.extend(counts.errors)
                log("rollout.step", outcome="traffic", detail={"generated": counts.to_json()})

    def _objectives(self, doc: dict[str, Any]) -> list[dict[str, Any]]:
        analysis = (doc["spec"].get("rollout") or {}).get("analysis") or {}
        slo = self.desired.estate.get("SLO", analysis.get("slo", ""))
        if slo is None:
            return []
        return list(slo.resource.canonical()["spec"].get("objectives") or [])

    def _traffic(self, doc: dict[str, Any], session: TargetSession) -> TrafficGenerator | None:
        if not self.options.traffic_rate:
            return None
        model = doc["spec"]
        lineage = model.get("trainedOn") or {}
        dataset = self.desired.estate.get("Dataset", lineage.get("dataset", ""))
        tensor = model["signature"]["inputs"][0]
        if dataset is None or not tensor.get("features"):
            self.options.say(f"  (no dataset rows for {doc['metadata']['name']}: --traffic needs spec.trainedOn and named features)")
            return None
        artifact = dataset.resource.canonical()["spec"]["artifact"]
        data = read_artifact(self.options.repo, self.doc["desired"], artifact, dataset.id)
        rows = rows_from_csv(data, list(tensor["features"]))
        return TrafficGenerator(
            session.client, doc["metadata"]["name"], tensor["name"], rows, rate=self.options.traffic_rate
        )
