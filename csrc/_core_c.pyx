# cython: freethreading_compatible = True
"""Compiled core of SpecOps. Pure-Python twin: src/specops/_core_py.py.

The encoding is specified in the twin's docstring; the two must produce the
same bytes for every input (tests/test_core.py checks it with Hypothesis).
This version avoids per-value Python calls: type checks are C-level and
output goes into one growing bytearray.
"""

from cpython.bytearray cimport PyByteArray_FromStringAndSize
from libc.math cimport isfinite, isnan, floor

import hashlib

__all__ = ["IMPLEMENTATION", "canonical_bytes", "canonical_hash"]

IMPLEMENTATION = "cython"

cdef double _EXACT_INT_LIMIT = 9007199254740992.0  # 2**53

cdef object _sha256 = hashlib.sha256


cdef inline void _encode_float(double value, bytearray out) except *:
    if isfinite(value):
        if floor(value) == value and -_EXACT_INT_LIMIT <= value <= _EXACT_INT_LIMIT:
            out += b"i%d;" % <long long>value
            return
        out += b"d"
        out += repr(value).encode("ascii")
        out += b";"
    elif isnan(value):
        out += b"dnan;"
    elif value > 0:
        out += b"dinf;"
    else:
        out += b"d-inf;"


cdef void _encode(object value, bytearray out, int depth) except *:
    cdef bytes data
    cdef list items
    cdef object key, item, pair
    if depth > 256:
        raise ValueError("document nested deeper than 256 levels")
    if value is None:
        out += b"n"
    elif value is True:
        out += b"t"
    elif value is False:
        out += b"f"
    elif isinstance(value, str):
        data = (<str>value).encode("utf-8")
        out += b"s%d:" % len(data)
        out += data
    elif isinstance(value, int):
        out += b"i%d;" % value
    elif isinstance(value, float):
        _encode_float(<double>value, out)
    elif isinstance(value, dict):
        items = []
        for key, item in (<dict>value).items():
            if not isinstance(key, str):
                raise TypeError(f"mapping keys must be strings, got {type(key).__name__}")
            items.append(((<str>key).encode("utf-8"), item))
        # Keys are unique, so tuples never compare their second items.
        items.sort()
        out += b"m"
        for pair in items:
            data = <bytes>(<tuple>pair)[0]
            out += b"%d:" % len(data)
            out += data
            _encode((<tuple>pair)[1], out, depth + 1)
        out += b"e"
    elif isinstance(value, (list, tuple)):
        out += b"l"
        for item in value:
            _encode(item, out, depth + 1)
        out += b"e"
    else:
        raise TypeError(f"cannot canonicalise a value of type {type(value).__name__}")


def canonical_bytes(value):
    """Return the canonical byte encoding of a JSON-like document."""
    cdef bytearray out = PyByteArray_FromStringAndSize(NULL, 0)
    _encode(value, out, 0)
    return bytes(out)


def canonical_hash(value):
    """Return the hex SHA-256 of ``canonical_bytes(value)``."""
    cdef bytearray out = PyByteArray_FromStringAndSize(NULL, 0)
    _encode(value, out, 0)
    return _sha256(out).hexdigest()
