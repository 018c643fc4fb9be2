"""Ask many targets at once: a bounded thread pool, so a plan waits for the slowest target, not the sum."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from specops.targets._driver import TargetDriver

__all__ = ["MAX_PARALLEL", "fan_out"]

MAX_PARALLEL = 16
T = TypeVar("T")


def fan_out(
    drivers: Iterable[TargetDriver], call: Callable[[TargetDriver], T], *, max_parallel: int = MAX_PARALLEL
) -> dict[str, T | Exception]:
    """``call(driver)`` for every driver, concurrently; each name maps to its result or its error.

    Every call is bounded by its driver's own timeout, so none waits forever;
    errors are returned, not raised, so the caller sees every target's fate.
    """
    chosen = list(drivers)
    if len(chosen) <= 1:
        return {d.name: _guard(call, d) for d in chosen}
    with ThreadPoolExecutor(max_workers=min(max_parallel, len(chosen)), thread_name_prefix="specops-target") as pool:
        futures = {d.name: pool.submit(_guard, call, d) for d in chosen}
        return {name: future.result() for name, future in futures.items()}


def _guard(call: Callable[[TargetDriver], T], driver: TargetDriver) -> T | Exception:
    try:
        return call(driver)
    except Exception as exc:  # handed back to the caller, who decides per target
        return exc
