"""Select the planner's compiled hot path or its pure-Python twin, once, at import time.

The rule (``SPECOPS_PURE_PYTHON=1`` forces the twin; a failed load is reported,
never hidden) lives in ``specops._twins``.
"""

from __future__ import annotations

from specops._twins import load_twin

__all__ = [
    "COMPILED",
    "CREATE",
    "DELETE",
    "DRIFTED",
    "IMPLEMENTATION",
    "LOAD_ERROR",
    "NOOP",
    "SPEC_CHANGED",
    "classify",
    "field_diff",
    "levels",
]

_impl, COMPILED, LOAD_ERROR = load_twin("specops._plan_c", "specops._plan_py", "planner core")

CREATE = _impl.CREATE
DELETE = _impl.DELETE
DRIFTED = _impl.DRIFTED
IMPLEMENTATION: str = _impl.IMPLEMENTATION
NOOP = _impl.NOOP
SPEC_CHANGED = _impl.SPEC_CHANGED
classify = _impl.classify
field_diff = _impl.field_diff
levels = _impl.levels
