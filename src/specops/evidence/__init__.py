"""Evidence for compliance: the hash-chained record of every change, ``specops audit`` and ``specops history``."""

from __future__ import annotations

from specops.evidence._record import canonical, verify_chain
from specops.evidence._seal import SealResult, seal, stash_plan
from specops.evidence._store import REF, EvidenceError, EvidenceStore

__all__ = ["REF", "EvidenceError", "EvidenceStore", "SealResult", "canonical", "seal", "stash_plan", "verify_chain"]
