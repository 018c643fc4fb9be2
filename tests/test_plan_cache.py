"""The warm planner (compact records, lazily loaded resources, memoised cross-checks) against a cold one."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pygit2
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from specops._errors import SpecError
from specops.plan import load_desired_state, make_plan
from tests.conftest import EXAMPLE_SPECS
from tests.helpers.git import AUTHOR, commit, live_document, save

MODEL = "specs/models/fraud-scorer.yaml"
DATASET = "specs/datasets/transactions.yaml"
SLO = "specs/slos/fraud-scorer.yaml"
TARGET = "specs/targets/local-cpu.yaml"
PROMPT = "specs/prompts/fraud-case-summary.yaml"

def _hour_histogram() -> str:
    """The lines of the dataset profile's ``hour_of_day`` histogram (the SLO's drift reads it)."""
    lines = (EXAMPLE_SPECS / "datasets" / "transactions.yaml").read_text(encoding="utf-8").splitlines(True)
    start = lines.index("      hour_of_day:\n")
    at = next(i for i in range(start, len(lines)) if lines[i] == "        histogram:\n")
    return "".join(lines[at : at + 3])


# Each edit is (file, old text, new text); None deletes the file. Some break a
# cross-resource check of a resource whose own file did not change (its
# memoised clean result must not be reused): the dataset's version (the
# model's lineage), a column (the model's features), a profile histogram (the
# SLO's drift, two references away), the target's providers (placement).
EDITS: list[tuple[str, str, str | None]] = [
    (MODEL, "intraOpThreads: 1", "intraOpThreads: 2"),
    (MODEL, "targets: [local-cpu]", "targets: [local-gpu]"),
    (DATASET, 'version: "2026-10"', 'version: "2026-11"'),
    (DATASET, "{name: hour_of_day, dtype", "{name: hour_of_dy, dtype"),
    (DATASET, _hour_histogram(), ""),
    (TARGET, "providers: [CPUExecutionProvider]", "providers: [OpenVINOExecutionProvider]"),
    (TARGET, "memoryMiB: 2048", "memoryMiB: 4096"),
    (SLO, "features: [amount, hour_of_day]", "features: [amount, hour_of_dy]"),
    (SLO, "thresholdMs: 50", "thresholdMs: 60"),
    (PROMPT, "temperature: 0.2", "temperature: 0.3"),
    (PROMPT, "", None),
]


def _example_estate(repo: Path) -> Path:
    """A new repository at ``repo`` holding the example estate, committed (what the ``example_repo``
    fixture gives, for Hypothesis tests, which cannot take function-scoped fixtures)."""
    git = pygit2.init_repository(str(repo), initial_head="main")
    shutil.copytree(EXAMPLE_SPECS, repo / "specs")
    git.index.add_all()
    git.index.write()
    git.create_commit("HEAD", AUTHOR, AUTHOR, "example estate", git.index.write_tree(), [])
    return repo


def _outcome(repo: Path, live: Path, cache: Path) -> str:
    """The plan's JSON, or the refusal's full text (every diagnostic, with its position)."""
    try:
        return make_plan(repo, live=live, cache_dir=cache).dump_json()
    except SpecError as exc:
        return "refused: " + "\n".join(f"{d.format()} [{d.severity} {d.code} {d.resource}]" for d in exc.diagnostics)


@settings(max_examples=12, deadline=None)
@example([2]).via("the model's lineage breaks; only the dataset's file changed")
@example([4]).via("the SLO's drift breaks, two references away from the dataset's file")
@example([5]).via("the model's placement breaks; only the target's file changed")
@given(st.lists(st.sampled_from(range(len(EDITS))), min_size=1, max_size=3, unique=True))
def test_warm_plan_over_a_cache_equals_a_cold_plan_byte_for_byte(picked: list[int]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        repo = _example_estate(Path(tmp) / "repo")
        live = save(Path(tmp) / "live.json", live_document(repo))
        warm = Path(tmp) / "warm-cache"
        before = _outcome(repo, live, warm)  # fills the cache: records, resources, clean checks
        assert before.startswith("{")
        files: dict[str, str | None] = {}
        for index in picked:
            path, old, new = EDITS[index]
            if new is None:
                files[path] = None
                continue
            text = files.get(path) or (repo / path).read_text(encoding="utf-8")
            assert old in text, (path, old)
            files[path] = text.replace(old, new)
        commit(repo, files, "a random edit")
        warm_outcome = _outcome(repo, live, warm)
        cold_outcome = _outcome(repo, live, Path(tmp) / f"cold-cache-{len(picked)}")
        assert warm_outcome == cold_outcome
        assert _outcome(repo, live, warm) == cold_outcome  # warm twice: nothing parsed, all memoised


def test_a_warm_plan_loads_only_the_resources_it_looks_into(example_repo: Path, tmp_path: Path) -> None:
    """Unchanged files stay compact records; the changed model (and what reads it) load in full."""
    cache = tmp_path / "cache"
    load_desired_state(example_repo, cache_dir=cache)
    desired = load_desired_state(example_repo, cache_dir=cache)
    assert desired.stats.parsed == 0
    # Only the model: its ONNX file in the repository is checked against its signature.
    assert {s.id for s in desired.estate if s.loaded} == {"Model/fraud-scorer"}
    # Identity, hash, references, placement, protection come from the record alone.
    model = desired.estate.specs["Model/fraud-scorer"]
    assert model.placement == ["local-cpu"] and not model.protected
    assert [(r.kind, r.name) for r in model.refs][:2] == [("Target", "local-cpu"), ("Dataset", "transactions")]
    # The resource loads on first use and is the one a cold load gives.
    cold = load_desired_state(example_repo, cache_dir=False).estate.specs["Model/fraud-scorer"]
    assert model.resource == cold.resource and model.hash == cold.hash and model.line == cold.line


def test_a_large_cold_load_holds_records_only_and_plans_the_same(
    example_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past ``_RELEASE_AT`` parsed files, resources are read back from the cache when used, never held."""
    from specops.plan import _cache

    empty = save(tmp_path / "empty.json", {"format_version": 1, "targets": []})
    applied = save(tmp_path / "live.json", live_document(example_repo))
    commit(example_repo, {MODEL: (example_repo / MODEL).read_text(encoding="utf-8").replace(
        "intraOpThreads: 1", "intraOpThreads: 2")}, "edit the model")  # fmt: skip
    held = [make_plan(example_repo, live=live, cache_dir=tmp_path / f"held-{i}").dump_json()
            for i, live in enumerate((empty, applied))]  # fmt: skip
    monkeypatch.setattr(_cache, "_RELEASE_AT", 1)
    desired = load_desired_state(example_repo, cache_dir=tmp_path / "released")
    assert desired.stats.parsed == 6
    # The checks read the model and its target back, and let them go.
    assert desired.stats.unpickled >= 2 and not any(s.loaded for s in desired.estate)
    model = desired.estate.specs["Model/fraud-scorer"]
    assert model.resource == load_desired_state(example_repo, cache_dir=False).estate.specs[model.id].resource
    released = [make_plan(example_repo, live=live, cache_dir=tmp_path / f"released-{i}").dump_json()
                for i, live in enumerate((empty, applied))]  # fmt: skip
    assert released == held
    assert '"update"' in released[1] and '"create"' in released[0]


@pytest.mark.parametrize("wanted", [[], ["k3"], ["k1", "k7", "nope"], [f"k{i}" for i in range(10)] + ["nope"]])
def test_cache_rows_are_the_same_scanned_or_looked_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, wanted: list[str]
) -> None:
    """Few keys of a large table are looked up (a batch at a time), most are scanned: the same rows."""
    import sqlite3

    from specops.plan import _cache

    db = sqlite3.connect(tmp_path / "t.sqlite")
    db.execute("CREATE TABLE clean (key TEXT PRIMARY KEY)")
    db.executemany("INSERT INTO clean VALUES (?)", [(f"k{i}",) for i in range(10)])
    monkeypatch.setattr(_cache, "_BATCH", 2)
    expected = sorted(k for k in wanted if k != "nope")
    assert sorted(k for (k,) in _cache._select(db, "clean", "key", wanted)) == expected


# Live drift an operator might cause behind SpecOps' back: (resource, path into its spec, new value).
DRIFTS: list[tuple[str, tuple[str, ...], object]] = [
    ("Model/fraud-scorer", ("spec", "runtime", "intraOpThreads"), 7),
    ("Model/fraud-scorer", ("spec", "version"), "9.9.9"),
    ("Target/local-cpu", ("spec", "capacity", "memoryMiB"), 1),
    ("Prompt/fraud-case-summary", ("spec", "parameters", "temperature"), 0.9),
    ("Dataset/transactions", ("metadata", "labels"), {"drifted": "yes"}),
    ("SLO/fraud-scorer", ("spec",), None),  # the whole spec replaced by null below
]


def _drift(doc: dict[str, object], picked: list[int]) -> dict[str, object]:
    import copy

    doc = copy.deepcopy(doc)
    resources = doc["resources"]
    assert isinstance(resources, dict)
    for index in picked:
        rid, path, value = DRIFTS[index]
        if path == ("spec",):
            resources[rid]["spec"] = None
            continue
        node = resources[rid]["spec"]
        for key in path[:-1]:
            node = node.setdefault(key, {})
        node[path[-1]] = value
    return doc


@settings(max_examples=10, deadline=None)
@given(st.lists(st.sampled_from(range(len(DRIFTS))), min_size=1, max_size=3, unique=True))
def test_a_drifted_live_snapshot_is_never_answered_from_the_memo(picked: list[int]) -> None:
    """The cache remembers a snapshot's running hashes by its bytes; a drifted snapshot is hashed anew."""
    with tempfile.TemporaryDirectory() as tmp:
        repo = _example_estate(Path(tmp) / "repo")
        document = live_document(repo)
        live = save(Path(tmp) / "live.json", document)
        warm = Path(tmp) / "warm-cache"
        in_sync = _outcome(repo, live, warm)  # remembers the in-sync snapshot's hashes
        assert in_sync == _outcome(repo, live, warm) == _outcome(repo, live, Path(tmp) / "cold")
        save(live, _drift(document, picked))  # the same file, drifted
        drifted = _outcome(repo, live, warm)
        assert drifted == _outcome(repo, live, Path(tmp) / "cold-drifted")
        if picked != [5]:  # a null spec alone is taken at its recorded hash: in sync
            assert drifted != in_sync
        assert _outcome(repo, live, warm) == drifted  # the drifted snapshot, now from its own memo


def test_the_live_memo_holds_each_snapshots_own_hashes(example_repo: Path, tmp_path: Path) -> None:
    import hashlib

    import orjson

    from specops.plan import read_snapshot
    from specops.plan._cache import ParseCache

    live = save(tmp_path / "live.json", live_document(example_repo))
    plain = {rid: r.running_hash for rid, r in read_snapshot(live).merged().items()}
    cache = ParseCache(tmp_path / "cache")
    try:
        first = read_snapshot(live, cache)
        digest = hashlib.sha256(live.read_bytes()).hexdigest()
        stored = cache.live_hashes(digest)
        assert stored is not None and sorted(orjson.loads(stored)) == sorted(plain.values())
        assert {rid: r.running_hash for rid, r in first.merged().items()} == plain
        # A memo that does not fit the snapshot (another count of specs) is not used: hashed again.
        cache.remember_live_hashes(digest, orjson.dumps(["0" * 64]))
        assert {rid: r.running_hash for rid, r in read_snapshot(live, cache).merged().items()} == plain
        cache.remember_live_hashes(digest, orjson.dumps(["0" * 64] * (len(plain) + 1)))  # one too many
        assert {rid: r.running_hash for rid, r in read_snapshot(live, cache).merged().items()} == plain
        assert cache.live_hashes(digest) == stored  # hashed again, and remembered right
    finally:
        cache.close()
    reopened = ParseCache(tmp_path / "cache")  # the memo outlives the process's cache object
    try:
        assert reopened.live_hashes(hashlib.sha256(live.read_bytes()).hexdigest()) is not None
        assert {rid: r.running_hash for rid, r in read_snapshot(live, reopened).merged().items()} == plain
        for i in range(6):  # only the most recent few snapshots are kept
            reopened.remember_live_hashes(f"{i:064x}", b"[]")
        assert reopened.live_hashes(hashlib.sha256(live.read_bytes()).hexdigest()) is None
    finally:
        reopened.close()


def test_the_cache_commits_to_a_write_ahead_log(example_repo: Path, tmp_path: Path) -> None:
    """Commits do not wait for fsync (WAL, synchronous=NORMAL); another connection reads them."""
    import sqlite3

    cache = tmp_path / "cache"
    load_desired_state(example_repo, cache_dir=cache)
    (database,) = cache.glob("parse-*.sqlite")
    db = sqlite3.connect(database)
    try:
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        (records,) = db.execute("SELECT count(*) FROM records").fetchone()
        assert records == len(list((example_repo / "specs").rglob("*.yaml")))
    finally:
        db.close()
    assert load_desired_state(example_repo, cache_dir=cache).stats.parsed == 0


def _running(state: object) -> dict[str, str]:
    from specops.plan import LiveState

    assert isinstance(state, LiveState)
    return {rid: r.running_hash for rid, r in state.merged().items()}


@settings(max_examples=10, deadline=None)
@given(st.lists(st.sampled_from(range(len(DRIFTS))), max_size=3, unique=True))
def test_live_specs_take_a_desired_twins_hash_only_when_they_hash_alike(picked: list[int]) -> None:
    """A live spec with its desired twin's JSON digest runs the twin's hash; a drifted one is hashed."""
    from specops.plan import read_snapshot

    with tempfile.TemporaryDirectory() as tmp:
        repo = _example_estate(Path(tmp) / "repo")
        live = save(Path(tmp) / "live.json", _drift(live_document(repo), picked))
        for cache in (Path(tmp) / "cache", Path(tmp) / "cache"):  # parsed, then from records
            twins = load_desired_state(repo, cache_dir=cache).estate.specs
            assert all(spec.digest for spec in twins.values())  # the example's documents hold no null
            assert _running(read_snapshot(live, None, twins)) == _running(read_snapshot(live))


# JSON values and the Python values that share their JSON spelling but not always their canonical hash.
_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=5),
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.tuples(inner, inner), st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@example([float("nan")], [None]).via("NaN and None share JSON's null; their canonical hashes differ")
@example({"a": 1.0}, {"a": 1}).via("alike canonically, not in JSON: hashed, and equal")
@given(_VALUES, _VALUES)
def test_a_twins_digest_never_stands_for_another_hash(desired: object, live: object) -> None:
    """Whatever the twin, the running hash is the live spec's own canonical hash (or its twin's, equal)."""
    from dataclasses import dataclass

    import orjson

    from specops._core import canonical_hash
    from specops.plan._live import _resources
    from specops.spec._load import spec_digest

    @dataclass
    class Twin:
        hash: str
        digest: bytes

    try:
        twin = Twin(canonical_hash(desired), spec_digest(desired))
    except (TypeError, ValueError):
        return  # not a document the planner could hash: never a twin
    try:
        spelled = orjson.loads(orjson.dumps(desired))  # the twin's JSON as a target would report it
    except (TypeError, orjson.JSONDecodeError):
        spelled = None
    for spec in (live, desired, spelled):
        if spec is None:
            continue
        doc = {"target": "t", "resources": {"Model/m": {"hash": "recorded", "spec": spec}}}
        try:
            expected = canonical_hash(spec)
        except (TypeError, ValueError):
            continue
        (resource,) = _resources(doc, twins={"Model/m": twin}).values()  # type: ignore[arg-type]
        assert resource.running_hash == expected
