"""The planner on real git repositories: actions, reasons, order, protection, review, cache."""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter

from specops import _plan_core, _plan_py
from specops._twins import PURE_FORCED
from specops.plan import (
    DependencyCycleError,
    LiveState,
    Plan,
    PlanError,
    _model,
    add_plan_parser,
    load_desired_state,
    make_plan,
    plan_schema,
    render_markdown,
    render_text,
)
from specops.plan._live import LiveResource, TargetState
from specops.plan._planner import Node, plan_changes
from specops.plan._render import MARKDOWN_LIMIT
from tests.helpers.git import commit, edit, live_document, save

try:
    from specops import _plan_c
except ImportError:  # the activation test below fails loudly
    _plan_c = None  # type: ignore[assignment]

MODEL = "specs/models/fraud-scorer.yaml"
TARGET = "specs/targets/local-cpu.yaml"
ORDER = [
    ["Target/local-cpu", "Dataset/transactions"],
    ["Guardrail/feature-ranges"],
    ["Model/fraud-scorer"],
    ["Prompt/fraud-case-summary", "SLO/fraud-scorer"],
]


def run_cli(*argv: str) -> tuple[int, str]:
    parser = argparse.ArgumentParser()
    add_plan_parser(parser.add_subparsers())
    args = parser.parse_args(["plan", *argv])
    out = io.StringIO()
    return args.func(args, out), out.getvalue()


@pytest.fixture
def empty_live(tmp_path: Path) -> Path:
    return save(tmp_path / "empty.json", {"format_version": 1, "targets": []})


@pytest.fixture
def applied(example_repo: Path, tmp_path: Path) -> Path:
    """A snapshot of the target after applying HEAD."""
    return save(tmp_path / "live.json", live_document(example_repo))


def change_of(plan: Plan, rid: str) -> Any:
    return next(c for c in plan.resource_changes if c.id == rid)


# -- the example estate ---------------------------------------------------


def test_example_estate_against_empty_live_creates_everything_in_order(
    example_repo: Path, empty_live: Path
) -> None:
    code, out = run_cli("--repo", str(example_repo), "--live", str(empty_live), "--format", "json",
                        "--detailed-exitcode")
    assert code == 2
    data = json.loads(out)
    assert data["format_version"] == 1
    assert data["waves"] == ORDER
    ids = [c["id"] for c in data["resource_changes"]]
    assert ids == [rid for wave in ORDER for rid in wave]
    assert all(c["actions"] == ["create"] and c["reason"] == "missing_live" for c in data["resource_changes"])
    assert data["summary"]["create"] == 6
    assert data["desired"]["commit"] and data["desired"]["tree"]
    # every change says where it lands: its own target, its dependencies', else its dependents'
    assert {c["id"]: c["targets"] for c in data["resource_changes"]} == {rid: ["local-cpu"] for wave in ORDER for rid in wave}


def test_text_summary_line_and_no_colour_off_a_terminal(example_repo: Path, empty_live: Path) -> None:
    code, out = run_cli("--repo", str(example_repo), "--live", str(empty_live))
    assert code == 0
    assert out.splitlines()[-1] == "Plan: 6 to create, 0 to update, 0 to replace, 0 to delete."
    assert "\x1b[" not in out


def test_colour_on_request_and_no_color(example_repo: Path, empty_live: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from specops.plan._render import use_colour

    plan = make_plan(example_repo, live=empty_live)
    assert "\x1b[32m" in render_text(plan, colour=True)

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert use_colour(Tty())
    monkeypatch.setenv("NO_COLOR", "1")
    assert not use_colour(Tty())


def test_in_sync_is_no_changes(example_repo: Path, applied: Path) -> None:
    code, out = run_cli("--repo", str(example_repo), "--live", str(applied), "--detailed-exitcode")
    assert code == 0
    assert "No changes" in out
    assert out.splitlines()[-1] == "Plan: 0 to create, 0 to update, 0 to replace, 0 to delete."


# -- actions and reasons ---------------------------------------------------


def test_update_in_place_with_field_paths(example_repo: Path, applied: Path) -> None:
    edit(example_repo, MODEL, "intraOpThreads: 1", "intraOpThreads: 2")
    plan = make_plan(example_repo, live=applied)
    change = change_of(plan, "Model/fraud-scorer")
    assert change.actions == ["update"]
    assert change.reason == "spec_changed"
    assert [(d.path, d.before, d.after) for d in change.diffs] == [("spec.runtime.intraOpThreads", 1, 2)]
    assert plan.summary.update == 1 and plan.summary.changes == 1
    assert plan.waves == [["Model/fraud-scorer"]]


def test_immutable_field_forces_replace(example_repo: Path, applied: Path) -> None:
    edit(example_repo, TARGET, "http://127.0.0.1:8480", "http://127.0.0.1:9000")
    plan = make_plan(example_repo, live=applied)
    change = change_of(plan, "Target/local-cpu")
    assert change.actions == ["delete", "create"]
    assert change.diffs[0].forces_replacement
    assert render_text(plan).splitlines()[-1] == "Plan: 0 to create, 0 to update, 1 to replace, 0 to delete."


def test_delete_orphans_in_reverse_dependency_order(example_repo: Path, applied: Path) -> None:
    commit(example_repo, {"specs/prompts/fraud-case-summary.yaml": None, "specs/slos/fraud-scorer.yaml": None})
    # The model names the SLO in its rollout analysis, so drop that too.
    text = (example_repo / MODEL).read_text(encoding="utf-8")
    text = text.replace("    analysis: {slo: fraud-scorer, minRequests: 200, interval: 10s, deadline: 5m}\n", "")
    commit(example_repo, {MODEL: text})
    plan = make_plan(example_repo, live=applied)
    deletes = [c for c in plan.resource_changes if c.actions == ["delete"]]
    assert {c.id for c in deletes} == {"Prompt/fraud-case-summary", "SLO/fraud-scorer"}
    assert all(c.reason == "orphaned" and c.before is not None for c in deletes)
    # Deletions come after the model update.
    assert plan.waves[0] == ["Model/fraud-scorer"]
    assert plan.waves[-1] == ["SLO/fraud-scorer", "Prompt/fraud-case-summary"]


def test_drift_when_live_changed_behind_specops(example_repo: Path, tmp_path: Path) -> None:
    doc = live_document(example_repo)
    doc["resources"]["Model/fraud-scorer"]["spec"]["spec"]["runtime"]["intraOpThreads"] = 8
    plan = make_plan(example_repo, live=save(tmp_path / "l.json", doc))
    change = change_of(plan, "Model/fraud-scorer")
    assert (change.actions, change.reason) == (["update"], "drifted")
    assert change.diffs[0].before == 8


def test_drift_relative_to_base(example_repo: Path, tmp_path: Path) -> None:
    base = commit(example_repo, {"README.md": "docs only\n"})
    doc = live_document(example_repo)
    entry = doc["resources"]["Model/fraud-scorer"]
    entry["spec"]["spec"]["runtime"]["intraOpThreads"] = 4
    entry["hash"] = "0" * 64  # the target recorded applying something else
    snapshot = save(tmp_path / "l.json", doc)
    assert change_of(make_plan(example_repo, live=snapshot), "Model/fraud-scorer").reason == "spec_changed"
    plan = make_plan(example_repo, live=snapshot, base=base)
    assert change_of(plan, "Model/fraud-scorer").reason == "drifted"


def test_protected_resource_is_never_deleted(example_repo: Path, tmp_path: Path) -> None:
    doc = live_document(example_repo)
    old = dict(doc["resources"]["Prompt/fraud-case-summary"])
    spec = json.loads(json.dumps(old["spec"]))
    spec["metadata"]["name"] = "legacy"
    spec["metadata"]["protected"] = True
    doc["resources"]["Prompt/legacy"] = {"hash": old["hash"], "spec": spec}
    plan = make_plan(example_repo, live=save(tmp_path / "l.json", doc))
    assert plan.summary.delete == 0 and plan.summary.blocked == 1
    assert plan.blocked_deletions[0].id == "Prompt/legacy"
    assert "protected" in plan.blocked_deletions[0].message
    assert plan.has_changes
    assert "Blocked: Prompt/legacy is protected" in render_text(plan)


def test_protected_resource_is_never_replaced(example_repo: Path, applied: Path) -> None:
    text = (example_repo / TARGET).read_text(encoding="utf-8")
    text = text.replace("  owner: ml-platform\n", "  owner: ml-platform\n  protected: true\n")
    commit(example_repo, {TARGET: text.replace("8480", "9000")})
    plan = make_plan(example_repo, live=applied)
    assert plan.summary.replace == 0
    assert plan.blocked_deletions[0].actions == ["delete", "create"]
    assert "spec.url" in plan.blocked_deletions[0].message


def test_sensitive_fields_are_masked(example_repo: Path, tmp_path: Path) -> None:
    doc = live_document(example_repo)
    doc["resources"]["Target/local-cpu"]["spec"]["spec"]["adminPassword"] = "hunter2"
    plan = make_plan(example_repo, live=save(tmp_path / "l.json", doc))
    change = change_of(plan, "Target/local-cpu")
    assert change.diffs[0].sensitive
    assert "hunter2" not in json.dumps(plan.to_json())
    # Names of environment variables are what specs are for: not masked.
    assert change.after["spec"]["auth"]["tokenEnv"] == "SPECOPS_LOCAL_TOKEN"


# -- ordering ----------------------------------------------------------------


def _nodes(edges: dict[str, list[str]]) -> dict[str, Node]:
    return {rid: Node(rid, f"h-{rid}", deps, doc={"id": rid}) for rid, deps in edges.items()}


def test_cycle_is_an_error_naming_it() -> None:
    nodes = _nodes({"Model/a": ["Model/b"], "Model/b": ["Model/a"], "Target/t": []})
    with pytest.raises(DependencyCycleError, match="Model/a -> Model/b -> Model/a") as info:
        plan_changes(nodes, LiveState())
    assert info.value.cycle == ["Model/a", "Model/b"]


def test_unchanged_resources_pass_ordering_through() -> None:
    nodes = _nodes({"Target/t": [], "Model/m": ["Target/t"], "Prompt/p": ["Model/m"]})
    live = LiveState({"t": TargetState("t", "1", "file", resources={
        "Model/m": LiveResource("Model/m", "t", "h-Model/m", {"id": "Model/m"}, {}, "h-Model/m"),
    })})
    planned = plan_changes(nodes, live)
    assert planned.waves == [["Target/t"], ["Prompt/p"]]


def test_target_plans_a_resource_and_its_dependencies(example_repo: Path, empty_live: Path) -> None:
    plan = make_plan(example_repo, live=empty_live, target="Model/fraud-scorer")
    assert plan.waves == [["Target/local-cpu", "Dataset/transactions"], ["Guardrail/feature-ranges"],
                          ["Model/fraud-scorer"]]
    with pytest.raises(PlanError, match="Model/nope"):
        make_plan(example_repo, live=empty_live, target="Model/nope")


# -- review, fingerprints, cache -------------------------------------------------


def test_base_review_lists_added_changed_removed(example_repo: Path, applied: Path) -> None:
    base = commit(example_repo, {"README.md": "x\n"})
    edit(example_repo, MODEL, "intraOpThreads: 1", "intraOpThreads: 2")
    text = (example_repo / "specs/prompts/fraud-case-summary.yaml").read_text(encoding="utf-8")
    commit(example_repo, {"specs/prompts/second.yaml": text.replace("name: fraud-case-summary", "name: second")})
    plan = make_plan(example_repo, live=applied, base=base)
    assert plan.review is not None
    got = {(r.id, r.status, tuple(r.fields)) for r in plan.review.resources}
    assert got == {
        ("Model/fraud-scorer", "changed", ("spec.runtime.intraOpThreads",)),
        ("Prompt/second", "added", ()),
    }
    commit(example_repo, {"specs/prompts/second.yaml": None})
    again = make_plan(example_repo, ref="HEAD", base="HEAD~1", live=applied)
    assert again.review is not None
    assert [(r.id, r.status) for r in again.review.resources] == [("Prompt/second", "removed")]
    assert "removed `Prompt/second`" in render_markdown(again)


def test_plan_records_what_it_saw(example_repo: Path, tmp_path: Path) -> None:
    live = save(tmp_path / "l.json", live_document(example_repo, revision="7"))
    first = make_plan(example_repo, live=live)
    assert first.live["local-cpu"].revision == "7"
    assert first.plan_id == make_plan(example_repo, live=live).plan_id  # deterministic
    assert first.plan_id == first.compute_id()
    moved = save(tmp_path / "l.json", live_document(example_repo, revision="8"))
    assert make_plan(example_repo, live=moved).plan_id != first.plan_id
    edit(example_repo, MODEL, "intraOpThreads: 1", "intraOpThreads: 2")
    second = make_plan(example_repo, live=moved)
    assert second.desired.commit != first.desired.commit
    assert second.desired.tree != first.desired.tree


def test_worktree_mode_plans_uncommitted_specs(example_repo: Path, applied: Path) -> None:
    path = example_repo / MODEL
    path.write_text(path.read_text(encoding="utf-8").replace("intraOpThreads: 1", "intraOpThreads: 3"),
                    encoding="utf-8")
    assert not make_plan(example_repo, live=applied).has_changes
    plan = make_plan(example_repo, live=applied, worktree=True)
    assert plan.desired.worktree and plan.desired.tree is None
    assert change_of(plan, "Model/fraud-scorer").actions == ["update"]


def test_cache_parses_only_changed_blobs(example_repo: Path) -> None:
    assert load_desired_state(example_repo).stats.parsed == 6
    assert load_desired_state(example_repo).stats.parsed == 0
    edit(example_repo, MODEL, "intraOpThreads: 1", "intraOpThreads: 2")
    stats = load_desired_state(example_repo).stats
    assert (stats.parsed, stats.hits) == (1, 5)
    assert list((example_repo / ".git" / "specops-cache").glob("parse-*.sqlite"))


def test_cached_spec_reports_a_new_error_at_its_own_line(example_repo: Path) -> None:
    """A cached (packed) document still yields exact positions when a change elsewhere breaks it."""
    from specops._errors import SpecError

    load_desired_state(example_repo)  # every file is now in the cache
    commit(example_repo, {"specs/targets/local-cpu.yaml": None}, "remove the target")
    with pytest.raises(SpecError) as caught:
        load_desired_state(example_repo)
    dangling = [d for d in caught.value.errors if d.code == "dangling"]
    assert [(d.path, d.line, d.field) for d in dangling] == [(MODEL, 28, "spec.targets[0]")]


def test_secret_found_at_parse_time_is_cached_with_the_blob(example_repo: Path) -> None:
    from specops._errors import SpecError

    secret = "sk-" + "a1B2" * 8
    edit(example_repo, MODEL, "owner: risk-ml", f"owner: risk-ml\n  annotations: {{note: {secret}}}")
    for _ in range(2):  # parsed, then served from the cache: the same diagnostic both times
        with pytest.raises(SpecError) as caught:
            load_desired_state(example_repo)
        assert [(d.code, d.field) for d in caught.value.errors] == [("secret", "metadata.annotations.note")]
        assert secret not in str(caught.value)


def test_invalid_specs_refuse_to_plan(example_repo: Path, empty_live: Path) -> None:
    from specops._errors import SpecError

    edit(example_repo, MODEL, "targets: [local-cpu]", "targets: [nowhere]")
    with pytest.raises(SpecError, match="Target/nowhere does not exist"):
        make_plan(example_repo, live=empty_live)


# -- documents ---------------------------------------------------------------------


def test_plan_json_matches_its_schema(example_repo: Path, applied: Path) -> None:
    edit(example_repo, MODEL, "intraOpThreads: 1", "intraOpThreads: 2")
    plan = make_plan(example_repo, live=applied, base="HEAD~1")
    data = json.loads(json.dumps(plan.to_json()))
    TypeAdapter(Plan).validate_python(data)
    schema = plan_schema()
    assert set(schema["properties"]) == set(data)


def test_markdown_stays_under_the_limit_and_says_what_it_left_out() -> None:
    big = {"spec": {"text": "x" * 400}}
    nodes = {f"Model/m{i}": Node(f"Model/m{i}", f"h{i}", doc=big) for i in range(400)}
    planned = plan_changes(nodes, LiveState())
    from specops.plan import Summary
    from specops.plan._desired import DesiredFingerprint

    plan = Plan(desired=DesiredFingerprint("HEAD", "c", "t", False, "specs", "x"), live={},
                summary=planned.summary, resource_changes=planned.changes, waves=planned.waves)
    assert isinstance(plan.summary, Summary)
    # Diffs make details long; fake some on every change.
    from specops.plan import FieldChange

    for change in plan.resource_changes:
        change.diffs = [FieldChange(f"spec.f{i}", "a" * 50, "b" * 50) for i in range(10)]
    text = render_markdown(plan)
    assert len(text) <= MARKDOWN_LIMIT
    assert "more change(s) not shown" in text
    assert "Plan: 400 to create" in text


# -- both implementations --------------------------------------------------------


def test_compiled_planner_core_is_active_unless_pure_python_is_forced() -> None:
    if PURE_FORCED:
        assert not _plan_core.COMPILED and _plan_core.IMPLEMENTATION == "python"
    else:
        assert _plan_c is not None, "pip install . must build csrc/_plan_c.pyx"
        assert _plan_core.COMPILED, _plan_core.LOAD_ERROR
        assert _plan_core.levels is _plan_c.levels
        assert set(_plan_c.__all__) == set(_plan_py.__all__)


json_leaf = st.none() | st.booleans() | st.integers(-3, 3) | st.sampled_from([0.0, 1.0, 2.5]) | st.text("ab", max_size=2)
json_like = st.recursive(
    json_leaf,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text("abc", max_size=2), inner, max_size=3),
    max_leaves=12,
)
hashes = st.dictionaries(st.text("abcdef", min_size=1, max_size=3), st.sampled_from("xyz"), max_size=12)


@pytest.mark.skipif(_plan_c is None, reason="compiled planner core not built")
@settings(max_examples=150, deadline=None)
@given(desired=hashes, live=hashes, recorded=hashes, base=st.none() | hashes, a=json_like, b=json_like)
def test_twins_agree_on_classify_and_field_diff(
    desired: dict[str, str], live: dict[str, str], recorded: dict[str, str], base: dict[str, str] | None,
    a: Any, b: Any,
) -> None:
    assert _plan_c.classify(desired, live, recorded, base) == _plan_py.classify(desired, live, recorded, base)
    assert _plan_c.field_diff(a, b) == _plan_py.field_diff(a, b)
    assert _plan_py.field_diff(a, a) == []


@st.composite
def graphs(draw: st.DrawFn) -> tuple[list[str], dict[str, list[str]], set[str]]:
    n = draw(st.integers(0, 25))
    ids = [f"Model/r{i}" for i in range(n)]
    deps: dict[str, list[str]] = {}
    acyclic = draw(st.booleans())
    for i in range(n):
        upper = i if acyclic else n
        picked = draw(st.lists(st.integers(0, upper - 1), max_size=3)) if upper else []
        # names outside the graph (a dangling or filtered-out dependency) are ignored
        outside = ["Dataset/elsewhere"] if draw(st.booleans()) else []
        if picked or outside or draw(st.booleans()):
            deps[ids[i]] = [ids[j] for j in picked] + outside
    changed = {rid for rid in ids if draw(st.booleans())}
    return ids, deps, changed


@pytest.mark.skipif(_plan_c is None, reason="compiled planner core not built")
@settings(max_examples=200, deadline=None)
@given(graph=graphs())
def test_twins_agree_on_levels(graph: tuple[list[str], dict[str, list[str]], set[str]]) -> None:
    ids, deps, changed = graph
    py = _plan_py.levels(ids, deps, changed)
    assert _plan_c.levels(ids, deps, changed) == py
    level, cycle = py
    index = {rid: i for i, rid in enumerate(ids)}
    if not cycle:  # every dependency is applied in an earlier wave when it changes
        for i, rid in enumerate(ids):
            for dep in deps.get(rid, ()):
                if dep in index:
                    assert level[i] >= level[index[dep]] + (dep in changed)
    else:
        for a, b in zip(cycle, cycle[1:] + cycle[:1], strict=True):
            assert ids[b] in deps[ids[a]]


@settings(max_examples=40, deadline=None)
@given(
    desired=st.dictionaries(st.sampled_from([f"Model/m{i}" for i in range(8)]), st.sampled_from("xy"), max_size=8),
    live=st.dictionaries(st.sampled_from([f"Model/m{i}" for i in range(8)]), st.sampled_from("xy"), max_size=8),
)
def test_plans_are_the_same_with_either_core(
    desired: dict[str, str], live: dict[str, str]
) -> None:
    nodes = {rid: Node(rid, h, [f"Model/m{int(rid[7:]) - 1}"] if rid != "Model/m0" else [], doc={"v": h})
             for rid, h in desired.items()}
    state = LiveState({"t": TargetState("t", "1", "file", resources={
        rid: LiveResource(rid, "t", h, {"v": h}, {}, h) for rid, h in live.items()})})
    from specops.plan import _planner

    results = []
    for impl in filter(None, (_plan_py, _plan_c)):
        original = _planner.core
        _planner.core = impl  # type: ignore[assignment]
        try:
            planned = plan_changes(dict(nodes), state)
        finally:
            _planner.core = original
        results.append(([c.to_json() for c in planned.changes], planned.waves))
    assert all(r == results[0] for r in results)


def test_committed_plan_schema_is_current() -> None:
    committed = Path(__file__).resolve().parent.parent / "schemas" / "plan.json"
    assert json.loads(committed.read_text(encoding="utf-8")) == plan_schema()


# -- the plan id and in-sync entries ---------------------------------------------


_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=6)
_JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**40), 2**40) | _TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_TEXT, inner, max_size=3),
    max_leaves=6,
)


@st.composite
def _changes(draw: st.DrawFn) -> list[Any]:
    from specops.plan import FieldChange, ResourceChange

    out = []
    for i in range(draw(st.integers(0, 6))):
        kind = draw(st.sampled_from(["Model", "Target", "Prompt"]))
        bare = draw(st.booleans())
        out.append(
            ResourceChange(
                f"{kind}/r{i}", kind, f"r{i}", draw(st.sampled_from([["no-op"], ["update"], ["delete", "create"]])),
                draw(st.sampled_from(["in_sync", "spec_changed", "drifted"])),
                draw(st.none() | _TEXT), draw(st.none() | _TEXT),
                None if bare else draw(st.none() | st.dictionaries(_TEXT, _JSONISH, max_size=3)),
                None if bare else draw(st.none() | st.dictionaries(_TEXT, _JSONISH, max_size=3)),
                [] if bare else [FieldChange(draw(_TEXT), draw(_JSONISH), draw(_JSONISH))],
                draw(st.none() | _TEXT), draw(st.none() | st.integers(1, 10**6)),
                draw(st.lists(_TEXT, max_size=2)), draw(st.none() | st.integers(0, 5)),
            )
        )
    return out


@settings(max_examples=60, deadline=None)
@given(changes=_changes())
def test_plan_id_is_the_hash_of_the_document_however_entries_are_written(changes: list[Any]) -> None:
    """``compute_id`` writes bare entries itself; the id must stay that of the pydantic dump."""
    from specops.plan import DesiredFingerprint, Summary
    from specops.plan._model import TargetFingerprint, plan_id_of

    plan = Plan(
        desired=DesiredFingerprint("HEAD", "c" * 40, "t" * 40, False, "specs", "x" * 64),
        live={"t": TargetFingerprint("7", "file", True)}, summary=Summary(no_op=len(changes)),
        resource_changes=changes, waves=[[c.id for c in changes[:2]]],
    ).finish(None)
    assert plan.plan_id == plan_id_of(plan.to_json())
    assert Plan.from_json(plan.dump_json()) == plan
    with mock.patch.object(_model, "_ID_SLICE", 2):  # entries hashed a slice at a time
        assert plan.compute_id() == plan.plan_id


def test_an_in_sync_estate_plan_round_trips_and_lists_every_resource(example_repo: Path, applied: Path) -> None:
    """A plan of no-ops only: every resource listed in order, read back equal, schema-valid."""
    from specops.plan._model import plan_id_of

    plan = make_plan(example_repo, live=applied)
    assert plan.summary.no_op == len(plan.resource_changes) == 6 and not plan.has_changes
    ids = [c.id for c in plan.resource_changes]
    assert ids == [rid for wave in ORDER for rid in wave]  # kind order, then id
    first = plan.resource_changes[0]
    assert (first.actions, first.reason, first.targets, first.before, first.diffs) == (["no-op"], "in_sync", [], None, [])
    spec = load_desired_state(example_repo).estate.specs[first.id]
    assert (first.path, first.line) == ("specs/targets/local-cpu.yaml", spec.line)
    assert first.before_hash == first.after_hash
    text = plan.dump_json()
    assert Plan.from_json(text) == plan and plan.plan_id == plan_id_of(json.loads(text))
    import jsonschema  # check-jsonschema's dependency, in the test extra

    jsonschema.validate(json.loads(text), plan_schema())
