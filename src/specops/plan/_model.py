"""The plan: what would change, in what order, what it was computed from, and whether it may be applied.

A plan is a contract with its consumers (policies, the PR comment, the
runner that applies it). ``Plan`` is one frozen, typed value; its JSON is
the dump of one pydantic ``TypeAdapter(Plan)``, which also publishes the
JSON Schema (``plan_schema()``, ``schemas/plan.json``) and reads a saved plan
back (``Plan.from_json``), so what is written, what is documented and what
apply accepts cannot drift apart.

``plan_id`` is the SHA-256 of everything else in the document; a saved plan
records the desired fingerprint (commit, tree, content) and each target's
live revision, which is what apply needs to refuse a stale plan. Whether a
plan may be applied is decided when it is made (Terraform's ``Applyable``):
``applyable`` and ``refusals`` say so and why (a policy denial or missing
approval, a change of unknown effect, a protected resource), and apply
enforces that record; it never judges the plan again.

Sensitive values never reach a plan: a field whose key mentions a token,
secret, password, credential or private key is masked in before/after
documents and diffs (``specops._mask``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import uuid
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import orjson
from pydantic import ConfigDict, ValidationError

from specops._errors import SpecOpsError
from specops._mask import MASK, is_sensitive, mask
from specops.plan._desired import DesiredFingerprint, Review
from specops.plan._json import JsonDump, adapter
from specops.policy._model import PolicyReport

__all__ = [
    "MASK",
    "PLAN_FORMAT_VERSION",
    "BlockedChange",
    "FieldChange",
    "Plan",
    "PlanFormatError",
    "Refusal",
    "ResourceChange",
    "Summary",
    "TargetFingerprint",
    "is_sensitive",
    "mask",
    "plan_id_of",
    "plan_schema",
]

PLAN_FORMAT_VERSION = 1
_ID_SLICE = 2048  # entries written (and hashed) at a time by compute_id

Action = Literal["create", "update", "delete", "no-op", "unknown"]
Reason = Literal["missing_live", "spec_changed", "drifted", "orphaned", "in_sync", "target_unreachable"]


@dataclass(slots=True)
class FieldChange(JsonDump):
    path: str
    before: Any
    after: Any
    sensitive: bool = False
    forces_replacement: bool = False


@dataclass(slots=True)
class ResourceChange(JsonDump):
    """One resource's change; ``actions`` reads like Terraform's (``["delete", "create"]`` is a replace).

    ``targets`` is where the change lands, decided by the planner; apply writes there and nowhere else.
    """

    id: str
    kind: str
    name: str
    actions: list[Action]
    reason: Reason
    before_hash: str | None = None
    after_hash: str | None = None
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    diffs: list[FieldChange] = field(default_factory=list)
    path: str | None = None
    line: int | None = None
    targets: list[str] = field(default_factory=list)
    wave: int | None = None

    @property
    def action(self) -> str:
        """``create``, ``update``, ``replace``, ``delete``, ``no-op`` or ``unknown``."""
        return "replace" if len(self.actions) == 2 else self.actions[0]


@dataclass(slots=True)
class BlockedChange(JsonDump):
    """A change the plan refuses: a protected resource's deletion (or replacement), or a Model
    version a target rolled back (``specops.watch.rolled_back_blocks``)."""

    id: str
    actions: list[Action]
    reason: Literal["protected", "rolled_back"]
    message: str


@dataclass(frozen=True, slots=True)
class TargetFingerprint(JsonDump):
    revision: str | None
    source: Literal["http", "file", "none"]
    reachable: bool
    url: str | None = None


@dataclass(slots=True)
class Summary(JsonDump):
    create: int = 0
    update: int = 0
    replace: int = 0
    delete: int = 0
    no_op: int = 0
    unknown: int = 0
    blocked: int = 0

    @property
    def changes(self) -> int:
        return self.create + self.update + self.replace + self.delete


@dataclass(frozen=True, slots=True)
class Refusal(JsonDump):
    """Why a plan may not be applied: ``policy`` (a denial or a missing approval), ``unknown``
    (a target was unreachable), ``protected`` (it would delete or replace a protected resource) or
    ``rolled_back`` (it would apply a Model version a target rolled back, with the very same spec)."""

    reason: Literal["policy", "unknown", "protected", "rolled_back"]
    message: str


class PlanFormatError(SpecOpsError):
    """A document is not a valid plan of this format version (the message reads after its name)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Plan(JsonDump):
    """A plan, as ``specops plan --out`` saves it and ``specops apply`` applies it (frozen)."""

    __pydantic_config__: ClassVar[ConfigDict] = ConfigDict(extra="forbid")

    format_version: int = PLAN_FORMAT_VERSION
    plan_id: str = ""
    specops_version: str = ""
    desired: DesiredFingerprint
    live: dict[str, TargetFingerprint]
    target: str | None = None
    summary: Summary
    resource_changes: list[ResourceChange]
    waves: list[list[str]]
    blocked_deletions: list[BlockedChange] = field(default_factory=list)
    review: Review | None = None
    policy: PolicyReport | None = None
    """What the policies said (``None`` when the project has none, or with ``--no-policy``)."""
    policy_absent: Literal["none_configured", "skipped"] | None = None
    """Why ``policy`` is ``None``: the project configures no policies, or ``--no-policy`` skipped them."""
    applyable: bool = True
    refusals: list[Refusal] = field(default_factory=list)

    @property
    def has_changes(self) -> bool:
        return self.summary.changes > 0 or self.summary.blocked > 0

    @property
    def policy_blocked(self) -> bool:
        """A denial or a missing approval: the plan may not be applied."""
        return self.policy is not None and self.policy.blocked

    def changes(self) -> list[ResourceChange]:
        """The changes apply makes (not no-ops, not unknowns), in wave order."""
        return [c for c in self.resource_changes if c.action not in ("no-op", "unknown")]

    def finish(
        self, policy: PolicyReport | None = None, *, absent: Literal["none_configured", "skipped"] | None = None
    ) -> Plan:
        """This plan with the policy verdict (or why there is none), whether it is applyable and why, and its id."""
        refusals = _refusals(self, policy)
        done = dataclasses.replace(
            self, policy=policy, policy_absent=None if policy is not None else absent,
            refusals=refusals, applyable=not refusals, plan_id="",
        )  # fmt: skip
        return dataclasses.replace(done, plan_id=done.compute_id())

    def compute_id(self) -> str:
        """SHA-256 over the whole document but its id: same inputs, same plan, same id.

        The very bytes ``plan_id_of(self.to_json())`` hashes, written a slice of
        entries at a time (a plan of 100,000 creates is never one JSON copy in
        memory); an entry without documents or diffs (every in-sync resource:
        most of a warm plan) is written straight to its JSON object instead of
        through pydantic.
        """
        marker = f"resource_changes:{uuid.uuid4().hex}"
        body = adapter(Plan).dump_python(dataclasses.replace(self, resource_changes=[]), mode="json")
        body.pop("plan_id", None)
        body["resource_changes"] = marker
        head, found, tail = orjson.dumps(body, option=orjson.OPT_SORT_KEYS).partition(orjson.dumps(marker))
        if not found or orjson.dumps(marker) in tail:  # the marker is unique: cannot happen
            return plan_id_of(self.to_json())
        digest = hashlib.sha256(head + b"[")
        dump = adapter(ResourceChange).dump_python
        changes = self.resource_changes
        for start in range(0, len(changes), _ID_SLICE):
            part = [
                _bare_json(c) if c.before is None and c.after is None and not c.diffs else dump(c, mode="json")
                for c in changes[start : start + _ID_SLICE]
            ]
            if start:
                digest.update(b",")
            digest.update(orjson.dumps(part, option=orjson.OPT_SORT_KEYS)[1:-1])
        digest.update(b"]" + tail)
        return digest.hexdigest()

    def dump_json(self) -> str:
        """The plan file: the model's JSON dump, indented, with a final newline."""
        return adapter(Plan).dump_json(self, indent=2).decode() + "\n"

    @classmethod
    def from_json(cls, text: str | bytes) -> Plan:
        """Read a saved plan, validated against the model that writes it and checked against its id."""
        try:
            data = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            raise PlanFormatError(f"is not a plan (invalid JSON: {exc})") from exc
        if not isinstance(data, dict) or "plan_id" not in data or "resource_changes" not in data:
            raise PlanFormatError("is not a plan (save one with `specops plan --out FILE`)")
        if plan_id_of(data) != data["plan_id"]:
            raise PlanFormatError(
                "was modified after it was made (its plan_id does not match its content); "
                "re-plan with `specops plan --out FILE` and apply the new plan"
            )
        if data.get("format_version") != PLAN_FORMAT_VERSION:
            raise PlanFormatError(
                f"has plan format_version {data.get('format_version')!r}, which is not supported "
                f"(this SpecOps applies version {PLAN_FORMAT_VERSION}; re-plan with this version)"
            )
        try:
            plan: Plan = adapter(Plan).validate_python(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "document"
            raise PlanFormatError(f"is not a valid plan: {where}: {first['msg']}") from exc
        return plan


def _refusals(plan: Plan, policy: PolicyReport | None) -> list[Refusal]:
    out: list[Refusal] = []
    for result in policy.results if policy is not None else []:
        if not result.blocking:
            continue
        text = result.message
        if result.status == "pending_approval" and result.approvers:
            text = f"{text} (needs approval by {', '.join(result.approvers)})"
        out.append(Refusal("policy", f"{result.resource or 'plan'}: {text} [{result.rule}]"))
    unknown = [c.id for c in plan.resource_changes if c.action == "unknown"]
    if unknown:
        out.append(
            Refusal("unknown", f"{len(unknown)} change(s) of unknown effect ({', '.join(unknown[:5])}): "
                    "a target was unreachable when the plan was made")
        )  # fmt: skip
    protected = [b.id for b in plan.blocked_deletions if b.reason == "protected"]
    if protected:
        out.append(Refusal("protected", f"it would delete or replace protected resources ({', '.join(protected)})"))
    out += [Refusal("rolled_back", b.message) for b in plan.blocked_deletions if b.reason == "rolled_back"]
    return out


def _bare_json(change: ResourceChange) -> dict[str, Any]:
    """The JSON object of a change without documents or diffs, as the pydantic dump writes it."""
    return {
        "id": change.id, "kind": change.kind, "name": change.name, "actions": list(change.actions),
        "reason": change.reason, "before_hash": change.before_hash, "after_hash": change.after_hash,
        "before": None, "after": None, "diffs": [], "path": change.path, "line": change.line,
        "targets": list(change.targets), "wave": change.wave,
    }  # fmt: skip


def plan_id_of(document: dict[str, Any]) -> str:
    """The id of a plan document (``Plan.to_json()`` or a saved plan): SHA-256 of the
    document without ``plan_id``, keys sorted. Apply recomputes it to detect edits."""
    body = {k: v for k, v in document.items() if k != "plan_id"}
    return hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()


def plan_schema() -> dict[str, Any]:
    """JSON Schema of a plan document, generated from the same adapter that writes and reads it."""
    schema = adapter(Plan).json_schema(mode="serialization")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = f"SpecOps plan (format_version {PLAN_FORMAT_VERSION})"
    return schema
