"""Choose between a compiled module and its pure-Python twin, once, at import time.

One rule for every compiled module: ``SPECOPS_PURE_PYTHON=1`` forces the twin
(for debugging and for the test run that checks the twin); otherwise the
compiled module must load, and a failure is reported through the returned
error (``specops doctor`` and the tests surface it), never hidden.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType

__all__ = ["PURE_FORCED", "load_twin"]

PURE_FORCED = os.environ.get("SPECOPS_PURE_PYTHON", "") in ("1", "true", "yes")


def load_twin(compiled: str, pure: str, what: str) -> tuple[ModuleType, bool, str | None]:
    """Return ``(module, compiled?, load error)`` for the pair of module names."""
    if PURE_FORCED:
        return importlib.import_module(pure), False, "disabled by SPECOPS_PURE_PYTHON"
    try:
        return importlib.import_module(compiled), True, None
    except ImportError as exc:  # pragma: no cover - exercised only on a broken install
        return importlib.import_module(pure), False, f"{what} failed to import: {exc}"
