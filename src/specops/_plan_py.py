"""Pure-Python twin of the planner's compiled hot path (``csrc/_plan_c.pyx``).

Same names, same results: ``specops._plan_core`` picks one at import time and
``tests/test_plan.py`` checks with Hypothesis that both agree. The planner
itself (``specops.plan._planner``) is ordinary Python around three routines
that touch every resource of an estate:

* ``classify`` compares desired and live content hashes into action codes;
* ``field_diff`` lists the leaves where two JSON-like documents differ;
* ``levels`` orders a dependency graph into parallel waves (or finds a cycle).
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "CREATE",
    "DELETE",
    "DRIFTED",
    "IMPLEMENTATION",
    "NOOP",
    "SPEC_CHANGED",
    "classify",
    "field_diff",
    "levels",
]

IMPLEMENTATION = "python"

NOOP = 0
CREATE = 1
SPEC_CHANGED = 2
DRIFTED = 3
DELETE = 4


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
