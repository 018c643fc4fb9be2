# cython: freethreading_compatible = True
"""Compiled hot path of the planner. Pure-Python twin: src/specops/_plan_py.py.

The twin's docstrings specify the behaviour; both must return identical
results (tests/test_plan.py checks it with Hypothesis). Here action codes are
written straight into a bytes object, the dependency graph is indexed and
laid out in C arrays (no Python int per edge), hash maps are walked with
direct dict access, and field diffs dispatch on exact C-level type checks.

The packed path (``intern_ids`` .. ``levels_packed``) touches dicts only
while packing; ``classify_packed`` is a memcmp loop and ``levels_packed`` an
integer walk, both without the GIL.
"""

import hashlib

from cpython cimport array
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize
from cpython.dict cimport PyDict_GetItem, PyDict_Next, PyDict_SetItem
from cpython.list cimport PyList_GET_ITEM, PyList_GET_SIZE
from cpython.long cimport PyLong_AsSsize_t
from cpython.object cimport PyObject
from libc.stdlib cimport free, malloc, realloc
from libc.string cimport memcmp, memcpy, memset

import array

cdef extern from *:
    """
    /* A dict sized for n entries up front: CPython's _PyDict_NewPresized where
       this build knows it is there (3.11 to 3.13), else an ordinary new dict. */
    #if CYTHON_COMPILING_IN_CPYTHON && PY_VERSION_HEX < 0x030E0000
    #define specops_dict_presized(n) _PyDict_NewPresized(n)
    #else
    #define specops_dict_presized(n) PyDict_New()
    #endif
    """
    dict specops_dict_presized(Py_ssize_t n)

cdef extern from "Python.h":
    bint PyUnicode_IS_ASCII(object o)
    void* PyUnicode_DATA(object o)
    Py_ssize_t PyUnicode_GET_LENGTH(object o)

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

IMPLEMENTATION = "cython"

cdef enum:
    C_NOOP = 0
    C_CREATE = 1
    C_SPEC_CHANGED = 2
    C_DRIFTED = 3
    C_DELETE = 4
    C_ABSENT = 5
    C_RECORD = 33

NOOP = C_NOOP
CREATE = C_CREATE
SPEC_CHANGED = C_SPEC_CHANGED
DRIFTED = C_DRIFTED
DELETE = C_DELETE
ABSENT = C_ABSENT
RECORD = C_RECORD

cdef array.array _INT64 = array.array("q")


cdef inline bint _eq(PyObject* a, PyObject* b) except -1:
    # Hashes are str: an identity check, then Cython's length-first str compare.
    if a == b:
        return True
    if type(<object>a) is str and type(<object>b) is str:
        return (<str>a) == (<str>b)
    return bool(<object>a == <object>b)


cdef inline bint _same_key(PyObject* a, PyObject* b) except -1:
    # Equal dict keys, for exact str only (identity, then length-first compare).
    if a == b:
        return True
    if type(<object>a) is str and type(<object>b) is str:
        return (<str>a) == (<str>b)
    return False


def classify(dict desired, dict live, dict recorded, base):
    """Action code per desired resource (one byte each, in ``desired``'s order), and the live-only ids.

    Walks the dicts with a cursor in ``live``: where live lists the ids in
    desired's order (all or some of them), the next live entry is the one
    wanted and costs no probe; elsewhere one dict probe. When every live id
    was met, nothing is live-only and the second walk is skipped. (Interning
    the ids for ``classify_packed`` costs as many probes for one call on
    fresh dicts; it pays when a caller keeps its table.)
    """
    cdef Py_ssize_t n = len(desired)
    cdef bytes out = PyBytes_FromStringAndSize(NULL, n)
    cdef char* codes = PyBytes_AS_STRING(out)
    cdef list deleted = []
    cdef Py_ssize_t pos = 0, i = 0, cursor = 0, met = 0
    cdef PyObject* key
    cdef PyObject* value
    cdef PyObject* have
    cdef PyObject* other
    cdef PyObject* next_key = NULL
    cdef PyObject* next_value = NULL
    cdef dict base_map = base if base is not None else None
    cdef char code
    if not PyDict_Next(live, &cursor, &next_key, &next_value):
        next_key = NULL
    while PyDict_Next(desired, &pos, &key, &value):
        if next_key is not NULL and _same_key(key, next_key):
            have = next_value
            if not PyDict_Next(live, &cursor, &next_key, &next_value):
                next_key = NULL
        else:
            have = PyDict_GetItem(live, <object>key)
        if have is not NULL:
            met += 1
        if have is NULL or have == <PyObject*>None:  # as the twin's live.get(rid) is None
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
    if met == len(live):  # every live id is desired: none is live-only
        return out, deleted
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


cdef bint _equal(object a, object b) except -1:
    # True exactly when _diff(a, b) reports nothing, without building a path,
    # a key set or a sorted list: most of a changed document is unchanged.
    cdef Py_ssize_t pos = 0, i, n
    cdef PyObject* key
    cdef PyObject* value
    cdef PyObject* found
    cdef object va, vb
    if isinstance(a, dict) and isinstance(b, dict):
        if len(<dict>a) != len(<dict>b):
            return False
        while PyDict_Next(<dict>a, &pos, &key, &value):
            found = PyDict_GetItem(<dict>b, <object>key)
            if found is NULL:
                return False
            va = <object>value  # owned references: comparing may run Python code
            vb = <object>found
            if not _equal(va, vb):
                return False
        return True
    if isinstance(a, list) and isinstance(b, list):
        n = len(<list>a)
        if n != len(<list>b):
            return False
        for i in range(n):
            if i >= len(<list>a) or i >= len(<list>b):
                return False  # shrunk while comparing: let _diff report it
            if not _equal((<list>a)[i], (<list>b)[i]):
                return False
        return True
    if a is b and (type(a) is str or type(a) is int or type(a) is bool or a is None):
        return True
    return _same(a, b)


cdef list _shared_str_keys(dict a, dict b):
    # The sorted keys when both dicts have the same keys, all exact str (a total
    # order, so sorting one dict's keys gives what sorting the union gives); else None.
    cdef Py_ssize_t pos = 0
    cdef PyObject* key
    cdef PyObject* value
    if len(a) != len(b):
        return None
    while PyDict_Next(a, &pos, &key, &value):
        if type(<object>key) is not str or PyDict_GetItem(b, <object>key) is NULL:
            return None
    cdef list keys = list(a)
    keys.sort()
    return keys


cdef int _diff(object a, object b, tuple path, list out) except -1:
    cdef object key, va, vb
    cdef Py_ssize_t i, n
    cdef list keys
    if isinstance(a, dict) and isinstance(b, dict):
        keys = _shared_str_keys(<dict>a, <dict>b)
        if keys is None:
            keys = sorted((<dict>a).keys() | (<dict>b).keys())
        for key in keys:
            if key not in <dict>a:
                out.append((path + (key,), None, (<dict>b)[key]))
            elif key not in <dict>b:
                out.append((path + (key,), (<dict>a)[key], None))
            else:
                va = (<dict>a)[key]
                vb = (<dict>b)[key]
                if not _equal(va, vb):
                    _diff(va, vb, path + (key,), out)
    elif isinstance(a, list) and isinstance(b, list):
        n = len(<list>a)
        if n == len(<list>b):
            for i in range(n):
                va = (<list>a)[i]
                vb = (<list>b)[i]
                if not _equal(va, vb):
                    _diff(va, vb, path + (i,), out)
        else:
            out.append((path, a, b))
    elif not _same(a, b):
        out.append((path, a, b))
    return 0


def field_diff(before, after):
    """``(path, before, after)`` for every leaf that differs; keys sorted, absent is ``None``."""
    cdef list out = []
    if not _equal(before, after):
        _diff(before, after, (), out)
    return out


def _levels_dicts(list ids, dict deps, changed):
    """``levels`` indexing the ids in a throwaway dict: the path for repeated ids."""
    cdef Py_ssize_t n = PyList_GET_SIZE(ids)
    cdef Py_ssize_t m = 0, i, k
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
    cdef long long* ptr = <long long*>malloc((n + 1) * sizeof(long long))
    cdef long long* ind = <long long*>malloc((m + 1) * sizeof(long long))
    cdef unsigned char* chg = <unsigned char*>malloc((n + 1) * sizeof(unsigned char))
    if ptr is NULL or ind is NULL or chg is NULL:
        free(ptr); free(ind); free(chg)
        raise MemoryError()
    try:
        k = 0
        for i in range(n):
            ptr[i] = k
            edges = rows[i]
            if edges is not None:
                for rid in edges:
                    found = PyDict_GetItem(index, rid)
                    if found is not NULL:
                        ind[k] = <Py_ssize_t>(<object>found)
                        k += 1
        ptr[n] = k
        for i in range(n):
            chg[i] = 1 if ids[i] in changed else 0
        return _walk(n, ptr, ind, chg)
    finally:
        free(ptr); free(ind); free(chg)


cdef tuple _walk(Py_ssize_t n, const long long* ptr, const long long* ind, const unsigned char* chg):
    """Kahn's walk over a CSR graph (row i: the nodes i depends on): levels, and a cycle if stuck."""
    cdef Py_ssize_t m = <Py_ssize_t>ptr[n]
    cdef Py_ssize_t i, j, k, head, tail, node
    cdef long long weight
    cdef long long* rptr = <long long*>malloc((n + 1) * sizeof(long long))
    cdef long long* rind = <long long*>malloc((m + 1) * sizeof(long long))
    cdef long long* fill = <long long*>malloc((n + 1) * sizeof(long long))
    cdef long long* indeg = <long long*>malloc((n + 1) * sizeof(long long))
    cdef long long* queue = <long long*>malloc((n + 1) * sizeof(long long))
    cdef long long* level = <long long*>malloc((n + 1) * sizeof(long long))
    cdef list out_level, cycle
    if rptr is NULL or rind is NULL or fill is NULL or indeg is NULL or queue is NULL or level is NULL:
        free(rptr); free(rind); free(fill); free(indeg); free(queue); free(level)
        raise MemoryError()
    try:
        with nogil:
            for i in range(n + 1):
                rptr[i] = 0
            for k in range(m):
                rptr[ind[k] + 1] += 1
            for i in range(n):
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
        free(rptr); free(rind); free(fill); free(indeg); free(queue); free(level)


# -- the packed path: dense int ids, arrays aligned by id ---------------------------


def intern_ids(dict index, list names, ids):
    """Give every id of ``ids`` not yet in ``index`` the next dense int; return how many are interned."""
    cdef Py_ssize_t count = PyList_GET_SIZE(names)
    cdef Py_ssize_t pos = 0, hint = 0
    cdef PyObject* key
    cdef PyObject* value
    cdef PyObject* found
    cdef object rid
    cdef dict fresh
    if type(ids) is dict and count == 0 and not index:
        # A new table: fill a dict sized for all the ids at once (no regrowth),
        # then copy it into ``index`` (an update of an empty dict is a table copy).
        fresh = specops_dict_presized(len(<dict>ids))
        while PyDict_Next(<dict>ids, &pos, &key, &value):
            PyDict_SetItem(fresh, <object>key, count)
            count += 1
        index.update(fresh)
        names.extend(<dict>ids)
        return count
    if type(ids) is dict:
        while PyDict_Next(<dict>ids, &pos, &key, &value):
            if _is_name(key, names, hint):  # interned already, in the table's order
                hint += 1
                continue
            found = PyDict_GetItem(index, <object>key)
            if found is not NULL:
                hint = PyLong_AsSsize_t(<object>found) + 1
                continue
            PyDict_SetItem(index, <object>key, count)
            names.append(<object>key)
            count += 1
            hint = count
    else:
        for rid in ids:
            if rid not in index:
                index[rid] = count
                names.append(rid)
                count += 1
    return count


cdef signed char _HEX[256]
for _c in range(256):
    _HEX[_c] = -1
for _c in range(10):
    _HEX[48 + _c] = _c  # 0-9
for _c in range(6):
    _HEX[97 + _c] = 10 + _c  # a-f only: upper case is another string


cdef int _record(object value, unsigned char* dst) except -1:
    cdef const unsigned char* data
    cdef int k, bad = 0
    cdef signed char hi, lo
    cdef bytes digest
    if not isinstance(value, str):
        raise TypeError(f"a hash must be a str, not {type(value).__name__}")
    if PyUnicode_GET_LENGTH(value) == 64 and PyUnicode_IS_ASCII(value):
        data = <const unsigned char*>PyUnicode_DATA(value)
        for k in range(32):
            hi = _HEX[data[2 * k]]
            lo = _HEX[data[2 * k + 1]]
            bad |= hi | lo  # a -1 sets the sign bit
            dst[1 + k] = <unsigned char>((hi << 4) | (lo & 15))
        if bad >= 0:
            dst[0] = 1
            return 0
    digest = hashlib.sha256((<str>value).encode("utf-8", "surrogatepass")).digest()
    dst[0] = 2
    memcpy(dst + 1, PyBytes_AS_STRING(digest), 32)
    return 0


cdef inline bint _is_name(PyObject* key, list names, Py_ssize_t i) except -1:
    # The next interned name, by identity or (exact str) equality: a sequential
    # check in place of a dict probe when a map comes in the table's order.
    cdef PyObject* name
    if i >= PyList_GET_SIZE(names):
        return False
    name = PyList_GET_ITEM(names, i)
    if name == key:
        return True
    if type(<object>key) is str and type(<object>name) is str:
        return (<str>key) == (<str>name)
    return False


cdef inline Py_ssize_t _lookup(dict index, list names, PyObject* key, Py_ssize_t hint) except -2:
    cdef PyObject* found
    if _is_name(key, names, hint):
        return hint
    found = PyDict_GetItem(index, <object>key)
    if found is NULL:
        return -1
    return PyLong_AsSsize_t(<object>found)


def pack_hashes(dict index, list names, Py_ssize_t size, dict hashes):
    """``size * RECORD`` bytes: the record of ``hashes[names[i]]`` at ``i * RECORD``, zeros where absent."""
    if size < 0:
        raise ValueError(f"size {size} is negative")
    cdef bytes out = PyBytes_FromStringAndSize(NULL, size * C_RECORD)
    cdef unsigned char* buf = <unsigned char*>PyBytes_AS_STRING(out)
    cdef Py_ssize_t pos = 0, i, hint = 0
    cdef PyObject* key
    cdef PyObject* value
    memset(buf, 0, size * C_RECORD)
    while PyDict_Next(hashes, &pos, &key, &value):
        i = _lookup(index, names, key, hint)
        if 0 <= i < size:
            _record(<object>value, buf + i * C_RECORD)
            hint = i + 1
    return out


def mask(dict index, list names, Py_ssize_t size, ids):
    """``size`` bytes, 1 at the int of every interned id of ``ids`` below ``size``, else 0."""
    if size < 0:
        raise ValueError(f"size {size} is negative")
    cdef bytes out = PyBytes_FromStringAndSize(NULL, size)
    cdef char* buf = PyBytes_AS_STRING(out)
    cdef Py_ssize_t i, hint = 0
    cdef object rid
    memset(buf, 0, size)
    if (type(ids) is set or type(ids) is frozenset) and size <= PyList_GET_SIZE(names) and 2 * len(ids) > size:
        # Many of the table's ids: probe the set in table order instead (the same answer
        # while index and names agree, which intern_ids keeps).
        for i in range(size):
            if <object>PyList_GET_ITEM(names, i) in ids:
                buf[i] = 1
        return out
    for rid in ids:
        i = _lookup(index, names, <PyObject*>rid, hint)
        if 0 <= i < size:
            buf[i] = 1
            hint = i + 1
    return out


def pack_deps(dict index, list names, Py_ssize_t size, dict deps):
    """The graph ``names[i] -> deps[names[i]]`` for ``i < size`` as CSR arrays ``(indptr, indices)``."""
    if not 0 <= size <= PyList_GET_SIZE(names):
        raise ValueError(f"size {size} is not within the {len(names)} interned ids")
    cdef array.array indptr = array.clone(_INT64, size + 1, zero=False)
    cdef array.array indices
    cdef long long* ptr = indptr.data.as_longlongs
    cdef Py_ssize_t cap = 16, m = 0, i, j, e, width, pos = 0, hint = 0
    cdef long long* buf = <long long*>malloc(cap * sizeof(long long))
    cdef long long* grown
    cdef PyObject* row
    cdef PyObject* key = NULL
    cdef PyObject* value = NULL
    cdef object edges
    if buf is NULL:
        raise MemoryError()
    try:
        ptr[0] = 0
        # ``deps`` usually comes in the table's order: follow it with a cursor and
        # probe the dict only where its next key is not the next name.
        if not PyDict_Next(deps, &pos, &key, &value):
            key = NULL
        for i in range(size):
            if key is not NULL and _is_name(key, names, i):
                row = value
                if not PyDict_Next(deps, &pos, &key, &value):
                    key = NULL
            else:
                row = PyDict_GetItem(deps, <object>PyList_GET_ITEM(names, i))
            if row is not NULL:
                edges = <object>row
                if type(edges) is not list:
                    edges = list(edges)
                width = PyList_GET_SIZE(edges)
                if m + width > cap:
                    cap = 2 * (m + width)
                    grown = <long long*>realloc(buf, cap * sizeof(long long))
                    if grown is NULL:
                        raise MemoryError()
                    buf = grown
                for e in range(width):
                    j = _lookup(index, names, PyList_GET_ITEM(edges, e), hint)
                    if 0 <= j < size:
                        buf[m] = j
                        m += 1
                        hint = j + 1
            ptr[i + 1] = m
        indices = array.clone(_INT64, m, zero=False)
        if m:
            memcpy(indices.data.as_longlongs, buf, m * sizeof(long long))
        return indptr, indices
    finally:
        free(buf)


cdef int _check_records(str name, Py_ssize_t length, Py_ssize_t size) except -1:
    if length != size * C_RECORD:
        raise ValueError(
            f"{name}: {length} bytes, expected {size} records of {C_RECORD} ({size * C_RECORD} bytes)"
        )
    return 0


def classify_packed(Py_ssize_t size, const unsigned char[::1] desired, const unsigned char[::1] live,
                    const unsigned char[::1] recorded, base):
    """``classify`` over packed hashes: one action code per interned id ``0 .. size - 1``."""
    _check_records("desired", desired.shape[0], size)
    _check_records("live", live.shape[0], size)
    _check_records("recorded", recorded.shape[0], size)
    cdef const unsigned char[::1] base_view
    cdef const unsigned char* b = NULL
    if base is not None:
        base_view = base
        _check_records("base", base_view.shape[0], size)
        if size:
            b = &base_view[0]
    cdef bytes out = PyBytes_FromStringAndSize(NULL, size)
    cdef unsigned char* codes = <unsigned char*>PyBytes_AS_STRING(out)
    if not size:
        return out
    cdef const unsigned char* want = &desired[0]
    cdef const unsigned char* have = &live[0]
    cdef const unsigned char* rec = &recorded[0]
    cdef Py_ssize_t i
    cdef unsigned char code
    with nogil:
        for i in range(size):
            if not want[0]:
                code = C_DELETE if have[0] else C_ABSENT
            elif not have[0]:
                code = C_CREATE
            elif memcmp(want, have, C_RECORD) == 0:
                code = C_NOOP
            elif (b is not NULL and memcmp(b + i * C_RECORD, want, C_RECORD) == 0) or memcmp(rec, want, C_RECORD) == 0:
                code = C_DRIFTED
            else:
                code = C_SPEC_CHANGED
            codes[i] = code
            want += C_RECORD
            have += C_RECORD
            rec += C_RECORD
    return out


def levels_packed(Py_ssize_t size, const long long[::1] indptr, const long long[::1] indices,
                  const unsigned char[::1] changed):
    """``levels`` over a CSR graph of ``size`` nodes (``pack_deps``) and a changed ``mask``."""
    if indptr.shape[0] != size + 1 or changed.shape[0] != size:
        raise ValueError(f"a graph of {size} nodes needs {size + 1} row pointers and {size} changed flags")
    cdef Py_ssize_t m = indices.shape[0], i
    cdef bint bad = False
    cdef const long long* ptr = &indptr[0]
    cdef const long long* ind = &indices[0] if m else NULL
    with nogil:
        if ptr[0] != 0 or ptr[size] != m:
            bad = True
        for i in range(size):
            if ptr[i] > ptr[i + 1]:
                bad = True
                break
    if bad:
        raise ValueError("row pointers must rise from 0 to the number of edges")
    with nogil:
        for i in range(m):
            if ind[i] < 0 or ind[i] >= size:
                bad = True
                break
    if bad:
        raise ValueError(f"an edge names a node outside 0 .. {size - 1}")
    cdef unsigned char one = 0
    return _walk(size, ptr, ind, &changed[0] if size else &one)


# -- levels by way of the packed path ---------------------------------------------------


def levels(list ids, dict deps, changed):
    """Wave of every resource of a dependency graph, and a cycle if there is one.

    Indexes the ids (the list itself is the table's names), packs the graph
    into CSR arrays and runs ``levels_packed``; repeated ids (each place its
    own node) go the dict way.
    """
    cdef Py_ssize_t n = PyList_GET_SIZE(ids), i
    cdef dict index = specops_dict_presized(n)
    for i in range(n):
        PyDict_SetItem(index, <object>PyList_GET_ITEM(ids, i), i)
    if len(index) != n:
        return _levels_dicts(ids, deps, changed)
    indptr, indices = pack_deps(index, ids, n, deps)
    cdef bytes flags
    cdef char* buf
    if type(changed) is set or type(changed) is frozenset:
        flags = mask(index, ids, n, changed)
    else:
        flags = PyBytes_FromStringAndSize(NULL, n)
        buf = PyBytes_AS_STRING(flags)
        for i in range(n):
            buf[i] = 1 if <object>PyList_GET_ITEM(ids, i) in changed else 0
    return levels_packed(n, indptr, indices, flags)
