"""``specops audit``: one row per applied resource change, and the findings an auditor must see.

Rows are built from the evidence chain alone (what the repository holds);
``--live`` also asks every target what it serves now and reports a version
or spec no record explains. Records are read in chain order:

* ``plan`` and ``policy.decision`` records say what was applied under which
  policies, waivers and pull-request context;
* ``change.start`` .. ``change.done``/``change.failed`` of one apply, target
  and resource make one row; ``analysis`` records are its canary steps,
  ``rollback`` its rollback by analysis; ``recovery`` closes a row an
  interrupted apply left open;
* watch's actions are journaled like an apply whose ``apply.start`` says
  ``detail.by == "watch"`` (no plan: not a finding): its ``change.start``
  (``action: rollback``, ``detail.from``/``to``/``reason``) is a row of its
  own and marks the row that put ``from`` there as rolled back by watch.
  A record whose type ends in ``rollback`` with ``detail.by == "watch"`` (or
  a ``watch.`` type) does the same on its own. A type starting with
  ``alert`` (``alert.fired``) with ``resource``, ``detail.version``,
  ``detail.slo``/``objective``, ``value`` and ``threshold`` is an alert that
  fired while that version served, attached to the row that put it there.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from specops._git import GitRepo
from specops.evidence._record import ChainCheck

__all__ = ["AUDIT_COLUMNS", "Audit", "AuditRow", "Finding", "build_audit", "live_findings"]

AUDIT_COLUMNS = (
    "applied_at", "completed_at", "target", "resource", "action", "version", "artifact_sha256", "fields_changed",
    "plan_id", "commit", "apply_id", "holder", "author", "approvers", "policies", "policy_bundle", "decisions",
    "waivers", "tested", "canary", "outcome", "outcome_by", "objective", "measured", "limit", "alerts",
)  # fmt: skip


@dataclass(slots=True)
class Finding:
    code: str
    message: str
    resource: str | None = None
    target: str | None = None
    plan_id: str | None = None
    at: str | None = None
    seq: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "code": self.code, "message": self.message, "resource": self.resource, "target": self.target,
            "plan_id": self.plan_id, "at": self.at, "seq": self.seq,
        }  # fmt: skip


@dataclass(slots=True)
class AuditRow:
    applied_at: str
    target: str
    resource: str
    action: str
    apply_id: str
    plan_id: str
    commit: str
    holder: str
    completed_at: str = ""
    version: str = ""
    artifact_sha256: str = ""
    fields_changed: list[str] = field(default_factory=list)
    author: str = ""
    approvers: list[str] = field(default_factory=list)
    policies: list[str] = field(default_factory=list)
    policy_bundle: str = ""
    decisions: list[str] = field(default_factory=list)
    waivers: list[str] = field(default_factory=list)
    tested: str = ""
    canary: list[dict[str, Any]] = field(default_factory=list)
    outcome: str = "started"
    outcome_by: str = ""
    objective: str = ""
    measured: float | None = None
    limit: float | None = None
    alerts: list[dict[str, Any]] = field(default_factory=list)
    after_hash: str = ""
    restored_hash: str = ""

    def to_json(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in AUDIT_COLUMNS}

    def flat(self) -> dict[str, str]:
        """One CSV row: lists joined with ``; ``, steps as ``10%:Successful(requests=60)``."""
        out: dict[str, str] = {}
        for name in AUDIT_COLUMNS:
            value = getattr(self, name)
            if name == "canary":
                value = "; ".join(_step_text(s) for s in value)
            elif name == "alerts":
                value = "; ".join(_alert_text(a) for a in value)
            elif isinstance(value, list):
                value = "; ".join(str(v) for v in value)
            elif value is None:
                value = ""
            elif isinstance(value, float):
                value = f"{value:.6g}"
            out[name] = str(value)
        return out


def _step_text(step: dict[str, Any]) -> str:
    text = f"{step.get('step')}:{step.get('outcome')}"
    if step.get("objective"):
        text += f"({step['objective']} measured {_num(step.get('measured'))} limit {_num(step.get('limit'))}"
        text += f", requests={step.get('requests')})"
    elif step.get("requests") is not None:
        text += f"(requests={step.get('requests')})"
    return text


def _alert_text(alert: dict[str, Any]) -> str:
    detail = alert.get("detail") or {}
    what = detail.get("objective") or detail.get("slo") or alert.get("type")
    return f"{alert.get('ts')} {what} value {_num(detail.get('value'))} threshold {_num(detail.get('threshold'))}"


def _num(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, (int, float)) else str(value)


@dataclass(slots=True)
class Audit:
    rows: list[AuditRow] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    records: int = 0
    head: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "records": self.records,
            "head": self.head,
            "findings": [f.to_json() for f in self.findings],
            "changes": [r.to_json() for r in self.rows],
        }


def _parse_ts(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    try:
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


@dataclass(slots=True)
class _Apply:
    record: dict[str, Any]
    plan: dict[str, Any] | None = None
    decisions: dict[str | None, list[str]] = field(default_factory=dict)


class _Builder:
    def __init__(self, repo: GitRepo | None) -> None:
        self.repo = repo
        self.applies: dict[str, _Apply] = {}
        self.plans: dict[str, dict[str, Any]] = {}
        self.open: dict[tuple[str, str, str], AuditRow] = {}
        self.rows: list[AuditRow] = []
        self.served: dict[tuple[str, str], list[AuditRow]] = {}
        self.watch_applies: set[str] = set()
        self._changes: dict[str, dict[str, dict[str, Any]]] = {}
        self.findings: list[Finding] = []
        self._authors: dict[str, str] = {}
        self._on_main: dict[str, bool] = {}

    def feed(self, record: dict[str, Any]) -> None:
        kind = str(record.get("type"))
        apply_id = str(record.get("apply_id") or "")
        if kind == "plan":
            self.plans[apply_id] = record
            return
        if kind == "policy.decision":
            self.applies.setdefault(apply_id, _Apply(record)).decisions.setdefault(record.get("resource"), []).append(
                str(record.get("decision_id"))
            )
            return
        if kind == "apply.start":
            entry = self.applies.setdefault(apply_id, _Apply(record))
            entry.record = record
            entry.plan = self.plans.get(apply_id)
            if (record.get("detail") or {}).get("by") == "watch" or str(record.get("holder")).startswith("watch@"):
                self.watch_applies.add(apply_id)  # watch acting on an alert, not a plan applied
            else:
                self._check_plan(record, entry.plan)
            return
        handler = getattr(self, "_on_" + kind.replace(".", "_"), None)
        if handler is not None:
            handler(record, apply_id)
        elif kind.startswith("alert"):
            self._alert(record)
        elif kind.endswith("rollback") or kind.startswith("watch."):
            self._watch_rollback(record)

    # --- per plan ---

    def _check_plan(self, record: dict[str, Any], plan: dict[str, Any] | None) -> None:
        plan_id, at, seq = record.get("plan_id"), record.get("ts"), record.get("seq")
        if plan is None:
            self.findings.append(Finding("no-plan", "applied without a recorded plan (no plan was stashed for this apply)",
                                         plan_id=plan_id, at=at, seq=seq))  # fmt: skip
            return
        policy = plan.get("policy")
        if policy is None:
            self.findings.append(Finding("no-policy", "applied with --no-policy: no policy judged this plan",
                                         plan_id=plan_id, at=at, seq=seq))  # fmt: skip
        context = (policy or {}).get("context") or {}
        approvals = ((context.get("pull_request") or {}).get("approvals")) or []
        commit = str((plan.get("desired") or {}).get("commit") or record.get("commit") or "")
        if commit and not approvals and self._is_on_main(commit):
            self.findings.append(Finding("unapproved-merge", f"commit {commit[:12]} on main was applied with no approval in its context",
                                         plan_id=plan_id, at=at, seq=seq))  # fmt: skip
        moment = _parse_ts(at)
        for result in (policy or {}).get("results") or []:
            waiver = result.get("waiver")
            if not waiver:
                continue
            expires = _parse_ts(str(waiver.get("expires")) + ("" if "T" in str(waiver.get("expires")) else "T23:59:59Z"))
            if moment is not None and expires is not None and expires < moment:
                self.findings.append(Finding(
                    "expired-waiver",
                    f"waiver of {waiver.get('rule')} for {waiver.get('resource')} (owner {waiver.get('owner')}) "
                    f"expired {waiver.get('expires')} but was used",
                    resource=result.get("resource"), plan_id=plan_id, at=at, seq=seq,
                ))  # fmt: skip

    def _is_on_main(self, commit: str) -> bool:
        if self.repo is None:
            return False
        if commit not in self._on_main:
            heads = [self.repo.ref_target(r) for r in ("refs/heads/main", "refs/remotes/origin/main")]
            self._on_main[commit] = any(h is not None and self.repo.is_ancestor(commit, h) for h in heads)
        return self._on_main[commit]

    def _author(self, commit: str, plan: dict[str, Any] | None) -> str:
        pr = (((plan or {}).get("policy") or {}).get("context") or {}).get("pull_request") or {}
        if pr.get("author"):
            return str(pr["author"])
        if self.repo is None or not commit:
            return ""
        if commit not in self._authors:
            found = self.repo.commits(commit)
            self._authors[commit] = f"{found[0]['author']} <{found[0]['email']}>" if found else ""
        return self._authors[commit]

    # --- per change ---

    def _on_change_start(self, record: dict[str, Any], apply_id: str) -> None:
        target, rid = str(record.get("target")), str(record.get("resource"))
        entry = self.applies.get(apply_id)
        plan = entry.plan if entry else None
        row = AuditRow(
            applied_at=str(record.get("ts")), target=target, resource=rid, action=str(record.get("action") or ""),
            apply_id=apply_id, plan_id=str(record.get("plan_id") or ""), commit=str(record.get("commit") or ""),
            holder=str(record.get("holder") or ""),
        )  # fmt: skip
        detail = record.get("detail") or {}
        row.after_hash = str(detail.get("after_hash") or "")
        row.restored_hash = str((detail.get("previous") or {}).get("hash") or "")
        if apply_id in self.watch_applies:
            row.version, row.outcome_by, row.objective = str(detail.get("to") or ""), "watch", str(detail.get("reason") or "")
            row.policies = ["(watch action: no plan)"]
            self.open[(apply_id, target, rid)] = row
            self.rows.append(row)
            self._rolled_back_by_watch(target, rid, str(detail.get("from") or ""), row.objective, None, None)
            return
        if plan is not None:
            by_id = self._changes.get(apply_id)
            if by_id is None:  # once per plan: an apply of a thousand changes stays linear
                by_id = self._changes[apply_id] = {c.get("id"): c for c in plan.get("changes") or []}
            change: dict[str, Any] = by_id.get(rid) or {}
            row.version = str(change.get("version") or "")
            row.artifact_sha256 = str(change.get("artifact_sha256") or "")
            row.fields_changed = list(change.get("fields") or [])
            tested = change.get("tested") or {}
            if tested.get("dataset"):
                row.tested = f"dataset {tested['dataset']}@{tested.get('dataset_version')} sha256 {tested.get('dataset_sha256')}"
            elif tested.get("evaluation"):
                ev = tested["evaluation"]
                row.tested = f"evaluation {ev.get('suite')} {ev.get('metric')} score {ev.get('score')} (min {ev.get('minScore')})"
            policy = plan.get("policy")
            if policy is None:
                row.policies = ["(no policy: --no-policy)"]
            else:
                context = policy.get("context") or {}
                row.approvers = list(((context.get("pull_request") or {}).get("approvals")) or [])
                row.policy_bundle = f"{str(policy.get('bundle_digest'))[:12]}@{str(policy.get('bundle_commit') or '')[:12]}"
                said: dict[str, str] = {}
                for result in policy.get("results") or []:
                    if result.get("resource") in (rid, None):
                        said[str(result.get("rule"))] = str(result.get("status"))
                        waiver = result.get("waiver")
                        if waiver:
                            row.waivers.append(
                                f"{waiver.get('rule')} by {waiver.get('owner')} until {waiver.get('expires')}: "
                                f"{waiver.get('justification')}"
                            )
                row.policies = [f"{rule}:{said.get(rule, 'pass')}" for rule in policy.get("rules") or []]
        elif entry is None or entry.plan is None:
            row.policies = ["(no plan recorded)"]
        if entry is not None:
            row.decisions = entry.decisions.get(rid, []) + entry.decisions.get(None, [])
        row.author = self._author(row.commit, plan)
        self.open[(apply_id, target, rid)] = row
        self.rows.append(row)

    def _rolled_back_by_watch(
        self, target: str, rid: str, version: str, objective: str, measured: Any, limit: Any
    ) -> None:
        """Mark the row that put ``version`` there (the newest, else the newest of the resource) as rolled back by watch."""
        rows = self.served.get((target, rid)) or []
        row = next((r for r in reversed(rows) if version and r.version == version), rows[-1] if rows else None)
        if row is None:
            return
        row.outcome, row.outcome_by = "rolled_back", "watch"
        row.objective = objective
        row.measured, row.limit = measured, limit

    def _row(self, record: dict[str, Any], apply_id: str) -> AuditRow | None:
        return self.open.get((apply_id, str(record.get("target")), str(record.get("resource"))))

    def _on_analysis(self, record: dict[str, Any], apply_id: str) -> None:
        row = self._row(record, apply_id)
        if row is not None:
            d = record.get("detail") or {}
            row.canary.append({k: d.get(k) for k in ("step", "outcome", "objective", "measured", "limit", "requests")})

    def _on_rollback(self, record: dict[str, Any], apply_id: str) -> None:
        detail = record.get("detail") or {}
        if detail.get("by") == "watch" and apply_id not in self.watch_applies:
            self._watch_rollback(record)
            return
        row = self._row(record, apply_id)
        if apply_id in self.watch_applies:
            if row is not None:
                row.outcome = "rolled_back"
            return
        if row is None:
            return
        row.outcome, row.outcome_by = "rolled_back", "analysis"
        verdict = next((s for s in reversed(row.canary) if s.get("outcome") != "Successful"), None)
        if verdict is not None:
            row.objective = str(verdict.get("objective") or "")
            row.measured, row.limit = verdict.get("measured"), verdict.get("limit")

    def _on_change_done(self, record: dict[str, Any], apply_id: str) -> None:
        row = self.open.pop((apply_id, str(record.get("target")), str(record.get("resource"))), None)
        if row is None:
            return
        row.completed_at = str(record.get("ts"))
        outcome = str(record.get("outcome") or "applied")
        row.outcome = "deleted" if outcome == "deleted" else ("promoted" if row.canary else outcome)
        if apply_id not in self.watch_applies:
            self.served.setdefault((row.target, row.resource), []).append(row)

    def _on_change_failed(self, record: dict[str, Any], apply_id: str) -> None:
        row = self.open.pop((apply_id, str(record.get("target")), str(record.get("resource"))), None)
        if row is None:
            return
        row.completed_at = str(record.get("ts"))
        outcome = str(record.get("outcome") or "failed")
        if row.outcome != "rolled_back":
            row.outcome = "rolled_back" if outcome == "rolled_back" else f"failed ({outcome})"
            if outcome == "rolled_back":
                row.outcome_by = "analysis"

    def _on_recovery(self, record: dict[str, Any], apply_id: str) -> None:
        row = self.open.pop((apply_id, str(record.get("target")), str(record.get("resource"))), None)
        if row is None:
            return
        row.completed_at = str(record.get("ts"))
        outcome = str(record.get("outcome"))
        row.outcome = {"completed": "applied", "not_applied": "not_applied", "rolled_back": "rolled_back"}.get(outcome, outcome)
        row.outcome_by = "recovery"
        if outcome == "completed":
            self.served.setdefault((row.target, row.resource), []).append(row)

    def _watch_rollback(self, record: dict[str, Any]) -> None:
        detail = record.get("detail") or {}
        self._rolled_back_by_watch(
            str(record.get("target")), str(record.get("resource")), str(detail.get("version") or ""),
            str(detail.get("objective") or detail.get("slo") or detail.get("reason") or ""),
            detail.get("value"), detail.get("threshold"),
        )  # fmt: skip

    def _alert(self, record: dict[str, Any]) -> None:
        detail = record.get("detail") or {}
        rid = str(record.get("resource") or (f"Model/{detail['model']}" if detail.get("model") else ""))
        version = str(detail.get("version") or "")
        for (target, resource), rows in self.served.items():
            if resource != rid or (record.get("target") and record.get("target") != target):
                continue
            row = next((r for r in reversed(rows) if not version or r.version == version), None)
            if row is not None:
                row.alerts.append({"ts": record.get("ts"), "type": record.get("type"), "detail": detail})


def build_audit(
    records: Iterable[dict[str, Any]],
    *,
    repo: GitRepo | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    resource: str | None = None,
    check: ChainCheck | None = None,
) -> Audit:
    """The audit of ``records`` (any iterable: one pass); ``check``, fed by that same pass, adds a broken chain."""
    builder = _Builder(repo)
    count = 0
    for record in records:
        builder.feed(record)
        count += 1
    audit = Audit(records=count)
    problem = check.finish() if check is not None else None
    if problem is not None:
        audit.findings.append(Finding("chain-broken", f"the evidence chain is broken: {problem}", seq=problem.seq))

    def keep(at: str | None, rid: str | None) -> bool:
        if resource is not None and rid is not None and rid != resource:
            return False
        moment = _parse_ts(at)
        too_early = moment is not None and since is not None and moment < since
        too_late = moment is not None and until is not None and moment >= until
        return not (too_early or too_late)

    audit.rows = [r for r in builder.rows if keep(r.applied_at, r.resource)]
    audit.findings.extend(f for f in builder.findings if keep(f.at, f.resource))
    return audit


def explained(records: Iterable[dict[str, Any]]) -> dict[tuple[str, str], tuple[set[str], set[str]]]:
    """Per (target, resource): the spec hashes and versions the records say were put there."""
    out: dict[tuple[str, str], tuple[set[str], set[str]]] = {}
    starts: dict[tuple[str, str, str], dict[str, Any]] = {}
    versions: dict[tuple[str, str, str], str] = {}
    for record in records:
        kind = record.get("type")
        key = (str(record.get("apply_id")), str(record.get("target")), str(record.get("resource")))
        if kind == "plan":
            for change in record.get("changes") or []:
                if change.get("version"):
                    versions[(str(record.get("apply_id")), "*", str(change["id"]))] = str(change["version"])
        if kind == "change.start":
            starts[key] = record.get("detail") or {}
        elif kind in ("change.done", "change.failed", "recovery"):
            start = starts.get(key, {})
            hashes, known = out.setdefault(key[1:], (set(), set()))
            previous = start.get("previous") or {}
            if previous.get("hash"):
                hashes.add(str(previous["hash"]))
            if previous.get("version"):
                known.add(str(previous["version"]))
            landed = kind == "change.done" or record.get("outcome") == "completed"
            if landed and start.get("after_hash"):
                hashes.add(str(start["after_hash"]))
                version = versions.get((key[0], "*", key[2])) or start.get("to")
                if version:
                    known.add(str(version))
    return out


def live_findings(
    records: list[dict[str, Any]], targets: dict[str, tuple[str, str | None, str | None]], timeout: float = 10.0
) -> list[Finding]:
    """Compare what every target serves with what the records explain; unreachable targets are listed, not guessed.

    ``targets``: name -> (url, token variable name, ``Target.spec.type``).
    """
    from specops._errors import SpecOpsError
    from specops.targets import driver_for

    known = explained(records)
    findings: list[Finding] = []
    for name, (url, token_env, kind) in sorted(targets.items()):
        try:
            driver = driver_for(name, url, token_env, kind=kind, timeout=timeout, retries=1)
            try:
                state = driver.live_state()
            finally:
                driver.close()
        except SpecOpsError as exc:
            findings.append(Finding("live-not-checked", f"target {name} at {url} not checked: {exc}", target=name))
            continue
        for rid, entry in sorted((state.get("resources") or {}).items()):
            hashes, versions = known.get((name, rid), (set(), set()))
            status = entry.get("status") or {}
            live_hash = str(entry.get("hash") or "")
            if live_hash and live_hash not in hashes:
                version = status.get("version") or ((entry.get("spec") or {}).get("spec") or {}).get("version")
                findings.append(Finding(
                    "live-unexplained",
                    f"{rid} on {name} serves spec {live_hash[:12]}" + (f" (version {version})" if version else "")
                    + " that no record explains (changed behind SpecOps' back?)",
                    resource=rid, target=name,
                ))  # fmt: skip
                continue
            serving = sorted(v for v, w in (status.get("traffic") or {}).items() if w and v not in versions)
            if rid.startswith("Model/") and serving and versions:
                findings.append(Finding(
                    "live-unexplained",
                    f"{rid} on {name} routes traffic to version(s) {', '.join(serving)} that no record put there",
                    resource=rid, target=name,
                ))  # fmt: skip
    return findings
