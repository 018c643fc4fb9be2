"""Rolling a new model version out on one target: direct, canary, shadow first.

``direct`` loads the version and gives it all traffic in one atomic call.
``canary`` loads it beside the serving version with weight 0, optionally
mirrors traffic to it (``shadowFirst``), then walks the weight steps; after
each, analysis judges the candidate's own traffic in that step against the
model's SLO (see ``_analysis``). One failed measurement is not yet a
verdict: a step tolerates ``analysis.failureLimit`` of them (default 1, as
Argo Rollouts' ``failureLimit``), each followed by a fresh window, because a
short window can be swamped by one stall of the whole machine (a GC pause, a
preempted host) while a bad version fails every window it gets. Failed past
that limit, or Inconclusive past the deadline:
the previous spec is re-applied, which on the target is one atomic switch
back to the still-loaded previous version at 100%. The previous spec is
journaled before the first change, so a killed runner can be undone too.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from specops._errors import SpecOpsError
from specops.apply._analysis import Verdict, VersionWindow, judge, window
from specops.apply._traffic import TrafficGenerator
from specops.spec import duration_seconds
from specops.spec._model import Analysis
from specops.targets import AdminError, TargetDriver

__all__ = ["Rollout", "RolloutFailedError", "TargetSession", "rollback_model", "serving_version"]


class RolloutFailedError(SpecOpsError):
    def __init__(self, message: str, verdict: Verdict | None = None) -> None:
        super().__init__(message)
        self.verdict = verdict


@dataclass(slots=True)
class TargetSession:
    """A target the runner holds the lease of, and the revision it last saw there."""

    name: str
    client: TargetDriver
    revision: str | None = None
    state: dict[str, Any] = field(default_factory=dict)

    def refresh(self) -> dict[str, Any]:
        self.state = self.client.live_state()
        self.revision = self.state.get("revision")
        return self.state

    def advance(self, answer: dict[str, Any]) -> None:
        if answer.get("revision") is not None:
            self.revision = str(answer["revision"])
        else:
            self.refresh()

    def entry(self, rid: str) -> dict[str, Any] | None:
        resources = self.state.get("resources") or {}
        found = resources.get(rid)
        return found if isinstance(found, dict) else None


def serving_version(status: dict[str, Any]) -> str | None:
    """The version that takes (most of) the traffic: the one a rollback returns to."""
    traffic = status.get("traffic") or {}
    if traffic:
        return str(max(traffic.items(), key=lambda kv: (kv[1], kv[0]))[0])
    version = status.get("version")
    return str(version) if version is not None else None


@dataclass(slots=True)
class Rollout:
    """One model's rollout on one target, with what it needs to judge and to undo."""

    session: TargetSession
    rid: str
    doc: dict[str, Any]
    hash: str
    previous: dict[str, Any] | None  # the live entry before (spec, hash, status)
    objectives: list[dict[str, Any]]
    journal: Callable[..., Any]
    say: Callable[[str], None]
    traffic: TrafficGenerator | None = None
    analysis_wait_s: float = 0.0
    poll_s: float = 0.25
    _reference: VersionWindow | None = None  # the baseline's last window with enough traffic

    @property
    def name(self) -> str:
        return str(self.doc["metadata"]["name"])

    @property
    def version(self) -> str:
        return str(self.doc["spec"]["version"])

    def _rollout_spec(self) -> dict[str, Any]:
        return dict(self.doc["spec"].get("rollout") or {})

    def where(self) -> str:
        return f"{self.rid} on {self.session.name}"

    def run(self) -> str:
        """Roll out; returns the outcome (``applied`` or ``promoted``); raises on rollback."""
        client = self.session.client
        rollout = self._rollout_spec()
        previous_version = serving_version((self.previous or {}).get("status") or {})
        if (
            self.previous is None
            or rollout.get("strategy", "direct") != "canary"
            or previous_version is None
            or previous_version == self.version
        ):
            answer = client.put_resource(
                "Model", self.name, self.doc, self.hash, expected_revision=self.session.revision, activate=True
            )
            self.session.advance(answer)
            return "applied"
        answer = client.put_resource(
            "Model", self.name, self.doc, self.hash, expected_revision=self.session.revision, activate=False
        )
        self.session.advance(answer)
        self.journal("rollout.step", outcome="loaded", detail={"candidate": self.version, "weight": 0})
        self.say(f"  {self.where()}: {self.version} loaded beside {previous_version} (weight 0)")
        analysis = rollout.get("analysis")
        if rollout.get("shadowFirst"):
            self._shift({previous_version: 100}, shadow=self.version)
            self.say(f"  {self.where()}: shadow {self.version} for {rollout['shadowFirst']}")
            self._analyse("shadow", analysis, previous_version, minimum_s=duration_seconds(rollout["shadowFirst"]))
            self._shift({previous_version: 100}, shadow=None)
        for step in rollout.get("steps") or [100]:
            weights = {self.version: step} if step >= 100 else {previous_version: 100 - step, self.version: step}
            self._shift(weights)
            self.say(f"  {self.where()}: {step}% of traffic on {self.version}")
            self._analyse(f"{step}%", analysis, previous_version)
        return "promoted"

    def _shift(self, weights: dict[str, int], shadow: str | None = None) -> None:
        answer = self.session.client.set_traffic(self.name, weights, shadow, expected_revision=self.session.revision)
        self.session.advance(answer)
        self.journal("rollout.step", outcome="traffic", detail={"weights": weights, "shadow": shadow})

    def _analyse(self, step: str, analysis: dict[str, Any] | None, baseline: str, minimum_s: float = 0.0) -> None:
        if not analysis:
            return
        client = self.session.client
        # The canonical document leaves defaults out: the spec model fills them in, in one place.
        settings = Analysis.model_validate(analysis)
        interval = max(duration_seconds(settings.interval), minimum_s)
        deadline_s = max(duration_seconds(settings.deadline), interval)
        min_requests = settings.min_requests
        failure_limit = settings.failure_limit
        failures = 0
        start = time.monotonic()
        before = client.stats(self.name).get("versions") or {}
        wait_until = start + interval
        while True:
            pause = wait_until - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            after = client.stats(self.name).get("versions") or {}
            # At 100% the baseline takes no traffic: it is compared with its window of the step before.
            reference = window(before.get(baseline), after.get(baseline))
            if reference.requests >= min_requests:
                self._reference = reference
            verdict = judge(
                window(before.get(self.version), after.get(self.version)),
                self.objectives,
                min_requests=min_requests,
                baseline=self._reference,
            )
            elapsed = time.monotonic() - start
            if verdict.outcome == "Failed" and failures < failure_limit and elapsed < deadline_s:
                # One failed measurement may be a stall that hit every version (a GC pause, a
                # preempted host): measure again on fresh traffic. A bad version fails that too.
                failures += 1
                self._tolerate(step, verdict, failures, failure_limit)
                before = after
                wait_until = time.monotonic() + interval
                continue
            if verdict.outcome != "Inconclusive" or elapsed >= deadline_s:
                break
            wait_until = time.monotonic() + min(self.poll_s, interval)
        self.analysis_wait_s += time.monotonic() - start
        self.journal("analysis", outcome=verdict.outcome, detail={"step": step, **verdict.to_json()})
        self.say(f"  {self.where()}: analysis at {step}: {verdict.outcome} ({verdict.reason})")
        if verdict.outcome == "Successful":
            return
        if verdict.outcome == "Inconclusive":
            if verdict.objective is None:  # too few requests
                hint = (
                    "send traffic to the model during the rollout, e.g. `specops apply --traffic 200`, "
                    "or lower analysis.minRequests"
                )
            else:
                hint = "the candidate sits at its objective's edge; raise analysis.deadline to let more traffic decide"
            earlier = f"; {failures} failed measurement(s) before it" if failures else ""
            message = (
                f"{self.where()}: analysis at {step} stayed Inconclusive for {deadline_s:g}s "
                f"({verdict.reason}{earlier}{self._traffic_seen()}); rolled back to {baseline} ({hint})"
            )
        else:
            unit = "ms" if str(verdict.objective).startswith("latency") else ""
            message = (
                f"{self.where()}: analysis at {step} Failed: objective {verdict.objective} "
                f"measured {verdict.measured:.4g}{unit} (limit {verdict.limit:g}{unit}) over "
                f"{verdict.window.requests if verdict.window else 0} requests "
                f"(failed measurement {failures + 1}; analysis.failureLimit tolerates {failure_limit}); "
                f"rolled back to {baseline}"
            )
        rollback_model(self.session, self.rid, self.previous or {}, baseline, self.journal,
                       rejected=(self.version, self.hash, message))  # fmt: skip
        self.say(f"  {self.where()}: rolled back; {baseline} serves 100%")
        raise RolloutFailedError(message, verdict)

    def _tolerate(self, step: str, verdict: Verdict, failures: int, limit: int) -> None:
        self.journal(
            "analysis.measurement",
            outcome="Failed",
            detail={"step": step, "failures": failures, "failure_limit": limit, **verdict.to_json()},
        )
        self.say(
            f"  {self.where()}: analysis at {step}: measurement Failed ({verdict.reason}); "
            f"{failures} of {limit} tolerated failure(s), measuring again on fresh traffic"
        )

    def _traffic_seen(self) -> str:
        """What the runner's own traffic generator saw, when there is one: the first thing to check."""
        if self.traffic is None:
            return ""
        c = self.traffic.counts
        seen = f"; generated traffic so far: {c.sent} sent, {c.ok} ok, {c.blocked} blocked, {c.failed} failed"
        if c.errors:
            seen += f" (first failure: {c.errors[0]})"
        return seen


def rollback_model(
    session: TargetSession,
    rid: str,
    previous: dict[str, Any],
    version: str,
    journal: Callable[..., Any],
    rejected: tuple[str, str, str] | None = None,
) -> None:
    """Back to ``version`` at 100%: re-apply the previous spec (one atomic call), else route only.

    ``rejected`` (version, spec hash, reason): the target records that version as rolled back
    (``rolled_back`` in its live state), so the next plan does not propose it again."""
    name = rid.split("/", 1)[1]
    client: TargetDriver = session.client
    spec, hash_ = previous.get("spec"), previous.get("hash")
    try:
        if spec is None or hash_ is None:
            raise AdminError(session.name, "the previous spec is unknown")
        answer = client.put_resource("Model", name, spec, str(hash_), expected_revision=session.revision, activate=True)
        session.advance(answer)
        how = "previous spec re-applied"
    except AdminError as exc:
        session.refresh()
        answer = client.set_traffic(name, {version: 100}, None, expected_revision=session.revision)
        session.advance(answer)
        how = f"traffic routed back ({exc})"
    if rejected is not None:
        record = {"version": rejected[0], "hash": rejected[1], "reason": rejected[2][:2000], "by": "analysis"}
        with contextlib.suppress(AdminError):  # the rollback itself is done; the record is the next plan's
            session.advance(client.set_traffic(name, {version: 100}, None, expected_revision=session.revision, reason=record))
    journal("rollback", outcome="rolled_back", detail={"version": version, "how": how})
