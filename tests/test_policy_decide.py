"""``Evaluator.decide`` skips packages that found nothing; its records equal a full check of every package.

The reference below is the check every package went through before the skip
(``_items`` on each package's output, then the non-empty sets kept): for any
engine output, valid or malformed, both give the same decision record, the
same results and the same shape errors.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from specops.policy._bundle import load_bundle
from specops.policy._engine import EmbeddedEngine
from specops.policy._evaluate import DecisionCache, Evaluator, ShapeError, _items, input_hash

REPO_ROOT = Path(__file__).resolve().parent.parent
NOW = "2026-11-02T10:00:00Z"
BUNDLE = load_bundle([REPO_ROOT / "policies"], root=REPO_ROOT)


def reference(evaluator: Evaluator, raw: Any, error: str | None, document: dict[str, Any]) -> tuple[Any, ...]:
    """The record, items and shape errors as computed by checking every package."""
    digest = input_hash(orjson.dumps(document, option=orjson.OPT_SORT_KEYS))
    items: list[Any] | None = None
    shapes: dict[str, str] = {}
    trimmed: dict[str, Any] = {}
    if error is None:
        if not isinstance(raw, dict):
            error = f"the engine returned {type(raw).__name__ if raw is not None else 'undefined'}, expected an object of policy packages"
        else:
            items = []
            for package, expected in sorted(BUNDLE.outcome_rules.items()):
                try:
                    found = _items(package, raw.get(package), expected)
                except ShapeError as exc:
                    shapes[package] = str(exc)
                    continue
                items.extend((package, i) for i in found)
                kept = {k: v for k, v in raw[package].items() if k in expected and v}
                if kept:
                    trimmed[package] = kept
    decision_id = hashlib.sha256(f"{BUNDLE.hash}:{digest}".encode()).hexdigest()
    return decision_id, digest, trimmed, error, items, shapes


class Answering:
    """A stand-in engine that answers a drawn output: the only way to feed ``decide`` malformed
    shapes the real engine (tested below on random inputs) would need a broken policy for."""

    name = "answering"

    def __init__(self, raw: Any) -> None:
        self.bundle = BUNDLE
        self.raw = raw

    def evaluate(self, document_json: bytes) -> Any:
        return self.raw

    def close(self) -> None:
        return None


def check(evaluator: Evaluator, raw: Any, document: dict[str, Any]) -> None:
    """A first decision (the engine asked) and the same again (from the cache, which keeps the
    output as JSON, or as it is when it is not JSON) both equal the reference."""
    want_id, want_digest, want_trimmed, want_error, want_items, want_shapes = reference(evaluator, raw, None, document)
    for _ in range(2):
        hits = evaluator.cache.hits
        decision, items, shapes = evaluator.decide(document, "resource", "Model/m", NOW)
        assert (decision.id, decision.input_hash, decision.result, decision.error) == (
            want_id, want_digest, want_trimmed, want_error,
        )
        assert shapes == want_shapes
        assert items == want_items
    assert evaluator.cache.hits == hits + 1  # the second was answered from the cache


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 3) | st.sampled_from(["", "x", "msg", 2**70, 0.5, frozenset({1})]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(["msg", "field", "x"]), inner, max_size=3),
    max_leaves=6,
)
RESULT = st.one_of(
    st.sampled_from(["denied", "warned"]),
    st.fixed_dictionaries({"msg": st.sampled_from(["a", "b"])}, optional={"field": st.just("spec.x"),
                                                                          "approvers": st.just(["ann"])}),
    JSON,
)
OUTCOME_VALUE = st.one_of(st.just([]), st.lists(RESULT, max_size=2), JSON)


@st.composite
def engine_outputs(draw: st.DrawFn) -> Any:
    if draw(st.integers(0, 9)) == 0:
        return draw(JSON)
    raw: dict[str, Any] = {}
    for package, expected in sorted(BUNDLE.outcome_rules.items()):
        shape = draw(st.integers(0, 9))
        if shape == 0:
            continue  # package missing
        if shape == 1:
            raw[package] = draw(JSON)
            continue
        rules: dict[str, Any] = {}
        for outcome in expected:
            if draw(st.integers(0, 5)) == 0:
                continue  # outcome missing
            rules[outcome] = draw(OUTCOME_VALUE) if shape < 5 else []
        if draw(st.booleans()):
            rules["extra"] = draw(JSON)
        raw[package] = rules
    return raw


@settings(max_examples=400, deadline=None)
@given(engine_outputs(), st.integers(0, 1000))
def test_decide_equals_checking_every_package_for_any_engine_output(raw: Any, n: int) -> None:
    check(Evaluator(Answering(raw), cache=DecisionCache()), raw, {"scope": "resource", "n": n})


KINDS = ["Model", "Dataset", "Prompt", "Target", "SLO", "Guardrail"]


@st.composite
def resource_inputs(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(KINDS))
    action = draw(st.sampled_from(["create", "update", "delete", "replace"]))
    labels = draw(st.dictionaries(st.sampled_from(["tier", "env"]), st.sampled_from(["prod", "dev"]), max_size=2))
    spec: dict[str, Any] = {"version": draw(st.sampled_from(["1", "2"])), "targets": ["t"], "model": "m",
                            "providers": draw(st.sampled_from([["CPUExecutionProvider"], ["CUDAExecutionProvider"]])),
                            "accelerators": {"gpus": draw(st.integers(0, 1))}}
    if draw(st.booleans()):
        spec["rollout"] = {"strategy": draw(st.sampled_from(["canary", "direct"]))}
    if draw(st.booleans()):
        spec["evaluation"] = {"score": draw(st.sampled_from([0.5, 0.9])), "minScore": 0.8}
    if draw(st.booleans()):
        spec["artifact"] = {"uri": "s3://x", "sha256": draw(st.sampled_from(["0" * 64, "bad"]))}
    doc = {"kind": kind, "metadata": {"name": "m", "labels": labels, "owner": "ann"}, "spec": spec}
    before = None if action == "create" else orjson.loads(orjson.dumps(doc))
    related = {"Target/t": {"kind": "Target", "metadata": {"name": "t"},
                            "spec": {"environment": draw(st.sampled_from(["production", "staging"]))}}}
    return {
        "scope": "resource",
        "change": {"id": f"{kind}/m", "kind": kind, "name": "m", "action": action, "actions": [action],
                   "before": before, "after": None if action == "delete" else doc},
        "resource": doc,
        "related": related,
        "context": {"now": NOW},
    }


@settings(max_examples=60, deadline=None)
@given(st.lists(resource_inputs(), min_size=1, max_size=5))
def test_decide_on_the_built_in_library_equals_checking_every_package(documents: list[dict[str, Any]]) -> None:
    engine = EmbeddedEngine(BUNDLE)
    evaluator = Evaluator(engine, cache=DecisionCache())
    for document in documents:
        raw = engine.evaluate(orjson.dumps(document, option=orjson.OPT_SORT_KEYS))
        check(evaluator, raw, document)
