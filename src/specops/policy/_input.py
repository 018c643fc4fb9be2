"""The input documents policies see.

Per changed resource (``input.scope == "resource"``)::

    change:   {id, kind, name, action, actions, reason, before, after,
               changed_fields, path, line, targets}
    resource: the document as it will be (``after``), or as it was for a delete
    related:  {"Kind/name": document} for what it references (two hops:
               a prompt's model's targets), what references it (a model's SLOs,
               prompts) -- the desired state, changed or not
    plan:     {summary, desired: {ref, commit, tree, worktree}}
    context:  {now, head, base, commits, authors, pull_request}

Once per plan (``input.scope == "plan"``): ``plan`` with ``changes`` (each
change without its documents) plus the same ``context``.

Documents are canonical spec documents: fields left at their default are
absent (``object.get`` with the default in Rego), exactly as the plan and
its hashes see them.

The builder reads the plan *document* (``Plan.to_json()``: a mapping), not
the planner's classes, so this package imports nothing from ``specops.plan``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from specops._mask import mask
from specops.spec import Estate

__all__ = ["Change", "InputBuilder", "plan_document"]


def plan_document(plan: Any) -> Mapping[str, Any]:
    """The plan as a document: a mapping already, or anything with ``to_json()`` (a ``Plan``)."""
    if isinstance(plan, Mapping):
        return plan
    return plan.to_json()  # type: ignore[no-any-return]


@dataclass(frozen=True, slots=True)
class Change:
    """One entry of the plan document's ``resource_changes``, as policies judge it."""

    id: str
    kind: str
    name: str
    actions: tuple[str, ...]
    reason: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    changed_fields: tuple[str, ...]
    path: str | None
    line: int | None
    targets: tuple[str, ...]

    @property
    def action(self) -> str:
        return "replace" if len(self.actions) == 2 else self.actions[0]

    @classmethod
    def of(cls, doc: Mapping[str, Any]) -> Change:
        return cls(
            doc["id"], doc["kind"], doc["name"], tuple(doc["actions"]), doc["reason"],
            doc.get("before"), doc.get("after"),
            tuple(d["path"] for d in doc.get("diffs") or ()),
            doc.get("path"), doc.get("line"), tuple(doc.get("targets") or ()),
        )  # fmt: skip


class InputBuilder:
    """Builds every input of one plan; the desired state's reference graph is indexed once."""

    def __init__(self, plan: Any, estate: Estate, context: dict[str, Any]) -> None:
        self.plan = plan_document(plan)
        self.estate = estate
        self.context = context
        self._docs: dict[str, dict[str, Any]] = {}
        self._out: dict[str, list[str]] = {}
        self._in: dict[str, list[str]] = {}
        for spec in self.estate.specs.values():
            rid = spec.id
            refs = sorted({f"{r.kind}/{r.name}" for r in spec.refs})
            self._out[rid] = refs
            for ref in refs:
                self._in.setdefault(ref, []).append(rid)
        desired = self.plan["desired"]
        self._plan_doc = {
            "summary": dict(self.plan["summary"]),
            "desired": {k: desired.get(k) for k in ("ref", "commit", "tree", "worktree")},
        }
        self._changes = [Change.of(c) for c in self.plan["resource_changes"]]

    def document(self, rid: str) -> dict[str, Any] | None:
        doc = self._docs.get(rid)
        if doc is None:
            spec = self.estate.specs.get(rid)
            if spec is None:
                return None
            doc = mask(spec.resource.canonical())
            self._docs[rid] = doc
        return doc

    def labels(self, rid: str) -> dict[str, Any]:
        spec = self.estate.specs.get(rid)
        return dict(spec.resource.metadata.labels) if spec is not None else {}

    def _related(self, rid: str) -> dict[str, Any]:
        ids: set[str] = set()
        for first in self._out.get(rid, ()):
            ids.add(first)
            ids.update(self._out.get(first, ()))
        ids.update(self._in.get(rid, ()))
        ids.discard(rid)
        out: dict[str, Any] = {}
        for other in sorted(ids):
            doc = self.document(other)
            if doc is not None:
                out[other] = doc
        return out

    def changes(self) -> Iterator[Change]:
        for change in self._changes:
            if change.action not in ("no-op", "unknown"):
                yield change

    def resource_input(self, change: Change) -> dict[str, Any]:
        return {
            "scope": "resource",
            "change": {
                "id": change.id,
                "kind": change.kind,
                "name": change.name,
                "action": change.action,
                "actions": list(change.actions),
                "reason": change.reason,
                "before": change.before,
                "after": change.after,
                "changed_fields": list(change.changed_fields),
                "path": change.path,
                "line": change.line,
                "targets": list(change.targets),
            },
            "resource": change.after if change.after is not None else change.before,
            "related": self._related(change.id),
            "plan": self._plan_doc,
            "context": self.context,
        }

    def plan_input(self) -> dict[str, Any]:
        changes = []
        for change in self.changes():
            doc = change.after if change.after is not None else change.before or {}
            metadata = doc.get("metadata", {}) if isinstance(doc, dict) else {}
            changes.append(
                {
                    "id": change.id,
                    "kind": change.kind,
                    "name": change.name,
                    "action": change.action,
                    "reason": change.reason,
                    "labels": metadata.get("labels", {}),
                    "owner": metadata.get("owner"),
                    "changed_fields": list(change.changed_fields),
                    "path": change.path,
                    "line": change.line,
                }
            )
        return {
            "scope": "plan",
            "plan": {**self._plan_doc, "changes": changes},
            "context": self.context,
        }
