"""Leases: a runner holds every target it changes, renewing them until it is done.

Leases are taken in target-name order (two runners never wait on each other
in a cycle) and a held one fails the apply at once, naming its holder and
when the lease expires.

A runner killed at any moment (even between taking a lease and journaling
its start, or after finishing and before releasing) must not lock a target.
So every lease carries its holder's *identity*: host name, the kernel's boot
id, the PID namespace, the pid and the process's start time (from
``/proc/<pid>/stat``). A holder is known dead at once only when that proves
it: same host, same boot, same PID namespace, and no live process with that
pid *and* start time (a pid reused by another process has another start
time). Then the next runner takes the lease over, in one call that the
target only grants while the dead holder still holds it. Anything less than
proof (another host or container, a lease without identity, no ``/proc``)
waits for the lease to expire, and the error says when that is.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from specops.apply._client import AdminError, LeaseHeldError
from specops.apply._rollout import TargetSession

__all__ = ["LeaseBlockedError", "holder_identity", "holder_is_dead", "holder_name", "leases"]

_PROC = Path("/proc")


def holder_name() -> str:
    return f"apply@{socket.gethostname()}:{os.getpid()}"


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="ascii", errors="replace").strip()
    except OSError:
        return None


def _boot_id() -> str | None:
    return _read(_PROC / "sys" / "kernel" / "random" / "boot_id")


def _pid_namespace() -> str | None:
    try:
        return os.readlink(_PROC / "self" / "ns" / "pid")
    except OSError:
        return None


def process_start_time(pid: int) -> int | None:
    """Field 22 of ``/proc/<pid>/stat`` (clock ticks after boot); ``None`` when no such process."""
    stat = _read(_PROC / str(pid) / "stat")
    if stat is None:
        return None
    # The command name (field 2) is in parentheses and may hold spaces or parentheses itself.
    fields = stat.rpartition(")")[2].split()
    try:
        return int(fields[19])  # fields[0] is field 3 (state)
    except (IndexError, ValueError):
        return None


def holder_identity(pid: int | None = None) -> dict[str, Any]:
    """This process (or ``pid`` on this host) as a lease records it."""
    pid = os.getpid() if pid is None else pid
    identity: dict[str, Any] = {"host": socket.gethostname(), "pid": pid}
    for key, value in (("boot_id", _boot_id()), ("pid_ns", _pid_namespace()), ("start_time", process_start_time(pid))):
        if value is not None:
            identity[key] = value
    return identity


def holder_is_dead(identity: Any) -> tuple[bool, str]:
    """Whether a lease holder is provably a dead process of this machine, and why (not)."""
    if not isinstance(identity, dict):
        return False, "the lease carries no holder identity"
    here = holder_identity()
    host = identity.get("host")
    if host != here["host"]:
        return False, f"its holder runs on another host ({host})"
    for key, what in (("boot_id", "boot"), ("pid_ns", "PID namespace")):
        if here.get(key) is None:
            return False, f"this host has no {what} id to compare with"
        if identity.get(key) != here[key]:
            return False, f"its holder ran in another {what} of host {host} (another container or a reboot)"
    pid, started = identity.get("pid"), identity.get("start_time")
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0 or not isinstance(started, int):
        return False, "the lease's identity has no pid and start time"
    now = process_start_time(pid)
    if now == started:
        return False, f"its holder (pid {pid}) is still running"
    if now is None:
        if _exists(pid):  # /proc hides it (hidepid), yet it runs: its start time is unknown
            return False, f"pid {pid} runs and its start time cannot be read"
        return True, f"pid {pid} is gone"
    return True, f"pid {pid} is another process now (started at {now}, not {started})"


def _exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class LeaseBlockedError(LeaseHeldError):
    """The lease is held by a holder that cannot be proved dead: wait for it to expire."""

    def __init__(self, held: LeaseHeldError, reason: str) -> None:
        AdminError.__init__(
            self,
            held.target,
            f"lease held by {held.holder} until {held.expires_at}{_in(held.expires_at)}; {reason}, so "
            "another apply may be running against it (wait for it to finish, or for the lease to expire "
            "at that time, then apply again)",
            409,
            held.body,
        )
        self.holder = held.holder
        self.expires_at = held.expires_at


def _in(expires_at: str) -> str:
    try:
        when = datetime.strptime(expires_at, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        return ""
    seconds = max(0, round((when - datetime.now(UTC)).total_seconds()))
    return f" (in {seconds} s)"


def take(
    session: TargetSession,
    holder: str,
    ttl_s: float,
    identity: dict[str, Any],
    say: Callable[[str], None] = lambda _line: None,
) -> dict[str, Any]:
    """Take one target's lease, taking it over from a holder proved dead; else ``LeaseBlockedError``."""
    try:
        return session.client.acquire(holder, ttl_s, identity=identity)
    except LeaseHeldError as exc:
        dead, reason = holder_is_dead(exc.body.get("identity"))
        if not dead:
            raise LeaseBlockedError(exc, reason) from None
        # The target swaps only while the dead holder still holds it; a live one that got
        # there first answers 409 again, naming itself.
        try:
            answer = session.client.acquire(holder, ttl_s, identity=identity, takeover=exc.holder)
        except LeaseHeldError as again:
            dead, reason = holder_is_dead(again.body.get("identity"))
            raise LeaseBlockedError(again, reason) from None
        say(f"took over the lease on {session.name} from {exc.holder}, a dead process ({reason})")
        return answer


@contextmanager
def leases(
    sessions: list[TargetSession], holder: str, ttl_s: float, say: Callable[[str], None] = lambda _line: None
) -> Iterator[None]:
    taken: list[TargetSession] = []
    stop = threading.Event()
    identity = holder_identity()
    try:
        for session in sorted(sessions, key=lambda s: s.name):
            take(session, holder, ttl_s, identity, say)
            taken.append(session)
        renewer = threading.Thread(target=_renew, args=(taken, holder, ttl_s, identity, stop), daemon=True)
        renewer.start()
        yield
    finally:
        stop.set()
        for session in reversed(taken):
            # A lease that cannot be released expires by itself; the apply's outcome matters more.
            with contextlib.suppress(AdminError):
                session.client.release()


def _renew(
    sessions: list[TargetSession], holder: str, ttl_s: float, identity: dict[str, Any], stop: threading.Event
) -> None:
    while not stop.wait(max(ttl_s / 3, 0.05)):
        for session in sessions:
            # A failed renewal surfaces at the next mutating call, with the holder.
            with contextlib.suppress(AdminError):
                session.client.acquire(holder, ttl_s, identity=identity)
