"""``SLO``: objectives for a model, how breaches alert, and what a breach does.

Every objective but drift has an error budget, the fraction of requests
allowed to be bad over the SLO ``window``: ``errorRate`` its ``max``,
``availability`` ``1 - target``, ``latency`` ``1 - percentile/100`` (a
request over ``thresholdMs`` is bad). Burn-rate alerts (the SRE workbook's
multiwindow, multi-burn-rate recipe) fire when both windows of a pair burn
faster than ``factor`` times the budget; ``budgetConsumed`` states the same
thing as the share of the whole window's budget the long window may burn
(``factor = budgetConsumed * window / longWindow``).
"""

from __future__ import annotations

import re
from typing import Annotated, ClassVar, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field, field_validator, model_validator

from specops.spec._common import (
    Duration,
    EnvVarName,
    Name,
    Ref,
    Resource,
    SpecModel,
    duration_seconds,
)

__all__ = [
    "DEFAULT_BURN_RATES",
    "SLO",
    "BurnRate",
    "DriftObjective",
    "LatencyObjective",
    "SLOSpec",
    "budget_of",
    "check_notify",
]


class LatencyObjective(SpecModel):
    type: Literal["latency"]
    percentile: Annotated[float, Field(gt=0, lt=100)] = 99.0
    threshold_ms: Annotated[float, Field(gt=0)]


class ErrorRateObjective(SpecModel):
    type: Literal["errorRate"]
    max: Annotated[float, Field(ge=0, le=1)] = Field(
        description="Highest tolerated error fraction."
    )


class AvailabilityObjective(SpecModel):
    type: Literal["availability"]
    target: Annotated[float, Field(gt=0, le=1)] = Field(description="e.g. 0.999")


class DriftObjective(SpecModel):
    """Input drift against the reference profile of the model's training dataset."""

    type: Literal["drift"]
    method: Literal["psi", "ks", "jensenShannon", "wasserstein"] = "psi"
    threshold: Annotated[float, Field(gt=0)]
    features: list[str] | None = Field(default=None, description="Default: every profiled feature.")
    min_samples: Annotated[int, Field(ge=1)] = 500
    window: Duration = Field(
        default="1h",
        description="Drift is judged over this window; it resolves when a full window is back under the threshold.",
    )


Objective = Annotated[
    LatencyObjective | ErrorRateObjective | AvailabilityObjective | DriftObjective,
    Field(discriminator="type"),
]


Budgeted = LatencyObjective | ErrorRateObjective | AvailabilityObjective


def budget_of(objective: Budgeted) -> float:
    """The error budget: the fraction of requests allowed to be bad over the SLO window."""
    if isinstance(objective, LatencyObjective):
        return 1.0 - objective.percentile / 100.0
    if isinstance(objective, ErrorRateObjective):
        return objective.max
    return 1.0 - objective.target


_PERCENT = re.compile(r"^(\d+(\.\d+)?)%$")


def _fraction(value: float | str) -> float:
    if isinstance(value, str):
        match = _PERCENT.match(value.strip())
        if match is None:
            raise ValueError(f"{value!r} is not a percentage such as '2%' (or write a fraction such as 0.02)")
        value = float(match.group(1)) / 100.0
    if not 0 < value <= 1:
        raise ValueError(f"budgetConsumed must be above 0 and at most 100% of the budget, got {value}")
    return float(value)


class BurnRate(SpecModel):
    """Multi-window burn-rate alert (the SRE workbook's recipe): ``factor`` or ``budgetConsumed``."""

    long_window: Duration
    short_window: Duration
    factor: Annotated[float, Field(gt=0)] | None = Field(
        default=None, description="Alert when both windows burn faster than factor x budget."
    )
    budget_consumed: float | str | None = Field(
        default=None,
        description="Share of the SLO window's budget the long window may burn, e.g. '2%' or 0.02; "
        "factor = budgetConsumed x window / longWindow.",
    )
    severity: Literal["page", "ticket"] = "page"

    @field_validator("budget_consumed")
    @classmethod
    def _consumed(cls, value: float | str | None) -> float | str | None:
        if value is not None:
            _fraction(value)
        return value

    @model_validator(mode="after")
    def _windows(self) -> BurnRate:
        if duration_seconds(self.short_window) >= duration_seconds(self.long_window):
            raise ValueError("shortWindow must be shorter than longWindow")
        if (self.factor is None) == (self.budget_consumed is None):
            raise ValueError("a burn rate needs exactly one of factor (e.g. 14.4) or budgetConsumed (e.g. '2%')")
        return self

    def resolved_factor(self, slo_window_s: float) -> float:
        """The factor, from ``budgetConsumed`` when that is what was declared."""
        if self.factor is not None:
            return self.factor
        assert self.budget_consumed is not None
        return _fraction(self.budget_consumed) * slo_window_s / duration_seconds(self.long_window)


DEFAULT_BURN_RATES: tuple[BurnRate, ...] = (
    BurnRate(long_window="1h", short_window="5m", factor=14.4, severity="page"),
    BurnRate(long_window="6h", short_window="30m", factor=6, severity="page"),
    BurnRate(long_window="1d", short_window="2h", factor=3, severity="ticket"),
    BurnRate(long_window="3d", short_window="6h", factor=1, severity="ticket"),
)
"""The SRE workbook's pairs, used when an SLO declares none."""

_URL_SCHEMES = ("alertmanager", "webhook")
DRIFT_WINDOW_MAX_S = 3 * 86400
"""Targets keep feature counts for 3 days (``specops.serve._observe``)."""


def check_notify(channel: str) -> str:
    """``alertmanager:URL``, ``webhook:URL`` or ``log``; anything else is refused with a hint."""
    if channel == "log":
        return channel
    scheme, sep, rest = channel.partition(":")
    if not sep or scheme not in _URL_SCHEMES:
        hint = (
            "route Slack through an Alertmanager receiver and write alertmanager:http://HOST:9093"
            if scheme == "slack"
            else "send it to Alertmanager (alertmanager:http://HOST:9093), which routes to chat or a pager"
        )
        raise ValueError(
            f"{channel!r} is not a notification channel: use alertmanager:URL, webhook:URL or log ({hint})"
        )
    parts = urlsplit(rest)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"{channel!r} needs an http(s) URL after '{scheme}:', e.g. {scheme}:http://127.0.0.1:9093")
    return channel


Channel = Annotated[str, AfterValidator(check_notify)]


def _check_http_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"{url!r} is not an http(s) URL")
    return url


class Alerting(SpecModel):
    burn_rates: list[BurnRate] = Field(
        default_factory=list,
        description="Default when empty: 1h/5m x14.4 and 6h/30m x6 (page), 1d/2h x3 and 3d/6h x1 (ticket).",
    )
    notify: list[Channel] = Field(
        default_factory=list,
        description="Channels: alertmanager:URL (Alertmanager's v2 API), webhook:URL, or log.",
    )


class OnBreach(SpecModel):
    action: Literal["alert", "rollback"] = "alert"


class Retrain(SpecModel):
    """A retraining trigger: watch POSTs the drift evidence here, once per firing."""

    url: Annotated[str, AfterValidator(_check_http_url)]
    token_env: EnvVarName | None = Field(
        default=None, description="Environment variable holding the bearer token sent with the POST."
    )


class OnDrift(SpecModel):
    retrain: Retrain | None = None


class SLOSpec(SpecModel):
    model: Name
    window: Duration = "30d"
    objectives: Annotated[list[Objective], Field(min_length=1)]
    alerting: Alerting = Field(default_factory=Alerting)
    on_breach: OnBreach = Field(default_factory=OnBreach)
    on_drift: OnDrift | None = None

    @model_validator(mode="after")
    def _burn_rate_needs_budget(self) -> SLOSpec:
        if self.alerting.burn_rates and not self.budgeted():
            raise ValueError(
                "burn-rate alerting needs an objective with an error budget (latency, errorRate or availability)"
            )
        window = duration_seconds(self.window)
        for objective in self.objectives:
            if isinstance(objective, DriftObjective):
                drift_s = duration_seconds(objective.window)
                if drift_s > DRIFT_WINDOW_MAX_S:
                    raise ValueError(
                        f"drift window {objective.window} is longer than 3d, the span a target keeps feature counts for"
                    )
                if drift_s > window:
                    raise ValueError(f"drift window {objective.window} is longer than the SLO window {self.window}")
        for rate in self.alerting.burn_rates:
            if duration_seconds(rate.long_window) > window:
                raise ValueError(
                    f"burn-rate window {rate.long_window} is longer than the SLO window"
                )
        return self

    def budgeted(self) -> list[Budgeted]:
        """The objectives with an error budget (every one but drift)."""
        return [o for o in self.objectives if not isinstance(o, DriftObjective)]

    def burn_rates(self) -> list[BurnRate]:
        """The declared pairs, else the defaults whose long window fits in the SLO window."""
        if self.alerting.burn_rates:
            return list(self.alerting.burn_rates)
        window = duration_seconds(self.window)
        return [r for r in DEFAULT_BURN_RATES if duration_seconds(r.long_window) <= window]


class SLO(Resource):
    """Service-level objectives for one model."""

    KIND: ClassVar[str] = "SLO"
    kind: Literal["SLO"]
    spec: SLOSpec

    def references(self) -> list[Ref]:
        return [Ref(path=("spec", "model"), kind="Model", name=self.spec.model)]
