"""Evidence for compliance: the hash-chained record of every change, ``specops audit`` and ``specops history``.

The names below load on first use (``specops._lazy``): registering ``specops audit`` with the
command line must not load pygit2.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from specops._lazy import exports, homes

if TYPE_CHECKING:
    from specops.evidence._record import canonical, verify_chain
    from specops.evidence._seal import SealResult, seal, stash_plan
    from specops.evidence._store import REF, EvidenceError, EvidenceStore

__all__ = ["REF", "EvidenceError", "EvidenceStore", "SealResult", "canonical", "seal", "stash_plan", "verify_chain"]

__getattr__, __dir__ = exports(
    __name__,
    __all__,
    {
        **homes("specops.evidence._record", ["canonical", "verify_chain"]),
        **homes("specops.evidence._seal", ["SealResult", "seal", "stash_plan"]),
        **homes("specops.evidence._store", ["REF", "EvidenceError", "EvidenceStore"]),
    },
)
