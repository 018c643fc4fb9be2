"""The target errors, where apply's modules have always imported them from.

Apply talks to targets only through ``specops.targets`` (the driver seam);
this module keeps the error names importable from their old place.
"""

from __future__ import annotations

from specops.targets import (
    AdminError,
    LeaseHeldError,
    MutationUncertainError,
    RevisionConflictError,
    TargetAuthError,
    TargetDownError,
)

__all__ = [
    "AdminError",
    "LeaseHeldError",
    "MutationUncertainError",
    "RevisionConflictError",
    "TargetAuthError",
    "TargetDownError",
]
