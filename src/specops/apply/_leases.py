"""Leases: a runner holds every target it changes, renewing them until it is done.

Leases are taken in target-name order (two runners never wait on each other
in a cycle) and a held one fails the apply at once, naming its holder and
expiry. A lease whose holder is a dead process on this host, known from an
open apply in the journal, is released on its behalf: waiting out its TTL
would only delay the recovery the next apply is about to do.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from specops.apply._client import AdminError, LeaseHeldError
from specops.apply._rollout import TargetSession

__all__ = ["holder_alive", "holder_name", "leases"]


def holder_name() -> str:
    return f"apply@{socket.gethostname()}:{os.getpid()}"


def holder_alive(holder: str) -> bool:
    """Whether a holder named by ``holder_name`` may still run (another host: assume so)."""
    host, _, pid = holder.removeprefix("apply@").rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextmanager
def leases(
    sessions: list[TargetSession], holder: str, ttl_s: float, dead_holders: set[str] | None = None
) -> Iterator[None]:
    taken: list[TargetSession] = []
    stop = threading.Event()
    try:
        for session in sorted(sessions, key=lambda s: s.name):
            try:
                session.client.acquire(holder, ttl_s)
            except LeaseHeldError as exc:
                if exc.holder not in (dead_holders or set()) or holder_alive(exc.holder):
                    raise
                session.client.release(exc.holder)
                session.client.acquire(holder, ttl_s)
            taken.append(session)
        renewer = threading.Thread(target=_renew, args=(taken, holder, ttl_s, stop), daemon=True)
        renewer.start()
        yield
    finally:
        stop.set()
        for session in reversed(taken):
            # A lease that cannot be released expires by itself; the apply's outcome matters more.
            with contextlib.suppress(AdminError):
                session.client.release()


def _renew(sessions: list[TargetSession], holder: str, ttl_s: float, stop: threading.Event) -> None:
    while not stop.wait(max(ttl_s / 3, 0.05)):
        for session in sessions:
            # A failed renewal surfaces at the next mutating call, with the holder.
            with contextlib.suppress(AdminError):
                session.client.acquire(holder, ttl_s)
