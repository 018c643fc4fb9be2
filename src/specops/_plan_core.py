"""Select the planner's compiled hot path or its pure-Python twin, once, at import time.

The same rule as ``specops._core``: ``SPECOPS_PURE_PYTHON=1`` forces the twin,
otherwise the compiled module must load and a failure is reported (by
``LOAD_ERROR`` and the tests), never hidden.
"""

from __future__ import annotations

import os

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

LOAD_ERROR: str | None = None

if os.environ.get("SPECOPS_PURE_PYTHON", "") in ("1", "true", "yes"):
    from specops._plan_py import (
        CREATE,
        DELETE,
        DRIFTED,
        IMPLEMENTATION,
        NOOP,
        SPEC_CHANGED,
        classify,
        field_diff,
        levels,
    )

    COMPILED = False
    LOAD_ERROR = "disabled by SPECOPS_PURE_PYTHON"
else:
    try:
        from specops._plan_c import (
            CREATE,
            DELETE,
            DRIFTED,
            IMPLEMENTATION,
            NOOP,
            SPEC_CHANGED,
            classify,
            field_diff,
            levels,
        )

        COMPILED = True
    except ImportError as exc:  # pragma: no cover - exercised only on a broken install
        from specops._plan_py import (
            CREATE,
            DELETE,
            DRIFTED,
            IMPLEMENTATION,
            NOOP,
            SPEC_CHANGED,
            classify,
            field_diff,
            levels,
        )

        COMPILED = False
        LOAD_ERROR = f"planner core failed to import: {exc}"
