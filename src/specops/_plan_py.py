"""Pure-Python twin of the planner's compiled hot path (``csrc/_plan_c.pyx``).

Same names, same results: ``specops._plan_core`` picks one at import time and
``tests/test_plan.py`` checks with Hypothesis that both agree. The planner
itself (``specops.plan._planner``) is ordinary Python around three routines
that touch every resource of an estate:

* ``classify`` compares desired and live content hashes into action codes;
* ``field_diff`` lists the leaves where two JSON-like documents differ;
* ``levels`` orders a dependency graph into parallel waves (or finds a cycle).

Those three take dicts keyed by resource id, so every call hashes strings.
The *packed* path gives every id a dense int once (``intern_ids``; the table
is reusable across plans) and lays the hashes, the dependency graph and the
changed set out as arrays aligned by that int (``pack_hashes``, ``pack_deps``,
``mask``); ``classify_packed`` and ``levels_packed`` then walk arrays only.
A packed hash is a ``RECORD``-byte record: a tag (0 absent, 1 a lowercase
64-digit hex hash stored as its 32 bytes, 2 any other string stored as the
SHA-256 of its UTF-8) and 32 digest bytes, so records are equal exactly when
the strings are (up to a SHA-256 collision, which the content hashes already
rule out).
"""

from __future__ import annotations

import hashlib
from array import array
from collections.abc import Iterable
from typing import Any

__all__ = [
    "ABSENT",
    "CREATE",
    "DELETE",
    "DRIFTED",
    "IMPLEMENTATION",
    "NOOP",
    "RECORD",
    "SPEC_CHANGED",
    "classify",
    "classify_packed",
    "field_diff",
    "intern_ids",
    "levels",
    "levels_packed",
    "mask",
    "pack_deps",
    "pack_hashes",
]

IMPLEMENTATION = "python"

NOOP = 0
CREATE = 1
SPEC_CHANGED = 2
DRIFTED = 3
DELETE = 4
ABSENT = 5  # classify_packed: an interned id that is neither desired nor live

RECORD = 33  # bytes per packed hash: tag + 32 digest bytes


def classify(
    desired: dict[str, str],
    live: dict[str, str],
    recorded: dict[str, str],
    base: dict[str, str] | None,
) -> tuple[bytes, list[str]]:
    """Action code per desired resource (one byte each, in ``desired``'s order), and the live-only ids.

    ``live`` holds the hash of what each target really runs, ``recorded``
    the hash it says it applied. A difference is *drift* when git did not
    move (the base had the desired hash already) or when live moved away
    from a desired state it had applied; otherwise the spec changed. Codes
    come back as bytes so that 100,000 of them are one object, not a list.
    """
    codes = bytearray()
    for rid, want in desired.items():
        have = live.get(rid)
        if have is None:
            codes.append(CREATE)
        elif have == want:
            codes.append(NOOP)
        elif (base is not None and base.get(rid) == want) or recorded.get(rid) == want:
            codes.append(DRIFTED)
        else:
            codes.append(SPEC_CHANGED)
    deleted = [rid for rid in live if rid not in desired]
    return bytes(codes), deleted


def _same(a: Any, b: Any) -> bool:
    # Canonical equality: 1 == 1.0, but True is not 1 and "1" is not 1.
    if type(a) is type(b):
        return bool(a == b)
    numbers = (int, float)
    if isinstance(a, numbers) and isinstance(b, numbers):
        return not isinstance(a, bool) and not isinstance(b, bool) and a == b
    return False


def _diff(a: Any, b: Any, path: tuple[str | int, ...], out: list[tuple[tuple[str | int, ...], Any, Any]]) -> None:
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(a.keys() | b.keys()):
            if key not in a:
                out.append(((*path, key), None, b[key]))
            elif key not in b:
                out.append(((*path, key), a[key], None))
            else:
                _diff(a[key], b[key], (*path, key), out)
    elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i in range(len(a)):
            _diff(a[i], b[i], (*path, i), out)
    elif isinstance(a, list) and isinstance(b, list):
        # A list that grew or shrank is one change: positional diffs of a
        # shifted list would report every later element as changed.
        out.append((path, a, b))
    elif not _same(a, b):
        out.append((path, a, b))


def field_diff(before: Any, after: Any) -> list[tuple[tuple[str | int, ...], Any, Any]]:
    """``(path, before, after)`` for every leaf that differs; keys sorted, absent is ``None``."""
    out: list[tuple[tuple[str | int, ...], Any, Any]] = []
    _diff(before, after, (), out)
    return out


def levels(
    ids: list[str], deps: dict[str, list[str]], changed: set[str] | frozenset[str]
) -> tuple[list[int], list[int]]:
    """Wave of every resource of a dependency graph, and a cycle if there is one.

    ``ids[i]`` depends on ``deps[ids[i]]`` (names outside ``ids`` are
    ignored). Its level is the number of *changed* resources on the longest
    dependency chain below it, so unchanged resources pass ordering through
    without costing a wave. When the graph has a cycle, the second list
    names its members as indices into ``ids``, in order (starting from the
    lowest-numbered stuck resource), else it is empty.
    """
    n = len(ids)
    index = {rid: i for i, rid in enumerate(ids)}
    indptr = [0]
    indices: list[int] = []
    for rid in ids:
        for dep in deps.get(rid, ()):
            j = index.get(dep)
            if j is not None:
                indices.append(j)
        indptr.append(len(indices))
    chg = [1 if rid in changed else 0 for rid in ids]
    return _waves(n, indptr, indices, chg)


def _waves(n: int, indptr: list[int], indices: list[int], chg: list[int]) -> tuple[list[int], list[int]]:
    indeg = [indptr[i + 1] - indptr[i] for i in range(n)]
    rptr = [0] * (n + 1)
    for j in indices:
        rptr[j + 1] += 1
    for i in range(n):
        rptr[i + 1] += rptr[i]
    fill = rptr[:n]
    rind = [0] * len(indices)
    for i in range(n):
        for k in range(indptr[i], indptr[i + 1]):
            j = indices[k]
            rind[fill[j]] = i
            fill[j] += 1
    level = [0] * n
    queue = [i for i in range(n) if indeg[i] == 0]
    head = 0
    while head < len(queue):
        j = queue[head]
        head += 1
        weight = level[j] + chg[j]
        for k in range(rptr[j], rptr[j + 1]):
            i = rind[k]
            if level[i] < weight:
                level[i] = weight
            indeg[i] -= 1
            if indeg[i] == 0:
                queue.append(i)
    if len(queue) == n:
        return level, []
    return level, _cycle(n, indptr, indices, indeg)


def _cycle(n: int, indptr: list[int], indices: list[int], indeg: list[int]) -> list[int]:
    # Every stuck node has a stuck dependency, so walking first stuck
    # dependencies from a stuck node must revisit a node: that loop is a cycle.
    node = next(i for i in range(n) if indeg[i] > 0)
    seen: dict[int, int] = {}
    path: list[int] = []
    while node not in seen:
        seen[node] = len(path)
        path.append(node)
        node = next(indices[k] for k in range(indptr[node], indptr[node + 1]) if indeg[indices[k]] > 0)
    return path[seen[node] :]


# -- the packed path: dense int ids, arrays aligned by id ---------------------------


def intern_ids(index: dict[str, int], names: list[str], ids: Iterable[str]) -> int:
    """Give every id of ``ids`` not yet in ``index`` the next dense int; return how many are interned.

    ``names[i]`` is the id of int ``i`` and ``index[names[i]] == i``; both grow
    in place, so one table serves many plans.
    """
    for rid in ids:
        if rid not in index:
            index[rid] = len(names)
            names.append(rid)
    return len(names)


def _record(value: str) -> bytes:
    if not isinstance(value, str):
        raise TypeError(f"a hash must be a str, not {type(value).__name__}")
    if len(value) == 64:
        try:
            raw = bytes.fromhex(value)
        except ValueError:
            raw = b""
        if raw.hex() == value:  # lowercase hex digits only: the round trip is exact
            return b"\x01" + raw
    return b"\x02" + hashlib.sha256(value.encode("utf-8", "surrogatepass")).digest()


def pack_hashes(index: dict[str, int], names: list[str], size: int, hashes: dict[str, str]) -> bytes:
    """``size * RECORD`` bytes: the record of ``hashes[names[i]]`` at ``i * RECORD``, zeros where absent.

    Ids that are not interned, or whose int is ``size`` or more, are skipped:
    intern first everything that must count. ``names`` is the table's list
    (``index``'s keys in order): the compiled core checks it before a dict
    probe, so a map that comes in the table's order costs no hashing.
    """
    if size < 0:
        raise ValueError(f"size {size} is negative")
    out = bytearray(size * RECORD)
    for rid, value in hashes.items():
        i = index.get(rid)
        if i is not None and 0 <= i < size:
            out[i * RECORD : (i + 1) * RECORD] = _record(value)
    return bytes(out)


def mask(index: dict[str, int], names: list[str], size: int, ids: Iterable[str]) -> bytes:
    """``size`` bytes, 1 at the int of every interned id of ``ids`` below ``size``, else 0.

    ``names`` as for ``pack_hashes`` (the compiled core may probe a large set
    once per name instead of the table once per member: the same answer).
    """
    if size < 0:
        raise ValueError(f"size {size} is negative")
    out = bytearray(size)
    for rid in ids:
        i = index.get(rid)
        if i is not None and 0 <= i < size:
            out[i] = 1
    return bytes(out)


def pack_deps(
    index: dict[str, int], names: list[str], size: int, deps: dict[str, list[str]]
) -> tuple[array[int], array[int]]:
    """The graph ``names[i] -> deps[names[i]]`` for ``i < size`` as CSR arrays ``(indptr, indices)``.

    Row ``i`` is ``indices[indptr[i]:indptr[i + 1]]``, in ``deps``' order;
    names that are not interned, or whose int is ``size`` or more, are left
    out (as ``levels`` ignores names outside ``ids``).
    """
    if not 0 <= size <= len(names):
        raise ValueError(f"size {size} is not within the {len(names)} interned ids")
    indptr = array("q", [0])
    indices = array("q")
    for i in range(size):
        for dep in deps.get(names[i], ()):
            j = index.get(dep)
            if j is not None and 0 <= j < size:
                indices.append(j)
        indptr.append(len(indices))
    return indptr, indices


def _check_records(name: str, buffer: bytes, size: int) -> None:
    if len(buffer) != size * RECORD:
        raise ValueError(f"{name}: {len(buffer)} bytes, expected {size} records of {RECORD} ({size * RECORD} bytes)")


def classify_packed(size: int, desired: bytes, live: bytes, recorded: bytes, base: bytes | None) -> bytes:
    """``classify`` over packed hashes: one action code per interned id ``0 .. size - 1``.

    A desired id gets ``NOOP``, ``CREATE``, ``SPEC_CHANGED`` or ``DRIFTED``
    by ``classify``'s rules; an id only live gets ``DELETE``; an id in
    neither gets ``ABSENT``.
    """
    for name, buffer in (("desired", desired), ("live", live), ("recorded", recorded)):
        _check_records(name, buffer, size)
    if base is not None:
        _check_records("base", base, size)
    codes = bytearray(size)
    for i in range(size):
        start = i * RECORD
        end = start + RECORD
        want = desired[start:end]
        have = live[start:end]
        if not want[0]:
            codes[i] = DELETE if have[0] else ABSENT
        elif not have[0]:
            codes[i] = CREATE
        elif have == want:
            codes[i] = NOOP
        elif (base is not None and base[start:end] == want) or recorded[start:end] == want:
            codes[i] = DRIFTED
        else:
            codes[i] = SPEC_CHANGED
    return bytes(codes)


def levels_packed(size: int, indptr: array[int], indices: array[int], changed: bytes) -> tuple[list[int], list[int]]:
    """``levels`` over a CSR graph of ``size`` nodes (``pack_deps``) and a changed ``mask``.

    The cycle, when there is one, is a list of node ints, as ``levels``
    gives indices into its ``ids``.
    """
    if len(indptr) != size + 1 or len(changed) != size:
        raise ValueError(f"a graph of {size} nodes needs {size + 1} row pointers and {size} changed flags")
    m = len(indices)
    if indptr[0] != 0 or indptr[size] != m or any(indptr[i] > indptr[i + 1] for i in range(size)):
        raise ValueError("row pointers must rise from 0 to the number of edges")
    if any(j < 0 or j >= size for j in indices):
        raise ValueError(f"an edge names a node outside 0 .. {size - 1}")
    ptr = list(indptr)
    ind = list(indices)
    chg = [1 if c else 0 for c in changed]
    return _waves(size, ptr, ind, chg)
