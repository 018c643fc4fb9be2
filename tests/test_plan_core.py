"""The planner core's packed path (dense int ids, arrays aligned by id) against its dict path and twin.

The compiled module and its pure-Python twin must agree on every packed
routine for random estates (missing live, recorded and base entries, odd
hash strings, cycles, empty inputs), and the packed path must give exactly
what the dict path (``classify``, ``levels``) gives. The dict-path checks run
on the active implementation, so the ``SPECOPS_PURE_PYTHON=1`` pass checks
the twin and the default pass the compiled core.
"""

from __future__ import annotations

import copy
import hashlib
from array import array
from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from specops import _plan_core, _plan_py

try:
    from specops import _plan_c
except ImportError:  # tests/test_plan.py's activation test fails loudly
    _plan_c = None  # type: ignore[assignment]

IMPLS: list[ModuleType] = [m for m in (_plan_py, _plan_c) if m is not None]
needs_compiled = pytest.mark.skipif(_plan_c is None, reason="compiled planner core not built")

CANONICAL = [hashlib.sha256(bytes([i])).hexdigest() for i in range(3)]
# Strings a live target might report besides canonical hashes: the same digits
# in upper case (must not equal the lower-case hash), one digit short, a
# non-hex letter, empty, non-ASCII, a lone surrogate.
ODD = [CANONICAL[0].upper(), CANONICAL[1][:-1], CANONICAL[2][:-1] + "g", "", "mixed:é", "\ud800", "0" * 64]
hash_values = st.sampled_from(CANONICAL + ODD)
ids = st.sampled_from([f"Model/m{i}" for i in range(10)] + ["Target/t", "Dataset/é"])
hash_maps = st.dictionaries(ids, hash_values, max_size=12)


def fresh(hashes: dict[str, str]) -> dict[str, str]:
    """The same map with keys that are equal but not the same objects (as a snapshot read from JSON has)."""
    return {(rid + ".")[:-1]: value for rid, value in hashes.items()}


def packed_classify(core: Any, desired: dict[str, str], live: dict[str, str], recorded: dict[str, str],
                    base: dict[str, str] | None) -> tuple[bytes, list[str]]:
    """``classify`` by way of the packed path: intern desired then live, pack, classify, unpack."""
    index: dict[str, int] = {}
    names: list[str] = []
    n = core.intern_ids(index, names, desired)
    size = core.intern_ids(index, names, live)
    codes = core.classify_packed(
        size,
        core.pack_hashes(index, names, size, desired),
        core.pack_hashes(index, names, size, live),
        core.pack_hashes(index, names, size, recorded),
        None if base is None else core.pack_hashes(index, names, size, base),
    )
    assert all(c == core.DELETE for c in codes[n:])  # live-only ids, and nothing is ABSENT
    return codes[:n], names[n:]


@needs_compiled
@settings(max_examples=200, deadline=None)
@given(desired=hash_maps, live=hash_maps, recorded=hash_maps, base=st.none() | hash_maps)
def test_twins_agree_on_packed_classify(
    desired: dict[str, str], live: dict[str, str], recorded: dict[str, str], base: dict[str, str] | None
) -> None:
    tables = []
    for core in IMPLS:
        index: dict[str, int] = {}
        names: list[str] = []
        sizes = (core.intern_ids(index, names, desired), core.intern_ids(index, names, list(live)))
        size = sizes[1]
        packed = [core.pack_hashes(index, names, size, m) for m in (desired, live, recorded, base or {})]
        codes = core.classify_packed(size, *packed[:3], None if base is None else packed[3])
        tables.append((index, names, sizes, packed, codes))
    assert tables[0] == tables[1]


@settings(max_examples=200, deadline=None)
@given(desired=hash_maps, live=hash_maps, recorded=hash_maps, base=st.none() | hash_maps)
def test_packed_classify_equals_the_dict_path(
    desired: dict[str, str], live: dict[str, str], recorded: dict[str, str], base: dict[str, str] | None
) -> None:
    want = _plan_core.classify(desired, live, recorded, base)
    assert packed_classify(_plan_core, desired, live, recorded, base) == want
    assert packed_classify(_plan_core, desired, fresh(live), fresh(recorded), base) == want


@settings(max_examples=200, deadline=None)
@given(a=hash_values | st.text(max_size=70), b=hash_values | st.text(max_size=70))
def test_packed_records_are_equal_exactly_when_the_hashes_are(a: str, b: str) -> None:
    index = {"x": 0, "y": 1}
    packed = _plan_core.pack_hashes(index, ["x", "y"], 2, {"x": a, "y": b})
    record = _plan_core.RECORD
    assert len(packed) == 2 * record
    assert (packed[:record] == packed[record:]) == (a == b)
    assert packed[0] in (1, 2) and packed[record] in (1, 2)  # present, never the absent tag 0


def test_packed_records_of_canonical_hashes_are_their_digest_bytes() -> None:
    hashes = {"a": CANONICAL[0], "c": CANONICAL[0].upper()}
    packed = _plan_core.pack_hashes({"a": 0, "b": 1, "c": 2}, ["a", "b", "c"], 3, hashes)
    assert packed[:33] == b"\x01" + bytes.fromhex(CANONICAL[0])
    assert packed[33:66] == bytes(33)  # "b" has no hash: absent
    assert packed[66:] == b"\x02" + hashlib.sha256(CANONICAL[0].upper().encode()).digest()


@settings(max_examples=100, deadline=None)
@given(first=hash_maps, second=hash_maps, live=hash_maps)
def test_an_interned_table_is_reused_by_a_later_estate(
    first: dict[str, str], second: dict[str, str], live: dict[str, str]
) -> None:
    core = _plan_core
    index: dict[str, int] = {}
    names: list[str] = []
    core.intern_ids(index, names, first)
    before = dict(index)
    size = core.intern_ids(index, names, [*second, *live])
    assert {k: index[k] for k in before} == before  # ints never move
    assert names == list(index) and [index[k] for k in names] == list(range(size))
    codes = core.classify_packed(
        size, core.pack_hashes(index, names, size, second), core.pack_hashes(index, names, size, live),
        core.pack_hashes(index, names, size, {}), None,
    )
    want, deleted = core.classify(second, live, {}, None)
    assert bytes(codes[index[rid]] for rid in second) == want
    assert [rid for rid in names if codes[index[rid]] == core.DELETE] == [rid for rid in names if rid in deleted]
    assert sorted(deleted) == sorted(rid for rid in live if rid not in second)
    for rid in names:  # an id of the first estate only is neither desired nor live now
        if rid not in second and rid not in live:
            assert codes[index[rid]] == core.ABSENT


@st.composite
def graphs(draw: st.DrawFn) -> tuple[list[str], dict[str, list[str]], set[str]]:
    """Unique ids, cyclic or not: self-loops, repeated edges, names outside the graph, ids without deps."""
    n = draw(st.integers(0, 30))
    ids = draw(st.permutations([f"Model/r{i}" for i in range(n)]))
    deps: dict[str, list[str]] = {}
    acyclic = draw(st.booleans())
    for i in range(n):
        upper = i if acyclic else n
        picked = draw(st.lists(st.integers(0, upper - 1), max_size=4)) if upper else []
        outside = ["Dataset/elsewhere"] if draw(st.booleans()) else []
        if picked or outside or draw(st.booleans()):
            deps[ids[i]] = [ids[j] for j in picked] + outside
    changed = {rid for rid in ids if draw(st.booleans())} | ({"Prompt/not-in-graph"} if draw(st.booleans()) else set())
    return ids, deps, changed


def packed_levels(core: Any, ids: list[str], deps: dict[str, list[str]], changed: set[str]) -> Any:
    index: dict[str, int] = {}
    names: list[str] = []
    size = core.intern_ids(index, names, ids)
    indptr, indices = core.pack_deps(index, names, size, deps)
    return indptr, indices, core.mask(index, names, size, changed), core.levels_packed(
        size, indptr, indices, core.mask(index, names, size, changed)
    )


@needs_compiled
@settings(max_examples=200, deadline=None)
@given(graph=graphs())
def test_twins_agree_on_packed_levels(graph: tuple[list[str], dict[str, list[str]], set[str]]) -> None:
    ids, deps, changed = graph
    results = [packed_levels(core, ids, deps, changed) for core in IMPLS]
    assert results[0] == results[1]
    index = {rid: i for i, rid in enumerate(ids)}
    for core in IMPLS:  # a set, a list in any order, fresh objects: one mask
        flags = core.mask(index, ids, len(ids), changed)
        assert core.mask(index, ids, len(ids), sorted(changed, reverse=True)) == flags
        assert core.mask(index, ids, len(ids), frozenset(fresh(dict.fromkeys(changed, "")))) == flags
    assert all(isinstance(a, array) and a.typecode == "q" for r in results for a in r[:2])


@settings(max_examples=200, deadline=None)
@given(graph=graphs())
def test_packed_levels_equal_the_dict_path(graph: tuple[list[str], dict[str, list[str]], set[str]]) -> None:
    ids, deps, changed = graph
    *_, packed = packed_levels(_plan_core, ids, deps, changed)
    assert packed == _plan_core.levels(ids, deps, changed)
    level, cycle = packed
    if cycle:
        for a, b in zip(cycle, cycle[1:] + cycle[:1], strict=True):
            assert ids[b] in deps[ids[a]]
    else:  # a changed dependency is applied in an earlier wave
        where = {rid: i for i, rid in enumerate(ids)}
        for i, rid in enumerate(ids):
            for dep in deps.get(rid, ()):
                if dep in where:
                    assert level[i] >= level[where[dep]] + (dep in changed)


@settings(max_examples=100, deadline=None)
@given(graph=graphs(), cut=st.integers(0, 30))
def test_a_graph_over_part_of_a_table_leaves_out_the_rest(
    graph: tuple[list[str], dict[str, list[str]], set[str]], cut: int
) -> None:
    """Interned ids at or past ``size`` are outside the graph, as names outside ``ids`` are for ``levels``."""
    ids, deps, changed = graph
    core = _plan_core
    index: dict[str, int] = {}
    names: list[str] = []
    core.intern_ids(index, names, ids)
    size = min(cut, len(ids))
    indptr, indices = core.pack_deps(index, names, size, deps)
    got = core.levels_packed(size, indptr, indices, core.mask(index, names, size, changed))
    assert got == core.levels(ids[:size], deps, changed)


# -- bad input: both implementations refuse it alike, never touch memory out of bounds


def _outcome(call: Callable[[], Any]) -> tuple[str, str]:
    try:
        return "ok", repr(call())
    except (ValueError, TypeError) as exc:
        return type(exc).__name__, str(exc)


BAD: dict[str, Callable[[Any], Any]] = {
    "records of the wrong size": lambda c: c.classify_packed(2, bytes(66), bytes(65), bytes(66), None),
    "base of the wrong size": lambda c: c.classify_packed(1, bytes(33), bytes(33), bytes(33), bytes(32)),
    "row pointers of the wrong length": lambda c: c.levels_packed(2, array("q", [0, 0]), array("q"), b"\0\0"),
    "flags of the wrong length": lambda c: c.levels_packed(1, array("q", [0, 0]), array("q"), b""),
    "row pointers not from 0": lambda c: c.levels_packed(1, array("q", [1, 1]), array("q", [0]), b"\0"),
    "row pointers falling": lambda c: c.levels_packed(2, array("q", [0, 2, 1]), array("q", [0]), b"\0\0"),
    "row pointers past the edges": lambda c: c.levels_packed(1, array("q", [0, 2]), array("q", [0]), b"\0"),
    "an edge past the nodes": lambda c: c.levels_packed(2, array("q", [0, 1, 1]), array("q", [2]), b"\0\0"),
    "a negative edge": lambda c: c.levels_packed(2, array("q", [0, 1, 1]), array("q", [-1]), b"\0\0"),
    "a hash that is not a str": lambda c: c.pack_hashes({"a": 0}, ["a"], 1, {"a": 7}),
    "a negative size": lambda c: c.pack_hashes({}, [], -1, {}),
    "a negative mask size": lambda c: c.mask({}, [], -1, []),
    "a graph larger than the table": lambda c: c.pack_deps({"a": 0}, ["a"], 2, {}),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_packed_input_is_refused_alike(case: str) -> None:
    outcomes = [_outcome(lambda c=core: BAD[case](c)) for core in IMPLS]
    assert outcomes[0][0] in ("ValueError", "TypeError"), outcomes[0]
    assert all(o == outcomes[0] for o in outcomes)


def test_empty_inputs() -> None:
    for core in IMPLS:
        assert core.intern_ids({}, [], {}) == 0
        assert core.pack_hashes({}, [], 0, {"unknown": CANONICAL[0]}) == b""
        assert core.classify_packed(0, b"", b"", b"", b"") == b""
        indptr, indices = core.pack_deps({}, [], 0, {"unknown": ["x"]})
        assert (list(indptr), list(indices)) == ([0], [])
        assert core.levels_packed(0, indptr, indices, core.mask({}, [], 0, {"x"})) == ([], [])


def test_the_active_core_exports_the_packed_path() -> None:
    for name in ("intern_ids", "pack_hashes", "mask", "pack_deps", "classify_packed", "levels_packed"):
        impl = _plan_c if _plan_core.COMPILED else _plan_py
        assert getattr(_plan_core, name) is getattr(impl, name)
    assert _plan_core.RECORD == 33 and _plan_core.ABSENT not in (
        _plan_core.NOOP, _plan_core.CREATE, _plan_core.SPEC_CHANGED, _plan_core.DRIFTED, _plan_core.DELETE
    )


# -- odd input to the dict-keyed entry points (compiled levels goes the packed way, else the dict way)


@needs_compiled
@settings(max_examples=100, deadline=None)
@given(
    desired=st.dictionaries(ids, st.integers(0, 2) | hash_values, max_size=10),
    live=st.dictionaries(ids, st.integers(0, 2) | hash_values, max_size=10),
)
def test_twins_agree_on_hashes_that_are_not_str(desired: dict[str, Any], live: dict[str, Any]) -> None:
    assert _plan_c.classify(desired, live, live, desired) == _plan_py.classify(desired, live, live, desired)


@needs_compiled
@settings(max_examples=100, deadline=None)
@given(graph=graphs(), repeats=st.lists(st.integers(0, 29), min_size=1, max_size=4))
def test_repeated_ids_take_the_dict_way_alike(
    graph: tuple[list[str], dict[str, list[str]], set[str]], repeats: list[int]
) -> None:
    ids, deps, changed = graph
    ids = ids + [ids[r % len(ids)] for r in repeats] if ids else []
    for flags in (changed, sorted(changed), frozenset(changed)):
        assert _plan_c.levels(ids, deps, flags) == _plan_py.levels(ids, deps, flags)  # type: ignore[arg-type]


@st.composite
def ordered_estates(draw: st.DrawFn) -> tuple[dict[str, str], dict[str, str]]:
    """Live listing the desired ids in desired's order, some left out, others added anywhere."""
    desired = draw(hash_maps)
    keep = [rid for rid in desired if draw(st.booleans())]
    extra = draw(st.lists(st.sampled_from([f"SLO/s{i}" for i in range(4)]), unique=True))
    order = list(keep)
    for rid in extra:
        order.insert(draw(st.integers(0, len(order))), rid)
    live = {(rid + ".")[:-1]: draw(hash_values | st.none()) for rid in order}
    return desired, live  # type: ignore[return-value]


@needs_compiled
@settings(max_examples=200, deadline=None)
@given(estate=ordered_estates(), base=st.none() | hash_maps)
def test_twins_agree_on_classify_when_live_follows_desired_order(
    estate: tuple[dict[str, str], dict[str, str]], base: dict[str, str] | None
) -> None:
    """The compiled walk follows live with a cursor and skips the deletion walk when every live id was met."""
    desired, live = estate
    assert _plan_c.classify(desired, live, live, base) == _plan_py.classify(desired, live, live, base)
    same_order = {rid: live.get(rid, "gone") for rid in desired}  # every live id desired, in order
    assert _plan_c.classify(desired, same_order, live, base) == _plan_py.classify(desired, same_order, live, base)


NAN = float("nan")
leaves = st.none() | st.booleans() | st.integers(-2, 2) | st.sampled_from([0.0, 1.0, NAN]) | st.text("ab", max_size=2)
documents = st.recursive(
    leaves,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from("abc"), inner, max_size=3),
    max_leaves=14,
)


@needs_compiled
@settings(max_examples=300, deadline=None)
@given(a=documents, b=documents, share=st.booleans())
def test_twins_agree_on_field_diff_of_mostly_equal_documents(a: Any, b: Any, share: bool) -> None:
    """The compiled diff skips equal subtrees; NaN (never equal, even to itself), True against 1 and
    1 against 1.0 must still come out as the twin's."""
    after = {"same": a if share else copy.deepcopy(a), "other": b, "nested": {"x": [a, b]}}
    before = {"same": a, "other": a, "nested": {"x": [a, a]}}
    for x, y in ((before, after), (after, before), (a, a), (a, b)):
        assert _plan_c.field_diff(x, y) == _plan_py.field_diff(x, y)
