# cython: freethreading_compatible = True
"""Compiled core of SpecOps. Pure-Python twin: src/specops/_core_py.py.

The encoding is specified in the twin's docstring; the two must produce the
same bytes for every input (tests/test_core.py checks it with Hypothesis).
This version writes into one malloc'd buffer, reads strings through their
cached UTF-8 form without copying, formats numbers with C calls, and sorts
mapping keys as str: code-point order equals UTF-8 byte order, so it is the
twin's order without encoding every key first.
"""

from cpython.bytes cimport PyBytes_FromStringAndSize
from cpython.mem cimport PyMem_Free, PyMem_Malloc, PyMem_Realloc
from libc.math cimport floor, isfinite, isnan
from libc.stdio cimport snprintf
from libc.string cimport memcpy, strlen

import hashlib

__all__ = ["IMPLEMENTATION", "canonical_bytes", "canonical_hash"]

IMPLEMENTATION = "cython"

cdef extern from "Python.h":
    const char* PyUnicode_AsUTF8AndSize(object unicode, Py_ssize_t* size) except NULL
    char* PyOS_double_to_string(double val, char format_code, int precision, int flags, int* ptype) except NULL
    int Py_DTSF_ADD_DOT_0

cdef double _EXACT_INT_LIMIT = 9007199254740992.0  # 2**53
cdef object _sha256 = hashlib.sha256


cdef struct Buffer:
    char* data
    Py_ssize_t size
    Py_ssize_t capacity


cdef int _reserve(Buffer* buf, Py_ssize_t extra) except -1:
    cdef Py_ssize_t want = buf.size + extra
    cdef Py_ssize_t capacity
    cdef char* grown
    if want <= buf.capacity:
        return 0
    capacity = buf.capacity * 2 if buf.capacity else 256
    while capacity < want:
        capacity *= 2
    grown = <char*>PyMem_Realloc(buf.data, capacity)
    if grown == NULL:
        raise MemoryError()
    buf.data = grown
    buf.capacity = capacity
    return 0


cdef inline int _put(Buffer* buf, const char* data, Py_ssize_t n) except -1:
    _reserve(buf, n)
    memcpy(buf.data + buf.size, data, n)
    buf.size += n
    return 0


cdef inline int _put_char(Buffer* buf, char c) except -1:
    _reserve(buf, 1)
    buf.data[buf.size] = c
    buf.size += 1
    return 0


cdef inline int _put_length(Buffer* buf, Py_ssize_t n) except -1:
    cdef char tmp[32]
    cdef int written = snprintf(tmp, sizeof(tmp), "%zd:", n)
    return _put(buf, tmp, written)


cdef int _put_str(Buffer* buf, object text) except -1:
    cdef Py_ssize_t size
    cdef const char* utf8 = PyUnicode_AsUTF8AndSize(text, &size)
    _put_length(buf, size)
    return _put(buf, utf8, size)


cdef int _put_int(Buffer* buf, object value) except -1:
    cdef char tmp[32]
    cdef long long small
    cdef int written
    cdef bytes text
    try:
        small = value
    except OverflowError:
        text = b"i%d;" % value
        return _put(buf, text, len(text))
    written = snprintf(tmp, sizeof(tmp), "i%lld;", small)
    return _put(buf, tmp, written)


cdef int _put_float(Buffer* buf, double value) except -1:
    cdef char tmp[32]
    cdef int written
    cdef char* text
    if isfinite(value):
        if floor(value) == value and -_EXACT_INT_LIMIT <= value <= _EXACT_INT_LIMIT:
            written = snprintf(tmp, sizeof(tmp), "i%lld;", <long long>value)
            return _put(buf, tmp, written)
        # Exactly what repr(float) writes.
        text = PyOS_double_to_string(value, b"r", 0, Py_DTSF_ADD_DOT_0, NULL)
        try:
            _put_char(buf, b"d")
            _put(buf, text, <Py_ssize_t>strlen(text))
            _put_char(buf, b";")
        finally:
            PyMem_Free(text)
        return 0
    if isnan(value):
        return _put(buf, b"dnan;", 5)
    if value > 0:
        return _put(buf, b"dinf;", 5)
    return _put(buf, b"d-inf;", 6)


cdef int _encode(Buffer* buf, object value, int depth) except -1:
    cdef list keys
    cdef object key, item
    if depth > 256:
        raise ValueError("document nested deeper than 256 levels")
    if value is None:
        return _put_char(buf, b"n")
    if value is True:
        return _put_char(buf, b"t")
    if value is False:
        return _put_char(buf, b"f")
    if isinstance(value, str):
        _put_char(buf, b"s")
        return _put_str(buf, value)
    if isinstance(value, int):
        return _put_int(buf, value)
    if isinstance(value, float):
        return _put_float(buf, <double>value)
    if isinstance(value, dict):
        keys = list(value)
        for key in keys:
            if not isinstance(key, str):
                raise TypeError(f"mapping keys must be strings, got {type(key).__name__}")
        keys.sort()
        _put_char(buf, b"m")
        for key in keys:
            _put_str(buf, key)
            _encode(buf, (<dict>value)[key], depth + 1)
        return _put_char(buf, b"e")
    if isinstance(value, (list, tuple)):
        _put_char(buf, b"l")
        for item in value:
            _encode(buf, item, depth + 1)
        return _put_char(buf, b"e")
    raise TypeError(f"cannot canonicalise a value of type {type(value).__name__}")


cdef bytes _canonical(object value):
    cdef Buffer buf
    buf.data = NULL
    buf.size = 0
    buf.capacity = 0
    try:
        _encode(&buf, value, 0)
        return PyBytes_FromStringAndSize(buf.data, buf.size)
    finally:
        PyMem_Free(buf.data)


def canonical_bytes(value):
    """Return the canonical byte encoding of a JSON-like document."""
    return _canonical(value)


def canonical_hash(value):
    """Return the hex SHA-256 of ``canonical_bytes(value)``."""
    return _sha256(_canonical(value)).hexdigest()
