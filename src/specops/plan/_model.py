"""The plan document: what would change, in what order, and what it was computed from.

A plan is a contract with its consumers (policies, the PR comment, the
runner that applies it), so its JSON carries ``format_version`` and
``plan_schema()`` publishes its JSON Schema, generated from these classes.
``plan_id`` is the SHA-256 of everything else in the document; a saved plan
records the desired fingerprint (commit, tree, content) and each target's
live revision, which is what apply needs to refuse a stale plan.

Sensitive values never reach a plan: a field whose key mentions a token,
secret, password, credential or private key is masked in before/after
documents and diffs. Keys ending in ``Env`` are exempt: they *name* an
environment variable (``auth.tokenEnv``), which is what specs are for.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import orjson
from pydantic import TypeAdapter

from specops.plan._desired import DesiredFingerprint, Review
from specops.policy._model import PolicyReport
from specops.spec._document_checks import names_a_credential

__all__ = [
    "MASK",
    "PLAN_FORMAT_VERSION",
    "BlockedChange",
    "FieldChange",
    "Plan",
    "ResourceChange",
    "Summary",
    "TargetFingerprint",
    "is_sensitive",
    "mask",
    "plan_id_of",
    "plan_schema",
]

PLAN_FORMAT_VERSION = 1
MASK = "(sensitive)"

Action = Literal["create", "update", "delete", "no-op", "unknown"]
Reason = Literal["missing_live", "spec_changed", "drifted", "orphaned", "in_sync", "target_unreachable"]


def is_sensitive(key: str) -> bool:
    """A key that names a credential, by whole words: ``apiKey`` and ``client_secret`` are,
    ``maxTokens`` and ``tokenizer`` are not (the same rule that rejects such labels in specs)."""
    if key.endswith("Env"):
        return False
    return names_a_credential(key)


def mask(value: Any) -> Any:
    """A copy of a JSON-like value with sensitive keys' values replaced by ``MASK``."""
    if isinstance(value, dict):
        return {k: MASK if is_sensitive(k) else mask(v) for k, v in value.items()}
    if isinstance(value, list):
        return [mask(v) for v in value]
    return value


@dataclass(slots=True)
class FieldChange:
    path: str
    before: Any
    after: Any
    sensitive: bool = False
    forces_replacement: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "before": self.before,
            "after": self.after,
            "sensitive": self.sensitive,
            "forces_replacement": self.forces_replacement,
        }


@dataclass(slots=True)
class ResourceChange:
    """One resource's change; ``actions`` reads like Terraform's (``["delete", "create"]`` is a replace)."""

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

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "name": self.name,
            "actions": self.actions,
            "reason": self.reason,
            "before_hash": self.before_hash,
            "after_hash": self.after_hash,
            "before": self.before,
            "after": self.after,
            "diffs": [d.to_json() for d in self.diffs],
            "path": self.path,
            "line": self.line,
            "targets": self.targets,
            "wave": self.wave,
        }


@dataclass(slots=True)
class BlockedChange:
    """A change the plan refuses: a protected resource's deletion (or replacement), or a Model
    version a target rolled back (``specops.watch.rolled_back_blocks``)."""

    id: str
    actions: list[Action]
    reason: Literal["protected", "rolled_back"]
    message: str

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "actions": self.actions, "reason": self.reason, "message": self.message}


@dataclass(slots=True)
class TargetFingerprint:
    revision: str | None
    source: Literal["http", "file", "none"]
    reachable: bool
    url: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"revision": self.revision, "source": self.source, "reachable": self.reachable, "url": self.url}


@dataclass(slots=True)
class Summary:
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

    def to_json(self) -> dict[str, int]:
        return {
            "create": self.create,
            "update": self.update,
            "replace": self.replace,
            "delete": self.delete,
            "no_op": self.no_op,
            "unknown": self.unknown,
            "blocked": self.blocked,
        }


@dataclass(slots=True)
class Plan:
    desired: DesiredFingerprint
    live: dict[str, TargetFingerprint]
    summary: Summary
    resource_changes: list[ResourceChange]
    waves: list[list[str]]
    blocked_deletions: list[BlockedChange] = field(default_factory=list)
    review: Review | None = None
    target: str | None = None
    policy: PolicyReport | None = None
    """What the policies said (``None`` when the project has none, or with ``--no-policy``)."""
    specops_version: str = ""
    format_version: int = PLAN_FORMAT_VERSION
    plan_id: str = ""

    @property
    def has_changes(self) -> bool:
        return self.summary.changes > 0 or self.summary.blocked > 0

    @property
    def policy_blocked(self) -> bool:
        """A denial or a missing approval: the plan may not be applied."""
        return self.policy is not None and self.policy.blocked

    def to_json(self) -> dict[str, Any]:
        body = self._body()
        return {"format_version": self.format_version, "plan_id": self.plan_id, **body}

    def _body(self) -> dict[str, Any]:
        return {
            "specops_version": self.specops_version,
            "desired": self.desired.to_json(),
            "live": {name: fp.to_json() for name, fp in sorted(self.live.items())},
            "target": self.target,
            "summary": self.summary.to_json(),
            "resource_changes": [c.to_json() for c in self.resource_changes],
            "waves": self.waves,
            "blocked_deletions": [b.to_json() for b in self.blocked_deletions],
            "review": self.review.to_json() if self.review is not None else None,
            "policy": self.policy.to_json() if self.policy is not None else None,
        }

    def compute_id(self) -> str:
        """SHA-256 over the whole document but its id: same inputs, same plan, same id."""
        return plan_id_of({"format_version": self.format_version, **self._body()})


def plan_id_of(document: dict[str, Any]) -> str:
    """The id of a plan document (``Plan.to_json()`` or a saved plan): SHA-256 of the
    document without ``plan_id``, keys sorted. Apply recomputes it to detect edits."""
    import hashlib

    body = {k: v for k, v in document.items() if k != "plan_id"}
    return hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()


def plan_schema() -> dict[str, Any]:
    """JSON Schema of ``Plan.to_json()``, generated from the classes above."""
    schema = TypeAdapter(Plan).json_schema(mode="serialization")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = f"SpecOps plan (format_version {PLAN_FORMAT_VERSION})"
    return schema
