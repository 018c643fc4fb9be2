"""Errors the serving target answers with: an HTTP status and a message that says what to fix."""

from __future__ import annotations

from typing import Any

from specops._errors import SpecOpsError

__all__ = ["HTTPError", "StateCorruptError"]


class HTTPError(SpecOpsError):
    """An expected failure of a request: answered ``{"error": message, **extra}`` with ``status``."""

    def __init__(self, status: int, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.extra = extra

    def body(self) -> dict[str, Any]:
        return {"error": self.message, **self.extra}


class StateCorruptError(SpecOpsError):
    """A file under the state directory cannot be trusted; it is reported, never reset."""

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(
            f"state file {path} is corrupted: {problem} "
            "(restore it from a backup or move the state directory aside; "
            "specops serve never resets state on its own)"
        )
        self.path = path
        self.problem = problem
