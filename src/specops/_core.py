"""Select the compiled core or its pure-Python twin (the rule lives in ``_twins``)."""

from __future__ import annotations

from specops._twins import load_twin

__all__ = ["COMPILED", "IMPLEMENTATION", "LOAD_ERROR", "canonical_bytes", "canonical_hash"]

_impl, COMPILED, LOAD_ERROR = load_twin("specops._core_c", "specops._core_py", "compiled core")

IMPLEMENTATION: str = _impl.IMPLEMENTATION
canonical_bytes = _impl.canonical_bytes
canonical_hash = _impl.canonical_hash
