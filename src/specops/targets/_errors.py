"""What can go wrong talking to a target: one class per thing the caller does differently.

``AdminError`` is the base (a target answered an admin call with an error);
its subclasses say what to do next: ``TargetDownError`` (start it or fix the
url; an interrupted apply is recovered by the next one), ``TargetAuthError``
(fix the token), ``LeaseHeldError`` (wait for the holder), ``RevisionConflictError``
(re-plan) and ``MutationUncertainError`` (a change was sent but its answer was
lost: re-read the live state and decide; never send it again blindly).
"""

from __future__ import annotations

from typing import Any

from specops._errors import SpecOpsError

__all__ = [
    "AdminError",
    "LeaseHeldError",
    "LiveStateError",
    "MutationUncertainError",
    "RevisionConflictError",
    "TargetAuthError",
    "TargetDownError",
    "TargetUnreachableError",
]


class AdminError(SpecOpsError):
    """A target answered an admin call with an error."""

    def __init__(self, target: str, message: str, status: int = 0, body: Any = None) -> None:
        super().__init__(f"target {target}: {message}")
        self.target = target
        self.status = status
        self.body = body if isinstance(body, dict) else {}


class TargetDownError(AdminError):
    """The target could not be reached (down, restarting, wrong url)."""


class MutationUncertainError(TargetDownError):
    """A mutating call was sent and its answer never came: it may or may not have happened.

    A ``TargetDownError`` for the runner (the change stays open in the journal,
    so the next apply reconciles it from live state), never retried by the driver.
    """


class TargetAuthError(AdminError):
    """The target refused our credentials (HTTP 401/403), or the token variable is unset."""


class LeaseHeldError(AdminError):
    def __init__(self, target: str, holder: str, expires_at: str, body: Any = None) -> None:
        super().__init__(
            target,
            f"lease held by {holder} until {expires_at}; another apply is running against it "
            "(wait for it to finish, or for the lease to expire, then apply again)",
            409,
            body,
        )
        self.holder = holder
        self.expires_at = expires_at


class RevisionConflictError(AdminError):
    def __init__(self, target: str, expected: str | None, current: str, body: Any = None) -> None:
        super().__init__(
            target,
            f"live state moved: expected revision {expected}, the target is at {current} "
            "(someone changed it meanwhile; re-plan with `specops plan --out FILE`)",
            409,
            body,
        )
        self.current = current


class LiveStateError(SpecOpsError):
    """Live state could not be read or is not a valid live-state document."""


class TargetUnreachableError(LiveStateError):
    """Planning needs a target's live state and could not get it."""

    def __init__(self, target: str, url: str, reason: str) -> None:
        super().__init__(
            f"target {target} at {url} is unreachable: {reason} "
            "(start it, fix spec.url, or plan with --allow-unreachable to mark its resources unknown)"
        )
        self.target = target
