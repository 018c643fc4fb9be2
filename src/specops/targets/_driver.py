"""The target seam: what SpecOps needs from a serving target, and nothing more.

Plan, apply, status, the demo, the traffic generator and watch talk to a
target only through a ``TargetDriver``. ``specops serve`` has one
(``_serve.ServeDriver``); another kind of target (a Ray Serve cluster)
implements the same protocol and needs nothing else.

Contract for every implementation:

- Reads (``live_state``, ``lease_info``, ``has_artifact``, ``stats``,
  ``observations``, ``watch_state``) and ``upload`` (content-addressed by
  sha256, so a repeat stores the same bytes) may be retried with backoff.
- A mutating call (``acquire``/``release``, ``put_resource``,
  ``delete_resource``, ``set_traffic``, ``put_watch_state``) is sent once.
  If its answer is lost, it raises ``MutationUncertainError``: the caller
  re-reads the live state and decides, so nothing is applied twice.
- Mutations carry ``expected_revision``; a target that moved answers with
  ``RevisionConflictError``. A held lease raises ``LeaseHeldError``, refused
  credentials ``TargetAuthError``, an unreachable target ``TargetDownError``.
- Lease kinds: ``"apply"`` (one runner changes the target) and ``"watch"``
  (one active watcher). They are independent of each other.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import httpx

__all__ = ["LEASE_KINDS", "TargetDriver"]

LEASE_KINDS = ("apply", "watch")


@runtime_checkable
class TargetDriver(Protocol):
    """One target, as plan, apply, status, watch and evidence see it."""

    name: str
    """The Target's ``metadata.name``."""
    url: str
    """Where the target is (shown in messages and recorded in the journal)."""
    token_env: str | None
    """The environment variable that holds the admin token (its name, never its value)."""

    def live_state(self) -> dict[str, Any]:
        """The live-state document (``docs/admin-api.md``): revision and resources."""
        ...

    def lease_info(self, kind: str = "apply") -> dict[str, Any]:
        """``{"holder": None}`` or the lease: ``holder``, ``expires_at``, ..."""
        ...

    def acquire(
        self,
        holder: str,
        ttl_s: float,
        *,
        kind: str = "apply",
        identity: dict[str, Any] | None = None,
        takeover: str | None = None,
    ) -> dict[str, Any]:
        """Take or renew the lease; later mutations of an ``apply`` lease carry its holder.

        ``identity`` (host, boot id, pid namespace, pid, start time) lets the next runner prove
        this holder dead; ``takeover`` names a holder the caller proved dead, and the target
        swaps only while that holder still holds the lease.
        """
        ...

    def release(self, holder: str | None = None, *, kind: str = "apply") -> None:
        """Give the lease back (``None``: the holder this driver took it as)."""
        ...

    def has_artifact(self, sha256: str) -> bool: ...

    def upload(self, sha256: str, data: bytes) -> None:
        """Store an artifact by its sha256 (safe to retry)."""
        ...

    def put_resource(
        self,
        kind: str,
        name: str,
        spec: dict[str, Any],
        spec_hash: str,
        *,
        expected_revision: str | None,
        activate: bool = True,
    ) -> dict[str, Any]:
        """Create or update one resource; answers at least ``{"revision"}``."""
        ...

    def delete_resource(self, kind: str, name: str, *, expected_revision: str | None) -> dict[str, Any]: ...

    def set_traffic(
        self,
        model: str,
        weights: dict[str, int],
        shadow: str | None,
        *,
        expected_revision: str | None,
        reason: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Route a model's traffic; ``reason`` (``{"version", "reason", "by"}``) records a rollback."""
        ...

    def stats(self, model: str) -> dict[str, Any]:
        """Cumulative per-version counters (rollout analysis)."""
        ...

    def observations(self, model: str, windows_s: list[int], *, features_s: list[int] | None = None) -> dict[str, Any]:
        """Windowed per-version, per-traffic observations (watch); ``features_s``: the windows
        whose feature counts to include (None: every window)."""
        ...

    def watch_state(self) -> dict[str, Any]: ...

    def put_watch_state(self, state: dict[str, Any], *, holder: str) -> dict[str, Any]: ...

    def infer(
        self,
        model: str,
        body: bytes | dict[str, Any],
        *,
        headers: dict[str, str] | None = None,
        timeout: float | None = None,
    ) -> httpx.Response:
        """One inference request (Open Inference Protocol v2), answered as it came."""
        ...

    def inference_url(self, model: str) -> str: ...

    def close(self) -> None: ...
