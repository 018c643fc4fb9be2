"""The runner: apply a plan, wave by wave, under the targets' leases, journaling every step.

The runner reads a ``Plan`` and nothing else decides what it does: it
refuses a plan whose own record says it is not applyable, or whose desired
state moved -> takes every involved target's lease -> recovers what an
interrupted apply left (``_recover``) -> refuses the plan if live state
moved -> applies each change in the plan's waves and order, on exactly the
targets the change lists (Model changes through a rollout strategy) ->
releases the leases. The first failure stops the apply: the failed change
is rolled back, later ones are not started, and the journal says so.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from specops._errors import SpecOpsError
from specops._project import Project
from specops.apply._artifacts import read_artifact
from specops.apply._checks import (
    PlanRefusedError,
    check_desired,
    check_live,
    check_policy,
    replan_hint,
)
from specops.apply._journal import Journal, kill_point
from specops.apply._leases import holder_name, leases
from specops.apply._recover import recover
from specops.apply._rollout import Rollout, RolloutFailedError, TargetSession
from specops.apply._traffic import TrafficCounts, TrafficGenerator, rows_from_csv
from specops.plan import DesiredState, Plan, PlanResult, ResourceChange
from specops.spec import LoadedSpec
from specops.targets import AdminError, TargetDownError, driver_for

__all__ = ["ApplyOptions", "ApplyResult", "apply_plan"]


@dataclass(slots=True)
class ApplyOptions:
    project: Project
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


class _Bound:
    """Journal writes with the apply's identity on every entry."""

    def __init__(self, journal: Journal, **identity: Any) -> None:
        self.journal = journal
        self.identity = identity

    def __call__(self, event: str, **fields: Any) -> dict[str, Any]:
        return self.journal.append(event, **self.identity, **fields)

    def at(self, **more: Any) -> _Bound:
        return _Bound(self.journal, **self.identity, **more)


def _sessions(desired: DesiredState, plan: Plan, timeout: float, load_timeout: float) -> dict[str, TargetSession]:
    sessions: dict[str, TargetSession] = {}
    for spec in desired.estate.of_kind("Target"):
        client = driver_for(spec.resource, timeout=timeout, load_timeout=load_timeout)
        sessions[client.name] = TargetSession(client.name, client)
    for name, fingerprint in plan.live.items():
        if name not in sessions and fingerprint.url:
            client = driver_for(name, fingerprint.url, timeout=timeout, load_timeout=load_timeout)
            sessions[name] = TargetSession(name, client)
    return sessions


def apply_plan(
    plan: Plan,
    options: ApplyOptions,
    *,
    desired: DesiredState | None = None,
    replan: Callable[[], PlanResult] | None = None,
) -> ApplyResult:
    """Apply ``plan`` (made now by the pipeline, or read back with ``Plan.from_json``).

    ``desired`` is the estate the plan was made from when the caller has it
    (``apply --auto-approve``); otherwise it is loaded once, at the plan's
    commit, after checking the ref has not moved. ``replan`` makes a fresh
    plan after a recovery changed live state; without it, such a plan is
    refused as stale.
    """
    check_policy(plan)
    if desired is None:
        desired = check_desired(plan, options.project)
    sessions = _sessions(desired, plan, options.timeout, options.load_timeout)
    try:
        return _apply(plan, desired, options, sessions, replan)
    finally:
        for session in sessions.values():
            session.client.close()


def _involved(plan: Plan, sessions: dict[str, TargetSession], open_targets: set[str]) -> list[TargetSession]:
    """Every target the plan saw, every target a change lands on, every target an open apply touched."""
    landing = {t for change in plan.changes() for t in change.targets}
    missing = sorted(landing - set(sessions))
    if missing:
        raise PlanRefusedError(
            f"the plan changes target(s) {', '.join(missing)} that neither the desired state nor the plan "
            "can reach (no url); " + replan_hint(plan)
        )
    names = set(plan.live) | open_targets | landing
    return [sessions[n] for n in sorted(names) if n in sessions]


def _apply(
    plan: Plan,
    desired: DesiredState,
    options: ApplyOptions,
    sessions: dict[str, TargetSession],
    replan: Callable[[], PlanResult] | None,
) -> ApplyResult:
    journal = Journal(options.project.journal or options.project.repo.git_dir / "specops" / "journal.jsonl")
    holder = holder_name()
    open_applies = [o for o in journal.open_applies() if o.holder != holder]
    open_targets: set[str] = set()
    for open_apply in open_applies:
        open_targets.update((open_apply.entries[0].get("detail") or {}).get("targets", {}))
    held = _involved(plan, sessions, {t for t in open_targets if t in sessions})
    apply_id = uuid.uuid4().hex[:16]
    result = ApplyResult(apply_id, plan.plan_id, "no-changes")
    with leases(held, holder, options.lease_ttl_s, options.say):
        kill_point("lease.taken")
        for session in held:
            session.refresh()
        if open_applies:
            result.recovered = recover(open_applies, {s.name: s for s in held}, journal, options.say)
            if result.recovered and replan is not None and any(r["changed"] for r in result.recovered):
                fresh = replan()
                plan, desired = fresh.plan, fresh.desired
                check_policy(plan)
                result.plan_id = plan.plan_id
        try:
            check_live(plan, {s.name: s.revision for s in held})
        except PlanRefusedError as exc:
            if result.recovered:
                raise PlanRefusedError(
                    f"recovered an interrupted apply ({len(result.recovered)} change(s) made consistent); {exc}"
                ) from exc
            raise
        changes = plan.changes()
        if not changes:
            result.message = "No changes. Live state matches the plan."
            return result
        log = _Bound(journal, apply_id=apply_id, plan_id=result.plan_id, commit=plan.desired.commit, holder=holder)
        log(
            "apply.start",
            outcome="started",
            detail={
                "changes": len(changes),
                "targets": {s.name: {"url": s.client.url, "token_env": s.client.token_env} for s in held},
            },
        )
        kill_point("apply.started")
        runner = _Runner(options, desired, {s.name: s for s in held}, log, result, plan)
        try:
            by_id = {c.id: c for c in changes}
            for wave in plan.waves:
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
        kill_point("apply.done")
        result.outcome = "applied"
        result.message = f"Apply complete: {len(result.changes)} change(s) on {len(held)} target(s)."
        return result


class _Runner:
    def __init__(
        self,
        options: ApplyOptions,
        desired: DesiredState,
        sessions: dict[str, TargetSession],
        log: _Bound,
        result: ApplyResult,
        plan: Plan,
    ) -> None:
        self.options = options
        self.desired = desired
        self.sessions = sessions
        self.log = log
        self.result = result
        self.plan = plan

    def change(self, change: ResourceChange) -> None:
        rid, action = change.id, change.action
        spec = self.desired.estate.specs.get(rid)
        if action != "delete" and (spec is None or spec.hash != change.after_hash):
            raise PlanRefusedError(f"{rid}: the desired spec does not match the plan; " + replan_hint(self.plan))
        # Exactly where the plan says: the reviewer approved these targets.
        for target in change.targets:
            session = self.sessions[target]
            log = self.log.at(target=target, resource=rid, action=action)
            previous = session.entry(rid)
            log(
                "change.start",
                outcome="started",
                detail={"after_hash": change.after_hash, "previous": previous},
            )
            self.options.say(f"{rid} on {target}: {action}")
            kill_point("change.started")
            try:
                outcome = self._apply_one(session, rid, action, spec, previous, log)
                kill_point("change.made")
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
        self,
        session: TargetSession,
        rid: str,
        action: str,
        spec: LoadedSpec | None,
        previous: dict[str, Any] | None,
        log: _Bound,
    ) -> str:
        kind, _, name = rid.partition("/")
        client = session.client
        if action in ("delete", "replace") and previous is not None:
            session.advance(client.delete_resource(kind, name, expected_revision=session.revision))
            previous = None
            if action == "delete":
                return "deleted"
        assert spec is not None  # checked against the plan in change()
        doc = spec.resource.canonical()
        if kind != "Model":
            session.advance(client.put_resource(kind, name, doc, spec.hash, expected_revision=session.revision))
            return "applied"
        artifact = doc["spec"]["artifact"]
        if not client.has_artifact(artifact["sha256"]):
            data = read_artifact(self.options.project.repo, self.plan.desired, artifact, f"{rid} on {session.name}")
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
        data = read_artifact(self.options.project.repo, self.plan.desired, artifact, dataset.id)
        rows = rows_from_csv(data, list(tensor["features"]))
        return TrafficGenerator(
            session.client, doc["metadata"]["name"], tensor["name"], rows, rate=self.options.traffic_rate
        )
