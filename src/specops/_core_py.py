"""Pure-Python twin of the compiled core (``csrc/_core_c.pyx``).

Every public name here exists, with the same behaviour, in the compiled
module; ``specops._core`` picks one at import time. Change both or neither:
the tests run both and a Hypothesis test asserts they agree.

Canonical encoding (what ``canonical_hash`` hashes), chosen so that two specs
that mean the same thing hash the same:

* mappings are encoded with keys sorted by their UTF-8 bytes, so key order and
  YAML formatting do not matter (comments never reach this layer);
* a number is a number: ``1``, ``1.0`` and ``-0.0 == 0`` encode identically,
  since a float with an integral value is encoded as that integer;
* every value is type-tagged and every string length-prefixed, so no two
  different documents can produce the same byte stream.
"""

from __future__ import annotations

import hashlib
import math
from typing import Any

__all__ = ["IMPLEMENTATION", "canonical_bytes", "canonical_hash"]

IMPLEMENTATION = "python"

# Integral floats beyond 2**53 are not exactly representable as distinct
# integers; they keep their float spelling.
_EXACT_INT_LIMIT = 2.0**53


def _encode_float(value: float, out: bytearray) -> None:
    if math.isfinite(value):
        if value.is_integer() and -_EXACT_INT_LIMIT <= value <= _EXACT_INT_LIMIT:
            out += b"i%d;" % int(value)
            return
        out += b"d" + repr(value).encode("ascii") + b";"
    elif math.isnan(value):
        out += b"dnan;"
    elif value > 0:
        out += b"dinf;"
    else:
        out += b"d-inf;"


def _encode(value: Any, out: bytearray, depth: int) -> None:
    if depth > 256:
        raise ValueError("document nested deeper than 256 levels")
    # bool before int: bool is a subclass of int but means something else.
    if value is None:
        out += b"n"
    elif value is True:
        out += b"t"
    elif value is False:
        out += b"f"
    elif isinstance(value, str):
        data = value.encode("utf-8")
        out += b"s%d:" % len(data)
        out += data
    elif isinstance(value, int):
        out += b"i%d;" % value
    elif isinstance(value, float):
        _encode_float(value, out)
    elif isinstance(value, dict):
        items = []
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"mapping keys must be strings, got {type(key).__name__}")
            items.append((key.encode("utf-8"), item))
        # Keys are unique, so tuples never compare their second items.
        items.sort()
        out += b"m"
        for key_bytes, item in items:
            out += b"%d:" % len(key_bytes)
            out += key_bytes
            _encode(item, out, depth + 1)
        out += b"e"
    elif isinstance(value, (list, tuple)):
        out += b"l"
        for item in value:
            _encode(item, out, depth + 1)
        out += b"e"
    else:
        raise TypeError(f"cannot canonicalise a value of type {type(value).__name__}")


def canonical_bytes(value: Any) -> bytes:
    """Return the canonical byte encoding of a JSON-like document."""
    out = bytearray()
    _encode(value, out, 0)
    return bytes(out)


def canonical_hash(value: Any) -> str:
    """Return the hex SHA-256 of ``canonical_bytes(value)``."""
    return hashlib.sha256(canonical_bytes(value)).hexdigest()
