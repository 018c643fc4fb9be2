"""Select the planner's compiled hot path or its pure-Python twin, once, at import time.

The rule (``SPECOPS_PURE_PYTHON=1`` forces the twin; a failed load is reported,
never hidden) lives in ``specops._twins``.
"""

from __future__ import annotations

from specops._twins import load_twin

__all__ = [
    "ABSENT",
    "COMPILED",
    "CREATE",
    "DELETE",
    "DRIFTED",
    "IMPLEMENTATION",
    "LOAD_ERROR",
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

_impl, COMPILED, LOAD_ERROR = load_twin("specops._plan_c", "specops._plan_py", "planner core")

ABSENT = _impl.ABSENT
CREATE = _impl.CREATE
DELETE = _impl.DELETE
DRIFTED = _impl.DRIFTED
IMPLEMENTATION: str = _impl.IMPLEMENTATION
NOOP = _impl.NOOP
RECORD = _impl.RECORD
SPEC_CHANGED = _impl.SPEC_CHANGED
classify = _impl.classify
classify_packed = _impl.classify_packed
field_diff = _impl.field_diff
intern_ids = _impl.intern_ids
levels = _impl.levels
levels_packed = _impl.levels_packed
mask = _impl.mask
pack_deps = _impl.pack_deps
pack_hashes = _impl.pack_hashes
