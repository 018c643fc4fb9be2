# cython: freethreading_compatible = True
"""Compiled hot path of the planner. Pure-Python twin: src/specops/_plan_py.py.

The twin's docstrings specify the behaviour; both must return identical
results (tests/test_plan.py checks it with Hypothesis). Here action codes are
written straight into a bytes object, the dependency graph is indexed and
laid out in C arrays (no Python int per edge), hash maps are walked with
direct dict access, and field diffs dispatch on exact C-level type checks.
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize
from cpython.dict cimport PyDict_GetItem, PyDict_Next, PyDict_SetItem
from cpython.list cimport PyList_GET_ITEM, PyList_GET_SIZE
from cpython.object cimport PyObject
from libc.stdlib cimport free, malloc

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

IMPLEMENTATION = "cython"

cdef enum:
    C_NOOP = 0
    C_CREATE = 1
    C_SPEC_CHANGED = 2
    C_DRIFTED = 3
    C_DELETE = 4

NOOP = C_NOOP
CREATE = C_CREATE
SPEC_CHANGED = C_SPEC_CHANGED
DRIFTED = C_DRIFTED
DELETE = C_DELETE


cdef inline bint _eq(PyObject* a, PyObject* b) except -1:
    # Hashes are str: an identity check, then Cython's length-first str compare.
    if a == b:
        return True
    if type(<object>a) is str and type(<object>b) is str:
        return (<str>a) == (<str>b)
    return bool(<object>a == <object>b)


def classify(dict desired, dict live, dict recorded, base):
    """Action code per desired resource (one byte each, in ``desired``'s order), and the live-only ids."""
    cdef Py_ssize_t n = len(desired)
    cdef bytes out = PyBytes_FromStringAndSize(NULL, n)
    cdef char* codes = PyBytes_AS_STRING(out)
    cdef list deleted = []
    cdef Py_ssize_t pos = 0, i = 0
    cdef PyObject* key
    cdef PyObject* value
    cdef PyObject* have
    cdef PyObject* other
    cdef dict base_map = base if base is not None else None
    cdef char code
    while PyDict_Next(desired, &pos, &key, &value):
        have = PyDict_GetItem(live, <object>key)
        if have is NULL:
            code = C_CREATE
        elif _eq(have, value):
            code = C_NOOP
        else:
            code = C_SPEC_CHANGED
            if base_map is not None:
                other = PyDict_GetItem(base_map, <object>key)
                if other is not NULL and _eq(other, value):
                    code = C_DRIFTED
            if code == C_SPEC_CHANGED:
                other = PyDict_GetItem(recorded, <object>key)
                if other is not NULL and _eq(other, value):
                    code = C_DRIFTED
        codes[i] = code
        i += 1
    pos = 0
    while PyDict_Next(live, &pos, &key, &value):
        if PyDict_GetItem(desired, <object>key) is NULL:
            deleted.append(<object>key)
    return out, deleted


cdef bint _same(object a, object b) except -1:
    if type(a) is type(b):
        return bool(a == b)
    if isinstance(a, bool) or isinstance(b, bool):
        return False
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return bool(a == b)
    return False


cdef int _diff(object a, object b, tuple path, list out) except -1:
    cdef object key
    cdef Py_ssize_t i, n
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted((<dict>a).keys() | (<dict>b).keys()):
            if key not in <dict>a:
                out.append((path + (key,), None, (<dict>b)[key]))
            elif key not in <dict>b:
                out.append((path + (key,), (<dict>a)[key], None))
            else:
                _diff((<dict>a)[key], (<dict>b)[key], path + (key,), out)
    elif isinstance(a, list) and isinstance(b, list):
        n = len(<list>a)
        if n == len(<list>b):
            for i in range(n):
                _diff((<list>a)[i], (<list>b)[i], path + (i,), out)
        else:
            out.append((path, a, b))
    elif not _same(a, b):
        out.append((path, a, b))
    return 0


def field_diff(before, after):
    """``(path, before, after)`` for every leaf that differs; keys sorted, absent is ``None``."""
    cdef list out = []
    _diff(before, after, (), out)
    return out


def levels(list ids, dict deps, changed):
    """Wave of every resource of a dependency graph, and a cycle if there is one."""
    cdef Py_ssize_t n = PyList_GET_SIZE(ids)
    cdef Py_ssize_t m = 0, i, j, k, head, tail, node
    cdef long weight
    cdef dict index = {}
    cdef PyObject* item
    cdef PyObject* found
    cdef object rid, edges
    # Index the ids (one dict insert each), then count the edges that stay inside.
    for i in range(n):
        PyDict_SetItem(index, <object>PyList_GET_ITEM(ids, i), i)
    cdef list rows = [None] * n
    for i in range(n):
        item = PyDict_GetItem(deps, <object>PyList_GET_ITEM(ids, i))
        if item is not NULL:
            edges = <object>item
            rows[i] = edges
            m += len(edges)
    cdef Py_ssize_t* ptr = <Py_ssize_t*>malloc((n + 1) * sizeof(Py_ssize_t))
    cdef Py_ssize_t* ind = <Py_ssize_t*>malloc((m + 1) * sizeof(Py_ssize_t))
    cdef Py_ssize_t* rptr = <Py_ssize_t*>malloc((n + 1) * sizeof(Py_ssize_t))
    cdef Py_ssize_t* rind = <Py_ssize_t*>malloc((m + 1) * sizeof(Py_ssize_t))
    cdef Py_ssize_t* fill = <Py_ssize_t*>malloc((n + 1) * sizeof(Py_ssize_t))
    cdef Py_ssize_t* indeg = <Py_ssize_t*>malloc((n + 1) * sizeof(Py_ssize_t))
    cdef Py_ssize_t* queue = <Py_ssize_t*>malloc((n + 1) * sizeof(Py_ssize_t))
    cdef long* level = <long*>malloc((n + 1) * sizeof(long))
    cdef char* chg = <char*>malloc((n + 1) * sizeof(char))
    cdef list out_level, cycle
    if (ptr is NULL or ind is NULL or rptr is NULL or rind is NULL or fill is NULL
            or indeg is NULL or queue is NULL or level is NULL or chg is NULL):
        free(ptr); free(ind); free(rptr); free(rind); free(fill)
        free(indeg); free(queue); free(level); free(chg)
        raise MemoryError()
    try:
        k = 0
        for i in range(n):
            ptr[i] = k
            rptr[i] = 0
            edges = rows[i]
            if edges is not None:
                for rid in edges:
                    found = PyDict_GetItem(index, rid)
                    if found is not NULL:
                        ind[k] = <Py_ssize_t>(<object>found)
                        k += 1
        ptr[n] = k
        rptr[n] = 0
        m = k
        for k in range(m):
            rptr[ind[k] + 1] += 1
        for i in range(n):
            chg[i] = 1 if ids[i] in changed else 0
            indeg[i] = ptr[i + 1] - ptr[i]
            level[i] = 0
            rptr[i + 1] += rptr[i]
            fill[i] = rptr[i]
        for i in range(n):
            for k in range(ptr[i], ptr[i + 1]):
                j = ind[k]
                rind[fill[j]] = i
                fill[j] += 1
        tail = 0
        for i in range(n):
            if indeg[i] == 0:
                queue[tail] = i
                tail += 1
        head = 0
        while head < tail:
            j = queue[head]
            head += 1
            weight = level[j] + chg[j]
            for k in range(rptr[j], rptr[j + 1]):
                i = rind[k]
                if level[i] < weight:
                    level[i] = weight
                indeg[i] -= 1
                if indeg[i] == 0:
                    queue[tail] = i
                    tail += 1
        out_level = [level[i] for i in range(n)]
        cycle = []
        if tail < n:
            # Walk first stuck dependencies from the first stuck node until a repeat.
            node = 0
            while indeg[node] == 0:
                node += 1
            for i in range(n):
                fill[i] = -1  # reused: position of the node on the walk
            while fill[node] < 0:
                fill[node] = len(cycle)
                cycle.append(node)
                for k in range(ptr[node], ptr[node + 1]):
                    if indeg[ind[k]] > 0:
                        node = ind[k]
                        break
            cycle = cycle[fill[node]:]
        return out_level, cycle
    finally:
        free(ptr); free(ind); free(rptr); free(rind); free(fill)
        free(indeg); free(queue); free(level); free(chg)
