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

Every objective above is a proportion: the share of "good" requests must
reach a target. A step is a sample, and a small one: a p99 over 60 requests
is decided by the single slowest request, so one scheduler hiccup would fail
a healthy version. The verdict therefore weighs the evidence:

* the measured share reaches the target: the objective passes;
* even the upper end of its confidence interval (Wilson score interval,
  ``z = CONFIDENCE_Z``) misses the target: it fails, conclusively;
* in between: Inconclusive, "borderline": the runner keeps the step running
  for more traffic, and rolls back if the deadline comes first.

So a version that is really slow (0 of 60 within the threshold) fails at
once, a healthy one with one outlier in 60 is given more requests to show
it, and nothing borderline is promoted on its own evidence.

One exception, after canary analysis tools that judge the canary against
the stable version rather than in a vacuum: when the baseline (the previous
version, in the same window) misses the same objective and the candidate is
not clearly worse (their Wilson intervals overlap), the target is short,
not the candidate: a throttled or overloaded machine slows every version
alike, and rolling back would not help. The objective then passes with a
note saying so; the SLO's alerting owns that breach. At the last step the
baseline takes no traffic, so the runner passes the baseline window of the
step before. Any failed objective fails the step; the first one is named
with its measured value.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "CONFIDENCE_Z",
    "GUARDRAIL_MARGIN",
    "Verdict",
    "VersionWindow",
    "judge",
    "quantile",
    "wilson_bounds",
    "wilson_upper",
    "window",
]

GUARDRAIL_MARGIN = 0.05
# Two-sided 99%. A false "Failed" costs a healthy release; a bad version held
# back by a high bar costs only time: it stays borderline (never promoted)
# until more traffic convicts it or the deadline rolls it back.
CONFIDENCE_Z = 2.576

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


def _timed(w: VersionWindow | None, threshold: float) -> tuple[int, int] | None:
    """(requests at or under ``threshold``, requests timed) from ``w``'s histogram; None without one.

    Exact when ``threshold`` is a bucket bound; judged on the histogram's own
    count, so buckets and request counters never disagree.
    """
    if w is None or not w.buckets or w.buckets[-1][1] <= 0:
        return None
    under = 0
    for le, count in w.buckets:
        if le <= threshold:
            under = count
    return under, w.buckets[-1][1]


def wilson_bounds(good: int, n: int, z: float = CONFIDENCE_Z) -> tuple[float, float]:
    """The Wilson score interval for a share of ``good`` in ``n`` (``(0, 1)`` when ``n`` is 0)."""
    if n <= 0:
        return 0.0, 1.0
    p = good / n
    z2 = z * z
    centre = p + z2 / (2 * n)
    spread = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    scale = 1 + z2 / n
    return max(0.0, (centre - spread) / scale), min(1.0, (centre + spread) / scale)


def wilson_upper(good: int, n: int, z: float = CONFIDENCE_Z) -> float:
    """Upper end of the Wilson score interval for a share of ``good`` in ``n``."""
    return wilson_bounds(good, n, z)[1]


def _meets(good: int, n: int, target: float) -> bool:
    return good >= target * n - 1e-9


def _verdict_of(good: int, n: int, target: float) -> str:
    """``pass`` (the share reaches the target), ``fail`` (conclusively not) or ``borderline``."""
    if _meets(good, n, target):
        return "pass"
    return "fail" if wilson_upper(good, n) < target else "borderline"


def _shares_the_miss(good: int, n: int, base_good: int, base_n: int, target: float, min_requests: int) -> bool:
    """The baseline misses ``target`` too, in the same window, and the candidate is not clearly worse.

    Then the target itself is short (a loaded or throttled machine slows
    every version alike): rolling back would not help, and the miss is the
    SLO's alerting's business, not the rollout's.
    """
    if base_n < max(min_requests, 1) or _meets(base_good, base_n, target):
        return False
    return wilson_bounds(good, n)[1] >= wilson_bounds(base_good, base_n)[0]


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
    borderline: Verdict | None = None
    n = candidate.requests
    answered = (baseline.requests - baseline.errors, baseline.requests) if baseline is not None and baseline.requests else None

    def weigh(
        name: str, kind: Any, good: int, of: int, target: float, measured: float, limit: float,
        base: tuple[int, int] | None = None,
    ) -> None:  # fmt: skip
        nonlocal failed, borderline
        outcome = _verdict_of(good, of, target)
        check: dict[str, Any] = {"objective": name, "measured": _round(measured), "limit": limit, "outcome": outcome}
        if outcome != "pass" and base is not None and _shares_the_miss(good, of, *base, target, min_requests):
            outcome = check["outcome"] = "pass"
            check["note"] = (
                f"the baseline misses it too in the same window ({base[1] - base[0]} of {base[1]} requests "
                "outside): the target is short, not the candidate"
            )
        checks.append(check)
        if outcome == "fail" and failed is None:
            failed = Verdict("Failed", f"{name} failed: measured {_show(kind, measured)}", name, _round(measured), limit)
        elif outcome == "borderline" and borderline is None:
            borderline = Verdict(
                "Inconclusive",
                f"{name} is borderline: measured {_show(kind, measured)} over {of} requests, "
                "too few to tell a miss from noise; waiting for more",
                name, _round(measured), limit,
            )  # fmt: skip

    for objective in objectives:
        kind = objective.get("type")
        if kind == "errorRate":
            limit = float(objective["max"])
            weigh(f"errorRate <= {limit:g}", kind, n - candidate.errors, n, 1 - limit, candidate.errors / n, limit, answered)
        elif kind == "availability":
            limit = float(objective["target"])
            weigh(f"availability >= {limit:g}", kind, n - candidate.errors, n, limit, 1 - candidate.errors / n, limit, answered)
        elif kind == "latency":
            pct = float(objective.get("percentile", 99.0))
            limit = float(objective["thresholdMs"])
            good, of = _timed(candidate, limit) or (n, n)
            value = quantile(candidate.buckets, pct / 100)
            measured = value if value is not None else math.nan
            if not _meets(good, of, pct / 100) and measured <= limit:
                measured = limit  # the bucket holding the percentile ends above the threshold
            weigh(f"latency p{pct:g} <= {limit:g}ms", kind, good, of, pct / 100, measured, limit, _timed(baseline, limit))
        else:
            checks.append({"objective": str(kind), "outcome": "skipped", "why": "judged over the SLO window, not a canary step"})
    blocks = candidate.guardrail_blocks / n
    base_rate = baseline.guardrail_blocks / baseline.requests if baseline and baseline.requests else 0.0
    limit = base_rate + GUARDRAIL_MARGIN
    weigh(f"guardrail block rate <= baseline {base_rate:.3f} + {GUARDRAIL_MARGIN:g}", "rate", n - candidate.guardrail_blocks, n, 1 - limit, blocks, limit)
    result = failed or borderline
    if result is not None:
        result.window, result.checks = candidate, checks
        return result
    met = len([c for c in checks if c["outcome"] == "pass"])
    shared = [c["objective"] for c in checks if c.get("note")]
    reason = f"{met} objectives met over {n} requests"
    if shared:
        reason += f"; {', '.join(shared)} missed by the baseline too (the target is short, not the candidate)"
    return Verdict("Successful", reason, window=candidate, checks=checks)


def _round(value: float) -> float:
    return round(value, 6) if math.isfinite(value) else value


def _show(kind: Any, value: float) -> str:
    if kind == "latency":
        return f"{value:.1f}ms"
    if kind == "rate":
        return f"{value:.3f}"
    return f"{value:.4f}"
