"""What ``specops watch`` keeps on the target: its lease and its alert state; rolled-back versions.

The watch lease has the apply lease's semantics (one holder, a TTL, the same
holder renews, an expired one is free) but is independent of it: a watcher
holds the watch lease all the time, an apply the apply lease for a rollout.
The alert state is an opaque JSON object the lease holder writes (firing
since, resolved at, last notified per alert), so a restarted watcher or a
stand-by taking over reads where the last one stopped.

Both live in ``DIR/watch.json`` (written atomically, like ``state.json``),
apart from the target's state document: a watcher writes its state every
tick, and that must not move the target's ``revision`` (which would make
every saved plan stale).

Rolled-back versions are part of a model's live status (``rolled_back``)
and kept in ``state.json``: ``PUT /admin/v1/models/{name}/traffic`` with
``"rollback": {"version", "reason", "by"}`` records one; see
``record_rollback`` and ``clear_rolled_back``.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import orjson

from specops.serve._errors import HTTPError, StateCorruptError
from specops.serve._state import atomic_write, read_json

__all__ = ["WatchStore", "clear_rolled_back", "parse_rollback", "record_rollback"]

WATCH_FORMAT_VERSION = 1
MAX_STATE_BYTES = 4 << 20
ROLLBACK_BY = ("analysis", "watch", "recovery")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def _rfc3339(ts: float) -> str:
    from specops.serve._target import rfc3339

    return rfc3339(ts)


class WatchStore:
    """The watch lease and alert state of one target, persisted in ``watch.json``."""

    def __init__(self, directory: Path, clock: Callable[[], float]) -> None:
        self.path = directory / "watch.json"
        self.clock = clock
        self.holder: str | None = None
        self.expires = 0.0
        self.state: dict[str, Any] = {}
        self.updated_at: float | None = None
        self.updated_by: str | None = None
        self.lock = asyncio.Lock()

    def restore(self) -> None:
        try:
            data = read_json(self.path)
        except FileNotFoundError:
            return
        if not isinstance(data, dict) or data.get("format_version") != WATCH_FORMAT_VERSION:
            raise StateCorruptError(str(self.path), f"not a watch state document (format_version {WATCH_FORMAT_VERSION})")
        lease = data.get("lease") or {}
        if isinstance(lease.get("holder"), str):
            self.holder, self.expires = lease["holder"], float(lease.get("expires", 0))
        state = data.get("state")
        self.state = state if isinstance(state, dict) else {}
        self.updated_at = data.get("updated_at")
        self.updated_by = data.get("updated_by")

    def _save(self, holder: str | None, expires: float, state: dict[str, Any], updated_at: float | None, by: str | None) -> None:
        document = {
            "format_version": WATCH_FORMAT_VERSION,
            "lease": {"holder": holder, "expires": expires} if holder else None,
            "state": state,
            "updated_at": updated_at,
            "updated_by": by,
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(self.path, orjson.dumps(document, option=orjson.OPT_SORT_KEYS))

    # -- the lease --------------------------------------------------------------

    def current(self) -> str | None:
        if self.holder is not None and self.expires > self.clock():
            return self.holder
        return None

    def lease_json(self) -> dict[str, Any]:
        holder = self.current()
        if holder is None:
            return {"holder": None, "kind": "watch"}
        return {"holder": holder, "expires_at": _rfc3339(self.expires), "kind": "watch"}

    def _held_by_other(self, holder: Any) -> HTTPError:
        return HTTPError(
            409,
            f"the watch lease is held by {self.holder} until {_rfc3339(self.expires)}; "
            "another watcher is active (this one stands by until the lease expires)",
            holder=self.holder,
            expires_at=_rfc3339(self.expires),
            kind="watch",
        )

    async def take(self, holder: Any, ttl: Any) -> dict[str, Any]:
        if not isinstance(holder, str) or not 0 < len(holder) <= 256:
            raise HTTPError(400, "'holder' must be a non-empty string (e.g. watch@host:pid)")
        if isinstance(ttl, bool) or not isinstance(ttl, int | float) or not 1 <= ttl <= 86400:
            raise HTTPError(400, "'ttl_s' must be a number of seconds between 1 and 86400")
        async with self.lock:
            current = self.current()
            if current is not None and current != holder:
                raise self._held_by_other(holder)
            expires = self.clock() + float(ttl)
            self._save(holder, expires, self.state, self.updated_at, self.updated_by)
            self.holder, self.expires = holder, expires
            return self.lease_json()

    async def release(self, holder: Any) -> None:
        async with self.lock:
            current = self.current()
            if current is None:
                return
            if holder != current:
                raise self._held_by_other(holder)
            self._save(None, 0.0, self.state, self.updated_at, self.updated_by)
            self.holder, self.expires = None, 0.0

    # -- the alert state ----------------------------------------------------------

    def state_json(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "updated_at": _rfc3339(self.updated_at) if self.updated_at else None,
            "updated_by": self.updated_by,
            "lease": self.lease_json(),
        }

    async def put_state(self, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict) or not isinstance(body.get("state"), dict):
            raise HTTPError(400, "the body must be {holder, state: {...}}")
        holder = body.get("holder")
        async with self.lock:
            current = self.current()
            if current is None or holder != current:
                if current is None:
                    raise HTTPError(
                        409, "writing the watch state needs the watch lease "
                        "(POST /admin/v1/lease?kind=watch first)", holder=None, kind="watch",
                    )  # fmt: skip
                raise self._held_by_other(holder)
            size = len(orjson.dumps(body["state"]))
            if size > MAX_STATE_BYTES:
                raise HTTPError(413, f"the watch state is {size} bytes; the limit is {MAX_STATE_BYTES}")
            now = self.clock()
            self._save(self.holder, self.expires, body["state"], now, holder)
            self.state, self.updated_at, self.updated_by = body["state"], now, holder
            return self.state_json()


# -- rolled-back versions (kept in the model's record in state.json) -------------


def parse_rollback(body: Any, weights: dict[str, int], loaded: Mapping[str, Any]) -> dict[str, str] | None:
    """The traffic body's ``rollback`` object, checked; ``None`` when there is none."""
    raw = body.get("rollback")
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise HTTPError(400, "'rollback' must be {version, reason, by}")
    version, reason, by = raw.get("version"), raw.get("reason"), raw.get("by", "watch")
    spec_hash = raw.get("hash")
    if not isinstance(version, str) or not version:
        raise HTTPError(400, "rollback.version must be the version rolled back")
    if version not in loaded and not (isinstance(spec_hash, str) and _SHA256.match(spec_hash)):
        raise HTTPError(
            422, f"rollback.version {version!r} is not loaded ({', '.join(sorted(loaded))}); "
            "give its spec hash as rollback.hash to record it anyway",
        )  # fmt: skip
    if weights.get(version, 0) != 0:
        raise HTTPError(422, f"a rollback of {version} must give it weight 0, not {weights[version]}")
    if not isinstance(reason, str) or not reason.strip() or len(reason) > 2000:
        raise HTTPError(400, "rollback.reason must be a non-empty string (at most 2000 characters)")
    if by not in ROLLBACK_BY:
        raise HTTPError(400, f"rollback.by must be one of {', '.join(ROLLBACK_BY)}, not {by!r}")
    out = {"version": version, "reason": reason, "by": str(by)}
    if version not in loaded:
        out["hash"] = str(spec_hash)
    branch = raw.get("branch")
    if branch is not None:
        if not isinstance(branch, str) or len(branch) > 256:
            raise HTTPError(400, "rollback.branch must be a string (the revert's git branch)")
        out["branch"] = branch
    return out


def record_rollback(
    rolled_back: dict[str, dict[str, Any]], rollback: dict[str, str], stored_hash: str, now: float
) -> dict[str, dict[str, Any]]:
    """A copy of ``rolled_back`` with ``rollback`` recorded (version, spec hash, time, reason, by)."""
    entry: dict[str, Any] = {"hash": stored_hash, "at": _rfc3339(now), "reason": rollback["reason"], "by": rollback["by"]}
    if "branch" in rollback:
        entry["branch"] = rollback["branch"]
    return {**rolled_back, rollback["version"]: entry}


def clear_rolled_back(
    rolled_back: dict[str, dict[str, Any]], version: str, spec_hash: str | None
) -> dict[str, dict[str, Any]]:
    """Forget ``version``'s rollback: it was re-applied with another spec (``spec_hash``), or
    promoted to 100% again (``spec_hash`` None: an explicit retry)."""
    entry = rolled_back.get(version)
    if entry is None or (spec_hash is not None and entry.get("hash") == spec_hash):
        return rolled_back
    return {k: v for k, v in rolled_back.items() if k != version}
