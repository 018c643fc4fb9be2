"""Error budgets and burn rates (the SRE workbook's multiwindow, multi-burn-rate alerts).

A window's burn rate is its bad fraction over the budget:
``(bad / total) / budget``, from event sums over the window (never an
average of ratios). A pair fires when *both* its long and its short window
burn faster than its factor. A window with fewer than ``min_requests``
requests has no burn rate ("no data"): no traffic is never a pass.

What is bad, per objective (from one window of the target's observations):
``errorRate`` and ``availability`` count ``errors`` (5xx outcomes, the model
failed); ``latency`` counts ``over_threshold[thresholdMs]``. ``total`` is
``requests`` (every answered request).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from specops.spec._common import duration_seconds
from specops.spec._slo import (
    AvailabilityObjective,
    BurnRate,
    ErrorRateObjective,
    LatencyObjective,
    budget_of,
)

__all__ = [
    "DEFAULT_MIN_REQUESTS",
    "BurnPair",
    "PairResult",
    "WindowCounts",
    "budget_of",
    "budget_remaining",
    "burn_rate",
    "evaluate_pair",
    "pairs",
    "threshold_key",
    "window_counts",
]

DEFAULT_MIN_REQUESTS = 10
"""Fewest requests a window needs before its burn rate means anything."""

Status = Literal["firing", "ok", "no data"]


def threshold_key(threshold_ms: float) -> str:
    """How a latency threshold names its counter in observations: ``50``, ``2.5``."""
    value = float(threshold_ms)
    return str(int(value)) if value.is_integer() else repr(value)


@dataclass(frozen=True, slots=True)
class WindowCounts:
    bad: int
    total: int


def window_counts(
    objective: LatencyObjective | ErrorRateObjective | AvailabilityObjective, window: Mapping[str, Any]
) -> WindowCounts:
    """The bad and total requests of one observation window for ``objective``."""
    total = int(window.get("requests", 0))
    if isinstance(objective, LatencyObjective):
        over = window.get("over_threshold") or {}
        key = threshold_key(objective.threshold_ms)
        if key not in over:
            raise KeyError(f"the target does not count requests over {key} ms (no such latency bound)")
        return WindowCounts(int(over[key]), total)
    return WindowCounts(int(window.get("errors", 0)), total)


def burn_rate(counts: WindowCounts, budget: float, *, min_requests: int = DEFAULT_MIN_REQUESTS) -> float | None:
    """``(bad/total)/budget``; None (no data) under ``min_requests``; inf for a zero budget with bad requests."""
    if counts.total < max(min_requests, 1):
        return None
    fraction = counts.bad / counts.total
    if budget <= 0:
        return float("inf") if fraction > 0 else 0.0
    return fraction / budget


def budget_remaining(counts: WindowCounts, budget: float) -> float | None:
    """Share of the SLO window's budget left: ``1 - (bad/total)/budget`` (negative when overspent); None without traffic."""
    if counts.total <= 0:
        return None
    if budget <= 0:
        return 1.0 if counts.bad == 0 else float("-inf")
    return 1.0 - (counts.bad / counts.total) / budget


@dataclass(frozen=True, slots=True)
class BurnPair:
    """One alert: a long and a short window (seconds), the factor both must exceed, the severity."""

    long_s: int
    short_s: int
    factor: float
    severity: Literal["page", "ticket"]

    @property
    def name(self) -> str:
        return f"{_duration(self.long_s)}/{_duration(self.short_s)}"


def _duration(seconds: int) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def pairs(burn_rates: list[BurnRate], slo_window_s: float) -> list[BurnPair]:
    """The spec's pairs (``SLOSpec.burn_rates()``) in seconds with their factors resolved."""
    return [
        BurnPair(
            int(duration_seconds(r.long_window)), int(duration_seconds(r.short_window)),
            r.resolved_factor(slo_window_s), r.severity,
        )
        for r in burn_rates
    ]


@dataclass(frozen=True, slots=True)
class PairResult:
    pair: BurnPair
    long_rate: float | None
    short_rate: float | None

    @property
    def status(self) -> Status:
        if self.long_rate is None or self.short_rate is None:
            return "no data"
        if self.long_rate > self.pair.factor and self.short_rate > self.pair.factor:
            return "firing"
        return "ok"

    def to_json(self) -> dict[str, Any]:
        return {
            "windows": self.pair.name, "long_s": self.pair.long_s, "short_s": self.pair.short_s,
            "factor": self.pair.factor, "severity": self.pair.severity,
            "long_rate": self.long_rate, "short_rate": self.short_rate, "status": self.status,
        }


def evaluate_pair(
    pair: BurnPair, long: WindowCounts, short: WindowCounts, budget: float, *,
    min_requests: int = DEFAULT_MIN_REQUESTS,
) -> PairResult:
    """Both windows' burn rates; firing when both exceed the factor, no data when either lacks traffic."""
    return PairResult(
        pair,
        burn_rate(long, budget, min_requests=min_requests),
        burn_rate(short, budget, min_requests=min_requests),
    )
