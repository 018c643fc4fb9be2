"""The planner: desired state against live state, into ordered, explained changes.

Replace or update? A change replaces a resource (``["delete", "create"]``)
when it alters what the resource *is*, so that the running one cannot be
mutated into it; everything else updates in place, which on a serving
target means "load the new version beside the old, verify, shift traffic":

* ``Target``: ``spec.type`` and ``spec.url``: another runtime or another
  endpoint is another target, not a reconfigured one;
* ``Dataset``: ``spec.version``, ``spec.artifact``, ``spec.format``: a data
  version is immutable by definition; new data is a new version;
* ``Model``: ``spec.format`` and ``spec.signature``: callers are bound to
  the signature, so changing it in place would break them mid-rollout
  (a new artifact or version is an update: that is what a canary is for);
* ``Prompt`` and ``SLO``: ``spec.model``: rebinding to another model.

Order: changes that create or update run in dependency order (a resource
after everything it depends on, ``Ref(dependency=True)`` edges); deletions
run after them, in reverse dependency order, so the new is in place before
the old goes. Each wave holds changes that can run in parallel; within a
wave, ``KIND_ORDER`` then id is the order of the listing.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass, field
from typing import Any

from specops import _plan_core as core
from specops._errors import SpecOpsError
from specops._yaml import format_path
from specops.plan._live import LiveResource, LiveState
from specops.plan._model import (
    MASK,
    BlockedChange,
    FieldChange,
    ResourceChange,
    Summary,
    is_sensitive,
    mask,
)
from specops.spec import KIND_ORDER, KINDS, Estate, LoadedSpec

__all__ = [
    "IMMUTABLE_FIELDS",
    "DependencyCycleError",
    "Node",
    "PlanError",
    "Planned",
    "nodes_from_estate",
    "placement",
    "plan_changes",
]

IMMUTABLE_FIELDS: dict[str, tuple[tuple[str, ...], ...]] = {
    "Target": (("spec", "type"), ("spec", "url")),
    "Dataset": (("spec", "version"), ("spec", "artifact"), ("spec", "format")),
    "Model": (("spec", "format"), ("spec", "signature")),
    "Prompt": (("spec", "model"),),
    "SLO": (("spec", "model"),),
    "Guardrail": (),
}


class PlanError(SpecOpsError):
    """The planner cannot produce a plan from these inputs."""


class DependencyCycleError(PlanError):
    def __init__(self, cycle: list[str]) -> None:
        chain = " -> ".join([*cycle, cycle[0]])
        super().__init__(f"dependency cycle: {chain} (break the cycle; nothing in it can be applied first)")
        self.cycle = cycle


@dataclass(slots=True)
class Node:
    """A desired resource as the planner sees it."""

    id: str
    hash: str
    deps: list[str] = field(default_factory=list)
    protected: bool = False
    doc: dict[str, Any] | None = None
    source: LoadedSpec | None = None
    placement: list[str] = field(default_factory=list)

    def document(self) -> dict[str, Any]:
        if self.doc is None:
            self.doc = self.source.resource.canonical() if self.source is not None else {}
        return self.doc


def _desired_document(node: Node) -> dict[str, Any]:
    """``node.document()`` without keeping it on the node: a plan keeps only the masked copy
    (a cold plan of 100,000 creates would otherwise hold every document twice)."""
    if node.doc is not None:
        return node.doc
    return node.source.resource.canonical() if node.source is not None else {}


def nodes_from_estate(estate: Estate) -> dict[str, Node]:
    nodes: dict[str, Node] = {}
    for spec in estate.specs.values():
        nodes[spec.id] = Node(spec.id, spec.hash, spec.deps, spec.protected, None, spec, spec.placement)
    return nodes


@dataclass(slots=True)
class Planned:
    changes: list[ResourceChange]
    waves: list[list[str]]
    blocked: list[BlockedChange]
    summary: Summary


_FIRST = operator.itemgetter(0)


def _sort_key(rid: str) -> tuple[int, str]:
    return (KIND_ORDER.get(rid.split("/", 1)[0], len(KIND_ORDER)), rid)


def _closure(start: str, nodes: dict[str, Node]) -> set[str]:
    seen = {start}
    stack = [start]
    while stack:
        node = nodes.get(stack.pop())
        for dep in node.deps if node is not None else ():
            if dep not in seen:
                seen.add(dep)
                stack.append(dep)
    return seen


def _live_deps(resource: LiveResource) -> list[str]:
    """Dependencies of a resource known only from live state (for ordering its deletion)."""
    cls = KINDS.get(resource.id.split("/", 1)[0])
    if cls is None or resource.spec is None:
        return []
    try:
        parsed = cls.model_validate(resource.spec)
    except ValueError:
        return []  # a spec from another SpecOps version: fall back to kind order
    return [f"{r.kind}/{r.name}" for r in parsed.references() if r.dependency]


class _Placement:
    """Targets each resource lives on: its own, its dependencies', else its dependents'.

    Computed on demand for the resources that change, so a plan of 100,000
    resources with 1,000 changes walks the graph below those 1,000 only.
    """

    def __init__(self, nodes: dict[str, Node]) -> None:
        self.nodes = nodes
        self.memo: dict[str, frozenset[str]] = {}
        self.dependents: dict[str, list[str]] | None = None

    def _down(self, rid: str) -> frozenset[str]:
        # Iterative post-order walk: dependency chains can be long.
        stack = [(rid, False)]
        on_path: set[str] = set()
        while stack:
            current, expanded = stack.pop()
            if current in self.memo:
                continue
            node = self.nodes.get(current)
            deps = node.deps if node is not None else []
            if not expanded:
                on_path.add(current)
                stack.append((current, True))
                stack.extend((d, False) for d in deps if d not in self.memo and d not in on_path)
                continue
            found = set(node.placement) if node is not None else set()
            for dep in deps:
                found |= self.memo.get(dep, frozenset())
            self.memo[current] = frozenset(found)
            on_path.discard(current)
        return self.memo[rid]

    def of(self, rid: str) -> list[str]:
        found = self._down(rid)
        if not found:
            if self.dependents is None:
                self.dependents = {}
                for other, node in self.nodes.items():
                    for dep in node.deps:
                        self.dependents.setdefault(dep, []).append(other)
            found = frozenset().union(*(self._down(d) for d in self.dependents.get(rid, ())))
        return sorted(found)


def placement(estate: Estate) -> dict[str, set[str]]:
    """Targets every desired resource lives on, by the planner's one rule (``status`` shows them).

    A Target on itself, a Model on ``spec.targets``; anything else where what
    it depends on lives, else where what depends on it lives. A resource
    nothing places is on no target.
    """
    where = _Placement(nodes_from_estate(estate))
    return {rid: set(where.of(rid)) for rid in estate.specs}


def _field_changes(kind: str, before: dict[str, Any], after: dict[str, Any]) -> tuple[list[FieldChange], bool]:
    immutable = IMMUTABLE_FIELDS.get(kind, ())
    out: list[FieldChange] = []
    replace = False
    for path, old, new in core.field_diff(before, after):
        forces = any(path[: len(prefix)] == prefix for prefix in immutable)
        replace = replace or forces
        secret = any(isinstance(p, str) and is_sensitive(p) for p in path)
        if secret:
            out.append(FieldChange(format_path(path), MASK, MASK, True, forces))
        else:
            out.append(FieldChange(format_path(path), mask(old), mask(new), False, forces))
    return out, replace


def _levels(ids: list[str], deps: dict[str, list[str]], changed: set[str]) -> dict[str, int]:
    level, cycle = core.levels(ids, deps, changed)
    if cycle:
        raise DependencyCycleError([ids[i] for i in cycle])
    return {rid: level[i] for i, rid in enumerate(ids) if rid in changed}


def plan_changes(
    nodes: dict[str, Node],
    live: LiveState,
    *,
    base_hashes: dict[str, str] | None = None,
    target: str | None = None,
) -> Planned:
    """Compare ``nodes`` (desired) with ``live`` into changes, waves and blocked deletions."""
    running = live.merged()
    if target is not None:
        if target not in nodes and target not in running:
            known = sorted(nodes)[:5]
            raise PlanError(
                f"--target {target}: no such resource in the desired or live state "
                f"(use Kind/name, e.g. {', '.join(known) or 'Model/fraud-scorer'})"
            )
        keep = _closure(target, nodes) if target in nodes else {target}
        nodes = {k: v for k, v in nodes.items() if k in keep}
        running = {k: v for k, v in running.items() if k in keep}
    codes, deleted = core.classify(
        {rid: n.hash for rid, n in nodes.items()},
        {rid: r.running_hash for rid, r in running.items()},
        {rid: r.hash for rid, r in running.items()},
        base_hashes,
    )
    ids = [*nodes, *deleted]
    codes += bytes([core.DELETE]) * len(deleted)
    unreachable = live.unreachable
    placement = _Placement(nodes)
    summary = Summary()
    applies: dict[str, ResourceChange] = {}
    deletes: dict[str, ResourceChange] = {}
    rest: list[ResourceChange] = []
    blocked: list[BlockedChange] = []
    in_sync: list[tuple[tuple[int, str], ResourceChange]] = []
    for rid, code in zip(ids, codes, strict=True):
        kind, _, name = rid.partition("/")
        node = nodes.get(rid)
        have = running.get(rid)
        if code == core.NOOP and node is not None and have is not None:
            # Most of a warm plan: one bare entry each, no placement, no documents.
            source = node.source
            in_sync.append((
                source.order if source is not None else _sort_key(rid),
                ResourceChange(
                    rid, kind, name, ["no-op"], "in_sync", have.hash, node.hash, None, None, [],
                    source.path if source is not None else None, source.line if source is not None else None,
                ),
            ))  # fmt: skip
            continue
        if code == core.NOOP:
            where = []
        elif node is None and have is not None:
            # A deletion lands on every target that runs the resource.
            where = [n for n, t in sorted(live.targets.items()) if rid in t.resources]
        else:
            where = placement.of(rid)
        source = node.source if node is not None else None
        change = ResourceChange(
            rid, kind, name, ["no-op"], "in_sync",
            before_hash=have.hash if have is not None else None,
            after_hash=node.hash if node is not None else None,
            path=source.path if source is not None else None,
            line=source.line if source is not None else None,
            targets=where,
        )
        if code == core.NOOP:
            summary.no_op += 1
            rest.append(change)
        elif code == core.CREATE and node is not None:
            if unreachable and unreachable & set(where):
                change.actions, change.reason = ["unknown"], "target_unreachable"
                summary.unknown += 1
                rest.append(change)
                continue
            change.actions, change.reason = ["create"], "missing_live"
            change.after = mask(_desired_document(node))
            summary.create += 1
            applies[rid] = change
        elif code == core.DELETE and have is not None:
            change.actions, change.reason = ["delete"], "orphaned"
            change.before = mask(have.spec) if have.spec is not None else None
            if have.protected:
                blocked.append(_blocked(rid, ["delete"], "it is no longer in the desired state"))
                continue
            summary.delete += 1
            deletes[rid] = change
        elif node is not None and have is not None:
            after = _desired_document(node)
            change.reason = "drifted" if code == core.DRIFTED else "spec_changed"
            change.after = mask(after)
            change.before = mask(have.spec) if have.spec is not None else None
            diffs, replace = _field_changes(kind, have.spec or {}, after)
            change.diffs = diffs
            if replace:
                change.actions = ["delete", "create"]
                if node.protected or have.protected:
                    fields = ", ".join(d.path for d in diffs if d.forces_replacement)
                    blocked.append(_blocked(rid, ["delete", "create"], f"{fields} cannot change in place"))
                    continue
                summary.replace += 1
            else:
                change.actions = ["update"]
                summary.update += 1
            applies[rid] = change
    summary.blocked = len(blocked)
    waves = _order(nodes, running, applies, deletes)
    for number, wave in enumerate(waves):
        for rid in wave:
            (applies.get(rid) or deletes[rid]).wave = number
    ordered = [applies.get(rid) or deletes[rid] for wave in waves for rid in wave]
    summary.no_op += len(in_sync)
    in_sync += ((_sort_key(c.id), c) for c in rest)
    in_sync.sort(key=_FIRST)
    return Planned(
        ordered + [c for _, c in in_sync], waves, sorted(blocked, key=lambda b: _sort_key(b.id)), summary
    )


def _blocked(rid: str, actions: list[Any], why: str) -> BlockedChange:
    verb = "replaced" if len(actions) == 2 else "deleted"
    return BlockedChange(
        rid, actions, "protected",
        f"{rid} is protected and would be {verb}: {why} "
        "(set metadata.protected: false in a reviewed change first)",
    )


def _group(levels: dict[str, int], reverse_kinds: bool) -> list[list[str]]:
    waves: dict[int, list[str]] = {}
    for rid, level in levels.items():
        waves.setdefault(level, []).append(rid)
    sign = -1 if reverse_kinds else 1

    def key(rid: str) -> tuple[int, str]:
        rank, _ = _sort_key(rid)
        return (sign * rank, rid)

    return [sorted(waves[level], key=key) for level in sorted(waves)]


def _order(
    nodes: dict[str, Node],
    running: dict[str, LiveResource],
    applies: dict[str, ResourceChange],
    deletes: dict[str, ResourceChange],
) -> list[list[str]]:
    ids = list(nodes)
    apply_levels = _levels(ids, {rid: n.deps for rid, n in nodes.items()}, set(applies))
    # Deletion runs the graph backwards: a resource goes before what it depends on.
    reverse: dict[str, list[str]] = {}
    for rid in deletes:
        for dep in _live_deps(running[rid]) if len(deletes) > 1 else ():
            if dep in deletes:
                reverse.setdefault(dep, []).append(rid)
    delete_levels = _levels(sorted(deletes, key=_sort_key, reverse=True), reverse, set(deletes))
    return _group(apply_levels, False) + _group(delete_levels, True)
