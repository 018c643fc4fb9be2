"""Evaluate a plan: every changed resource, then the plan as a whole, into results and decisions.

Fail closed: an engine error, a slow decision, or a result whose shape is
not what the contract says becomes a *denial* naming the cause; nothing an
engine does wrong can let a plan through.

Results then pass three filters, in this order: the project's enforcement
overrides (``deny`` -> ``warn`` while a rule rolls out, or ``off``),
approvals from the pull request (an approver named by the policy, or a
member of a team named in ``data.project.teams``, approved; the author's
own approval never counts), and waivers. Expired waivers are errors.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections import OrderedDict
from dataclasses import dataclass
from dataclasses import field as _field
from typing import Any

import orjson

from specops import _progress as progress
from specops.policy._context import parse_now
from specops.policy._engine import PolicyEngine, PolicyEngineError
from specops.policy._input import Change, InputBuilder
from specops.policy._model import Decision, PolicyReport, PolicyResult, PolicyRule, Status
from specops.policy._waivers import WaiverSet
from specops.spec import Estate

__all__ = ["DecisionCache", "Evaluator", "ShapeError", "evaluate_plan", "input_hash"]

ENGINE_RULE = PolicyRule(
    "SPECOPS-ENGINE", "Policy evaluation failed", "critical",
    "The policy engine failed or returned something unexpected; the plan is denied (fail closed).",
    "specops", "", 0,
)
WAIVER_RULE = PolicyRule(
    "SPECOPS-WAIVER-EXPIRED", "Waiver expired", "high",
    "A waiver past its expiry date must be renewed (with a new justification) or deleted.",
    "specops", "", 0,
)
_FIELD_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


class ShapeError(Exception):
    """A policy returned a value the result contract does not allow."""


def input_hash(document_json: bytes) -> str:
    return hashlib.sha256(document_json).hexdigest()


class DecisionCache:
    """Engine outputs by (bundle hash, input hash): the same question is never asked twice."""

    def __init__(self, size: int = 65_536) -> None:
        self._size = size
        self._data: OrderedDict[tuple[str, str], tuple[Any, str | None]] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def get(self, key: tuple[str, str]) -> tuple[Any, str | None] | None:
        value = self._data.get(key)
        if value is None:
            self.misses += 1
            return None
        self.hits += 1
        self._data.move_to_end(key)
        return value

    def put(self, key: tuple[str, str], value: tuple[Any, str | None]) -> None:
        self._data[key] = value
        if len(self._data) > self._size:
            self._data.popitem(last=False)


def _splice(document: dict[str, Any], key: str, encoded: bytes) -> tuple[bytes, bytes]:
    """``document`` encoded with sorted keys, ``document[key]`` taken as ``encoded`` (the same bytes
    ``orjson`` would write), and the document without ``key``: (whole, rest)."""
    whole: list[bytes] = []
    rest: list[bytes] = []
    for name in sorted(document):
        if name == key:
            whole.append(orjson.dumps(name) + b":" + encoded)
            continue
        part = orjson.dumps(name) + b":" + orjson.dumps(document[name], option=orjson.OPT_SORT_KEYS)
        whole.append(part)
        rest.append(part)
    return b"{" + b",".join(whole) + b"}", b"{" + b",".join(rest) + b"}"


class _Packed:
    """An engine output kept in the cache as its JSON: one object for the garbage collector
    to walk instead of one per package and set (at 10k decisions the walks cost more than
    the encoding)."""

    __slots__ = ("json",)

    def __init__(self, json: bytes) -> None:
        self.json = json


def _pack(raw: Any) -> Any:
    try:
        return _Packed(orjson.dumps(raw))
    except (TypeError, orjson.JSONEncodeError):  # not JSON (an odd engine): kept as it is
        return raw


def field_path(text: str) -> tuple[str | int, ...]:
    return tuple(int(i) if i else k for k, i in _FIELD_PART.findall(text))


@dataclass(slots=True)
class _Item:
    outcome: str
    message: str
    field: str | None = None
    resource: str | None = None
    approvers: list[str] = _field(default_factory=list)


def _show(value: Any) -> str:
    try:
        return orjson.dumps(value).decode()
    except (TypeError, orjson.JSONEncodeError):  # not JSON (an integer past 64 bits from OPA, say)
        return repr(value)


def _items(package: str, rules: Any, expected: list[str]) -> list[_Item]:
    """Check one package's output against the contract; raise ``ShapeError`` naming what is wrong."""
    if not isinstance(rules, dict):
        raise ShapeError(f"{package} returned {type(rules).__name__}, expected an object of rule sets")
    out: list[_Item] = []
    for outcome in expected:
        values = rules.get(outcome)
        if not isinstance(values, list):
            raise ShapeError(f"{package}.{outcome} is {type(values).__name__}, expected a set")
        for value in values:
            if isinstance(value, str):
                if outcome == "approval":
                    raise ShapeError(f"{package}.approval must name approvers: {{\"msg\": ..., \"approvers\": [...]}}")
                out.append(_Item(outcome, value))
                continue
            if not isinstance(value, dict) or not isinstance(value.get("msg"), str):
                raise ShapeError(f"{package}.{outcome} holds {_show(value)[:120]}, "
                                 "expected a string or an object with a string msg")
            unknown = set(value) - {"msg", "field", "resource", "approvers"}
            if unknown:
                raise ShapeError(f"{package}.{outcome} result has unknown keys {sorted(unknown)}")
            item = _Item(outcome, value["msg"])
            for key in ("field", "resource"):
                if key in value and not isinstance(value[key], str):
                    raise ShapeError(f"{package}.{outcome} result's {key} must be a string")
            item.field = value.get("field")
            item.resource = value.get("resource")
            approvers = value.get("approvers", [])
            if outcome == "approval" and (
                not isinstance(approvers, list) or not approvers or not all(isinstance(a, str) for a in approvers)
            ):
                raise ShapeError(f"{package}.approval result needs a non-empty list of approver names")
            item.approvers = list(approvers) if outcome == "approval" else []
            out.append(item)
    return out


class Evaluator:
    """Runs an engine over a plan's inputs and applies enforcement, approvals and waivers."""

    def __init__(
        self,
        engine: PolicyEngine,
        *,
        enforcement: dict[str, str] | None = None,
        waivers: WaiverSet | None = None,
        cache: DecisionCache | None = None,
    ) -> None:
        self.engine = engine
        self.bundle = engine.bundle
        self.enforcement = enforcement or {}
        self.waivers = waivers or WaiverSet([])
        self.cache = cache if cache is not None else DecisionCache()
        self._outcomes = sorted(self.bundle.outcome_rules.items())
        teams = self.bundle.data.get("teams", {})
        self.teams: dict[str, list[str]] = teams if isinstance(teams, dict) else {}

    # -- one decision ---------------------------------------------------------

    def decide(
        self, document: dict[str, Any], scope: str, resource: str | None, time: str,
        *, context_json: bytes | None = None,
    ) -> tuple[Decision, list[_Item] | None, dict[str, str]]:
        """Evaluate one input; returns the record, the items (``None`` on failure), and shape errors.

        ``context_json``: ``document["context"]`` already encoded (sorted keys), when the
        engine takes a plan's context once (``evaluate_shared``) and each input without it.
        """
        shared = getattr(self.engine, "evaluate_shared", None) if context_json is not None else None
        if shared is not None and context_json is not None and "context" in document:
            encoded, parts = _splice(document, "context", context_json)
        else:
            encoded, parts, shared = orjson.dumps(document, option=orjson.OPT_SORT_KEYS), b"", None
        digest = input_hash(encoded)
        key = (self.bundle.hash, digest)
        cached = self.cache.get(key)
        if cached is None:
            try:
                raw: Any = shared(parts, context_json) if shared is not None else self.engine.evaluate(encoded)
                error = None
            except PolicyEngineError as exc:
                raw, error = None, str(exc)
            except Exception as exc:  # an engine must never let a plan through by crashing
                raw, error = None, f"policy engine failed: {type(exc).__name__}: {exc}"
            cached = (_pack(raw), error)
            self.cache.put(key, cached)
        else:
            packed, error = cached
            raw = orjson.loads(packed.json) if type(packed) is _Packed else packed
        decision_id = hashlib.sha256(f"{self.bundle.hash}:{digest}".encode()).hexdigest()
        items: list[_Item] | None = None
        shape_errors: dict[str, str] = {}
        trimmed: dict[str, Any] = {}
        if error is None:
            if not isinstance(raw, dict):
                error = f"the engine returned {type(raw).__name__ if raw is not None else 'undefined'}, expected an object of policy packages"
            else:
                items = []
                for package, expected in self._outcomes:
                    rules = raw.get(package)
                    # Most packages find nothing: every outcome an empty set, nothing to check or keep.
                    if type(rules) is dict:
                        for outcome in expected:
                            if rules.get(outcome) != []:
                                break
                        else:
                            continue
                    try:
                        found = _items(package, rules, expected)
                    except ShapeError as exc:
                        shape_errors[package] = str(exc)
                        continue
                    items.extend((package, i) for i in found)  # type: ignore[misc]
                    kept = {k: v for k, v in raw[package].items() if k in expected and v}
                    if kept:
                        trimmed[package] = kept
        decision = Decision(
            decision_id, scope, resource, self.bundle.hash, digest,  # type: ignore[arg-type]
            trimmed, error, time,
        )
        return decision, items, shape_errors

    # -- a plan ---------------------------------------------------------------

    def evaluate(self, plan: Any, estate: Estate, context: dict[str, Any]) -> PolicyReport:
        """Judge a plan (its document, or a ``Plan``) made from ``estate``."""
        now = context["now"]
        today = parse_now(now).date()
        builder = InputBuilder(plan, estate, context)
        report = PolicyReport(self.engine.name, self.bundle.hash, now)
        report.rules = sorted(self.bundle.rules.values(), key=lambda r: r.id)
        report.context = {k: context[k] for k in ("head", "base", "pull_request") if k in context}
        pr = context.get("pull_request") or {}
        approvals = set(pr.get("approvals") or []) - {pr.get("author")}
        changes = list(builder.changes())
        # Every input carries this very context: encoded once, taken by the engine once.
        context_json = (
            orjson.dumps(context, option=orjson.OPT_SORT_KEYS) if hasattr(self.engine, "evaluate_shared") else None
        )
        with progress.task("Evaluating policies", total=len(changes) + 1) as shown:
            for change in changes:
                shown.update(detail=change.id)
                document = builder.resource_input(change)
                decision, items, shapes = self.decide(
                    document, "resource", change.id, now,
                    context_json=context_json if document.get("context") is context else None,
                )
                report.decisions.append(decision)
                labels = _labels(document.get("resource"))
                self._results(report, decision, items, shapes, change, estate, labels, approvals, today)
                shown.advance()
            shown.update(detail="the plan as a whole")
            document = builder.plan_input()
            decision, items, shapes = self.decide(
                document, "plan", None, now, context_json=context_json if document.get("context") is context else None,
            )
            report.decisions.append(decision)
            self._results(report, decision, items, shapes, None, estate, {}, approvals, today)
            shown.advance()
        for waiver in self.waivers.expired(today):
            rule = WAIVER_RULE
            report.results.append(
                PolicyResult(
                    rule.id, rule.title, rule.severity, rule.description, "deny", "denied",
                    f"waiver for {waiver.entry.rule} on {waiver.entry.resource} (owner {waiver.entry.owner}) "
                    f"expired on {waiver.entry.expires}; renew it with a new justification or delete it",
                    path=waiver.path, line=waiver.line, column=1, waiver=waiver.ref,
                )
            )
        return report.finish()

    def _results(
        self,
        report: PolicyReport,
        decision: Decision,
        items: list[Any] | None,
        shapes: dict[str, str],
        change: Change | None,
        estate: Estate,
        labels: dict[str, Any],
        approvals: set[str],
        today: dt.date,
    ) -> None:
        resource = change.id if change is not None else None
        if decision.error is not None:
            report.results.append(self._failure(decision.error, change, decision.id))
        for package, message in sorted(shapes.items()):
            rule = self.bundle.rules.get(package)
            failure = self._failure(f"unexpected result shape: {message}", change, decision.id)
            if rule is not None:
                failure.policy_path, failure.policy_line = rule.path, rule.line
            report.results.append(failure)
        for package, item in items or []:
            rule = self.bundle.rules[package]
            override = self.enforcement.get(rule.id)
            if override == "off":
                continue
            target = item.resource or resource
            result = PolicyResult(
                rule.id, rule.title, rule.severity, rule.description, item.outcome,
                _status(item.outcome), item.message, resource=target, field=item.field,
                policy_path=rule.path, policy_line=rule.line, decision_id=decision.id,
            )
            self._locate(result, change if item.resource is None else None, estate)
            if item.outcome == "approval":
                result.approvers = sorted(item.approvers)
                wanted = self._expand(item.approvers)
                result.approved_by = sorted(approvals & wanted)
                if result.approved_by:
                    result.status = "approved"
            if override is not None and result.status != "approved":
                result.enforcement = override
                result.status = "denied" if override == "deny" else "warned"
            if result.status != "approved":
                target_labels = labels if item.resource is None else _labels(_doc(estate, target))
                waiver = self.waivers.find(rule.id, target, target_labels, today)
                if waiver is not None:
                    result.status = "waived"
                    result.waiver = waiver.ref
            report.results.append(result)

    def _expand(self, approvers: list[str]) -> set[str]:
        out: set[str] = set()
        for name in approvers:
            out.add(name)
            members = self.teams.get(name)
            if isinstance(members, list):
                out.update(str(m) for m in members)
        return out

    def _failure(self, message: str, change: Change | None, decision_id: str) -> PolicyResult:
        rule = ENGINE_RULE
        result = PolicyResult(
            rule.id, rule.title, rule.severity, rule.description, "deny", "denied", message,
            resource=change.id if change is not None else None, decision_id=decision_id,
        )
        if change is not None:
            result.path, result.line, result.column = change.path, change.line, 1 if change.line else None
        return result

    @staticmethod
    def _locate(result: PolicyResult, change: Change | None, estate: Estate) -> None:
        spec = estate.specs.get(result.resource) if result.resource else None
        if spec is None:
            if change is not None and change.path:
                result.path, result.line, result.column = change.path, change.line, 1
            return
        result.path = spec.path
        if result.field:
            result.line, result.column = spec.position(field_path(result.field))
        else:
            result.line, result.column = spec.line, spec.document.column


def _status(outcome: str) -> Status:
    return {"deny": "denied", "warn": "warned", "approval": "pending_approval"}[outcome]  # type: ignore[return-value]


def _doc(estate: Estate, rid: str | None) -> Any:
    spec = estate.specs.get(rid) if rid else None
    return spec.resource.canonical() if spec is not None else None


def _labels(doc: Any) -> dict[str, Any]:
    if isinstance(doc, dict) and isinstance(doc.get("metadata"), dict):
        labels = doc["metadata"].get("labels")
        return labels if isinstance(labels, dict) else {}
    return {}


def evaluate_plan(
    plan: Any,
    estate: Estate,
    engine: PolicyEngine,
    context: dict[str, Any],
    *,
    enforcement: dict[str, str] | None = None,
    waivers: WaiverSet | None = None,
    cache: DecisionCache | None = None,
) -> PolicyReport:
    return Evaluator(engine, enforcement=enforcement, waivers=waivers, cache=cache).evaluate(plan, estate, context)
