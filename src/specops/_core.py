"""Select the compiled core or its pure-Python twin, once, at import time.

``SPECOPS_PURE_PYTHON=1`` forces the twin (for debugging and for the test run
that checks the twin). Otherwise the compiled module must load: a build that
lost its extension is a broken install, reported by ``specops doctor`` and by
the test suite rather than hidden behind a silent fallback.
"""

from __future__ import annotations

import os

__all__ = ["COMPILED", "IMPLEMENTATION", "LOAD_ERROR", "canonical_bytes", "canonical_hash"]

LOAD_ERROR: str | None = None

if os.environ.get("SPECOPS_PURE_PYTHON", "") in ("1", "true", "yes"):
    from specops._core_py import IMPLEMENTATION, canonical_bytes, canonical_hash

    COMPILED = False
    LOAD_ERROR = "disabled by SPECOPS_PURE_PYTHON"
else:
    try:
        from specops._core_c import (
            IMPLEMENTATION,
            canonical_bytes,
            canonical_hash,
        )

        COMPILED = True
    except ImportError as exc:  # pragma: no cover - exercised only on a broken install
        from specops._core_py import IMPLEMENTATION, canonical_bytes, canonical_hash

        COMPILED = False
        LOAD_ERROR = f"compiled core failed to import: {exc}"
