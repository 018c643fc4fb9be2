"""Ask many targets at once: a bounded thread pool, so a plan waits for the slowest target, not the sum."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

__all__ = ["MAX_PARALLEL", "fan_out"]

# Waiting on the network holds no CPU: 64 targets in flight keep a fleet of 200 at four round
# trips, while the bound still caps threads and sockets for a fleet of thousands.
MAX_PARALLEL = 64
T = TypeVar("T")
D = TypeVar("D")


def _name(item: Any) -> str:
    return str(item.name)


def fan_out(
    items: Iterable[D],
    call: Callable[[D], T],
    *,
    name: Callable[[D], str] = _name,
    max_parallel: int = MAX_PARALLEL,
) -> dict[str, T | Exception]:
    """``call(item)`` for every item (drivers, or target specs a call makes a driver from),
    concurrently; each ``name(item)`` maps to its result or its error.

    Every call is bounded by its driver's own timeout, so none waits forever;
    errors are returned, not raised, so the caller sees every target's fate.
    """
    chosen = list(items)
    if len(chosen) <= 1:
        return {name(d): _guard(call, d) for d in chosen}
    with ThreadPoolExecutor(max_workers=min(max_parallel, len(chosen)), thread_name_prefix="specops-target") as pool:
        futures = {name(d): pool.submit(_guard, call, d) for d in chosen}
        return {key: future.result() for key, future in futures.items()}


def _guard(call: Callable[[D], T], item: D) -> T | Exception:
    try:
        return call(item)
    except Exception as exc:  # handed back to the caller, who decides per target
        return exc
