"""A plan's context is taken by the engine once; each input goes without it. Nothing else changes.

The reference is the same real engine asked with whole inputs (``WholeInputs``
hides ``evaluate_shared``, so the evaluator sends every input with its
context, as before): decisions, records and results are equal, engine errors
included, and an engine that fails on the shared path denies (fail closed).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from specops._git import GitRepo
from specops.plan import make_plan
from specops.policy._bundle import Bundle, load_bundle
from specops.policy._context import build_context, load_context
from specops.policy._engine import EmbeddedEngine, PolicyEngineError
from specops.policy._evaluate import DecisionCache, Evaluator, _splice, evaluate_plan
from tests.helpers.git import commit, estate_of

REPO_ROOT = Path(__file__).resolve().parent.parent
NOW = "2026-11-02T10:00:00Z"

# Policies that read the context, reflect the input's keys, and raise on some inputs.
EXTRA = {
    "ctx.rego": 'warn contains msg if {\n\tmsg := sprintf("%d commits by %v at %s", '
                "[count(object.get(input.context, \"commits\", [])), object.get(input.context, \"authors\", []), "
                "input.context.now])\n}",
    "keys.rego": 'warn contains concat(",", sort([k | some k, _ in input])) if input.scope == "resource"',
    "clock.rego": 'deny contains "before the epoch" if time.parse_rfc3339_ns(input.context.now) < 0',
    "name.rego": 'deny contains "numbered" if {\n\tinput.change.kind == "Model"\n\tto_number(input.change.name) > 0\n}',
}


def write_extra(directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for n, (name, body) in enumerate(sorted(EXTRA.items())):
        (directory / name).write_text(
            f"# METADATA\n# title: {name}\n# custom:\n#   id: T-{n:03}\n#   severity: low\n"
            f"package test.{name.removesuffix('.rego')}\n\nimport rego.v1\n\n{body}\n",
            encoding="utf-8",
        )


class WholeInputs:
    """The real engine, asked with whole inputs only (its ``evaluate_shared`` hidden)."""

    def __init__(self, engine: EmbeddedEngine) -> None:
        self.inner = engine
        self.name = engine.name
        self.bundle = engine.bundle

    def evaluate(self, document_json: bytes) -> Any:
        return self.inner.evaluate(document_json)

    def close(self) -> None:
        return None


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Bundle:
    root = tmp_path_factory.mktemp("shared")
    shutil.copytree(REPO_ROOT / "policies", root / "policies")
    write_extra(root / "extra")
    return load_bundle([root / "policies", root / "extra"], root=root)


KEYS = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=4)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**60), 2**60) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEYS, inner, max_size=3),
    max_leaves=10,
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(KEYS, JSON, max_size=5), JSON)
def test_splice_writes_what_orjson_writes(document: dict[str, Any], context: Any) -> None:
    document = {**document, "context": context}
    encoded = orjson.dumps(context, option=orjson.OPT_SORT_KEYS)
    whole, rest = _splice(document, "context", encoded)
    assert whole == orjson.dumps(document, option=orjson.OPT_SORT_KEYS)
    assert orjson.loads(rest) == {k: v for k, v in document.items() if k != "context"}


COMMITS = st.lists(
    st.fixed_dictionaries({"id": st.sampled_from(["a" * 40, "b" * 40]), "author": st.sampled_from(["ann", "bob"]),
                           "summary": st.text(max_size=20)}),
    max_size=30,
)


@st.composite
def contexts(draw: st.DrawFn) -> dict[str, Any]:
    commits = draw(COMMITS)
    context: dict[str, Any] = {"now": draw(st.sampled_from([NOW, "1969-12-31T00:00:00Z", "not a time"]))}
    if draw(st.booleans()):
        context["commits"] = commits
        context["authors"] = sorted({c["author"] for c in commits})
    if draw(st.booleans()):
        context["pull_request"] = {"number": 7, "author": "ann", "approvals": draw(st.lists(st.sampled_from(["bob", "cy"])))}
    return context


@st.composite
def resource_inputs(draw: st.DrawFn, context: dict[str, Any]) -> dict[str, Any]:
    kind = draw(st.sampled_from(["Model", "Dataset", "Prompt", "Target"]))
    name = draw(st.sampled_from(["m", "7", "fraud"]))
    action = draw(st.sampled_from(["create", "update", "delete", "replace"]))
    doc = {"kind": kind, "metadata": {"name": name, "labels": draw(st.sampled_from([{}, {"tier": "prod"}])),
                                      "owner": "ann"},
           "spec": {"version": "1", "targets": ["t"], "model": "m"}}
    document: dict[str, Any] = {
        "scope": "resource",
        "change": {"id": f"{kind}/{name}", "kind": kind, "name": name, "action": action, "actions": [action],
                   "before": None if action == "create" else doc, "after": None if action == "delete" else doc},
        "resource": doc,
        "related": {"Target/t": {"kind": "Target", "spec": {"environment": "production"}}},
        "context": context,
    }
    if draw(st.booleans()):
        document["plan"] = {"summary": {"create": 1}}
    return document


@st.composite
def change_sets(draw: st.DrawFn) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    context = draw(contexts())
    return context, draw(st.lists(resource_inputs(context), min_size=1, max_size=6))


@settings(max_examples=40, deadline=None)
@given(st.lists(change_sets(), min_size=1, max_size=3))
def test_shared_context_gives_the_decisions_of_whole_inputs(
    bundle: Bundle, plans: list[tuple[dict[str, Any], list[dict[str, Any]]]]
) -> None:
    engine = EmbeddedEngine(bundle)
    shared, whole = Evaluator(engine, cache=DecisionCache()), Evaluator(WholeInputs(engine), cache=DecisionCache())
    for context, documents in plans:  # one engine across plans: the context is swapped when it changes
        context_json = orjson.dumps(context, option=orjson.OPT_SORT_KEYS)
        for document in documents:
            got = shared.decide(document, "resource", document["change"]["id"], NOW, context_json=context_json)
            want = whole.decide(document, "resource", document["change"]["id"], NOW)
            assert got[0].to_json() == want[0].to_json()
            assert got[1:] == want[1:]


def test_a_context_the_engine_cannot_take_denies(bundle: Bundle) -> None:
    engine = EmbeddedEngine(bundle)
    with pytest.raises(PolicyEngineError, match="context could not be loaded"):
        engine.evaluate_shared(b'{"scope":"resource"}', b'{"now": ')
    evaluator = Evaluator(engine, cache=DecisionCache())
    document = {"scope": "resource", "context": {"now": NOW}}
    decision, items, _ = evaluator.decide(document, "resource", "Model/m", NOW, context_json=b'{"now": ')
    assert items is None and decision.error is not None and "context could not be loaded" in decision.error


@pytest.fixture
def project(example_repo: Path, tmp_path: Path) -> Path:
    write_extra(example_repo / "extra")
    commit(example_repo, {"specops.yaml": "policy:\n  paths: [policies]\n", "notes.txt": "second commit\n"}, "notes")
    (tmp_path / "live.json").write_text('{"format_version": 1, "targets": []}', encoding="utf-8")
    (tmp_path / "context.yaml").write_text(f'now: "{NOW}"\n', encoding="utf-8")
    return example_repo


def test_a_plan_judged_with_the_shared_context_equals_whole_inputs(project: Path) -> None:
    """The example estate (its commits in the context), the library plus policies reading the
    context; one of them raises on the model's change only: that change is denied, no other."""
    (project / "extra" / "name.rego").write_text(
        (project / "extra" / "name.rego").read_text(encoding="utf-8").replace("to_number(input.change.name) > 0",
                                                                                "to_number(input.change.kind) > 0"),
        encoding="utf-8",
    )
    plan = make_plan(project, live=project.parent / "live.json", cache_dir=False)
    estate = estate_of(project)
    context = build_context(plan, GitRepo.discover(project), load_context(project.parent / "context.yaml"))
    assert context["commits"]
    bundle = load_bundle([REPO_ROOT / "policies", project / "extra"], root=project)
    engine = EmbeddedEngine(bundle)
    shared = evaluate_plan(plan, estate, engine, context, cache=DecisionCache())
    whole = evaluate_plan(plan, estate, WholeInputs(engine), context, cache=DecisionCache())
    assert shared.to_json() == whole.to_json()
    failed = [d for d in shared.decisions if d.error is not None]
    assert [d.resource for d in failed] == ["Model/fraud-scorer"] and "name.rego:12:27: could not parse string as number" in str(failed[0].error)
    engine_denials = [r for r in shared.results if r.rule == "SPECOPS-ENGINE"]
    assert [(r.resource, r.status) for r in engine_denials] == [("Model/fraud-scorer", "denied")]
    assert shared.blocked
    warned = {r.message for r in shared.results if r.status == "warned"}
    assert f'{len(context["commits"])} commits by ["SpecOps Test"] at 2026-11-02T10:00:00Z' in warned
