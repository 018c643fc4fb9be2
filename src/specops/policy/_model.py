"""What policy evaluation adds to a plan: results, decision records, and the verdict.

These classes are part of the plan document (``Plan.policy``), so their JSON
is covered by ``plan_id`` and published by ``plan_schema()``. Nothing here
depends on a clock or on timing: the same plan, policies, context and
waivers give the same JSON, which is what makes a decision record a proof.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as _field
from typing import Any, Literal

__all__ = [
    "Decision",
    "Outcome",
    "PolicyReport",
    "PolicyResult",
    "PolicyRule",
    "Status",
    "WaiverRef",
]

Outcome = Literal["deny", "warn", "approval"]
"""What a policy said."""

Status = Literal["denied", "warned", "pending_approval", "approved", "waived"]
"""What it means for this plan after enforcement overrides, approvals and waivers."""

BLOCKING: frozenset[str] = frozenset({"denied", "pending_approval"})


@dataclass(frozen=True, slots=True)
class PolicyRule:
    """A rule's identity and documentation, from its ``# METADATA`` annotations."""

    id: str
    title: str
    severity: str
    description: str
    package: str
    path: str
    line: int

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "severity": self.severity,
            "description": self.description,
            "package": self.package,
            "path": self.path,
            "line": self.line,
        }


@dataclass(frozen=True, slots=True)
class WaiverRef:
    """The waiver that turned a result into ``waived`` (it lives in git: path and line)."""

    rule: str
    resource: str
    owner: str
    justification: str
    expires: str
    path: str
    line: int

    def to_json(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "resource": self.resource,
            "owner": self.owner,
            "justification": self.justification,
            "expires": self.expires,
            "path": self.path,
            "line": self.line,
        }


@dataclass(slots=True)
class PolicyResult:
    """One thing a policy said about one resource (or about the whole plan)."""

    rule: str
    title: str
    severity: str
    description: str
    outcome: Outcome
    status: Status
    message: str
    resource: str | None = None
    path: str | None = None
    line: int | None = None
    column: int | None = None
    field: str | None = None
    policy_path: str = ""
    policy_line: int = 0
    approvers: list[str] = _field(default_factory=list)
    approved_by: list[str] = _field(default_factory=list)
    enforcement: str | None = None
    waiver: WaiverRef | None = None
    decision_id: str = ""

    @property
    def blocking(self) -> bool:
        return self.status in BLOCKING

    def to_json(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "title": self.title,
            "severity": self.severity,
            "description": self.description,
            "outcome": self.outcome,
            "status": self.status,
            "message": self.message,
            "resource": self.resource,
            "path": self.path,
            "line": self.line,
            "column": self.column,
            "field": self.field,
            "policy_path": self.policy_path,
            "policy_line": self.policy_line,
            "approvers": self.approvers,
            "approved_by": self.approved_by,
            "enforcement": self.enforcement,
            "waiver": self.waiver.to_json() if self.waiver is not None else None,
            "decision_id": self.decision_id,
        }


@dataclass(frozen=True, slots=True)
class Decision:
    """One evaluation: which policies (bundle hash) judged which input (input hash), and what they said.

    ``id`` is derived from the two hashes, so the same policies on the same
    input always give the same decision id; ``result`` is what the engine
    returned, per policy package, trimmed to the non-empty rule sets.
    """

    id: str
    scope: Literal["resource", "plan"]
    resource: str | None
    bundle_hash: str
    input_hash: str
    result: dict[str, Any]
    error: str | None
    time: str

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "scope": self.scope,
            "resource": self.resource,
            "bundle_hash": self.bundle_hash,
            "input_hash": self.input_hash,
            "result": self.result,
            "error": self.error,
            "time": self.time,
        }


@dataclass(slots=True)
class PolicyReport:
    """The policy section of a plan."""

    engine: str
    bundle_hash: str
    evaluated_at: str
    blocked: bool = False
    counts: dict[str, int] = _field(default_factory=dict)
    rules: list[PolicyRule] = _field(default_factory=list)
    results: list[PolicyResult] = _field(default_factory=list)
    decisions: list[Decision] = _field(default_factory=list)
    context: dict[str, Any] = _field(default_factory=dict)
    source: dict[str, str] | None = None
    """Where the policies were read from: ``{"ref", "commit"}`` with ``--policy-ref``; ``None``: the work tree."""

    def finish(self) -> PolicyReport:
        """Sort the results (blocking first, then by place) and derive the verdict and counts."""
        order = {"denied": 0, "pending_approval": 1, "warned": 2, "approved": 3, "waived": 4}
        self.results.sort(
            key=lambda r: (order[r.status], r.path or "~", r.line or 0, r.rule, r.resource or "", r.message)
        )
        self.blocked = any(r.blocking for r in self.results)
        self.counts = {status: 0 for status in order}
        for result in self.results:
            self.counts[result.status] += 1
        return self

    def to_json(self) -> dict[str, Any]:
        return {
            "engine": self.engine,
            "bundle_hash": self.bundle_hash,
            "evaluated_at": self.evaluated_at,
            "blocked": self.blocked,
            "counts": self.counts,
            "rules": [r.to_json() for r in self.rules],
            "results": [r.to_json() for r in self.results],
            "decisions": [d.to_json() for d in self.decisions],
            "context": self.context,
            "source": self.source,
        }
