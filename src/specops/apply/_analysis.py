"""Canary analysis: judge a candidate version against its SLO from two stats snapshots.

The target's stats are cumulative per version, so one step's traffic is the
difference of the snapshots taken at its start and end. Rules:

* fewer than ``minRequests`` answered requests on the candidate: Inconclusive
  (the runner waits, up to the analysis deadline, then rolls back);
* ``errorRate``: errors / requests must not exceed ``max``;
* ``availability``: 1 - errors / requests must reach ``target``;
* ``latency``: at least ``percentile``% of requests must finish within
  ``thresholdMs``. The target's bucket bounds include every SLO threshold,
  so that fraction is read exactly from the bucket ``le == thresholdMs``; the
  reported percentile is interpolated inside its bucket as Prometheus'
  ``histogram_quantile`` does;
* guardrail blocks: the candidate's block rate may exceed the baseline's
  (the previous version, same window) by at most 5 points: a version whose
  outputs trip guardrails fails even though the target answered;
* ``drift`` objectives need input statistics over a longer window than a
  canary step, so they are not judged here (they are listed as skipped).

Any failed objective fails the step; the first one is named with its
measured value.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "GUARDRAIL_MARGIN",
    "Verdict",
    "VersionWindow",
    "judge",
    "quantile",
    "window",
]

GUARDRAIL_MARGIN = 0.05

Outcome = Literal["Successful", "Failed", "Inconclusive"]


@dataclass(slots=True)
class VersionWindow:
    """One version's traffic between two stats snapshots."""

    requests: int = 0
    errors: int = 0
    guardrail_blocks: int = 0
    buckets: list[tuple[float, int]] = field(default_factory=list)  # cumulative (le, count)

    def to_json(self) -> dict[str, Any]:
        return {"requests": self.requests, "errors": self.errors, "guardrail_blocks": self.guardrail_blocks}


@dataclass(slots=True)
class Verdict:
    outcome: Outcome
    reason: str
    objective: str | None = None
    measured: float | None = None
    limit: float | None = None
    window: VersionWindow | None = None
    checks: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome,
            "reason": self.reason,
            "objective": self.objective,
            "measured": self.measured,
            "limit": self.limit,
            "requests": self.window.requests if self.window else None,
            "checks": self.checks,
        }


def _bound(le: Any) -> float:
    return math.inf if le in ("+Inf", "Inf", "inf") else float(le)


def _buckets(entry: dict[str, Any]) -> dict[float, int]:
    return {_bound(le): int(count) for le, count in entry.get("latency_buckets_ms") or []}


def window(before: dict[str, Any] | None, after: dict[str, Any] | None) -> VersionWindow:
    """The traffic of one version between two ``versions[v]`` entries of the stats endpoint.

    A missing ``before`` (the version was not loaded yet) counts from zero; a
    counter that went backwards (the target restarted) restarts the window.
    """
    after = after or {}
    before = before or {}
    if int(after.get("requests", 0)) < int(before.get("requests", 0)):
        before = {}
    old = _buckets(before)
    new = _buckets(after)
    buckets = sorted((le, count - old.get(le, 0)) for le, count in new.items())
    return VersionWindow(
        int(after.get("requests", 0)) - int(before.get("requests", 0)),
        int(after.get("errors", 0)) - int(before.get("errors", 0)),
        int(after.get("guardrail_blocks", 0)) - int(before.get("guardrail_blocks", 0)),
        buckets,
    )


def quantile(buckets: list[tuple[float, int]], q: float) -> float | None:
    """The q-quantile (0..1) of cumulative buckets, interpolated linearly inside its bucket."""
    if not buckets or buckets[-1][1] <= 0:
        return None
    total = buckets[-1][1]
    rank = q * total
    lower, below = 0.0, 0
    for le, count in buckets:
        if count >= rank:
            if math.isinf(le):
                return lower  # beyond the last finite bound: its lower edge is all we know
            if count == below:
                return le
            return lower + (le - lower) * (rank - below) / (count - below)
        lower, below = le, count
    return lower


def _within(buckets: list[tuple[float, int]], threshold: float) -> float:
    """Fraction of requests at or under ``threshold`` (exact when it is a bucket bound)."""
    total = buckets[-1][1] if buckets else 0
    if total <= 0:
        return 1.0
    under = 0
    for le, count in buckets:
        if le <= threshold:
            under = count
    return under / total


def judge(
    candidate: VersionWindow,
    objectives: list[dict[str, Any]],
    *,
    min_requests: int,
    baseline: VersionWindow | None = None,
) -> Verdict:
    """Judge one step; ``objectives`` are the SLO's ``spec.objectives`` (canonical documents)."""
    if candidate.requests < min_requests:
        return Verdict(
            "Inconclusive",
            f"{candidate.requests} of the {min_requests} requests analysis needs",
            window=candidate,
        )
    checks: list[dict[str, Any]] = []
    failed: Verdict | None = None
    n = candidate.requests
    for objective in objectives:
        kind = objective.get("type")
        if kind == "errorRate":
            measured, limit = candidate.errors / n, float(objective["max"])
            ok = measured <= limit
            name = f"errorRate <= {limit:g}"
        elif kind == "availability":
            measured, limit = 1 - candidate.errors / n, float(objective["target"])
            ok = measured >= limit
            name = f"availability >= {limit:g}"
        elif kind == "latency":
            pct = float(objective.get("percentile", 99.0))
            limit = float(objective["thresholdMs"])
            ok = _within(candidate.buckets, limit) >= pct / 100 - 1e-12
            value = quantile(candidate.buckets, pct / 100)
            measured = value if value is not None else math.nan
            if not ok and measured <= limit:
                measured = limit  # the bucket holding the percentile ends above the threshold
            name = f"latency p{pct:g} <= {limit:g}ms"
        else:
            checks.append({"objective": str(kind), "outcome": "skipped", "why": "judged over the SLO window, not a canary step"})
            continue
        checks.append({"objective": name, "measured": _round(measured), "limit": limit, "outcome": "pass" if ok else "fail"})
        if not ok and failed is None:
            failed = Verdict("Failed", f"{name} failed: measured {_show(kind, measured)}", name, _round(measured), limit)
    blocks = candidate.guardrail_blocks / n
    base = baseline.guardrail_blocks / baseline.requests if baseline and baseline.requests else 0.0
    ok = blocks <= base + GUARDRAIL_MARGIN
    name = f"guardrail block rate <= baseline {base:.3f} + {GUARDRAIL_MARGIN:g}"
    checks.append({"objective": name, "measured": _round(blocks), "limit": base + GUARDRAIL_MARGIN, "outcome": "pass" if ok else "fail"})
    if not ok and failed is None:
        failed = Verdict("Failed", f"{name} failed: measured {blocks:.3f}", name, _round(blocks), base + GUARDRAIL_MARGIN)
    if failed is not None:
        failed.window, failed.checks = candidate, checks
        return failed
    return Verdict("Successful", f"{len([c for c in checks if c['outcome'] == 'pass'])} objectives met over {n} requests", window=candidate, checks=checks)


def _round(value: float) -> float:
    return round(value, 6) if math.isfinite(value) else value


def _show(kind: Any, value: float) -> str:
    if kind == "latency":
        return f"{value:.1f}ms"
    return f"{value:.4f}"
